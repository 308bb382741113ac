"""What ``mneme hopfield capacity`` measures and writes, and the seeded patterns that both
subcommands draw.

A point is a rule, a size N and a load P/N: ``trials`` independent networks each store P random
+-1 patterns (``random_patterns``, drawn from (seed, N, load) alone, so every rule sees the same
ones), and every stored pattern, a fraction ``noise`` of its units flipped, is a cue. The point
counts the cues that end exactly on their pattern, the patterns that are fixed points, and the
final overlaps m = s.x/N (retrieved: m > ``RETRIEVED``). The classical rules run in batched
``recall`` calls (``measure_classical``); the modern network recalls a random subset of its
patterns, one trial at a time (``measure_modern``). ``summarize`` finds where recall breaks down,
``theory_loads`` gives the published marks; the results go to capacity.csv, capacity.json and
capacity.png and to the printed table (``format_capacity``).

The options, their checks and the command are in ``mneme.commands.hopfield``, which re-exports
these names.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.associative.hopfield import flip_noise, is_fixed_point, recall, storage_weights
from mneme.associative.modern_hopfield import modern_retrieve, modern_update

__all__ = [
    "DEFAULT_LOADS",
    "RETRIEVED",
    "WEIGHT_BUDGET",
    "format_capacity",
    "measure_classical",
    "measure_modern",
    "random_patterns",
    "summarize",
    "theory_loads",
]

DEFAULT_LOADS = {
    "hebb": (
        0.02,
        0.03,
        0.04,
        0.05,
        0.06,
        0.08,
        0.1,
        0.11,
        0.12,
        0.13,
        0.14,
        0.15,
        0.16,
        0.18,
        0.2,
        0.25,
    ),
    "storkey": (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6),
    "pinv": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    "modern": (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
}
# a cue counts as retrieved when its final overlap exceeds this (the retrieval state of the
# Hebbian network keeps m >= 0.967 up to alpha_c = 0.138, Amit, Gutfreund & Sompolinsky 1985)
RETRIEVED = 0.9
WEIGHT_BUDGET = 1 << 30  # bytes of weights simulated at once (networks of several loads batched)


def _generator(seed: int, *parts: float) -> torch.Generator:
    key = seed
    for p in parts:
        key = (key * 1_000_003 + round(p * 10_000)) % (1 << 62)
    return torch.Generator().manual_seed(key)


def random_patterns(shape: Sequence[int], generator: torch.Generator) -> Tensor:
    """Uniform random +-1 patterns, float32."""
    return torch.randint(0, 2, tuple(shape), generator=generator).float() * 2 - 1


def theory_loads(rule: str, n: int, noise: float = 0.0) -> list[tuple[float, str]]:
    """Published capacity marks as loads P/N, with a label."""
    if rule == "hebb":
        return [(0.138, "0.138 (AGS 1985)"), (1 / (4 * math.log(n)), f"N/(4 ln N), N={n}")]
    if rule == "storkey":
        return [(1 / math.sqrt(2 * math.log(n)), f"N/sqrt(2 ln N), N={n}")]
    if rule == "pinv":
        return [(1.0, "P = N")]
    if rule == "modern" and noise > 0:
        # A cue keeps overlap N(1 - 2 noise) with its pattern; another random pattern's overlap
        # is ~ Normal(0, N). With beta large enough the cue is retrieved unless one of the other
        # P - 1 beats it, so half the cues are lost at P Q(sqrt(N)(1 - 2 noise)) = ln 2.
        tail = 0.5 * math.erfc(math.sqrt(n) * (1 - 2 * noise) / math.sqrt(2))
        return [(math.log(2) / tail / n, f"half lost: P Q(sqrt(N)(1-2p)) = ln 2, N={n}")]
    return []


# -- capacity ----------------------------------------------------------------------------------
def _row(rule: str, n: int, load: float, p: int, trials: int, **values: float) -> dict[str, Any]:
    return {"rule": rule, "n": n, "load": load, "p": p, "trials": trials, **values}


def measure_classical(
    rule: str,
    n: int,
    loads: Sequence[float],
    *,
    trials: int,
    noise: float,
    update: str,
    max_sweeps: int,
    seed: int,
    on_load: Callable[[int], None] = lambda k: None,
) -> list[dict[str, Any]]:
    """Capacity points of a classical rule at size N; one dict per load (see module doc).

    Networks of several loads run in one batched `recall` call (up to WEIGHT_BUDGET bytes of
    weights), so the slowest cue of a batch sets the time once, not once per load.
    """
    rows: list[dict[str, Any]] = []
    chunk: list[tuple[float, int, Tensor, Tensor, Tensor]] = []
    per_load = trials * n * n * 4

    def flush() -> None:
        weights = torch.cat([c[3] for c in chunk])
        cues = torch.cat([c[4].reshape(-1, n) for c in chunk])
        network = torch.cat(
            [torch.arange(trials).repeat_interleave(c[1]) + j * trials for j, c in enumerate(chunk)]
        )
        gen = _generator(seed, n, chunk[0][0], 1)
        start = time.perf_counter()
        result = recall(
            weights, cues, update=update, max_sweeps=max_sweeps, generator=gen, network=network
        )
        seconds = time.perf_counter() - start
        offset = 0
        for load, p, x, w, _ in chunk:
            k = trials * p
            states = result.states[offset : offset + k].reshape(trials, p, n)
            exact = (states == x).all(-1)
            m = (states * x).sum(-1) / n
            sweeps = result.sweeps[offset : offset + k]
            run = (sweeps + 1).clamp(max=max_sweeps).float()  # the last sweep confirms
            rows.append(
                _row(
                    rule, n, load, p, trials,
                    recall=float(exact.float().mean()),
                    fixed=float(is_fixed_point(w, x).float().mean()),
                    all_recalled=float(exact.all(-1).float().mean()),
                    overlap=float(m.mean()),
                    retrieved=float((m > RETRIEVED).float().mean()),
                    overlap_min=float(m.min()),
                    sweeps=float(sweeps.float().mean()),
                    sweeps_run=float(run.mean()),
                    converged=float(result.converged[offset : offset + k].float().mean()),
                    seconds=seconds * k / cues.shape[0],
                )
            )  # fmt: skip
            offset += k
        on_load(len(chunk))
        chunk.clear()

    for load in loads:
        p = max(1, round(load * n))
        gen = _generator(seed, n, load)
        x = random_patterns((trials, p, n), gen)
        cues = flip_noise(x, noise, gen)
        w = storage_weights(x, rule)
        if chunk and per_load * (len(chunk) + 1) > WEIGHT_BUDGET:
            flush()
        chunk.append((load, p, x, w, cues))
    if chunk:
        flush()
    return rows


def measure_modern(
    n: int,
    loads: Sequence[float],
    *,
    trials: int,
    noise: float,
    beta: float,
    max_iter: int,
    cues_per_trial: int,
    seed: int,
    on_load: Callable[[int], None] = lambda k: None,
) -> list[dict[str, Any]]:
    """Capacity points of the modern network at size N (one trial at a time: P can be 50 N)."""
    rows = []
    for load in loads:
        p = max(1, round(load * n))
        gen = _generator(seed, n, load)
        exact, fixed, ms, steps = [], [], [], []
        start = time.perf_counter()
        for _ in range(trials):
            x = random_patterns((p, n), gen)
            target = x[torch.randperm(p, generator=gen)[: min(p, cues_per_trial)]]
            cue = flip_noise(target, noise, gen)
            fixed.append((_sgn(modern_update(x, target, beta)[0]) == target).all(-1))
            out = modern_retrieve(x, cue, beta, max_iter=max_iter, tol=1e-5)
            s = _sgn(out.state)
            exact.append((s == target).all(-1))
            ms.append((s * target).sum(-1) / n)
            steps.append(out.steps)
        e, m = torch.stack(exact), torch.stack(ms)
        rows.append(
            _row(
                "modern", n, load, p, trials,
                recall=float(e.float().mean()),
                fixed=float(torch.stack(fixed).float().mean()),
                all_recalled=float(e.all(-1).float().mean()),
                overlap=float(m.mean()),
                retrieved=float((m > RETRIEVED).float().mean()),
                overlap_min=float(m.min()),
                sweeps=float(sum(steps) / len(steps)),
                sweeps_run=float(sum(steps) / len(steps)),
                converged=float("nan"),
                seconds=time.perf_counter() - start,
            )
        )  # fmt: skip
        on_load(1)
    return rows


def _sgn(t: Tensor) -> Tensor:
    return torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (rule, N): the largest load before exact recall first drops below 99% (and the first
    load where it did), the largest with every pattern of every trial recalled, the first load
    whose mean final overlap is below 0.9, and the load where the fraction of cues retrieved
    (m > 0.9) crosses 1/2, interpolated linearly (None if it never does)."""
    out = []
    keys = list(dict.fromkeys((r["rule"], r["n"]) for r in rows))
    for rule, n in keys:
        mine = sorted(
            (r for r in rows if (r["rule"], r["n"]) == (rule, n)), key=lambda r: r["load"]
        )
        first_bad = next((r["load"] for r in mine if r["recall"] < 0.99), None)
        good = [r["load"] for r in mine if first_bad is None or r["load"] < first_bad]
        perfect = [r["load"] for r in mine if r["all_recalled"] == 1.0]
        low_m = next((r["load"] for r in mine if r["overlap"] < 0.9), None)
        half = None
        for a, b in itertools.pairwise(mine):
            if a["retrieved"] >= 0.5 > b["retrieved"]:
                t = (a["retrieved"] - 0.5) / (a["retrieved"] - b["retrieved"])
                half = round(a["load"] + t * (b["load"] - a["load"]), 4)
                break
        out.append(
            {
                "rule": rule, "n": n,
                "last_load_recall_99": max(good) if good else None,
                "first_load_recall_below_99": first_bad,
                "last_load_all_recalled": max(perfect) if perfect else None,
                "first_load_overlap_below_0.9": low_m,
                "load_half_retrieved": half,
            }
        )  # fmt: skip
    return out


def _write_capacity(result: dict[str, Any], out: Path) -> None:
    from mneme.viz.patterns import plot_capacity

    out.mkdir(parents=True, exist_ok=True)
    rows = result["rows"]
    with open(out / "capacity.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "capacity.json").write_text(json.dumps(result, indent=1) + "\n")
    theory: dict[str, list[tuple[float, str]]] = {}
    for rule, per_n in result["theory"].items():
        seen = set()
        for marks in per_n.values():
            for load, label in marks:
                if label not in seen:
                    seen.add(label)
                    theory.setdefault(rule, []).append((load, label))
    cfg = result["config"]
    title = (
        f"Capacity: {cfg['trials']} trials per point, cue noise {cfg['noise']}, "
        f"{cfg['update']} updates (classical), beta {cfg['beta']} (modern)"
    )
    plot_capacity(rows, theory, out / "capacity.png", title)


def format_capacity(result: dict[str, Any]) -> str:
    """The table printed by ``mneme hopfield capacity``."""
    lines = [
        f"{'rule':<8}{'N':>6}{'P/N':>8}{'P':>7}{'fixed':>8}{'recall':>8}{'all':>7}"
        f"{'overlap':>9}{'m>0.9':>7}{'sweeps':>8}"
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['rule']:<8}{r['n']:>6}{r['load']:>8.3g}{r['p']:>7}{r['fixed']:>8.3f}"
            f"{r['recall']:>8.3f}{r['all_recalled']:>7.2f}{r['overlap']:>9.3f}"
            f"{r['retrieved']:>7.3f}{r['sweeps']:>8.2f}"
        )
    lines.append("")
    lines.append("breakdown (loads P/N): last with >= 99% exact recall | first below | last with")
    lines.append("all patterns of all trials recalled | first with mean overlap < 0.9 | where")
    lines.append("half the cues are retrieved (m > 0.9), interpolated")
    for s in result["summary"]:
        vals = [s[k] for k in list(s)[2:]]
        text = " | ".join("-" if v is None else f"{v:g}" for v in vals)
        lines.append(f"{s['rule']:<8}{s['n']:>6}  {text}")
    lines.append(f"{result['seconds']:.1f} s on {result['torch_threads']} torch thread(s)")
    return "\n".join(lines)
