"""Score against training budget: one panel per task, a line per model (the best run at each
budget, the median dashed), for suites whose cells were extended to larger budgets
(``mneme.train.rundir.budget_results``). Drawn for the Chomsky-hierarchy report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from mneme.viz.figure import save_figure

__all__ = ["plot_budget"]


def plot_budget(scores: Mapping[tuple[str, str], Mapping[int, Sequence[float]]],
                rows: Sequence[str], columns: Sequence[str], path: Path, *, solved: float,
                label: str, unit: str = "strings") -> Path:
    """``scores[(row, column)][budget]``: every run's score (in %) at that budget (``unit``
    trained, e.g. strings); drawn with the budget on a log axis and the ``solved`` line.
    Writes ``path`` (PNG) and its SVG.

    Raises:
        ValueError: ``scores`` holds no point of any of ``columns``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in columns if any(k[1] == c for k in scores)]
    if not shown:
        raise ValueError("plot_budget: no scores for the columns asked for")
    ncols = min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False,
                             sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    budgets_all = sorted({b for points in scores.values() for b in points})
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, column in zip(axes.flat, shown):
        for i, row in enumerate(rows):
            points = scores.get((row, column))
            if not points:
                continue
            budgets = sorted(points)
            colour = colours[i % len(colours)]
            ax.plot(budgets, [max(points[b]) for b in budgets], marker="o", color=colour,
                    label=row)
            if any(len(points[b]) > 1 for b in budgets):
                ax.plot(budgets, [statistics.median(points[b]) for b in budgets],
                        linestyle="--", color=colour, linewidth=1)
        ax.axhline(solved, color="grey", linewidth=0.8, linestyle=":")
        ax.text(ax.get_xlim()[0], solved, f" solved ({solved:g}%)", fontsize=7, color="grey",
                va="bottom")
        ax.set_xscale("log")
        ax.set_xticks(budgets_all, [f"{b / 1000:g}k" for b in budgets_all])
        ax.minorticks_off()
        ax.set_xlabel(f"training budget ({unit}, log scale)", fontsize=8)
        ax.set_title(column, fontsize=9)
        ax.tick_params(labelsize=7)
    for row in axes:
        row[0].set_ylabel(label, fontsize=8)
    axes.flat[len(shown) - 1].legend(fontsize=7, loc="best")
    fig.suptitle("Score against budget: solid the best run, dashed the median", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
