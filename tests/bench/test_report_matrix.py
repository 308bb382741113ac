"""The matrix report: medians and ranges over seeds, solved marks, generalisation, anchors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mneme.bench.matrix import columns, matrix_cell, quick_cells
from mneme.bench.report_matrix import matrix_entries, matrix_section


def _summary(values: list[dict[str, float]], steps: int = 1000) -> dict[str, Any]:
    return {"repeats": [{"test": v, "steps": steps, "seconds": 2.0} for v in values]}


def test_matrix_section_reads_what_tasks_declare(tmp_path: Path) -> None:
    copy = next(c for c in columns() if c.key == "copy")
    r20 = next(c for c in columns() if c.key == "retrieval-r20")
    finished = [
        (matrix_cell("lstm", copy), _summary([
            {"bits": 6.0, "bits_len20": 40.0}, {"bits": 4.0, "bits_len20": 30.0},
            {"bits": 5.0, "bits_len20": 50.0}])),
        (matrix_cell("ntm", copy), _summary([
            {"bits": 0.5, "bits_len20": 2.0}, {"bits": 0.0, "bits_len20": 1.0},
            {"bits": 3.0, "bits_len20": 9.0}], steps=400)),
        (matrix_cell("fast-weights", r20), _summary([
            {"error": 0.02}, {"error": 0.03}, {"error": 0.50}])),
        (matrix_cell("lstm", r20), _summary([{"error": 0.6}, {"error": 0.6}, {"error": 0.62}])),
    ]
    entries = {(e.core, e.column): e for e in matrix_entries(finished)}
    assert entries[("ntm", "copy")].median == 0.5 and entries[("ntm", "copy")].solved
    assert not entries[("lstm", "copy")].solved  # median 5 bits > 1
    assert entries[("ntm", "copy")].generalisation == {"len20": 2.0}
    assert entries[("ntm", "copy")].sequences == 400 * 32
    text, table = matrix_section(finished, tmp_path)
    assert "| lstm | 5 [4-6] |" in table and "**0.5** [0-3]" in table
    assert "**3.0** [2.0-50.0]" in table  # retrieval in %, median 3% <= 5%: solved
    assert "- **copy**: ntm" in table and "- **retrieval-r20**: fast-weights" in table
    assert "| core | copy len20 | copy len40 |" not in text  # len40 has no value: no column
    assert "| core | copy len20 |" in text and "| ntm | 2 |" in text
    assert "retrieval-r20 / fast-weights: 1.81%" in text  # Ba et al.'s Table 1 beside ours
    assert "copy / ntm: cost near 0" in text
    assert "No published run that we know of: none" in text  # all four pairs have anchors
    assert (tmp_path / "plots" / "matrix.png").stat().st_size > 1000


def test_unpublished_pairs_and_budgets_are_stated(tmp_path: Path) -> None:
    cell = next(c for c in quick_cells() if c.key == "self-attention--copy-5")
    assert cell.train.epochs == 12 and cell.train.repeats == 1 and cell.model.hidden_size == 64
    text, _ = matrix_section([(cell, _summary([{"bits": 0.0}], steps=300))], tmp_path)
    assert "No published run that we know of: self-attention on copy-5" in text
    assert "- copy-5: median 300 steps, 9,600 sequences a seed" in text
    assert matrix_section([], tmp_path) == ("", "")


def test_attention_heads_divide_the_width() -> None:
    r50 = next(c for c in columns() if c.key == "retrieval-r50")
    cell = matrix_cell("self-attention", r50)
    assert cell.model.hidden_size == 50 and cell.model.num_heads == 2
    cell.model.validate()
