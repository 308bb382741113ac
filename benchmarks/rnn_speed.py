"""Recurrent cells: tokens per second against ``torch.nn.LSTM``, measured side by side.

    OMP_NUM_THREADS=1 python benchmarks/rnn_speed.py [--batch 20] [--length 20] [--hidden 200]
        [--threads 1] [--repeats 5] [--iters 20] [--clock wall|cpu] [--alternatives] [--json PATH]

Every cell of ``mneme.cells`` (one layer, D = H) runs forward only (under ``torch.no_grad``) and
forward + backward (a random linear loss of the outputs, gradients of the input and all
parameters), at PTB-small's shape by default (Zaremba et al. 2014: B = 20, T = 20, H = 200).
Tokens/s is B * T per second; each repeat times ``--iters`` calls of every model in turn
(interleaved, so that load on a shared machine hits all of them alike), and the table reports the
median over repeats and its ratio to a bare ``torch.nn.LSTM`` measured in the same rounds.
``--clock cpu`` divides by the process's CPU time instead of the wall time: on a loaded shared
machine it leaves out the time the process waits for a core, which the wall clock charges to
whichever model is running when the scheduler preempts it (more so to the ones with more ops). Rows
marked "per-step" are the cells' own scan path (what variational recurrent dropout and
``trace=True`` run); rows marked "reference, tests only" are ``mneme.cells.reference``'s readable
equations, to show what the fast paths buy.

``--alternatives`` adds the ways tried to speed up the peephole LSTM before the hand-written
backward pass: the reference loop under TorchScript (``torch.jit.script``) and under
``torch.compile`` (its compile time is reported beside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

Run = Callable[[], None]


def _runs(model: Callable[[Tensor], Tensor], params: list[Tensor], x: Tensor,
          grad_out: Tensor) -> tuple[Run, Run]:
    def forward() -> None:
        with torch.no_grad():
            model(x)

    def train() -> None:
        for p in params:
            p.grad = None
        x.grad = None
        y = model(x)
        torch.autograd.backward(y, grad_out)

    return forward, train


def _peephole_loop(x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, peep: Tensor,
                   h: Tensor, c: Tensor) -> Tensor:
    """The peephole LSTM as a plain autograd loop (the candidate for TorchScript / compile)."""
    xw = torch.nn.functional.linear(x, w_ih, bias)
    ys = []
    for t in range(x.shape[1]):
        a = xw[:, t] + torch.mm(h, w_hh.t())
        a_i, a_f, a_g, a_o = a.chunk(4, 1)
        i = torch.sigmoid(a_i + peep[0] * c)
        f = torch.sigmoid(a_f + peep[1] * c)
        c = f * c + i * torch.tanh(a_g)
        h = torch.sigmoid(a_o + peep[2] * c) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys, 1)


def build(args: argparse.Namespace) -> dict[str, tuple[str, Callable[[Tensor], Tensor], list]]:
    """name -> (kind, model x -> y, parameters)."""
    from mneme.cells import VariantLSTM, build_stack
    from mneme.cells.reference import stack_reference

    h = args.hidden
    models: dict[str, tuple[str, Callable[[Tensor], Tensor], list]] = {}
    base = nn.LSTM(h, h, batch_first=True)
    models["torch.nn.LSTM"] = ("baseline", lambda x: base(x)[0], list(base.parameters()))
    for name in ("rnn", "irnn", "lstm", "gru"):
        s = build_stack(name, h, h)
        models[name] = ("fused", lambda x, s=s: s(x)[0], list(s.parameters()))
    vanilla = VariantLSTM(h, h, variant="vanilla")
    models["lstm per-step"] = ("per-step", lambda x: vanilla(x)[0], list(vanilla.parameters()))
    for name in ("gru", "rnn"):
        s = build_stack(name, h, h)
        # trace=True takes the per-step path that variational recurrent dropout takes
        models[f"{name} per-step"] = ("per-step", lambda x, s=s: s(x, trace=True)[0],
                                      list(s.parameters()))
    for name in ("peephole", "coupled", "no-forget", "no-output", "ln-lstm", "ln-gru"):
        s = build_stack(name, h, h)
        models[name] = ("variant", lambda x, s=s: s(x)[0], list(s.parameters()))
    for name in ("lstm", "peephole", "ln-lstm", "gru", "ln-gru"):
        s = build_stack(name, h, h)
        models[f"{name} reference"] = ("reference, tests only",
                                       lambda x, s=s: stack_reference(s, x)[0],
                                       list(s.parameters()))
    if args.alternatives:
        p = build_stack("peephole", h, h)
        w = [p.weight_ih_l0, p.weight_hh_l0, p.bias_l0, p.peephole_l0]

        def zeros(x: Tensor) -> Tensor:
            return x.new_zeros(x.shape[0], h)

        scripted = torch.jit.script(_peephole_loop)
        models["peephole TorchScript loop"] = (
            "alternative", lambda x: scripted(x, *w, zeros(x), zeros(x)), w)
        compiled = torch.compile(_peephole_loop)
        start = time.perf_counter()
        x0 = torch.randn(args.batch, args.length, h, requires_grad=True)
        compiled(x0, *w, zeros(x0), zeros(x0)).sum().backward()
        with torch.no_grad():
            compiled(x0, *w, zeros(x0), zeros(x0))
        args.compile_seconds = time.perf_counter() - start
        models["peephole torch.compile loop"] = (
            "alternative", lambda x: compiled(x, *w, zeros(x), zeros(x)), w)
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20, help="calls per model per repeat")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or the process's CPU time (steadier under load)")
    parser.add_argument("--alternatives", action="store_true",
                        help="also time TorchScript and torch.compile of the peephole loop")
    parser.add_argument("--json", type=str, default=None, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = build(args)
    b, t, h = args.batch, args.length, args.hidden
    x = torch.randn(b, t, h, requires_grad=True)
    grad_out = torch.randn(b, t, h)
    runs = {name: _runs(m, params, x, grad_out) for name, (_, m, params) in models.items()}
    rates: dict[str, dict[str, list[float]]] = {n: {"forward": [], "train": []} for n in runs}
    for name in runs:  # warm up (TorchScript profiles its first calls)
        for _ in range(3):
            runs[name][0]()
            runs[name][1]()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    for _ in range(args.repeats):
        for mode, k in (("forward", 0), ("train", 1)):
            for name, fns in runs.items():
                start = clock()
                for _ in range(args.iters):
                    fns[k]()
                rates[name][mode].append(args.iters * b * t / (clock() - start))
    med = {n: {m: statistics.median(v) for m, v in r.items()} for n, r in rates.items()}
    ref = med["torch.nn.LSTM"]
    print(f"\n## Tokens/s ({args.clock} clock), B = {b}, T = {t}, D = H = {h}, "
          f"{torch.get_num_threads()} thread(s), median of {args.repeats} interleaved repeats of "
          f"{args.iters} calls\n")
    print("| cell | path | forward tok/s | x nn.LSTM | fwd+bwd tok/s | x nn.LSTM |")
    print("|---|---|---|---|---|---|")
    for name, (kind, _, _) in models.items():
        m = med[name]
        print(f"| {name} | {kind} | {m['forward']:.0f} | {m['forward'] / ref['forward']:.2f} | "
              f"{m['train']:.0f} | {m['train'] / ref['train']:.2f} |")
    if args.alternatives:
        print(f"\ntorch.compile of the peephole loop took {args.compile_seconds:.1f} s to compile "
              "(first forward + backward and first no-grad forward).")
    if args.json:
        out = {"batch": b, "length": t, "hidden": h, "threads": torch.get_num_threads(),
               "clock": args.clock,
               "repeats": args.repeats, "iters": args.iters,
               "compile_seconds": getattr(args, "compile_seconds", None),
               "cells": {n: {"path": models[n][0], "forward_tokens_per_s": med[n]["forward"],
                             "train_tokens_per_s": med[n]["train"],
                             "forward_ratio": med[n]["forward"] / ref["forward"],
                             "train_ratio": med[n]["train"] / ref["train"]} for n in models}}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
