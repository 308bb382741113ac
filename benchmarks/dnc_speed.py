"""Differentiable Neural Computer against the NTM: training step time and tensor ops per time step,
measured side by side in one run.

    OMP_NUM_THREADS=1 python benchmarks/dnc_speed.py [--batch 1,64] [--length 10] [--threads 1]
        [--steps 10] [--rounds 3]

One training step is what ``mneme train --task copy`` does: forward of the ``SequenceModel`` (the
core composed with the copy task), the loss, backward, gradient clipping and RMSProp. Both cores
have an LSTM controller of 64 units (the matrix's width) and their own default memories: the DNC
32 x 16 with 4 read heads and one write head (``DNCConfig``), the NTM 128 x 20 with one read and
one write head (``NTMConfig``, the NTM paper's copy configuration). Every batch holds copy
sequences of one length (``--length``), so both cores run the same T = 2 L + 1 steps.

Columns:
    ms/step       wall milliseconds per time step of a training step (best of ``--rounds``
                  interleaved rounds; the machine is shared, so the best round is the least
                  disturbed one).
    ops/step      top-level ATen ops of one training step over T (``ntm_speed.count_ops``).
    link %        the DNC's temporal-link work (``update_link``, ``update_precedence``,
                  ``directional_weightings``, forward and backward) timed alone, as a share of
                  the DNC's step: what a sparse link matrix (Rae et al. 2016) could save at most.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from torch import nn

from ntm_speed import count_ops, time_rounds

WIDTH = 64


def build(name: str, task: Any) -> nn.Module:
    from mneme import registry
    from mneme.models.build import build_model
    from mneme.models.sequence import composed_config

    torch.manual_seed(0)
    return build_model(name, composed_config(registry.core_entry(name))(controller_size=WIDTH),
                       task)


def make_step(model: nn.Module, task: Any) -> Any:
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-4)

    def step(batch: Any) -> None:
        opt.zero_grad(set_to_none=True)
        task.loss(model(batch.inputs), batch).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 50.0)
        opt.step()

    return step


def link_seconds(core: Any, batch: int, steps: int, rounds: int) -> float:
    """Best wall seconds of ``steps`` link updates and directional weightings, fwd + bwd."""
    from mneme.memory import dnc_access as access

    cfg = core.config
    n, r, rw = cfg.memory_size, cfg.num_reads, cfg.num_writes
    best = float("inf")
    for _ in range(rounds):
        write_w = torch.softmax(torch.randn(steps, batch, rw, n), -1).requires_grad_()
        read_w = torch.softmax(torch.randn(batch, r, n), -1)
        start = time.perf_counter()
        link, p = torch.zeros(batch, rw, n, n), torch.zeros(batch, rw, n)
        total = torch.zeros(())
        for t in range(steps):
            link = access.update_link(link, p, write_w[t])
            p = access.update_precedence(p, write_w[t])
            fwd, bwd = access.directional_weightings(link, read_w)
            total = total + fwd.sum() + bwd.sum()
        total.backward()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1,64")
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    torch.set_num_threads(args.threads)
    task = CopyTask(CopyConfig(min_length=args.length, max_length=args.length, valid_size=1,
                               test_size=1))
    steps_t = 2 * args.length + 1
    print(f"\n## DNC vs NTM training step on copy, length {args.length} (T = {steps_t}), "
          f"{torch.get_num_threads()} thread(s), best of {args.rounds} rounds of {args.steps} "
          "steps\n")
    print("| batch | NTM ms/step | DNC ms/step | DNC / NTM | NTM ops/step | DNC ops/step "
          "| DNC / NTM ops | link % of DNC |")
    print("|---|---|---|---|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for b in (int(x) for x in args.batch.split(",")):
        models = {name: build(name, task) for name in ("ntm", "dnc")}
        steps_fn = {name: make_step(m, task) for name, m in models.items()}
        batches = [task.sample(b, generator) for _ in range(args.steps)]
        for step in steps_fn.values():  # warm up
            for batch in batches[:2]:
                step(batch)
        ops = {name: count_ops(fn, batches[0]) / steps_t for name, fn in steps_fn.items()}
        best = time_rounds({name: (step, batches) for name, step in steps_fn.items()}, args.rounds)
        ms = {name: 1e3 * b / seq_s / steps_t for name, (seq_s, _) in best.items()}
        link = 1e3 * link_seconds(models["dnc"].core, b, steps_t, args.rounds) / steps_t
        print(f"| {b} | {ms['ntm']:.2f} | {ms['dnc']:.2f} | {ms['dnc'] / ms['ntm']:.2f} | "
              f"{ops['ntm']:.0f} | {ops['dnc']:.0f} | {ops['dnc'] / ops['ntm']:.2f} | "
              f"{100 * link / ms['dnc']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
