"""The family report: one generic table per task family (retrieval, bAbI), the papers beside
ours, medians and ranges over seeds, the selected repeat, sequences to solve, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mneme.bench.anchors import anchor_for
from mneme.bench.report import write_reports
from mneme.bench.report_family import column_name, family_entries, family_section, task_info
from mneme.bench.suites import Cell, Suite, recipe_cell
from mneme.config import TrainConfig
from mneme.models.build import model_entry
from mneme.tasks.babi import BabiConfig
from mneme.tasks.retrieval import RetrievalConfig


def _config(model_name: str, r: int = 20) -> object:
    """The composed retrieval model's config at the paper's R (the recipe row's sizes)."""
    return model_entry(model_name, "retrieval").config(hidden_size=r, embedding_dim=100,
                                                       head_size=100)


def _cell(out: Path, key: str, group: str, model: object, tests: list[float],
          curves: list[list[float]]) -> tuple[Cell, dict]:
    repeats = []
    for i, (test, curve) in enumerate(zip(tests, curves)):
        d = out / "cells" / key / f"repeat-{i}"
        d.mkdir(parents=True)
        lines = [json.dumps({"epoch": e + 1, "step": 100 * (e + 1), "valid_error": v})
                 for e, v in enumerate(curve)]
        (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        repeats.append({"dir": f"repeat-{i}", "seed": i, "test": {"error": test},
                        "valid": {"error": curve[-1]}, "steps": 100 * len(curve)})
    cell = Cell(key, group, "retrieval", RetrievalConfig(), group, model,
                TrainConfig(batch_size=10))
    return cell, {"repeats": repeats, "seconds": 1.0, "test": {"error": tests[0]},
                  "selected": "repeat-0"}


def _retrieval(tmp_path: Path) -> list[tuple[Cell, dict]]:
    return [
        _cell(tmp_path, "fast-weights-r20", "fast-weights", _config("fast-weights"),
              [0.01, 0.03, 0.02], [[0.5, 0.04, 0.01], [0.5, 0.2, 0.03], [0.3, 0.05, 0.02]]),
        _cell(tmp_path, "lstm-r20", "lstm", _config("lstm"), [0.6], [[0.7, 0.6, 0.6]]),
        _cell(tmp_path, "delta-rule-r20", "delta-rule", _config("delta-rule"), [0.1],
              [[0.5, 0.1]]),
    ]


def test_retrieval_medians_paper_sequences_and_plot(tmp_path: Path):
    text, table = family_section(_retrieval(tmp_path), tmp_path)
    # R is read from the composed config's hidden_size: one column and its paper, R = 20
    assert "| R = 20 (ours) | (paper) |" in table and "R = 100" not in table
    assert any(line.startswith("| Delta-rule FWP | 10.00 |") for line in table.splitlines())
    fw = next(line for line in table.splitlines() if line.startswith("| Fast weights"))
    assert "**2.00** [1.00-3.00] (n=3) | 1.81 |" in fw  # median 2%, solved (<= 5%), paper 1.81%
    lstm = next(line for line in table.splitlines() if line.startswith("| LSTM"))
    assert "| 60.00 | 60.81 |" in lstm
    assert "Ba et al. 2016, arXiv 1610.06258, Table 1, R = 20" in text
    # sequences (steps x batch 10) to reach 5% validation error: 200, 300 (3% only at step
    # 300), 200 steps; the LSTM never
    runs = next(line for line in text.splitlines()
                if line.startswith("| Fast weights") and "R = 20 |" in line)
    assert "| 3 | 2.00 [1.00-3.00] | 3.0k/3.0k/3.0k | 2.0k/3.0k/2.0k |" in runs
    assert "never (in 3.0k)" in text
    assert (tmp_path / "plots" / "retrieval-curves.png").stat().st_size > 10_000


def test_columns_name_what_differs_and_entries_keep_every_seed(tmp_path: Path):
    finished = _retrieval(tmp_path)
    wide = Cell("lstm-r50", "lstm", "retrieval", RetrievalConfig(), "lstm",
                _config("lstm", 50), TrainConfig())
    finished.append((wide, {"repeats": [{"test": {"error": 0.04}}], "seconds": 1.0}))
    info = task_info(finished[0][0])
    assert (info.family, info.metric, info.percent) == ("retrieval", "error", True)
    assert column_name(wide, info) == "R = 50"
    # without a hook, a column is the task and the fields that differ within the group
    from mneme.bench import report_family

    report_family._hooks("retrieval")
    hooks = report_family.HOOKS.pop("retrieval")
    try:
        cells = [c for c, _ in finished]
        assert column_name(wide, info, cells) == "retrieval hidden_size=50"
    finally:
        report_family.HOOKS["retrieval"] = hooks
    entries = family_entries(finished, tmp_path)
    fw = next(e for e in entries if e.group == "fast-weights")
    assert fw.values == (0.01, 0.03, 0.02) and fw.selected is None and fw.solved
    assert fw.reached == (200 * 10, 300 * 10, 200 * 10)
    # best of N: the selected repeat heads the entry, the median and range beside it
    best = family_entries(finished, tmp_path, select_best=True)
    assert best[0].selected == 0.01 and best[0].text() == (
        "**1.00** (median 2.00 [1.00-3.00], n=3)")


def test_anchor_for_reads_every_table():
    assert anchor_for("babi", "memn2n", "task 3 (1k)")[0] == "40.3"
    assert anchor_for("babi", "lstm", "task 3 (10k)") is None  # no per-task values there
    assert anchor_for("retrieval", "irnn", "R = 100")[0] == "0.34"
    text, source = anchor_for("algorithmic", "ntm-lstm", "copy")
    assert text.startswith("cost near 0") and "section 4.1" in source
    assert "accuracy % 92" in anchor_for("pointer", "ptr-net", "convex-hull n = 5")[0]
    assert anchor_for("lm", "lstm-small", "ptb")[0] == "valid 120.7, test 114.5"
    assert anchor_for("retrieval", "delta-rule", "R = 20") is None
    assert anchor_for("seq2seq", "seq2seq-none", "translation") is None


def test_babi_10k_lstm_keeps_a_paper_column_for_the_papers_mean(tmp_path: Path):
    """The paper gives the 10k LSTM's mean and failures only, no per-task values."""
    cell = recipe_cell("l", "lstm", "babi", BabiConfig(task_id=1, size="10k"), "lstm")
    summary = {"test": {"error": 0.4}, "seconds": 1.0, "repeats": [{"test": {"error": 0.4}}]}
    _, table = family_section([(cell, summary)], tmp_path, select_best=True)
    assert table.splitlines()[0] == "| task | LSTM (ours) | (paper) |"
    assert "| task 1 (10k) | 40.00 |  |" in table
    assert "| paper, all 20 tasks |  | 36.4 (16 failed) |" in table


def test_babi_selected_repeat_paper_mean_and_failed_rows(tmp_path: Path):
    cell = recipe_cell("c", "memn2n", "babi", BabiConfig(task_id=3), "memn2n")
    summary = {
        "test": {"error": 0.25},
        "seconds": 1.0,
        "repeats": [{"test": {"error": 0.25}}, {"test": {"error": 0.35}}],
    }
    joint = recipe_cell("j", "memn2n-joint", "babi", BabiConfig(joint=True), "memn2n")
    joint_summary = {"test": {"error": 0.05, "error_task1": 0.0, "error_task3": 0.1},
                     "seconds": 2.0, "repeats": [{"test": {"error": 0.05}}]}
    _, table = family_section([(cell, summary), (joint, joint_summary)], tmp_path,
                             select_best=True)
    row = next(line for line in table.splitlines() if line.startswith("| task 3 (1k) |"))
    assert "25.00 (median 30.00 [25.00-35.00], n=2) | 40.3 |" in row  # paper: 40.3 on task 3
    assert "| 10.00 | 21.9 |" in row  # the joint cell, spread over its tasks
    assert "| **0.00** | 0.0 |" in table  # joint task 1: solved
    assert "| failed (> 5%) | 1 | 1 | 1 | 1 |" in table
    # the median repeat's mean and failures, for the group with several repeats
    assert "| mean, median repeat | 30.0 |  |" in table
    assert "| failed (> 5%), median repeat | 1 |  |" in table
    assert "| paper, all 20 tasks |  | 13.9 (11 failed) |  | 12.4 (11 failed) |" in table
    assert (tmp_path / "plots" / "babi-1k-test-error.png").stat().st_size > 10_000


def test_write_reports_sends_family_cells_to_one_section(tmp_path: Path):
    suite = Suite("fw", "a retrieval suite", lambda _: [], report="fast-weights")
    table = write_reports(suite, _retrieval(tmp_path), tmp_path, seconds=1.0)
    results = (tmp_path / "results.md").read_text()
    assert results.count("## Associative retrieval (K = 4)") == 1 and "| Fast weights |" in table
    assert "bAbI" not in results and "Plot: `plots/retrieval-curves.png`." in results


@pytest.mark.parametrize("value, shown", [(0.0123, "**1.23**"), (1.5, "150.0")])
def test_percent_entries_are_shown_in_percent(tmp_path: Path, value: float, shown: str):
    cell, summary = _retrieval(tmp_path)[1]
    summary = {"repeats": [{"test": {"error": value}}], "seconds": 1.0}
    (entry,) = family_entries([(cell, summary)], None)
    assert entry.text() == shown
