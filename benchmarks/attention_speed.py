"""Attention speed: scores against scaled dot, and the fused path against the readable one.

    OMP_NUM_THREADS=1 python benchmarks/attention_speed.py [--threads 1] [--repeats 15]
        [--part all|scores|fused|seq2seq|positions] [--batch 32 --queries 32 --keys 128 --dim 256]
        [--json PATH]

Every section times its cases interleaved (case 1, case 2, ..., then again, ``--repeats`` times)
so that load from other processes hits every case alike, and prints the median time of each case
and its ratio to the section's reference case, all measured in the same run.

* ``scores``: each score of ``mneme.attention.scoring`` (B, Tq, Tk, d = 32, 32, 128, 256; the
  additive score's hidden size is d), forward and forward + backward, relative to scaled dot.
* ``fused``: ``Attention("scaled_dot")`` and ``MultiHeadAttention`` (8 heads) by the readable path
  returning the weights, the readable path without them (``fused=False``), and the fused
  ``scaled_dot_product_attention`` path, relative to the readable path with weights.
* ``seq2seq``: a training step of ``mneme.models.seq2seq.Seq2Seq`` (batch 64, 10 + 10 tokens)
  without attention, with the additive and dot scores, and with input feeding: median time,
  target tokens per second and the ratio to the model without attention.
* ``positions``: the self-attention core (``mneme.attention.self_attention``, H 64, 2 layers, 4
  heads) with each position encoding, causal and as an encoder, at B 32, T 64 (``--batch``,
  ``--queries``), forward and forward + backward, relative to no positions (causal).

More sections are added by writing a function ``f(args) -> Section`` and registering it in
``SECTIONS``; ``--part`` and ``--json`` pick it up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch


@dataclass
class Row:
    """One case of a section: its median time and its ratio to the section's reference."""

    name: str
    phase: str  # "forward" or "forward+backward"
    median_ms: float
    ratio: float  # median time / the reference case's median time (same phase)


@dataclass
class Section:
    title: str
    reference: str
    rows: list[Row] = field(default_factory=list)


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, inner: int = 1,
                warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of every case, timed in interleaved rounds."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _rows(medians: dict[str, float], reference: str, phase: str) -> list[Row]:
    ref = medians[reference]
    return [Row(name, phase, 1e3 * t, t / ref) for name, t in medians.items()]


def _forward_backward(fn: Callable[[], torch.Tensor], grad: torch.Tensor,
                      leaves: list[torch.Tensor]) -> Callable[[], None]:
    """Forward, then the gradients of ``leaves`` (returned, not accumulated into ``.grad``)."""
    def run() -> None:
        torch.autograd.grad(fn(), leaves, grad, allow_unused=True)  # location ignores keys

    return run


def bench_scores(args: argparse.Namespace) -> Section:
    """Every scoring function's forward and forward + backward against scaled dot."""
    from mneme.attention.scoring import build_score

    b, tq, tk, d = args.batch, args.queries, args.keys, args.dim
    g = torch.Generator().manual_seed(0)
    q = torch.randn(b, tq, d, generator=g, requires_grad=True)
    k = torch.randn(b, tk, d, generator=g, requires_grad=True)
    grad = torch.randn(b, tq, tk, generator=g)
    names = ["scaled_dot", "dot", "bilinear", "additive", "location"]
    scores = {n: build_score(n, d, d, hidden_dim=d, max_keys=tk) for n in names}
    section = Section(f"Scores, B {b}, Tq {tq}, Tk {tk}, d {d} (additive hidden {d})",
                      "scaled_dot")
    with torch.no_grad():
        fwd = interleaved({n: (lambda s=s: s(q, k)) for n, s in scores.items()}, args.repeats)
    section.rows += _rows(fwd, "scaled_dot", "forward")
    both = interleaved({n: _forward_backward(lambda s=s: s(q, k), grad, [q, k, *s.parameters()])
                        for n, s in scores.items()}, args.repeats)
    section.rows += _rows(both, "scaled_dot", "forward+backward")
    return section


def bench_fused(args: argparse.Namespace) -> Section:
    """The readable path (with and without weights) against the fused SDPA path."""
    from mneme.attention import Attention, MultiHeadAttention

    b, tq, tk, d = args.batch, args.queries, args.keys, args.dim
    g = torch.Generator().manual_seed(0)
    q = torch.randn(b, tq, d, generator=g, requires_grad=True)
    k = torch.randn(b, tk, d, generator=g, requires_grad=True)
    v = torch.randn(b, tk, d, generator=g, requires_grad=True)
    mask = torch.ones(b, tk, dtype=torch.bool)
    mask[: b // 2, tk // 2:] = False  # half the batch padded to half length
    grad = torch.randn(b, tq, d, generator=g)
    attention = Attention("scaled_dot")
    mha = MultiHeadAttention(d, 8)

    def run(module: torch.nn.Module, fused: bool, need_weights: bool) -> torch.Tensor:
        module.fused = fused  # one module (one set of weights) for its three cases
        return module(q, k, v, mask, need_weights=need_weights)[0]

    leaves = {"attention": [q, k, v], "multi-head": [q, k, v, *mha.parameters()]}
    cases = {
        "attention readable, weights": lambda: run(attention, False, True),
        "attention readable, no weights": lambda: run(attention, False, False),
        "attention fused (SDPA)": lambda: run(attention, True, False),
        "multi-head x8 readable, weights": lambda: run(mha, False, True),
        "multi-head x8 readable, no weights": lambda: run(mha, False, False),
        "multi-head x8 fused (SDPA)": lambda: run(mha, True, False),
    }
    section = Section(f"Readable vs fused path, B {b}, Tq {tq}, Tk {tk}, d {d}, key padding "
                      "on half the batch; multi-head rows relative to their own readable path",
                      "attention readable, weights")
    for phase in ("forward", "forward+backward"):
        if phase == "forward":
            with torch.no_grad():
                med = interleaved(cases, args.repeats)
        else:
            med = interleaved({n: _forward_backward(fn, grad, leaves[n.split(" ")[0]])
                               for n, fn in cases.items()}, args.repeats)
        single = {n: t for n, t in med.items() if n.startswith("attention")}
        multi = {n: t for n, t in med.items() if n.startswith("multi-head")}
        section.rows += _rows(single, "attention readable, weights", phase)
        section.rows += _rows(multi, "multi-head x8 readable, weights", phase)
    return section


def bench_seq2seq(args: argparse.Namespace) -> Section:
    """Seq2seq training steps (forward, backward, Adam) with and without attention.

    The translation recipe's model (H = E = 256, bidirectional GRU encoder) at batch 64 with
    the prefixes subset's vocabularies (4767 French, 3064 English), 10 source and 10 target
    tokens a sentence; target tokens per second = 64 * 10 / step time.
    """
    from mneme.models.seq2seq import Seq2Seq, Seq2SeqConfig

    b, t, v_s, v_t = 64, 10, 4767, 3064
    g = torch.Generator().manual_seed(0)
    inputs = {"source": torch.randint(4, v_s, (b, t), generator=g),
              "source_length": torch.full((b,), t),
              "target_in": torch.randint(4, v_t, (b, t), generator=g)}
    targets = torch.randint(4, v_t, (b, t), generator=g)
    variants = {"no attention": {"attention": "none"}, "additive": {"attention": "additive"},
                "dot": {"attention": "dot"},
                "additive, input feeding": {"attention": "additive", "input_feeding": True}}
    cases = {}
    for name, fields in variants.items():
        model = Seq2Seq(v_s, v_t, Seq2SeqConfig(**fields))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model: torch.nn.Module = model, optimizer: torch.optim.Optimizer = optimizer
                 ) -> None:
            logits = model(inputs).logits
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        cases[name] = step
    medians = interleaved(cases, max(3, args.repeats // 3))
    rows = _rows(medians, "no attention", "train step")
    for row in rows:
        row.name = f"{row.name}: {b * t / (row.median_ms / 1e3):.0f} target tok/s"
    return Section(f"Seq2seq training step, B {b}, T_s = T_t = {t}, H = E = 256, GRU; ratios "
                   "to no attention", rows[0].name, rows)


def bench_positions(args: argparse.Namespace) -> Section:
    """The self-attention core's forward (and backward) with each position encoding."""
    from mneme.attention.self_attention import SelfAttentionConfig, SelfAttentionCore

    b, t = args.batch, args.queries
    x = torch.randn(b, t, 64, generator=torch.Generator().manual_seed(0))
    cores = {}
    for causal in (True, False):
        for position in ("none", "sinusoidal", "learned", "rope", "alibi", "relative"):
            torch.manual_seed(0)
            config = SelfAttentionConfig(hidden_size=64, num_layers=2, num_heads=4,
                                         position=position, causal=causal)  # type: ignore[arg-type]
            cores[f"{'causal' if causal else 'encoder'} {position}"] = SelfAttentionCore(
                64, config).eval()
    section = Section(f"Self-attention core by position encoding, B {b}, T {t}, H 64, 2 layers, "
                      "4 heads; ratios to causal none", "causal none")
    with torch.no_grad():
        fwd = interleaved({n: (lambda c=c: c(x)[0]) for n, c in cores.items()}, args.repeats)
    section.rows += _rows(fwd, "causal none", "forward")
    grad = torch.randn(b, t, 64, generator=torch.Generator().manual_seed(1))
    both = interleaved({n: _forward_backward(lambda c=c: c(x)[0], grad, list(c.parameters()))
                        for n, c in cores.items()}, args.repeats)
    section.rows += _rows(both, "causal none", "forward+backward")
    return section


# name -> section; other parts of mneme add theirs here (e.g. a seq2seq tokens/s section)
SECTIONS: dict[str, Callable[[argparse.Namespace], Section]] = {
    "scores": bench_scores,
    "fused": bench_fused,
    "seq2seq": bench_seq2seq,
    "positions": bench_positions,
}


def print_section(section: Section) -> None:
    print(f"\n## {section.title}\n")
    print("| case | phase | median ms | ratio |")
    print("|---|---|---|---|")
    for r in section.rows:
        print(f"| {r.name} | {r.phase} | {r.median_ms:.2f} | {r.ratio:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--part", choices=["all", *SECTIONS], default="all")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--keys", type=int, default=128)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), median of "
          f"{args.repeats} interleaved repeats")
    parts = list(SECTIONS) if args.part == "all" else [args.part]
    results = []
    for part in parts:
        section = SECTIONS[part](args)
        print_section(section)
        results.append({"part": part, **asdict(section)})
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        with open(args.json, "w") as f:
            json.dump({"config": config, "torch": torch.__version__, "sections": results}, f,
                      indent=2)


if __name__ == "__main__":
    main()
