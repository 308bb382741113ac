"""The algorithmic-task report: the NTM paper's copy, repeat copy, associative recall and priority
sort (Graves et al. 2014, section 4), ours beside what the paper states.

Every seed counts (no best-of selection). Per task, a table: bits per sequence on validation and
test (training distribution) and on each generalisation set (``bits_len120``, ``bits_items12``,
...), the median over seeds with the range, and the sequences each seed saw (steps x batch size)
until its validation bits per sequence first fell to ``REACHED_BELOW``. Plots: learning curves
per task (``plots/algorithmic-{task}-curves.png``) and bits against the generalisation setting
(``plots/algorithmic-generalisation.png``).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import ALGORITHMIC, ALGORITHMIC_SOURCE
from mneme.bench.suites import Cell

TASKS = ("copy", "repeat-copy", "associative-recall", "priority-sort")
TASK_TITLES = {"copy": "Copy (section 4.1)", "repeat-copy": "Repeat copy (section 4.2)",
               "associative-recall": "Associative recall (section 4.3)",
               "priority-sort": "Priority sort (section 4.5)"}
TITLES = {"ntm-lstm": "NTM, LSTM controller", "ntm-ff": "NTM, feedforward controller",
          "ntm-hard": "NTM, stochastic hard reads (REINFORCE)",
          "lstm": "LSTM"}
SETTING_NAMES = {"len": "length", "rep": "repeats", "items": "items"}
REACHED_BELOW = 0.1
"""Validation bits per sequence: a seed has learned the task from the first evaluation at or
below it."""
_GROUP_KEY = re.compile(r"^bits_(?P<kind>[a-z]+)(?P<n>\d+)$")


def _training(task_name: str, task: Any) -> str:
    """The training distribution in a few characters."""
    if task_name == "copy":
        return f"L {task.min_length}-{task.max_length}"
    if task_name == "repeat-copy":
        return (f"L {task.min_length}-{task.max_length}, "
                f"R {task.min_repeats}-{task.max_repeats}")
    if task_name == "associative-recall":
        return f"K {task.min_items}-{task.max_items}"
    return f"N {task.num_inputs}, M {task.num_outputs}"


def _seed_runs(cell: Cell, summary: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """Per seed: valid and test metrics, and the validation curve from ``metrics.jsonl`` as
    (sequences seen, bits, cost)."""
    batch = cell.train.batch_size
    runs = []
    for rep in summary["repeats"]:
        curve = []
        metrics = out / "cells" / cell.key / rep["dir"] / "metrics.jsonl"
        if metrics.is_file():
            for line in metrics.read_text().splitlines():
                record = json.loads(line)
                if "valid_bits" in record:
                    curve.append((int(record["step"]) * batch, float(record["valid_bits"]),
                                  float(record.get("valid_cost", float("nan")))))
        reached = next((seen for seen, bits, _ in curve if bits <= REACHED_BELOW), None)
        runs.append({"seed": rep["seed"], "valid": rep["valid"], "test": rep["test"],
                     "sequences": int(rep["steps"]) * batch, "reached": reached, "curve": curve})
    return runs


def _median(values: list[float]) -> str:
    if not values:
        return ""
    text = f"{statistics.median(values):.2f}"
    return text + (f" [{min(values):.2f}-{max(values):.2f}]" if len(values) > 1 else "")


def _count(n: int) -> str:
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n / 1000:.1f}k"


def _reached(runs: list[dict[str, Any]]) -> str:
    hits = [r["reached"] for r in runs]
    if all(h is None for h in hits):
        return f"never (in {_count(max(r['sequences'] for r in runs))})"
    return "/".join(_count(h) if h is not None else "never" for h in hits)


def _settings(rows: list[tuple[Cell, list[dict[str, Any]]]]) -> list[tuple[str, int]]:
    """The generalisation groups in the test results, as (kind, n), sorted."""
    found = set()
    for _, runs in rows:
        for run in runs:
            for key in run["test"]:
                match = _GROUP_KEY.match(key)
                if match:
                    found.add((match["kind"], int(match["n"])))
    return sorted(found)


def _order(cells: list[tuple[Cell, list[dict[str, Any]]]]) -> list[tuple[Cell, list[Any]]]:
    rank = {g: i for i, g in enumerate(TITLES)}
    return sorted(cells, key=lambda c: (rank.get(c[0].group, len(rank)), c[0].key))


def _task_table(task_name: str, rows: list[tuple[Cell, list[dict[str, Any]]]]) -> str:
    settings = _settings(rows)
    head = ["model", "trained on", "seeds", "valid bits", "test bits",
            *(f"{kind}{n}" for kind, n in settings),
            f"sequences to <= {REACHED_BELOW} bits", "paper: sequences to ~0"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = [cell.group for cell, _ in rows]
    for cell, runs in rows:
        title = TITLES.get(cell.group, cell.group)
        if groups.count(cell.group) > 1:
            title += f" ({cell.key})"
        anchor = ALGORITHMIC.get(task_name, {}).get(cell.group)
        paper = "n/a"
        if anchor is not None:
            paper = f"~{_count(anchor.sequences)}" if anchor.sequences else "see below"
        row = [title, _training(task_name, cell.task), str(len(runs)),
               _median([r["valid"]["bits"] for r in runs if "bits" in r["valid"]]),
               "**" + _median([r["test"]["bits"] for r in runs if "bits" in r["test"]]) + "**"]
        for kind, n in settings:
            row.append(_median([r["test"][f"bits_{kind}{n}"] for r in runs
                                if f"bits_{kind}{n}" in r["test"]]))
        row += [_reached(runs), paper]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def algorithmic_section(
    finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path
) -> tuple[str, str]:
    """Markdown for the suite's ``results.md`` and the tables for the terminal; writes the plots
    under ``OUT/plots/``."""
    by_task: dict[str, list[tuple[Cell, list[dict[str, Any]]]]] = {}
    for cell, summary in finished:
        by_task.setdefault(cell.task_name, []).append((cell, _seed_runs(cell, summary, out)))
    text = [
        "## Algorithmic tasks (Graves et al. 2014, section 4)",
        "",
        "Bits per sequence: wrong output bits (sigmoid thresholded at 0.5) per sequence, the "
        "median over seeds with the range in brackets; every seed counts. 'test' is a fresh set "
        "at the training distribution; the other columns are generalisation sets (lenL: length L, "
        "repR: R repeats, itemsK: K items; repeat copy's lenL runs at the most training repeats "
        "and repR at the longest training length). Sequences: training sequences (steps x batch) "
        f"until the validation bits first fell to {REACHED_BELOW} or below, per seed. Paper: "
        f"{ALGORITHMIC_SOURCE}; its results are learning curves and pictures, so 'approx.' "
        "values are read off figures.",
        "",
    ]
    tables = []
    for task_name in [t for t in TASKS if t in by_task] + sorted(set(by_task) - set(TASKS)):
        rows = _order(by_task[task_name])
        table = _task_table(task_name, rows)
        tables.append(f"{TASK_TITLES.get(task_name, task_name)}\n{table}")
        text += [f"### {TASK_TITLES.get(task_name, task_name)}", "", table, ""]
        for group in dict.fromkeys(cell.group for cell, _ in rows):
            anchor = ALGORITHMIC.get(task_name, {}).get(group)
            if anchor is not None:
                where = anchor.source.removeprefix(f"{ALGORITHMIC_SOURCE}, ")
                text.append(f"- Paper, {anchor.label}: {anchor.summary} ({where}).")
        curves = out / "plots" / f"algorithmic-{task_name}-curves.png"
        _plot_curves(task_name, rows, curves)
        text += ["", f"Learning curves: `plots/{curves.name}`.", ""]
    if any(_settings(rows) for rows in by_task.values()):
        _plot_generalisation(by_task, out / "plots" / "algorithmic-generalisation.png")
        text += ["Generalisation: `plots/algorithmic-generalisation.png`.", ""]
    return "\n".join(text).rstrip() + "\n", "\n\n".join(tables)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _symlog(ax: Any) -> None:
    """Log y above ``REACHED_BELOW``, linear below it (so 0 shows), without minor tick labels."""
    from matplotlib.ticker import NullLocator

    ax.set_yscale("symlog", linthresh=REACHED_BELOW)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(bottom=0)


def _plot_curves(task_name: str, rows: list[tuple[Cell, list[dict[str, Any]]]],
                 path: Path) -> None:
    """Validation cost (the paper's curves) and bit errors per sequence vs sequences seen."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (cell, runs) in enumerate(rows):
        label = TITLES.get(cell.group, cell.group)
        for j, run in enumerate(runs):
            if not run["curve"]:
                continue
            seen, bits, cost = zip(*run["curve"])
            for ax, values in ((axes[0], cost), (axes[1], bits)):
                ax.plot(seen, values, color=f"C{i}", alpha=0.8, linewidth=1.2,
                        label=label if j == 0 else None)
    for ax, ylabel in ((axes[0], "validation cost per sequence (bits)"),
                       (axes[1], "validation bit errors per sequence")):
        ax.set_xlabel("sequences seen")
        ax.set_ylabel(ylabel)
        _symlog(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{TASK_TITLES.get(task_name, task_name)}: every seed")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_generalisation(by_task: dict[str, list[tuple[Cell, list[dict[str, Any]]]]],
                         path: Path) -> None:
    """Test bits per sequence (median over seeds) against each generalisation setting."""
    plt = _pyplot()
    tasks = [t for t in by_task if _settings(by_task[t])]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task_name in zip(axes[0], tasks):
        rows = _order(by_task[task_name])
        settings = _settings(rows)
        kinds = sorted({kind for kind, _ in settings})
        for i, (cell, runs) in enumerate(rows):
            for k, kind in enumerate(kinds):
                points = []
                for n in [n for key_kind, n in settings if key_kind == kind]:
                    values = [r["test"][f"bits_{kind}{n}"] for r in runs
                              if f"bits_{kind}{n}" in r["test"]]
                    if values:
                        points.append((n, statistics.median(values)))
                if points:
                    label = TITLES.get(cell.group, cell.group)
                    if len(kinds) > 1:
                        label += f", by {SETTING_NAMES.get(kind, kind)}"
                    ax.plot(*zip(*points), marker="os^"[k % 3], color=f"C{i}",
                            linestyle=("-", "--", ":")[k % 3], label=label)
        if kinds in (["len"], ["items"]):  # the longest training setting, for reference
            field = "max_length" if kinds == ["len"] else "max_items"
            trained = getattr(rows[0][0].task, field, None)
            if trained is not None:
                ax.axvline(trained, color="grey", linestyle=":", linewidth=1,
                           label=f"longest in training ({trained})")
        ax.set_xlabel(" / ".join(SETTING_NAMES.get(k, k) for k in kinds))
        ax.set_ylabel("test bit errors per sequence")
        _symlog(ax)
        ax.set_title(TASK_TITLES.get(task_name, task_name))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
