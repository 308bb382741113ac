"""The Chomsky-hierarchy suites' cost: a few of their cells at a short budget, timed, and the
full suite's wall time extrapolated from them.

    OMP_NUM_THREADS=1 python benchmarks/chomsky_budget.py [--suite chomsky] [--steps 200]
        [--groups lstm,stack-rnn] [--tasks parity-check] [--out DIR] [--jobs 2]

Each chosen cell of ``--suite`` (``mneme.bench.chomsky_cells``) runs with ``--steps`` training
steps and one seed, through the runner's ``run_cell`` (what ``mneme bench`` does: training, the
validations, the test at every test length). Columns:

    train s     the training loop's seconds (validation included), ``--steps`` steps
    cell s      the whole cell's wall time (training plus the test at lengths 41-500)
    ms/step     train s / steps
    full cell   extrapolated to the suite's budget: ms/step x budget steps + the test, x seeds

The last line sums the full cells of the measured (group, task) pairs and scales by the
suite's cells per pair measured (every task costs what the measured tasks cost), divided by
``--jobs``: a rough estimate (tasks differ in output length; the machine is shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="chomsky", choices=("chomsky", "chomsky-small"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--groups", default="lstm,stack-rnn")
    parser.add_argument("--tasks", default="parity-check")
    parser.add_argument("--out", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from mneme.bench import chomsky_cells as cc
    from mneme.bench.runner import run_cell
    from mneme.bench.suites import get_suite

    budget = cc.FULL if args.suite == "chomsky" else cc.SMALL
    short = dataclasses.replace(budget, steps=args.steps, seeds=1,
                                epoch_steps=min(args.steps, budget.epoch_steps))
    groups, tasks = tuple(args.groups.split(",")), tuple(args.tasks.split(","))
    out = args.out or tempfile.mkdtemp(prefix="chomsky-budget-")
    total = 0.0
    print(f"{'cell':44s} {'train s':>8s} {'cell s':>8s} {'ms/step':>8s} {'full cell s':>12s}")
    for cell in cc.chomsky_cells(short, groups, tasks):
        start = time.perf_counter()
        _, summary, _ = run_cell(cell, out)
        wall = time.perf_counter() - start
        assert summary is not None
        train = float(summary["seconds"])
        per_step = train / args.steps
        full = (per_step * budget.steps + (wall - train)) * budget.seeds
        total += full
        print(f"{cell.key:44s} {train:8.1f} {wall:8.1f} {1000 * per_step:8.1f} {full:12.0f}")
    cells = get_suite(args.suite).build(None)
    pairs = len(groups) * len(tasks)
    scale = len(cells) / pairs
    print(f"suite {args.suite}: {len(cells)} cells; measured {pairs} (group, task) pair(s): "
          f"about {total * scale / args.jobs / 3600:.1f} h with --jobs {args.jobs} if every "
          f"cell cost what these cost on average")


if __name__ == "__main__":
    main()
