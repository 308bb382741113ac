"""The Chomsky-hierarchy suites: rows, budgets and recipe; the report's max over learning rates
and seeds beside Table 2; a tiny run through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mneme.bench import runner
from mneme.bench.anchors_external import CHOMSKY
from mneme.bench.chomsky_cells import (
    FULL,
    GROUPS,
    PAPER_GROUPS,
    SMALL,
    SMALL_TASKS,
    Budget,
    chomsky_cells,
)
from mneme.bench.suites import SUITES, Suite
from mneme.tasks.chomsky import TASKS


def test_suites_cover_the_rows_and_tasks_at_their_budget() -> None:
    full = SUITES["chomsky"].build(None)
    assert len(full) == len(GROUPS) * len(TASKS) * len(FULL.lrs) == 150
    assert {c.model_name for c in full} == set(GROUPS.values())
    small = SUITES["chomsky-small"].build(None)
    assert {c.group for c in small} == set(PAPER_GROUPS)
    assert {c.task_name.removeprefix("chomsky-") for c in small} == set(SMALL_TASKS)
    for cell in full + small:
        budget = FULL if cell in full else SMALL
        t = cell.train
        assert (t.optimizer, t.clip_norm, t.batch_size, t.repeats) == (
            "adam", 1.0, budget.batch_size, budget.seeds)
        assert t.epochs * t.epoch_steps == budget.steps_of(cell.group)
        assert cell.task.test_size == budget.test_size
    by_group = {c.group: c.model for c in full if c.task_name == "chomsky-reverse-string"}
    encoder = by_group["transformer"]
    assert (encoder.num_layers, encoder.hidden_size, encoder.causal) == (5, 64, False)
    assert by_group["stack-rnn"].cell_size == by_group["tape-rnn"].cell_size == 8
    assert by_group["stack-rnn"].num_stacks == 1 and by_group["lstm"].hidden_size == 128
    assert "2,000 steps of 32" in SUITES["chomsky"].description
    # chomsky-small: the Transformer at 1,000 steps, the recurrent models longer.
    steps = {c.group: c.train.epochs * c.train.epoch_steps for c in small}
    assert steps == {"rnn": 4000, "lstm": 4000, "stack-rnn": 4000, "tape-rnn": 4000,
                     "transformer": 1000}
    assert "; lstm: 4,000" in SUITES["chomsky-small"].description


def test_anchors_hold_table_2_as_quoted() -> None:
    assert CHOMSKY["duplicate-string"] == {"rnn": 50.3, "stack-rnn": 52.8, "tape-rnn": 100.0,
                                           "transformer": 52.8, "lstm": 57.6}
    assert CHOMSKY["parity-check"]["transformer"] == 52.0
    assert "transformer" not in CHOMSKY["even-pairs"]  # not checked: left empty
    assert "bucket-sort" not in CHOMSKY
    assert CHOMSKY["reverse-string"]["lstm"] == 60.9


def test_tiny_cells_run_and_report_the_max_over_learning_rates(tmp_path: Path) -> None:
    """Two learning rates x two seeds of an LSTM on Reverse String, a few steps each: the table
    gives the maximum of the four scores and their median, beside the paper's 60.9."""
    budget = Budget(steps=4, epoch_steps=2, batch_size=8, hidden_size=8, lrs=(1e-3, 1e-2),
                    seeds=2, test_size=2, eval_batch_size=8)
    cells = chomsky_cells(budget, ("lstm",), ("reverse-string",))
    suite = Suite("tiny-chomsky", "tiny", lambda _: cells, report="chomsky")
    assert runner.run_suite(suite, tmp_path / "out", data_dir=None, jobs=1) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    scores = [100 * (1 - r["test_error"]) for r in rows]
    assert len(scores) == 4
    text = (tmp_path / "out" / "results.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("| DCF | reverse-string"))
    best = float(line.split("|")[3].split()[0].strip("*"))
    assert best == pytest.approx(max(scores), abs=0.05)
    assert "| 60.9 |" in line
    assert (tmp_path / "out" / "plots" / "chomsky-heatmap.svg").is_file()
    assert (tmp_path / "out" / "plots" / "chomsky-length.png").is_file()


def test_an_extended_cell_reports_its_score_at_each_budget(tmp_path: Path) -> None:
    """A finished cell extended from 4 to 8 steps: the budget table gives, per budget, the max
    and median of the runs' scores then (the first from the archived ``final-step4.json``)."""
    def suite(steps: int) -> Suite:
        budget = Budget(steps=steps, epoch_steps=2, batch_size=8, hidden_size=8, lrs=(1e-3,),
                        seeds=2, test_size=2, eval_batch_size=8)
        cells = chomsky_cells(budget, ("lstm",), ("parity-check",))
        return Suite("tiny-chomsky", "tiny", lambda _: cells, report="chomsky")

    out = tmp_path / "out"
    assert runner.run_suite(suite(4), out, data_dir=None, jobs=1) == 0
    assert "Score against budget" not in (out / "results.md").read_text()
    assert runner.run_suite(suite(8), out, data_dir=None, jobs=1) == 0
    cell = out / "cells" / "lstm--parity-check--lr0.001"
    before = [json.loads((cell / f"repeat-{i}" / "final-step4.json").read_text()) for i in (0, 1)]
    after = [json.loads((cell / f"repeat-{i}" / "final.json").read_text()) for i in (0, 1)]
    assert [f["steps"] for f in after] == [8, 8]
    text = (out / "results.md").read_text()
    assert "| model | task | 32 strings | 64 strings |" in text
    line = next(x for x in text.splitlines() if x.startswith("| lstm | parity-check |"))
    at = [[100 * (1 - f["test"]["error"]) for f in results] for results in (before, after)]
    expected = [f"{max(v):.1f} ({sorted(v)[0] / 2 + sorted(v)[1] / 2:.1f})" for v in at]
    assert line == f"| lstm | parity-check | {expected[0]} | {expected[1]} |"
    assert (out / "plots" / "chomsky-budget.png").is_file()
