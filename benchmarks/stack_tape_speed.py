"""Stack RNN and Tape RNN cores: forward + backward sequences per second against
``torch.nn.LSTM`` of the same hidden size, measured side by side in one run.

    OMP_NUM_THREADS=1 python benchmarks/stack_tape_speed.py [--batch 1,32] [--length 40]
        [--hidden 64,256] [--input 10] [--threads 1] [--iters 5] [--repeats 5]
        [--clock wall|cpu] [--json PATH]

Each model reads x ``(B, T, D)`` (T = 40: the Chomsky-hierarchy benchmark's longest training
sequence, Deletang et al. 2023) and is timed on forward + backward of a random linear loss of its
outputs (gradients of the input and all parameters). The cores use their default configs with
only ``hidden_size`` set: ``stack-rnn`` two stacks of 32 one-element cells, reading the top 2;
``tape-rnn`` one tape of 40 cells of 8, the write MLP (64, 64), jumps of L = 4 (L changes
nothing in the cost). Each repeat times ``--iters`` calls of every model in turn (interleaved,
so that load on a shared machine hits all of them alike); the table reports the median seq/s
over repeats and the ratio to the LSTM's median measured in the same rounds. ``--clock cpu``
divides by this process's CPU time instead of the wall time (on a loaded shared machine it leaves
out the time spent waiting for a core).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn


def build(hidden: int, input_size: int) -> dict[str, nn.Module]:
    """The three models of one hidden size, each returning ``(y (B, T, H), state)``."""
    from mneme.memory.stack_rnn import StackRNN, StackRNNConfig
    from mneme.memory.tape_rnn import TapeRNN, TapeRNNConfig

    torch.manual_seed(0)
    return {
        "stack-rnn": StackRNN(input_size, StackRNNConfig(hidden_size=hidden)),
        "tape-rnn": TapeRNN(input_size, TapeRNNConfig(hidden_size=hidden, jump_length=4)),
        "torch LSTM": nn.LSTM(input_size, hidden, batch_first=True),
    }


def make_run(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One forward + backward of a fixed random linear loss of the outputs."""
    params = [p for p in model.parameters() if p.requires_grad]
    grad_out = torch.randn(x.shape[0], x.shape[1], model.hidden_size)  # type: ignore[arg-type]

    def run() -> None:
        y = model(x)[0]
        torch.autograd.grad((y * grad_out).sum(), [x, *params])

    return run


def measure(runs: dict[str, Callable[[], None]], sequences: int, iters: int, repeats: int,
            clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seq/s of each run over ``repeats`` interleaved rounds of ``iters`` calls."""
    for run in runs.values():  # warm up
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = clock()
            for _ in range(iters):
                run()
            rates[name].append(sequences * iters / (clock() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1,32", help="comma-separated batch sizes")
    parser.add_argument("--length", type=int, default=40, help="T")
    parser.add_argument("--hidden", default="64,256", help="comma-separated hidden sizes")
    parser.add_argument("--input", type=int, default=10, help="D")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"\n## Stack and Tape RNN forward + backward, T = {args.length}, D = {args.input}, "
          f"{torch.get_num_threads()} thread(s), {args.clock} clock, median of {args.repeats} "
          f"rounds of {args.iters} calls\n")
    print("| H | batch | stack-rnn seq/s | tape-rnn seq/s | LSTM seq/s | stack / LSTM "
          "| tape / LSTM |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, Any] = {}
    for hidden in (int(h) for h in args.hidden.split(",")):
        models = build(hidden, args.input)
        for b in (int(s) for s in args.batch.split(",")):
            x = torch.randn(b, args.length, args.input, requires_grad=True)
            rate = measure({n: make_run(m, x) for n, m in models.items()}, b, args.iters,
                           args.repeats, clock)
            lstm = rate["torch LSTM"]
            print(f"| {hidden} | {b} | {rate['stack-rnn']:.0f} | {rate['tape-rnn']:.0f} | "
                  f"{lstm:.0f} | {rate['stack-rnn'] / lstm:.3f} | {rate['tape-rnn'] / lstm:.3f} |",
                  flush=True)
            results[f"H{hidden}_B{b}"] = rate
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
