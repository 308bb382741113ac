"""The pointer-network report: ours beside Vinyals et al. 2015 (Tables 1 and 2), and drawings.

One row per (cell, metric): convex hull exact-match accuracy, area covered and failures; TSP
mean tour length beside the optimum of the same test set; sorting exact-match and per-position
accuracy (the paper reports no sorting number). Each cell also gets a drawing of a few test
examples decoded by its selected model: ``OUT/plots/pointer-{cell}.png``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import POINTER, PointerAnchor
from mneme.bench.suites import Cell

POINTER_TASKS = ("sort", "convex-hull", "tsp")


def _paper(task: str, n: int, metric: str) -> PointerAnchor | None:
    return next((a for a in POINTER if (a.task, a.n, a.metric) == (task, n, metric)), None)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _rows(cell: Cell, test: dict[str, float]) -> list[tuple[str, str, str, str]]:
    """(metric, ours, paper, note) rows of one cell's test metrics."""
    task, n = cell.task_name, int(cell.task.n)
    rows: list[tuple[str, str, str, str]] = []

    def add(metric: str, ours: str, digits: int = 1) -> None:
        anchor = _paper(task, n, metric) if cell.task.n_max is None else None
        rows.append((metric, ours, _fmt(anchor.value, digits) if anchor else "",
                     anchor.note if anchor else ""))

    if task == "convex-hull":
        add("accuracy %", _fmt(100 * (1 - test["error"])))
        add("area %", _fmt(100 * test.get("area_coverage", math.nan)))
        add("failure %", _fmt(100 * test.get("failure", math.nan)))
    elif task == "tsp":
        add("tour length", _fmt(test.get("tour_length"), 3), 2)
        rows.append(("optimal length", _fmt(test.get("optimal_length"), 3), "", "brute force"))
        rows.append(("length / optimal", _fmt(test.get("length_ratio"), 4), "", ""))
        rows.append(("optimal tours %", _fmt(100 * (1 - test["error"])), "", ""))
    else:
        add("accuracy %", _fmt(100 * (1 - test["error"])))
        add("position accuracy %", _fmt(100 * test.get("position_accuracy", math.nan)))
    return rows


def pointer_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path,
                    *, plots: bool = True) -> tuple[str, str]:
    """Markdown for ``results.md`` and the table for the terminal; draws each cell's examples."""
    head = "| task | n | metric | ours | paper | paper's setting |"
    lines = [head, "|---|---|---|---|---|---|"]
    drawings = []
    for cell, summary in finished:
        n = f"{cell.task.n}" + (f"-{cell.task.n_max}" if cell.task.n_max is not None else "")
        for metric, ours, paper, note in _rows(cell, summary["test"]):
            lines.append(f"| {cell.task_name} | {n} | {metric} | {ours} | {paper} | {note} |")
        if plots:
            drawings.append(_draw(cell, out))
    table = "\n".join(lines)
    seconds = sum(float(s["seconds"]) for _, s in finished)
    text = "\n".join([
        "## Pointer networks",
        "",
        "Test metrics of the repeat selected on validation, greedy decoding with already "
        "pointed positions masked (the paper constrains its beam search to valid outputs "
        "instead). Accuracy is exact match (a hull counts as right when its vertex cycle equals "
        "the true one from any starting vertex); area is the predicted polygon's area over the "
        "true hull's, averaged over valid (simple) polygons; tour lengths are means over the "
        "test set, whose optimum is printed beside them. Paper: Vinyals et al. 2015, Tables 1 "
        "and 2; its hull rows at n = 5 and 10 are one model trained on n = 5-50 (ours: trained "
        f"at the n tested). Training time {seconds:.0f} s summed over these cells.",
        "",
        table,
        "",
        *(f"Examples: `plots/{p.name}`." for p in drawings),
    ])
    return text, table


def _draw(cell: Cell, out: Path) -> Path:
    """Decode a few test examples with the cell's selected model and draw them."""
    from mneme.train.run import load_run
    from mneme.viz.pointer import plot_pointer_run

    _, task, model = load_run(out / "cells" / cell.key)
    path = out / "plots" / f"pointer-{cell.key}.png"
    return plot_pointer_run(cell.task_name, task, model, path, examples=8,
                            title=f"Ptr-Net, {cell.task_name}, n = {cell.task.n}: test examples")
