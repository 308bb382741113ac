"""Suite reports: Markdown tables with the published numbers beside ours, and plots.

Matrix cells (``cell.column`` set) go to ``report_matrix``, Chomsky-hierarchy cells to
``report_chomsky`` (scores merged over learning rates); every other cell goes to the family
report (``report_family``: one table code path driven by ``TaskInfo``), except the families whose
report is still its own module (pointer networks, language models, sequence to sequence).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.suites import Cell, Suite
from mneme.train.checkpoint import atomic_write_text


def write_reports(
    suite: Suite, finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path, *, seconds: float
) -> str:
    """Write ``OUT/results.md`` and ``OUT/plots/*.png``; return the tables for the terminal."""
    from mneme.bench.report_family import family_section
    from mneme.bench.report_matrix import matrix_section

    train_seconds = sum(float(s["seconds"]) for _, s in finished)
    count = len(finished)
    matrix = [(c, s) for c, s in finished if c.column is not None]
    mqar = [(c, s) for c, s in matrix if c.task_name == "mqar"]
    matrix = [(c, s) for c, s in matrix if c.task_name != "mqar"]
    chomsky = [(c, s) for c, s in finished if c.task_name.startswith("chomsky-")]
    finished = [(c, s) for c, s in finished if c.column is None and (c, s) not in chomsky]
    own = {"pointer": ("sort", "convex-hull", "tsp"), "lm": ("ptb", "chars")}
    pointer = [(c, s) for c, s in finished if c.task_name in own["pointer"]]
    language = [(c, s) for c, s in finished if c.task_name in own["lm"]]
    seq2seq = [(c, s) for c, s in finished if c.model_name == "seq2seq"]
    rest = [(c, s) for c, s in finished
            if (c, s) not in pointer and (c, s) not in language and (c, s) not in seq2seq]
    notes = [f"# mneme bench --suite {suite.name}", "", suite.description + ".", ""]
    tables = []
    if matrix:
        text, table = matrix_section(matrix, out)
        notes += [text, ""]
        tables.append(table)
    if mqar:
        from mneme.bench.report_mqar import mqar_section

        text, table = mqar_section(mqar, out)
        notes += [text, ""]
        tables.append(table)
    if chomsky:
        from mneme.bench.report_chomsky import chomsky_section

        text, table = chomsky_section(chomsky, out)
        notes += [text, ""]
        tables.append(table)
    if rest:
        text, table = family_section(rest, out, select_best=suite.select_best)
        notes += [text, ""]
        tables.append(table)
    if pointer:
        from mneme.bench.report_pointer import pointer_section

        text, table = pointer_section(pointer, out)
        notes += [text, ""]
        tables.append(table)
    if language:
        from mneme.bench.report_lm import lm_section

        text, table = lm_section(language, out)
        notes += [text, ""]
        tables.append(table)
    if seq2seq:
        from mneme.bench.report_seq2seq import seq2seq_section

        text, table = seq2seq_section(seq2seq, out)
        notes += [text, ""]
        tables.append(table)
    notes += [
        f"{count} cells; training time {train_seconds:.0f} s summed over "
        f"cells, {seconds:.0f} s wall clock for this invocation.",
        "",
    ]
    atomic_write_text(out / "results.md", "\n".join(notes))
    return "\n\n".join(tables)
