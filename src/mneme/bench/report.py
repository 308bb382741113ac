"""Suite reports: a Markdown table with the published numbers beside ours, and a plot."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import BABI, Anchor
from mneme.bench.suites import Cell, Suite
from mneme.train.checkpoint import atomic_write_text

GROUP_TITLES = {
    "memn2n": "MemN2N PE LS RN",
    "memn2n-joint": "MemN2N joint",
    "lstm": "LSTM",
    "memnn": "MemNN (strong supervision)",
}
FAILED_ABOVE = 5.0  # % test error: the bAbI papers' definition of a failed task


def babi_errors(
    finished: Sequence[tuple[Cell, dict[str, Any]]],
) -> dict[str, dict[int, dict[str, float]]]:
    """Per group and task id: selected test error %, and mean/std/n over repeats (single-task)."""
    table: dict[str, dict[int, dict[str, float]]] = {}
    for cell, summary in finished:
        group = table.setdefault(cell.group, {})
        test = summary["test"]
        if getattr(cell.task, "joint", False):
            for key, value in test.items():
                if key.startswith("error_task"):
                    task_id = int(key.removeprefix("error_task"))
                    group[task_id] = {"selected": 100 * value, "n": 1.0}
            continue
        errors = [100 * rep["test"]["error"] for rep in summary["repeats"]]
        group[cell.task.task_id] = {
            "selected": 100 * test["error"],
            "mean": statistics.fmean(errors),
            "std": statistics.pstdev(errors) if len(errors) > 1 else 0.0,
            "n": float(len(errors)),
            "seconds": float(summary["seconds"]),
        }
    return table


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def babi_table(
    finished: Sequence[tuple[Cell, dict[str, Any]]], size: str
) -> tuple[str, dict[str, dict[int, dict[str, float]]]]:
    """The Markdown table of a bAbI suite: per-task test error %, ours beside the paper's."""
    errors = babi_errors(finished)
    anchors: dict[str, Anchor] = BABI[size]
    groups = [g for g in GROUP_TITLES if g in errors]
    tasks = sorted({t for g in groups for t in errors[g]})
    header = ["task"]
    for g in groups:
        header += [f"{GROUP_TITLES[g]} (ours)", "(paper)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for t in tasks:
        row = [str(t)]
        for g in groups:
            cell = errors[g].get(t)
            ours = "n/a"
            if cell is not None:
                ours = _fmt(cell["selected"])
                if cell.get("n", 1) > 1:
                    ours += f" ({_fmt(cell['mean'])} ± {_fmt(cell['std'])}, n={int(cell['n'])})"
            row += [ours, _fmt(anchors[g].task(t)) if g in anchors else "n/a"]
        lines.append("| " + " | ".join(row) + " |")
    mean_row, failed_row, paper_row = ["mean"], ["failed (> 5%)"], ["paper, all 20 tasks"]
    for g in groups:
        ours = [errors[g][t]["selected"] for t in tasks if t in errors[g]]
        anchor = anchors.get(g)
        theirs = [anchor.task(t) for t in tasks if t in errors[g]] if anchor else []
        theirs_known = [v for v in theirs if v is not None]
        mean_row += [
            _fmt(statistics.fmean(ours)) if ours else "n/a",
            _fmt(statistics.fmean(theirs_known)) if theirs_known else "n/a",
        ]
        failed_row += [
            str(sum(v > FAILED_ABOVE for v in ours)),
            str(sum(v > FAILED_ABOVE for v in theirs_known)) if theirs_known else "n/a",
        ]
        paper_row += [
            "",
            f"{anchor.mean} ({anchor.failed} failed)" if anchor else "n/a",
        ]
    for row in (mean_row, failed_row, paper_row):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines), errors


def write_reports(
    suite: Suite, finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path, *, seconds: float
) -> str:
    """Write ``OUT/results.md`` and ``OUT/plots/*.png``; return the tables for the terminal.

    Matrix cells (``cell.column`` set) make the matrix section; the others go to their family's
    section (bAbI, retrieval, pointer, algorithmic, language models, seq2seq).
    """
    from mneme.bench.report_matrix import matrix_section

    train_seconds = sum(float(s["seconds"]) for _, s in finished)
    matrix = [(c, s) for c, s in finished if c.column is not None]
    finished = [(c, s) for c, s in finished if c.column is None]
    babi = [(c, s) for c, s in finished if c.task_name == "babi"]
    retrieval = [(c, s) for c, s in finished if c.task_name == "retrieval"]
    notes = [f"# mneme bench --suite {suite.name}", "", suite.description + ".", ""]
    tables = []
    if matrix:
        text, table = matrix_section(matrix, out)
        notes += [text, ""]
        tables.append(table)
    if babi or (suite.report.startswith("babi") and not matrix):
        size = "10k" if suite.report == "babi-10k" else "1k"
        table, errors = babi_table(babi, size)
        notes += [
            f"bAbI {size} test error in % of the repeat selected on validation error; in "
            "brackets the mean ± std over repeats. 'mean' averages the tasks in this table (ours "
            "and the paper's over the same tasks); the last row is the paper's mean over all 20 "
            "tasks. Paper: Sukhbaatar et al. 2015, Table 1 (LSTM: Weston et al. 2015; MemNN: "
            "Weston et al. 2015, Table 3, as errors).",
            "",
            table,
            "",
        ]
        tables.append(table)
        if errors:
            _plot_babi(errors, size, out / "plots" / f"babi-{size}-test-error.png")
    if retrieval:
        from mneme.bench.report_retrieval import retrieval_section

        text, table = retrieval_section(retrieval, out)
        notes += [text, ""]
        tables.append(table)
    pointer = [(c, s) for c, s in finished if c.task_name in ("sort", "convex-hull", "tsp")]
    if pointer:
        from mneme.bench.report_pointer import pointer_section

        text, table = pointer_section(pointer, out)
        notes += [text, ""]
        tables.append(table)
    algorithmic = [(c, s) for c, s in finished
                   if c.task_name in ("copy", "repeat-copy", "associative-recall", "priority-sort")]
    if algorithmic:
        from mneme.bench.report_algorithmic import algorithmic_section

        text, table = algorithmic_section(algorithmic, out)
        notes += [text, ""]
        tables.append(table)
    language = [(c, s) for c, s in finished if c.task_name in ("ptb", "chars")]
    if language:
        from mneme.bench.report_lm import lm_section

        text, table = lm_section(language, out)
        notes += [text, ""]
        tables.append(table)
    seq2seq = [(c, s) for c, s in finished if c.model_name == "seq2seq"]
    if seq2seq:
        from mneme.bench.report_seq2seq import seq2seq_section

        text, table = seq2seq_section(seq2seq, out)
        notes += [text, ""]
        tables.append(table)
    notes += [
        f"{len(finished) + len(matrix)} cells; training time {train_seconds:.0f} s summed over "
        f"cells, {seconds:.0f} s wall clock for this invocation.",
        "",
    ]
    atomic_write_text(out / "results.md", "\n".join(notes))
    return "\n\n".join(tables)


def _plot_babi(errors: dict[str, dict[int, dict[str, float]]], size: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    anchors = BABI[size]
    groups = [g for g in GROUP_TITLES if g in errors]
    tasks = sorted({t for g in groups for t in errors[g]})
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(max(6, 0.5 * len(tasks) + 2), 2.6 * len(groups)), squeeze=False
    )
    width = 0.4
    for ax, g in zip(axes[:, 0], groups):
        xs = range(len(tasks))
        ours = [errors[g].get(t, {}).get("selected", math.nan) for t in tasks]
        theirs = [anchors[g].task(t) if g in anchors else None for t in tasks]
        ax.bar([x - width / 2 for x in xs], ours, width, label="mneme")
        ax.bar(
            [x + width / 2 for x in xs],
            [math.nan if v is None else v for v in theirs],
            width,
            label="paper",
            alpha=0.6,
        )
        ax.axhline(FAILED_ABOVE, color="grey", linestyle=":", linewidth=1)
        ax.set_xticks(list(xs), [str(t) for t in tasks])
        ax.set_ylabel("test error %")
        ax.set_title(f"{GROUP_TITLES[g]}, bAbI {size}")
        ax.legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel("bAbI task")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
