"""The algorithmic report: medians over seeds, generalisation columns, sequences to learn, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mneme.bench.report import write_reports
from mneme.bench.report_algorithmic import algorithmic_section
from mneme.bench.suites import SUITES, Cell, get_suite
from mneme.config import TrainConfig
from mneme.models.aligned import AlgorithmicLSTMConfig
from mneme.tasks.algorithmic import AssociativeRecallConfig, CopyConfig


def _cell(out: Path, key: str, group: str, task_name: str, task: object,
          tests: list[dict[str, float]], curves: list[list[float]]) -> tuple[Cell, dict]:
    repeats = []
    for i, (test, curve) in enumerate(zip(tests, curves)):
        d = out / "cells" / key / f"repeat-{i}"
        d.mkdir(parents=True)
        lines = [json.dumps({"epoch": e + 1, "step": 100 * (e + 1), "valid_bits": v,
                             "valid_cost": 2 * v}) for e, v in enumerate(curve)]
        (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        repeats.append({"dir": f"repeat-{i}", "seed": i, "valid": {"bits": curve[-1]},
                        "test": test, "steps": 100 * len(curve)})
    train = TrainConfig(batch_size=16)
    cell = Cell(key, group, task_name, task, "ntm" if group != "lstm" else "lstm",
                AlgorithmicLSTMConfig(), train)
    return cell, {"repeats": repeats, "seconds": 1.0, "test": tests[0]}


def _finished(tmp_path: Path, *, recall: bool = False) -> list[tuple[Cell, dict]]:
    cells = [
        _cell(tmp_path, "ntm-lstm-copy", "ntm-lstm", "copy", CopyConfig(),
              [{"bits": 0.0, "bits_len20": 0.0, "bits_len120": 3.0},
               {"bits": 0.5, "bits_len20": 1.0, "bits_len120": 9.0},
               {"bits": 0.2, "bits_len20": 0.5, "bits_len120": 6.0}],
              [[20.0, 0.4, 0.05], [20.0, 5.0, 0.5], [10.0, 0.1, 0.0]]),
        _cell(tmp_path, "lstm-copy", "lstm", "copy", CopyConfig(),
              [{"bits": 4.0, "bits_len20": 6.0, "bits_len120": 300.0}], [[30.0, 10.0, 4.0]]),
    ]
    if recall:
        cells.append(_cell(tmp_path, "lstm-associative-recall", "lstm", "associative-recall",
                           AssociativeRecallConfig(), [{"bits": 1.0, "bits_items12": 30.0}],
                           [[9.0, 2.0]]))
    return cells


def test_tables_medians_generalisation_and_sequences(tmp_path: Path):
    text, table = algorithmic_section(_finished(tmp_path), tmp_path)
    copy = table.split("\n\n")[0]
    head = copy.splitlines()[1]
    assert "| len20 | len120 |" in head  # generalisation columns sorted by length
    ntm = next(line for line in copy.splitlines() if line.startswith("| NTM, LSTM controller"))
    # test bits: median 0.2 over [0, 0.5]; len120: median 6 of 3, 6, 9
    assert "**0.20 [0.00-0.50]**" in ntm and "6.00 [3.00-9.00]" in ntm
    assert "| L 1-20 | 3 |" in ntm
    # valid bits <= 0.1 first at step 300, never, step 200 -> sequences x 16
    assert "4.8k/never/3.2k" in ntm and "~200k" in ntm
    lstm = next(line for line in copy.splitlines() if line.startswith("| LSTM"))
    assert "**4.00**" in lstm and "300.00" in lstm and "never (in 4.8k)" in lstm
    assert "Paper, NTM, LSTM controller:" in text and "section 4.1" in text
    for name in ("algorithmic-copy-curves.png", "algorithmic-generalisation.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000


def test_write_reports_dispatches_algorithmic_cells(tmp_path: Path, monkeypatch):
    from mneme.bench import report_algorithmic

    for name in ("_plot_curves", "_plot_generalisation"):  # drawn in the test above
        monkeypatch.setattr(report_algorithmic, name, lambda *args: None)
    finished = _finished(tmp_path, recall=True)
    table = write_reports(get_suite("algorithmic"), finished, tmp_path, seconds=3.0)
    results = (tmp_path / "results.md").read_text()
    assert "## Algorithmic tasks" in results and "### Copy (section 4.1)" in results
    recall = results.split("### Associative recall")[1]
    assert "| items12 |" in recall and "| LSTM | K 2-6 | 1 | 2.00 | **1.00** | 30.00 |" in recall
    assert results.index("### Copy") < results.index("### Associative recall")
    assert "bAbI" not in results and "NTM, LSTM controller" in table


def test_algorithmic_suite_cells():
    cells = SUITES["algorithmic"].build(None)
    lstm = {c.task_name: c for c in cells if c.group == "lstm"}
    assert set(lstm) == {"copy", "repeat-copy", "associative-recall", "priority-sort"}
    assert lstm["repeat-copy"].model.hidden_size == 256 and lstm["copy"].model.hidden_size is None
    for cell in cells:
        assert cell.train.optimizer == "rmsprop" and cell.train.early_stop == 0.01
        assert not cell.train.progress and cell.train.epochs <= 250
    ntm = [c for c in cells if c.model_name == "ntm"]
    if ntm:  # once the ntm model is registered
        assert {c.model.controller for c in ntm} == {"lstm", "feedforward"}
        copy = next(c for c in ntm if c.key == "ntm-lstm-copy")
        assert copy.train.repeats == 3 and copy.model.read_heads == 1
        sort = next(c for c in ntm if c.key == "ntm-ff-priority-sort")  # Table 1: 8 heads, 512
        assert (sort.model.read_heads, sort.model.controller_size) == (8, 512)
        assert sort.model.controller == "feedforward" and sort.train.lr == pytest.approx(3e-4)
        quick = [c for c in SUITES["quick"].build(None) if c.task_name == "copy"]
        assert [(c.model_name, c.task.max_length) for c in quick] == [("ntm", 5)]
