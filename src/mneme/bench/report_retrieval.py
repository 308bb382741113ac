"""The associative retrieval report: Table 1 of Ba et al. 2016 beside ours, and learning curves.

Every seed counts (no best-of selection): a cell's entry is the median test error over its seeds
with the range, and the steps each seed took to first reach a validation error of
``REACHED_BELOW`` %, which is how much faster a model learns at equal R.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import FAST_WEIGHTS, FAST_WEIGHTS_SOURCE
from mneme.bench.suites import Cell

TITLES = {
    "fast-weights": "Fast weights",
    "lstm": "LSTM",
    "irnn": "IRNN",
    "alstm": "A-LSTM",
    "lstm-tuned": "LSTM, lr 3e-3",
    "irnn-tuned": "IRNN, lr 3e-3",
    "delta-rule": "Delta-rule FWP",
}
REACHED_BELOW = 5.0
"""% validation error: a seed has 'learned' the task from the first evaluation at or below it."""


def _seed_runs(cell: Cell, summary: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """Per seed: test error %, steps, and the validation curve read from ``metrics.jsonl``."""
    runs = []
    for rep in summary["repeats"]:
        run_dir = out / "cells" / cell.key / rep["dir"]
        curve = []
        metrics = run_dir / "metrics.jsonl"
        if metrics.is_file():
            for line in metrics.read_text().splitlines():
                record = json.loads(line)
                if "valid_error" in record:
                    curve.append((int(record["step"]), 100 * float(record["valid_error"])))
        reached = next((step for step, err in curve if err <= REACHED_BELOW), None)
        runs.append({"seed": rep["seed"], "test": 100 * float(rep["test"]["error"]),
                     "steps": int(rep["steps"]), "reached": reached, "curve": curve})
    return runs


def _cell_text(runs: list[dict[str, Any]]) -> tuple[str, str]:
    tests = [r["test"] for r in runs]
    med = statistics.median(tests)
    spread = f" [{min(tests):.2f}-{max(tests):.2f}]" if len(tests) > 1 else ""
    error = f"**{med:.2f}**{spread} (n={len(tests)})"
    reached = [r["reached"] for r in runs]
    hits = [s for s in reached if s is not None]
    steps = "/".join(f"{s / 1000:.1f}k" if s is not None else "never" for s in reached)
    if not hits:
        steps = f"never (in {max(r['steps'] for r in runs) / 1000:.0f}k)"
    return error, steps


def retrieval_section(
    finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
) -> tuple[str, str]:
    """Markdown for the suite's ``results.md`` and the table for the terminal; writes
    ``OUT/plots/retrieval-curves.png``."""
    by_group: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for cell, summary in finished:
        r = int(getattr(cell.model, "hidden_size", 0))
        by_group.setdefault(cell.group, {})[r] = _seed_runs(cell, summary, out)
    sizes = sorted({r for cells in by_group.values() for r in cells})
    order = [g for g in TITLES if g in by_group] + sorted(set(by_group) - set(TITLES))
    head = ["model"] + [f"R = {r}: ours" for r in sizes] + [f"R = {r}: paper" for r in sizes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    steps_lines = ["| model | " + " | ".join(f"R = {r}" for r in sizes) + " |",
                   "|" + "---|" * (len(sizes) + 1)]
    for group in order:
        ours, steps = [], []
        for r in sizes:
            runs = by_group[group].get(r)
            text = _cell_text(runs) if runs else ("", "")
            ours.append(text[0])
            steps.append(text[1])
        paper = [FAST_WEIGHTS.get(group, {}).get(r) for r in sizes]
        papers = [f"{p:.2f}" if p is not None else "" for p in paper]
        lines.append("| " + " | ".join([TITLES.get(group, group), *ours, *papers]) + " |")
        steps_lines.append("| " + " | ".join([TITLES.get(group, group), *steps]) + " |")
    table = "\n".join(lines)
    _plot_curves(by_group, order, sizes, out / "plots" / "retrieval-curves.png")
    text = "\n".join([
        "## Associative retrieval (K = 4)",
        "",
        "Test error % on 20,000 held-out sequences: the median over seeds, the range in brackets, "
        f"n seeds; every seed counts (no selection). Paper: {FAST_WEIGHTS_SOURCE}.",
        "",
        table,
        "",
        f"Steps (batch 128) until the validation error first fell to {REACHED_BELOW:.0f}% or "
        "below, per seed:",
        "",
        *steps_lines,
        "",
        "Learning curves: `plots/retrieval-curves.png`.",
    ])
    return text, table


def _plot_curves(by_group: dict[str, dict[int, list[dict[str, Any]]]], order: list[str],
                 sizes: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.8), squeeze=False)
    for ax, r in zip(axes[0], sizes):
        for i, group in enumerate(order):
            for j, run in enumerate(by_group[group].get(r, [])):
                if run["curve"]:
                    steps, errors = zip(*run["curve"])
                    ax.plot(steps, errors, color=f"C{i}", alpha=0.8, linewidth=1.2,
                            label=TITLES.get(group, group) if j == 0 else None)
        ax.set_title(f"R = {r}")
        ax.set_xlabel("training steps (batch 128)")
        ax.set_ylabel("validation error %")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Associative retrieval, K = 4: every seed (Ba et al. 2016, Table 1 setting)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
