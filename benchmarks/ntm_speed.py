"""Neural Turing Machine: training speed on copy against the paper's LSTM baseline, tensor ops per
time step, and achieved GFLOP/s against this machine's matmul peak.

    OMP_NUM_THREADS=1 python benchmarks/ntm_speed.py [--batch 1,16,64] [--length 1-20]
        [--threads 1] [--steps 10] [--rounds 3] [--json PATH] [--profile] [--compile]

One training step is what ``mneme train`` does for ``--task copy --model ntm``: forward of the
``SequenceModel`` (NTM core, the paper's copy configuration: LSTM controller of 100 units, one
read and one write head, 128 x 20 memory), the task's loss, backward, gradient clipping to
(-10, 10) and RMSProp with momentum (section 4.6; the ``("algorithmic", "ntm")`` row of
``mneme.models.recipes``). Batches come from the real copy task (``CopyTask``), padded to their
longest sequence: with lengths 1..20, T = 2 max(L) + 1, so a batch of 64 almost always runs
T = 41 steps although the mean sequence has 22.

Columns:
    seq/s         training sequences per second (wall clock), best of ``--rounds`` interleaved
                  rounds of ``--steps`` steps; ``cpu seq/s`` uses this process's CPU time
                  instead, which is what an unloaded machine would show on a shared one.
    LSTM seq/s    the paper's baseline in the same run: 3-layer ``torch.nn.LSTM``, 256 units
                  (Table 3), same task, batches, loss and optimiser.
    ops/step      top-level ATen ops (``torch.profiler``; an op called inside another op is not
                  counted) of one training step (forward, backward, clipping, optimiser), over T.
    GFLOP/s       the NTM's counted FLOPs (below) per second of wall time, against the peak of a
                  512 x 512 float32 matmul loop measured at the start, on the same threads.
    --profile     the NTM's step split into forward (with the loss), backward and clipping plus
                  the optimiser: ms and top-level ops per time step, and microseconds per op;
                  and the NTM timed in the same rounds with its addressing run as the autograd
                  chain of ``mneme.memory.addressing`` instead of the fused node.
    same-length   the NTM's step on batches of ``CopyConfig(same_length_batches=True)``: one
                  drawn length a batch, no padding (mean T = 2 E[L] + 1 = 22 for 1-20).

    --compile     the NTM also through ``torch.compile`` (``--train.compile``,
                  ``NTM.compile_steps``), on the same batches in the same rounds: seq/s, the ratio
                  to the eager NTM, and the seconds the warm-up steps took (compiling).

FLOPs are counted analytically for the forward pass (matmuls 2mnk, elementwise ops one per
element and op) and tripled for forward + backward.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn


# -- models --------------------------------------------------------------------------------------
class _TorchLSTM(nn.Module):
    """The baseline core: ``torch.nn.LSTM`` (3 x 256), following the core contract."""

    def __init__(self, input_size: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, layers, batch_first=True)
        self.output_size = hidden

    def forward(self, x: torch.Tensor, state: Any = None, *, trace: bool = False) -> Any:
        y, state = self.lstm(x, state)
        return y, state


def build_models(task: Any) -> dict[str, nn.Module]:
    from mneme.models.build import build_model, model_entry
    from mneme.models.sequence import SequenceModel

    torch.manual_seed(0)
    return {
        "ntm": build_model("ntm", model_entry("ntm", "copy").config(), task),
        "lstm": SequenceModel(_TorchLSTM(task.input_size, 256, 3), task.info),
    }


def make_step(model: nn.Module, task: Any) -> Callable[[Any], None]:
    """One training step as the trainer runs it under the copy recipe."""
    from mneme.models.recipes import recipe

    _, train = recipe("copy", "ntm", None, None)
    opt = torch.optim.RMSprop(model.parameters(), lr=train.lr, momentum=train.momentum)
    params = [p for p in model.parameters() if p.requires_grad]

    def step(batch: Any) -> None:
        opt.zero_grad(set_to_none=True)
        task.loss(model(batch.inputs), batch).backward()
        if train.clip_value is not None:
            nn.utils.clip_grad_value_(params, train.clip_value)
        opt.step()

    return step


# -- measurements --------------------------------------------------------------------------------
def matmul_peak(seconds: float = 1.0) -> float:
    """GFLOP/s of a 512 x 512 float32 matmul loop (best of a few timings)."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    out = torch.empty(512, 512)
    for _ in range(5):
        torch.mm(a, b, out=out)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(10):
            torch.mm(a, b, out=out)
        best = max(best, 10 * 2 * 512**3 / (time.perf_counter() - start) / 1e9)
    return best


def count_ops(step: Callable[[Any], None], batch: Any) -> int:
    """Top-level ATen ops of one call of ``step`` (ops nested in another ATen op not counted)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(batch)

    def top(event: Any) -> bool:
        parent = event.cpu_parent
        while parent is not None:
            if parent.name.startswith("aten::"):
                return False
            parent = parent.cpu_parent
        return True

    return sum(1 for e in prof.events() if e.name.startswith("aten::") and top(e))


def chain_step(step: Callable[[Any], None]) -> Callable[[Any], None]:
    """``step`` with the NTM addressing by the autograd chain of ``mneme.memory.addressing``
    (constraints, then ``address``) in place of the fused node: the same values, the backward op
    by op, as before the fusion."""
    import torch.nn.functional as F

    import mneme.memory.ntm as ntm
    from mneme.memory.addressing import address

    fused = ntm.address_from_params

    def chain(memory: Any, prev_w: Any, params: Any, word_size: int) -> Any:
        key, beta, gamma, gate, shift = params.split(
            [word_size, 1, 1, 1, params.shape[-1] - word_size - 3], -1)
        return address(memory, prev_w, key, F.softplus(beta), torch.sigmoid(gate),
                       torch.softmax(shift, -1), 1.0 + F.softplus(gamma))

    def run(batch: Any) -> None:
        ntm.address_from_params = chain  # type: ignore[assignment]
        try:
            step(batch)
        finally:
            ntm.address_from_params = fused

    return run


def phase_profile(model: nn.Module, task: Any, batches: list[Any], rounds: int,
                  ) -> dict[str, dict[str, float]]:
    """Where a training step's time goes: forward (with the loss), backward, and clipping plus
    the optimiser, each as ms per time step (best of ``rounds``) and top-level ATen ops per time
    step (``count_ops`` of each phase, on the first batch)."""
    from mneme.models.recipes import recipe

    _, train = recipe("copy", "ntm", None, None)
    opt = torch.optim.RMSprop(model.parameters(), lr=train.lr, momentum=train.momentum)
    params = [p for p in model.parameters() if p.requires_grad]
    held: dict[str, Any] = {}

    def forward(batch: Any) -> None:
        opt.zero_grad(set_to_none=True)
        held["loss"] = task.loss(model(batch.inputs), batch)

    def backward(batch: Any) -> None:
        held.pop("loss").backward()

    def optimiser(batch: Any) -> None:
        nn.utils.clip_grad_value_(params, train.clip_value)
        opt.step()

    phases = {"forward": forward, "backward": backward, "optimiser": optimiser}
    first, steps = batches[0], sum(b.inputs.shape[1] for b in batches)
    ops = {}
    for name, fn in phases.items():
        ops[name] = count_ops(fn, first) / first.inputs.shape[1]
    best = dict.fromkeys(phases, math.inf)
    for _ in range(rounds):
        spent = dict.fromkeys(phases, 0.0)
        for batch in batches:
            for name, fn in phases.items():
                start = time.perf_counter()
                fn(batch)
                spent[name] += time.perf_counter() - start
        best = {k: min(best[k], spent[k]) for k in best}
    return {k: {"ms_per_time_step": 1e3 * best[k] / steps, "ops_per_time_step": ops[k]}
            for k in phases}


def ntm_forward_flops(model: nn.Module, batch_size: int, steps: int) -> float:
    """Analytic forward FLOPs of the NTM ``SequenceModel`` for ``steps`` time steps."""
    core = model.core  # type: ignore[attr-defined]
    cfg = core.config
    b, n, w, h = batch_size, cfg.memory_size, cfg.word_size, cfg.controller_size
    r, rw, heads, s = cfg.read_heads, cfg.write_heads, core.heads, core.shift_slots
    gates = 4 * h if core.lstm else h
    per_step = (
        2 * b * core.input_size * gates  # input projection (done for all T at once)
        + 2 * b * (core.recurrent_weight.shape[1]) * gates  # recurrent matmul
        + 2 * b * 2 * h * gates * len(core.upper)  # upper controller layers
        + 12 * b * h  # gate nonlinearities and cell update
        + 2 * b * h * core.head.out_features  # the one linear layer of all head parameters
        + 10 * b * heads * (s + 4) + 6 * b * rw * w  # parameter constraints
        + 2 * b * heads * n * w + 3 * b * n * w + 4 * b * heads * n  # cosine similarity
        + 5 * b * heads * n  # key strength and softmax
        + 3 * b * heads * n  # interpolation
        + 2 * b * heads * n * s  # circular shift
        + 6 * b * heads * n  # sharpening
        + 2 * b * r * n * w  # read
        + 5 * b * n * w * rw  # erase then add
        + 2 * b * core.output_size * model.head.out_features  # type: ignore[attr-defined]
    )
    return float(per_step * steps)


def time_rounds(runs: dict[str, tuple[Callable[[Any], None], list[Any]]], rounds: int,
                ) -> dict[str, tuple[float, float]]:
    """Best (wall, cpu) sequences per second of each (step function, batches), interleaved
    rounds."""
    best = {name: (0.0, 0.0) for name in runs}
    for _ in range(rounds):  # interleaved: a change of load hits every model alike
        for name, (step, batches) in runs.items():
            seqs = sum(b.size for b in batches)
            wall, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                step(batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (max(best[name][0], seqs / wall), max(best[name][1], seqs / cpu))
    return best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1,16,64", help="comma-separated batch sizes")
    parser.add_argument("--length", default="1-20",
                        help="copy lengths: MIN-MAX (uniform, the paper's 1-20) or one length")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--profile", action="store_true",
                        help="also split the NTM's step into forward, backward and optimiser")
    parser.add_argument("--compile", action="store_true",
                        help="also time the NTM through torch.compile, in the same rounds")
    args = parser.parse_args(argv)

    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    torch.set_num_threads(args.threads)
    low, _, high = args.length.partition("-")
    lo, hi = int(low), int(high or low)
    task = CopyTask(CopyConfig(min_length=lo, max_length=hi, valid_size=1, test_size=1))
    same = CopyTask(CopyConfig(min_length=lo, max_length=hi, valid_size=1, test_size=1,
                               same_length_batches=True))
    sizes = [int(x) for x in args.batch.split(",")]
    peak = matmul_peak()
    print(f"\n## NTM training speed on copy, lengths {lo}-{hi} (mean {(lo + hi) / 2:g}), "
          f"{torch.get_num_threads()} thread(s), best of {args.rounds} rounds of {args.steps} "
          f"steps; matmul peak {peak:.1f} GFLOP/s\n")
    print("| batch | mean T | NTM seq/s | NTM cpu seq/s | LSTM seq/s | NTM / LSTM | ops/step "
          "| GFLOP/s | % of peak | same-length: mean T | seq/s | cpu seq/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results: dict[str, Any] = {"seq_per_s": {}, "seq_per_s_cpu": {}, "lstm_seq_per_s": {},
                               "ops_per_step": None, "gflops": None, "peak_gflops": peak,
                               "ops_per_step_by_batch": {}, "gflops_by_batch": {},
                               "same_length_seq_per_s": {}, "same_length_seq_per_s_cpu": {},
                               "threads": torch.get_num_threads(),
                               "load_average": os.getloadavg()[0]}
    generator = torch.Generator().manual_seed(0)
    for b in sizes:
        models = build_models(task)
        steps_fn = {name: make_step(model, task) for name, model in models.items()}
        batches = [task.sample(b, generator) for _ in range(args.steps)]
        same_batches = [same.sample(b, generator) for _ in range(args.steps)]
        for step in steps_fn.values():  # warm up
            for batch in batches[:2]:
                step(batch)
        probe = batches[0]
        ops = count_ops(steps_fn["ntm"], probe) / probe.inputs.shape[1]
        runs = {name: (step, batches) for name, step in steps_fn.items()}
        runs["ntm-same"] = (steps_fn["ntm"], same_batches)
        if args.compile:
            from mneme.train.device import compile_steps

            compiled = build_models(task)["ntm"]
            compile_steps(compiled)
            started = time.perf_counter()
            for batch in batches[:2]:  # warm up: compile
                make_step(compiled, task)(batch)
            results.setdefault("compile_seconds", {})[str(b)] = time.perf_counter() - started
            runs["ntm-compiled"] = (make_step(compiled, task), batches)
        if args.profile:
            runs["ntm-chain"] = (chain_step(steps_fn["ntm"]), batches)
        best = time_rounds(runs, args.rounds)
        mean_t = sum(x.inputs.shape[1] for x in batches) / len(batches)
        same_t = sum(x.inputs.shape[1] for x in same_batches) / len(same_batches)
        flops = 3 * sum(ntm_forward_flops(models["ntm"], x.size, x.inputs.shape[1])
                        for x in batches)
        seconds = len(batches) * b / best["ntm"][0]
        gflops = flops / seconds / 1e9
        ntm, ntm_cpu, lstm = best["ntm"][0], best["ntm"][1], best["lstm"][0]
        print(f"| {b} | {mean_t:.1f} | {ntm:.0f} | {ntm_cpu:.0f} | {lstm:.0f} | "
              f"{ntm / lstm:.2f} | {ops:.0f} | {gflops:.2f} | {100 * gflops / peak:.1f} | "
              f"{same_t:.1f} | {best['ntm-same'][0]:.0f} | {best['ntm-same'][1]:.0f} |",
              flush=True)
        if args.profile:
            results.setdefault("phases", {})[str(b)] = phase_profile(
                models["ntm"], task, batches, args.rounds)
            results.setdefault("chain_seq_per_s_cpu", {})[str(b)] = best["ntm-chain"][1]
        if args.compile:
            results.setdefault("compiled", {})[str(b)] = best["ntm-compiled"]
        results["same_length_seq_per_s"][str(b)] = best["ntm-same"][0]
        results["same_length_seq_per_s_cpu"][str(b)] = best["ntm-same"][1]
        results["seq_per_s"][str(b)] = ntm
        results["seq_per_s_cpu"][str(b)] = ntm_cpu
        results["lstm_seq_per_s"][str(b)] = lstm
        results["ops_per_step_by_batch"][str(b)] = ops
        results["gflops_by_batch"][str(b)] = gflops
    if args.compile:
        print("\n| batch | NTM seq/s | compiled seq/s | compiled / eager | cpu: compiled / eager | "
              "warm-up s (compiling) |")
        print("|---|---|---|---|---|---|")
        for b, (wall, cpu) in results["compiled"].items():
            print(f"| {b} | {results['seq_per_s'][b]:.0f} | {wall:.0f} | "
                  f"{wall / results['seq_per_s'][b]:.2f} | {cpu / results['seq_per_s_cpu'][b]:.2f} "
                  f"| {results['compile_seconds'][b]:.1f} |")
    if args.profile:
        print("\n| batch | NTM cpu seq/s | with the addressing chain | fused / chain |")
        print("|---|---|---|---|")
        for b, chain in results["chain_seq_per_s_cpu"].items():
            fused = results["seq_per_s_cpu"][b]
            print(f"| {b} | {fused:.0f} | {chain:.0f} | {fused / chain:.3f} |")
        print("\n| batch | forward ms / ops | backward ms / ops | optimiser ms / ops | "
              "total ms | ops | us per op |  (per time step)")
        print("|---|---|---|---|---|---|---|")
        for b, phases in results["phases"].items():
            ms = sum(p["ms_per_time_step"] for p in phases.values())
            ops = sum(p["ops_per_time_step"] for p in phases.values())
            cells = " | ".join(f"{p['ms_per_time_step']:.3f} / {p['ops_per_time_step']:.0f}"
                               for p in phases.values())
            print(f"| {b} | {cells} | {ms:.3f} | {ops:.0f} | {1e3 * ms / ops:.1f} |")
    largest = str(max(sizes))
    results["ops_per_step"] = results["ops_per_step_by_batch"][largest]
    results["gflops"] = results["gflops_by_batch"][largest]
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
