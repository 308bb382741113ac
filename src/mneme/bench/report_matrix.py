"""The matrix report: cores in rows, tasks in columns, what each memory solved, and a heatmap.

Driven by what the tasks declare (``TaskInfo``: metric, unit, percent, solved threshold,
generalisation sets) and by the cells' columns (``mneme.bench.matrix``): nothing here names a
task or a core. A cell's entry is the **median over seeds** of the test metric, with the range
over seeds in brackets (every seed counts, none is selected); a check mark says the median is at
or below the task's ``solved_below``; the published number for the pair (``anchors.MATRIX``),
with its far larger budget, is listed below the table.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mneme import registry
from mneme.bench.anchors import MATRIX
from mneme.bench.suites import Cell
from mneme.types import TaskInfo

__all__ = ["MatrixEntry", "matrix_entries", "matrix_section", "plot_matrix"]


@dataclass(frozen=True)
class MatrixEntry:
    """One (core, column) of the matrix: the test metric of every seed, and the generalisation
    sets' medians (``{group: median}``)."""

    core: str
    column: str
    info: TaskInfo
    values: tuple[float, ...]
    generalisation: dict[str, float]
    steps: int
    sequences: int
    seconds: float

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def solved(self) -> bool:
        limit = self.info.solved_below
        return limit is not None and self.median <= limit

    def show(self, value: float) -> str:
        """``value`` in the task's unit (percentages for fractions)."""
        if math.isnan(value):
            return "n/a"
        if self.info.percent:
            return f"{100 * value:.1f}"
        return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def _info(cell: Cell) -> TaskInfo:
    return registry.task_entry(cell.task_name).build(cell.task).info


def matrix_entries(finished: Sequence[tuple[Cell, dict[str, Any]]]) -> list[MatrixEntry]:
    """One entry per finished matrix cell (``cell.column`` set)."""
    infos: dict[str, TaskInfo] = {}
    entries = []
    for cell, summary in finished:
        if cell.column is None:
            continue
        if cell.column not in infos:
            infos[cell.column] = _info(cell)
        info = infos[cell.column]
        reps = summary["repeats"]
        values = tuple(float(r["test"].get(info.metric, math.nan)) for r in reps)
        gen = {}
        for group in info.generalisation:
            found = [r["test"][f"{info.metric}_{group}"] for r in reps
                     if f"{info.metric}_{group}" in r["test"]]
            if found:
                gen[group] = float(statistics.median(found))
        steps = int(statistics.median(r["steps"] for r in reps))
        entries.append(MatrixEntry(cell.group, cell.column, info, values, gen, steps,
                                   steps * cell.train.batch_size,
                                   float(sum(r["seconds"] for r in reps))))
    return entries


def _grid(entries: Sequence[MatrixEntry]) -> tuple[list[str], list[str],
                                                     dict[tuple[str, str], MatrixEntry]]:
    cores = list(dict.fromkeys(e.core for e in entries))
    columns = list(dict.fromkeys(e.column for e in entries))
    return cores, columns, {(e.core, e.column): e for e in entries}


def _unit(entry: MatrixEntry) -> str:
    info = entry.info
    return info.unit if info.metric.lower() in info.unit.lower() else f"{info.metric} ({info.unit})"


def matrix_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
                   ) -> tuple[str, str]:
    """The report's Markdown section and the table printed in the terminal; draws
    ``OUT/plots/matrix.png``."""
    entries = matrix_entries(finished)
    if not entries:
        return "", ""
    cores, columns, grid = _grid(entries)
    first = {c: next(e for e in entries if e.column == c) for c in columns}
    head = "| core | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows = [head, rule,
            "| *unit* | " + " | ".join(_unit(first[c]) for c in columns) + " |",
            "| *solved at* | " + " | ".join(
                "n/a" if first[c].info.solved_below is None else
                f"<= {first[c].show(first[c].info.solved_below)}" for c in columns) + " |"]
    for core in cores:
        cells = []
        for column in columns:
            e = grid.get((core, column))
            if e is None:
                cells.append("")
                continue
            spread = f" [{e.show(min(e.values))}-{e.show(max(e.values))}]" \
                if len(e.values) > 1 else ""
            cells.append(f"{'**' if e.solved else ''}{e.show(e.median)}"
                         f"{'**' if e.solved else ''}{spread}")
        rows.append(f"| {core} | " + " | ".join(cells) + " |")
    table = "\n".join(rows)
    solved_lines = []
    for column in columns:
        winners = [c for c in cores if (c, column) in grid and grid[(c, column)].solved]
        solved_lines.append(f"- **{column}**: {', '.join(winners) if winners else 'none'}")
    gen_rows = _generalisation_table(entries, cores, columns, grid)
    anchors = [f"- {column} / {core}: {a.text} ({a.source}; budget: {a.budget}); ours "
               f"{grid[(core, column)].show(grid[(core, column)].median)} after "
               f"{grid[(core, column)].sequences:,} sequences"
               for (column, core), a in MATRIX.items() if (core, column) in grid]
    unpublished = [f"{core} on {column}" for column in columns for core in cores
                   if (core, column) in grid and (column, core) not in MATRIX]
    budgets = [f"- {c}: median {statistics.median(e.steps for e in entries if e.column == c):.0f}"
               f" steps, {statistics.median(e.sequences for e in entries if e.column == c):,.0f}"
               f" sequences a seed" for c in columns]
    seeds = max(len(e.values) for e in entries)
    plot_matrix(entries, out / "plots" / "matrix.png")
    text = "\n".join([
        "## The memory matrix", "",
        f"Test metric, median over {seeds} seed(s) with the range in brackets; **bold**: solved "
        "(the median at or below the task's threshold). Lower is better everywhere.", "",
        table, "", "Solved by:", *solved_lines, "",
        *(["Generalisation (median over seeds, beyond the training range):", "", gen_rows, ""]
          if gen_rows else []),
        "Budget (every core alike; early stop once validation reaches the target):", *budgets,
        "",
        "Published results for these pairs (at the papers' budgets, far larger than ours):",
        *(anchors or ["- none"]), "",
        f"No published run that we know of: {', '.join(unpublished) or 'none'}.", "",
        "![matrix](plots/matrix.png)", ""])
    return text, "\n".join([table, "", "Solved by:", *solved_lines])


def _generalisation_table(entries: Sequence[MatrixEntry], cores: list[str],
                          columns: list[str],
                          grid: dict[tuple[str, str], MatrixEntry]) -> str:
    keys = [(c, g) for c in columns
            for g in next(e for e in entries if e.column == c).info.generalisation]
    keys = [(c, g) for c, g in keys if any(g in e.generalisation for e in entries
                                           if e.column == c)]
    if not keys:
        return ""
    rows = ["| core | " + " | ".join(f"{c} {g}" for c, g in keys) + " |",
            "|---|" + "---:|" * len(keys)]
    for core in cores:
        cells = []
        for column, group in keys:
            e = grid.get((core, column))
            cells.append("" if e is None or group not in e.generalisation
                         else e.show(e.generalisation[group]))
        rows.append(f"| {core} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_matrix(entries: Sequence[MatrixEntry], path: Path) -> Path:
    """A heatmap: colour log10(median / solved threshold) (green: solved), text the median."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cores, columns, grid = _grid(entries)
    score = np.full((len(cores), len(columns)), np.nan)
    for (core, column), e in grid.items():
        limit = e.info.solved_below
        if limit and not math.isnan(e.median):
            score[cores.index(core), columns.index(column)] = math.log10(
                max(e.median, limit / 1000) / limit)
    fig, ax = plt.subplots(figsize=(1.4 * len(columns) + 2.5, 0.5 * len(cores) + 1.8))
    image = ax.imshow(np.clip(score, -1, 2), cmap="RdYlGn_r", vmin=-1, vmax=2, aspect="auto")
    for (core, column), e in grid.items():
        ax.text(columns.index(column), cores.index(core), e.show(e.median), ha="center",
                va="center", fontsize=8, fontweight="bold" if e.solved else "normal")
    ax.set_xticks(range(len(columns)), [f"{c}\n{_unit(grid_first(grid, c))}" for c in columns],
                  fontsize=7, rotation=30, ha="right")
    ax.set_yticks(range(len(cores)), cores, fontsize=8)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("log10(median / solved threshold); <= 0: solved", fontsize=8)
    ax.set_title("mneme memory matrix: test metric, median over seeds (bold: solved)",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def grid_first(grid: dict[tuple[str, str], MatrixEntry], column: str) -> MatrixEntry:
    """Any entry of ``column`` (for its unit)."""
    return next(e for (_, c), e in grid.items() if c == column)
