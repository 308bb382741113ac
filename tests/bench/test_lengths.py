"""The transformer suite (mneme.bench.lengths): its cells and what the matrix report reads."""

from __future__ import annotations

from mneme import registry
from mneme.bench.lengths import LENGTH_SEEDS, POSITIONS, transformer_cells
from mneme.bench.suites import get_suite


def test_every_encoding_and_the_ntm_on_both_columns_and_the_seq2seq_on_reversal():
    cells = get_suite("transformer").build(None)
    assert len({c.key for c in cells}) == len(cells) == 2 * (len(POSITIONS) + 1) + 1
    for column in ("copy", "reversal"):
        rows = [c for c in cells if c.column == column]
        assert [c.group for c in rows] == [f"encoder-{p}" for p in POSITIONS] + ["ntm"]
        for cell, position in zip(rows, POSITIONS, strict=False):
            assert cell.model_name == "self-attention" and cell.model.position == position
            assert cell.model.causal is False and cell.model.hidden_size == 64
    (seq2seq,) = [c for c in cells if c.column is None]
    assert seq2seq.model_name == "seq2seq" and seq2seq.model.attention == "additive"
    budgets = {(c.train.epochs * c.train.epoch_steps, c.train.batch_size, c.train.repeats)
               for c in cells}
    assert budgets == {(1000, 32, LENGTH_SEEDS)}  # one budget for every model
    infos = {c.column: registry.task_entry(c.task_name).build(c.task).info
             for c in cells if c.column}
    assert infos["copy"].generalisation == ("len20", "len40")
    assert infos["reversal"].generalisation == ("len40",) and infos["reversal"].composable
    assert seq2seq.task == next(c.task for c in cells if c.column == "reversal")
    half = transformer_cells(seeds=1, budget=0.5)
    assert {(c.train.epochs, c.train.repeats) for c in half} == {(5, 1)}
