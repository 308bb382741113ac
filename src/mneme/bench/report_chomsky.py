"""The Chomsky-hierarchy report: ours beside Delétang et al. 2023's Table 2, a heatmap and
accuracy against length.

Cells (``mneme.bench.chomsky_cells``) are read through the family report's entries
(``report_family_entries.family_entries``: each repeat's test metric and per-length metrics) and
merged per (model, task) over learning rates and seeds. A score is the per-token accuracy averaged
over the test lengths (``mneme.tasks.chomsky.base``); the table gives the **maximum** over seeds
and learning rates (the paper's statistic) and the median (which the paper does not give); **bold**
when the maximum is solved (>= 90%). The budget the cells ran at is printed from their configs.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mneme.bench.anchors_external import CHOMSKY, CHOMSKY_SOURCE
from mneme.bench.cells import Cell
from mneme.bench.report_family_entries import FamilyEntry, family_entries, task_info

__all__ = ["ChomskyEntry", "budget_scores", "chomsky_entries", "chomsky_section"]

SOLVED = 0.90
LENGTH_FIGURE_TASKS = ("reverse-string", "duplicate-string")


@dataclass(frozen=True)
class ChomskyEntry:
    """One (model, task): every run's score (accuracy, a fraction), and per test length every
    run's accuracy. ``column`` and ``generalisation`` (as errors) let the family report's
    generalisation figure draw it."""

    group: str
    column: str
    info: Any
    scores: tuple[float, ...]
    by_length: dict[int, tuple[float, ...]]

    @property
    def best(self) -> float:
        return max(self.scores)

    @property
    def median(self) -> float:
        return statistics.median(self.scores)

    @property
    def solved(self) -> bool:
        return self.best >= SOLVED

    @property
    def generalisation(self) -> dict[str, tuple[float, ...]]:
        return {f"len{n}": tuple(1 - a for a in v) for n, v in self.by_length.items()}


def chomsky_entries(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path | None
                    ) -> list[ChomskyEntry]:
    """One entry per (group, task), merging the cells of every learning rate."""
    merged: dict[tuple[str, str], list[FamilyEntry]] = {}
    for e in family_entries(finished, out):
        merged.setdefault((e.group, e.cell.task_name.removeprefix("chomsky-")), []).append(e)
    entries = []
    for (group, task), parts in merged.items():
        by_length: dict[int, tuple[float, ...]] = {}
        for part in parts:
            for key, errors in part.generalisation.items():
                n = int(re.sub(r"\D", "", key))
                by_length[n] = by_length.get(n, ()) + tuple(1 - v for v in errors)
        scores = tuple(1 - v for part in parts for v in part.values)
        if scores:
            entries.append(ChomskyEntry(group, task, parts[0].info, scores,
                                        dict(sorted(by_length.items()))))
    return entries


def budget_scores(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
                  ) -> dict[tuple[str, str], dict[int, list[float]]]:
    """(group, task) -> strings trained -> every run's score (%) at that budget, for the cells
    extended to larger budgets (``mneme.train.rundir.budget_results``); the others are left
    out. A run that stopped early counts at each larger budget with its one result."""
    from mneme.train.rundir import budget_results

    scores: dict[tuple[str, str], dict[int, list[float]]] = {}
    for cell, summary in finished:
        metric = task_info(cell, summary).metric
        history = [budget_results(out / "cells" / cell.key / str(r.get("dir", ".")))
                   for r in summary.get("repeats", [])]
        # The budgets: those each extension started from, and the cell's own.
        budgets = sorted({r.steps for h in history for r in h[:-1]}
                         | {cell.train.epochs * cell.train.epoch_steps})
        if len(budgets) < 2:
            continue
        key = (cell.group, cell.task_name.removeprefix("chomsky-"))
        for steps in budgets:
            for h in history:
                done = [r for r in h if r.steps <= steps and metric in r.test]
                if done:
                    scores.setdefault(key, {}).setdefault(
                        steps * cell.train.batch_size, []).append(
                        100 * (1 - done[-1].test[metric]))
    return scores


def _budget_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
                    ) -> list[str]:
    """The score-against-budget table and ``plots/chomsky-budget.png``; empty when no cell
    was extended."""
    from mneme.tasks.chomsky import TASKS
    from mneme.viz.budget import plot_budget

    scores = budget_scores(finished, out)
    if not scores:
        return []
    budgets = sorted({b for points in scores.values() for b in points})
    head = ["model", "task", *(f"{b:,} strings" for b in budgets)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = list(TASKS)  # by level, as the main table
    rank = {g: i for i, g in enumerate(dict.fromkeys(c.group for c, _ in finished))}
    for (group, task), points in sorted(scores.items(), key=lambda kv: (
            order.index(kv[0][1]), rank.get(kv[0][0], 0))):
        cells = [f"{max(v):.1f} ({statistics.median(v):.1f})" if (v := points.get(b)) else ""
                 for b in budgets]
        rows.append("| " + " | ".join([group, task, *cells]) + " |")
    groups = [g for g in dict.fromkeys(c.group for c, _ in finished)
              if any(k[0] == g for k in scores)]  # the suite's row order
    tasks = [t for t in order if any(k[1] == t for k in scores)]
    plot = plot_budget(scores, groups, tasks, out / "plots" / "chomsky-budget.png",
                       solved=100 * SOLVED, label="score (%)")
    return ["### Score against budget", "",
            "The cells below were trained at one budget and then extended (a longer run from "
            "the last checkpoint; the earlier result is kept as `final-stepN.json`): the score "
            "(%) of the best validation checkpoint within each budget, max (median) over runs. "
            f"Figure: `plots/{plot.name}`.", "", *rows, ""]


def _budget(cells: Sequence[Cell]) -> list[str]:
    """What the cells ran at, from their configs (one line per distinct setting)."""
    seen = []
    for cell in cells:
        t = cell.train
        width = getattr(cell.model, "hidden_size", None) or getattr(
            cell.model, "controller_size", None)
        line = (f"- {cell.group}: {t.epochs * t.epoch_steps:,} steps of {t.batch_size} "
                f"({t.epochs * t.epoch_steps * t.batch_size:,} strings), width {width}, Adam lr "
                f"{t.lr:g}, clip {t.clip_norm:g}, {t.repeats} seed(s), "
                f"{getattr(cell.task, 'test_size', '?')} test strings a length")
        if line not in seen:
            seen.append(line)
    return seen


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def chomsky_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
                    ) -> tuple[str, str]:
    """The report's Markdown and the terminal table; draws ``OUT/plots/chomsky-heatmap.png``
    and ``OUT/plots/chomsky-length.png`` (with SVGs)."""
    from mneme.tasks.chomsky import LEVELS, TASKS

    entries = chomsky_entries(finished, out)
    if not entries:
        return "", ""
    grid = {(e.group, e.column): e for e in entries}
    groups = list(dict.fromkeys(e.group for e in entries))
    tasks = [t for t in TASKS if any(e.column == t for e in entries)]
    paper_groups = [g for g in groups if any(g in CHOMSKY.get(t, {}) for t in tasks)]
    head = ["level", "task"]
    for g in groups:
        head += [f"{g} ours: max (median)", f"{g} paper"] if g in paper_groups else \
            [f"{g} ours: max (median)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task in tasks:
        row = [LEVELS[TASKS[task].level], task]
        for g in groups:
            e = grid.get((g, task))
            text = "" if e is None else (
                f"{'**' if e.solved else ''}{_pct(e.best)}{'**' if e.solved else ''}"
                + (f" ({_pct(e.median)})" if len(e.scores) > 1 else ""))
            row.append(text)
            if g in paper_groups:
                value = CHOMSKY.get(task, {}).get(g)
                row.append("" if value is None else f"{value:.1f}")
        rows.append("| " + " | ".join(row) + " |")
    table = "\n".join(rows)
    solved = [f"- **{g}**: " + (", ".join(t for t in tasks if (g, t) in grid
                                          and grid[(g, t)].solved) or "none") for g in groups]
    plots = _plots(entries, groups, tasks, out)
    text = "\n".join([
        "## Neural Networks and the Chomsky Hierarchy", "",
        "Score: per-token accuracy (%) averaged over the test lengths "
        f"({', '.join(str(n) for n in next(iter(entries)).by_length) or 'n/a'}), trained on "
        "lengths 1-40; ours is the maximum over seeds and learning rates (as the paper) with the "
        f"median in brackets; **bold**: solved (>= {100 * SOLVED:.0f}%). Paper: "
        f"{CHOMSKY_SOURCE} (max over 10 seeds x 3 learning rates, 1M steps of 128); empty paper "
        "cells were not checked against the paper and are left out.", "",
        table, "", "Solved (max over runs):", *solved, "",
        "Budget (the paper: 1,000,000 steps of 128, width 256):", *_budget([c for c, _ in
                                                                            finished]), "",
        "Plots: the heatmap (`plots/chomsky-heatmap.png`) and, for Reverse String and Duplicate "
        "String, the test error (100 - accuracy, median over runs) against length "
        "(`plots/chomsky-length.png`); SVGs beside them.",
        *(f"- `plots/{p.name}`" for p in plots), "", *_budget_section(finished, out)])
    return text, "\n".join([table, "", "Solved (max over runs):", *solved])


def _plots(entries: list[ChomskyEntry], groups: list[str], tasks: list[str], out: Path
           ) -> list[Path]:
    from mneme.viz.heatmap import plot_heatmap
    from mneme.viz.report import plot_generalisation

    grid = {(e.group, e.column): e for e in entries}
    values = [[100 * grid[(g, t)].best if (g, t) in grid else None for t in tasks]
              for g in groups]
    marks = [[(g, t) in grid and grid[(g, t)].solved for t in tasks] for g in groups]
    paths = [plot_heatmap(values, groups, tasks, marks, out / "plots" / "chomsky-heatmap.png",
                          title="Chomsky hierarchy: score (%), max over runs; boxed: solved",
                          label="accuracy (%)", vmin=0.0, vmax=100.0)]
    shown = [t for t in LENGTH_FIGURE_TASKS if t in tasks]
    if any(grid[k].by_length for k in grid if k[1] in shown):
        paths.append(plot_generalisation(
            [e for e in entries if e.column in shown], groups, shown, lambda g: g,
            lambda s: ("length", int(s.removeprefix("len"))),
            out / "plots" / "chomsky-length.png"))
    return paths
