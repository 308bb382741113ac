"""The MQAR suites: the paper's grid over every associative memory, the report's selection of
the learning rate on validation, measured state sizes, and a tiny run through the runner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mneme.bench import runner
from mneme.bench.mqar_cells import MQAR_CORES, SMALL, Plan, column_key, mqar_cells
from mneme.bench.report_mqar import mqar_entries, state_floats
from mneme.bench.suites import SUITES, Suite


def test_mqar_suite_is_the_papers_grid_over_every_memory() -> None:
    cells = SUITES["mqar"].build(None)
    assert len(cells) == 3 * 3 * len(MQAR_CORES) * 2  # (T, D) x d x cores x rates
    assert {c.column for c in cells} == {column_key(t, d, w) for t, d in
                                         ((64, 4), (128, 8), (256, 16)) for w in (64, 128, 256)}
    assert len({c.key for c in cells}) == len(cells)
    for cell in cells:
        assert cell.task.vocab_size == 8192 and cell.task.power_a == 0.01
        assert not cell.task.random_non_queries and cell.task.stream
        assert 16 * cell.task.num_pairs == cell.task.seq_len
        assert cell.train.early_stop == 0.01 and cell.model.embedding_dim == int(
            cell.column.rsplit("-d", 1)[1])
        assert cell.train.eval_batch_size * cell.task.seq_len <= 8192
    attention = next(c for c in cells if c.key == "self-attention--T256-kv16-d128--lr0.001")
    assert (attention.model.num_layers, attention.model.num_heads) == (2, 1)
    assert attention.model.hidden_size == 128 and attention.model.max_length == 256
    ntm = next(c for c in cells if c.group == "ntm")
    assert ntm.model.controller_size == 64 and ntm.model.memory_size == 128


def test_mqar_small_runs_the_cheap_rows_first() -> None:
    cells = SUITES["mqar-small"].build(None)
    assert len(cells) == 2 * 2 * 8 and {c.task.vocab_size for c in cells} == {SMALL.vocab_size}
    rates = {c.train.lr for c in cells if c.group == "self-attention"}
    assert rates == {1e-3, 3e-3} and {c.train.lr for c in cells if c.group == "lstm"} == {3e-3}
    assert [c.group for c in cells[:4]] == ["lstm"] * 4 and cells[-1].group == "dnc"
    epochs = {c.group: c.train.epochs for c in cells}
    assert epochs["self-attention"] == 30 and epochs["delta-rule"] == epochs["lstm"] == 10


@pytest.mark.parametrize(("core", "width", "seq_len", "floats"), [
    ("lstm", 8, 12, 2 * 8),  # h and c
    ("fast-weights", 8, 12, 8 * 8 + 8),  # A and h
    ("delta-rule", 8, 12, 8 * 8 + 8),  # W and y
    ("self-attention", 8, 12, 2 * 2 * 12 * 8),  # 2 layers of keys and values
    ("hopfield", 8, 12, 12 * 2 * 8),  # T keys and T values
])
def test_state_size_is_measured_from_the_cores_state(core, width, seq_len, floats) -> None:
    plan = Plan(grid=((seq_len, 2),), widths=(width,), cores=(core,), lrs=(1e-3,), epochs=1,
                vocab_size=32)
    (cell,) = mqar_cells(plan)
    assert state_floats(cell) == floats


def _summary(test_error: float, valid_error: float) -> dict:
    return {"repeats": [{"test": {"error": test_error}, "valid": {"error": valid_error},
                         "steps": 10, "seconds": 1.0}]}


def test_report_keeps_the_rate_with_the_best_validation_accuracy() -> None:
    plan = Plan(grid=((16, 2),), widths=(8,), cores=("lstm",), lrs=(1e-3, 3e-3), epochs=1,
                vocab_size=32)
    slow, fast = mqar_cells(plan)
    # the better test error belongs to the rate that validated worse: it must not be chosen
    (entry,) = mqar_entries([(slow, _summary(0.1, 0.5)), (fast, _summary(0.3, 0.2))])
    assert entry.lr == 3e-3 and entry.accuracy == pytest.approx(70.0)
    assert entry.valid_accuracy == pytest.approx(80.0) and not entry.solved
    assert (entry.seq_len, entry.num_pairs, entry.width, entry.vocab_size) == (16, 2, 8, 32)


def test_tiny_mqar_cells_run_and_report(tmp_path: Path) -> None:
    """Two rates of two memories (one with a published row) on a tiny MQAR, a few steps each,
    through the runner."""
    plan = Plan(grid=((16, 2),), widths=(8,), cores=("lstm", "self-attention"),
                lrs=(1e-3, 3e-3), epochs=1, vocab_size=32)
    cells = [dataclasses.replace(
        c, task=dataclasses.replace(c.task, valid_size=20, test_size=20),
        train=dataclasses.replace(c.train, epoch_steps=3, tensorboard=False))
        for c in mqar_cells(plan)]
    suite = Suite("tiny-mqar", "tiny", lambda _: cells, report="mqar")
    assert runner.run_suite(suite, tmp_path / "out", data_dir=None, jobs=1) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(rows) == 4 and {r["model"] for r in rows} == {"lstm", "self-attention"}
    text = (tmp_path / "out" / "results.md").read_text()
    assert "## Multi-query associative recall (MQAR)" in text and "| lstm |" in text
    assert "| T16-kv2-d8 |" in text and "| lstm | 16 |" in text  # the state-size table
    assert "| self-attention (paper) | n/a (V differs) |" in text  # it holds at V = 8,192
    for name in ("mqar_heatmap", "mqar_state"):
        assert (tmp_path / "out" / "plots" / f"{name}.png").is_file()
        assert (tmp_path / "out" / "plots" / f"{name}.svg").is_file()
