"""Fast weights: training speed against torch.nn.LSTM, and peak memory of the two retrieval forms.

    OMP_NUM_THREADS=1 python benchmarks/fast_weights_speed.py [--part all|speed|memory]
        [--budget-gib 16] [--quick]

Part 1 times a full training step (forward, backward, Adam) of the associative retrieval network
(Ba et al. 2016, section 4.1: 100-d embedding, R recurrent units, 100-unit ReLU layer) at batch
128, T = 11, for the fast-weight RNN in each retrieval form and an LSTM (``torch.nn.LSTM``, fused)
of the same R, interleaved in one run, and prints sequences per second and the ratios.

Part 2 runs one forward and backward pass of the fast-weight core alone (B = 100) in a fresh
subprocess per configuration and reports its peak resident memory above the process baseline, as
T and H grow. Each subprocess may allocate at most ``--budget-gib`` (an accelerator's memory, say):
a configuration that needs more is reported as not fitting. H = 1000, B = 100 is where users of a
public port found the materialised B x H x H form stops fitting; the attention form must run it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def _train_step_rate(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                     steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(inputs).logits, targets).backward()
        opt.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * inputs.shape[0] / (time.perf_counter() - start)


def speed(sizes: list[int], steps: int, rounds: int) -> None:
    from mneme.models.build import build_model, model_entry
    from mneme.tasks.retrieval import RetrievalConfig, build_retrieval_task, generate

    task = build_retrieval_task(RetrievalConfig(stream=True, valid_size=1, test_size=1))

    def classifier(name: str, r: int, **core: object) -> torch.nn.Module:
        """Ba et al.'s network around the core: 100-d embedding, 100-unit ReLU layer."""
        config = model_entry(name, "retrieval").config(hidden_size=r, embedding_dim=100,
                                                       head_size=100, **core)
        return build_model(name, config, task)

    batch = generate(128, 4, torch.Generator().manual_seed(0))
    print(f"\n## Training speed, batch 128, T = 11, {torch.get_num_threads()} thread(s), "
          f"best of {rounds} interleaved rounds of {steps} steps\n")
    print("| R | LSTM seq/s | FW matrix seq/s | FW attention seq/s | FW best / LSTM |")
    print("|---|---|---|---|---|")
    for r in sizes:
        models = {
            "lstm": classifier("lstm", r),
            "matrix": classifier("fast-weights", r, retrieval="matrix"),
            "attention": classifier("fast-weights", r, retrieval="attention"),
        }
        best = dict.fromkeys(models, 0.0)
        for _ in range(rounds):  # interleaved, so load changes hit every model alike
            for name, model in models.items():
                rate = _train_step_rate(model, batch.inputs, batch.targets, steps)
                best[name] = max(best[name], rate)
        fw = max(best["matrix"], best["attention"])
        print(f"| {r} | {best['lstm']:.0f} | {best['matrix']:.0f} | {best['attention']:.0f} | "
              f"{fw / best['lstm']:.2f} |", flush=True)


def _child(form: str, b: int, t: int, h: int, budget_gib: float) -> None:
    """One forward + backward in this process; prints JSON with the peak memory above baseline."""
    from mneme.associative.fast_weights import FastWeightRNN

    torch.manual_seed(0)
    core = FastWeightRNN(h, h, retrieval=form)  # type: ignore[arg-type]
    x = torch.randn(b, t, h)
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = (vm + int(budget_gib * 2**20)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start = time.perf_counter()
    try:
        y, _ = core(x)
        y.square().mean().backward()
        fits = True
    except (RuntimeError, MemoryError):
        fits = False
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"fits": fits, "peak_mib": (peak_kib - base_kib) / 1024,
                      "seconds": seconds}))


def memory(configs: list[tuple[int, int, int]], budget_gib: float) -> None:
    print(f"\n## Peak memory of one forward + backward of the fast-weight core "
          f"(budget {budget_gib:g} GiB per run)\n")
    print("| B | T | H | matrix: peak MiB | attention: peak MiB | matrix / attention |")
    print("|---|---|---|---|---|---|")
    for b, t, h in configs:
        cells, peaks = [], {}
        for form in ("matrix", "attention"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", form, str(b), str(t), str(h),
                 "--budget-gib", str(budget_gib)],
                capture_output=True, text=True, check=False)
            try:
                result = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                result = {"fits": False, "peak_mib": float("nan"), "seconds": 0.0}
            if result["fits"]:
                peaks[form] = result["peak_mib"]
                cells.append(f"{result['peak_mib']:.0f} ({result['seconds']:.1f} s)")
            else:
                cells.append(f"does not fit in {budget_gib:g} GiB")
        ratio = (f"{peaks['matrix'] / peaks['attention']:.1f}"
                 if len(peaks) == 2 and peaks["attention"] > 0 else "-")
        print(f"| {b} | {t} | {h} | {cells[0]} | {cells[1]} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-gib", type=float, default=16.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--part", choices=["all", "speed", "memory"], default="all")
    parser.add_argument("--child", nargs=4, metavar=("FORM", "B", "T", "H"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.child:
        form, b, t, h = args.child
        _child(form, int(b), int(t), int(h), args.budget_gib)
        return
    if args.quick:
        speed([20], steps=20, rounds=1)
        memory([(10, 11, 50)], args.budget_gib)
        return
    if args.part in ("all", "speed"):
        speed([20, 50, 100], steps=200, rounds=3)
    if args.part in ("all", "memory"):
            memory([(100, 11, 100), (100, 11, 300), (100, 11, 1000), (100, 50, 1000),
                (100, 200, 300), (100, 1000, 100)], args.budget_gib)


if __name__ == "__main__":
    main()
