"""The language-model report: perplexity (bits per character) beside the papers, and curves.

One row per cell: validation and test perplexity of the selected repeat's best checkpoint (bits
per character for the character task), the published numbers for the same model (``PTB`` in
``mneme.bench.anchors``), epochs (best / trained), training seconds and training tokens per
second. ``OUT/plots/lm-curves.png`` draws the validation perplexity (bpc) of every cell by epoch,
the papers' values as dashed lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import PTB, LMAnchor
from mneme.bench.cell_files import read_jsonl
from mneme.bench.suites import Cell

TITLES = {
    "lstm-small": "LSTM 2x200 (Zaremba small)",
    "lstm-medium": "LSTM 2x650 (Zaremba medium)",
    "lstm-large": "LSTM 2x1500 (Zaremba large)",
    "ngram": "neural 5-gram (Bengio et al.)",
    "chars-lstm": "char LSTM 2x512",
}


def _unit(cell: Cell) -> tuple[str, str]:
    """(metric key, column label) of a cell's task."""
    return ("bpc", "bpc") if cell.task_name == "chars" else ("perplexity", "perplexity")


def _curve(run_dir: Path, key: str) -> list[tuple[int, float]]:
    metrics = run_dir / "metrics.jsonl"
    points = []
    if metrics.is_file():
        for record in read_jsonl(metrics):
            if f"valid_{key}" in record:
                points.append((int(record["epoch"]), float(record[f"valid_{key}"])))
    return points


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def lm_rows(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path) -> list[dict[str, Any]]:
    """Per cell: what the table shows, and the validation curve read from ``metrics.jsonl``."""
    rows = []
    for cell, summary in finished:
        key, label = _unit(cell)
        selected = next((r for r in summary["repeats"] if r["dir"] == summary["selected"]),
                        summary["repeats"][0])
        seconds = float(selected["seconds"])
        tokens = int(selected["steps"]) * cell.train.batch_size * int(cell.task.seq_len)
        anchor: LMAnchor | None = PTB.get(cell.group) if cell.task_name == "ptb" else None
        rows.append({
            "cell": cell.key,
            "group": cell.group,
            "title": TITLES.get(cell.group, cell.group),
            "task": cell.task_name,
            "unit": label,
            "valid": summary["valid"].get(key),
            "test": summary["test"].get(key),
            "paper_valid": anchor.valid if anchor else None,
            "paper_test": anchor.test if anchor else None,
            "source": anchor.source if anchor else None,
            "best_epoch": int(summary["best_epoch"]),
            "epochs": cell.train.epochs,
            "seconds": seconds,
            "tokens_per_second": tokens / seconds if seconds > 0 else None,
            "curve": _curve(out / "cells" / cell.key / summary["selected"], key),
        })
    return rows


def lm_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path) -> tuple[str, str]:
    """Markdown for ``results.md`` and the table for the terminal; writes
    ``OUT/plots/lm-curves.png``."""
    rows = lm_rows(finished, out)
    head = ["model", "task", "unit", "valid (ours)", "test (ours)", "valid (paper)",
            "test (paper)", "epochs best/run", "train s", "tokens/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        digits = 3 if row["unit"] == "bpc" else 1
        lines.append("| " + " | ".join([
            row["title"], row["task"], row["unit"], f"**{_fmt(row['valid'], digits)}**",
            f"**{_fmt(row['test'], digits)}**", _fmt(row["paper_valid"]),
            _fmt(row["paper_test"]), f"{row['best_epoch']}/{row['epochs']}",
            f"{row['seconds']:.0f}", _fmt(row["tokens_per_second"], 0)]) + " |")
    table = "\n".join(lines)
    sources = sorted({r["source"] for r in rows if r["source"]})
    others = [a for k, a in PTB.items() if k not in {r["group"] for r in rows}
              and k in ("kn5", "rnn")]
    context = [f"- {a.label}: test {a.test} ({a.source})" for a in others]
    _plot(rows, out / "plots" / "lm-curves.png")
    text = "\n".join([
        "## Language models",
        "",
        "Penn Treebank (Mikolov's 10k-word version): word-level perplexity, every `<eos>` "
        "counted; evaluation carries the state across the whole split at the eval batch size. "
        "tiny-shakespeare: bits per character on our contiguous 90/5/5 split (no published "
        "anchor for this split). Best checkpoint by validation.",
        "",
        table,
        "",
        *(["Paper: " + "; ".join(sources) + ".", ""] if sources else []),
        *(["Other published PTB test perplexities for context:", *context, ""] if context else []),
        "Validation curves: `plots/lm-curves.png`.",
    ])
    return text, table


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = [u for u in ("perplexity", "bpc") if any(r["unit"] == u for r in rows)]
    if not units:
        return
    fig, axes = plt.subplots(1, len(units), figsize=(6 * len(units), 4), squeeze=False)
    for ax, unit in zip(axes[0], units, strict=True):
        for i, row in enumerate(r for r in rows if r["unit"] == unit):
            if row["curve"]:
                ax.plot(*zip(*row["curve"]), marker="o", markersize=3, color=f"C{i}",
                        label=row["title"])
            if row["paper_valid"] is not None:
                ax.axhline(row["paper_valid"], color=f"C{i}", linestyle="--", linewidth=1,
                           label=f"{row['title']}: paper valid")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {unit}")
        if unit == "perplexity":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title("Penn Treebank" if unit == "perplexity" else "tiny-shakespeare")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
