"""The algorithmic report: medians over seeds, generalisation columns, sequences to learn, plots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mneme.bench.report import write_reports
from mneme.bench.report_family import family_section
from mneme.bench.suites import SUITES, Cell, get_suite
from mneme.config import TrainConfig
from mneme.models.build import model_entry
from mneme.models.recipes import PAPER_LSTM_SIZES, sort_training
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
    model_name = "ntm" if group != "lstm" else "lstm"
    # the composed model's config (the core's fields, embedding_dim, head_size)
    model = model_entry(model_name, task_name).config()
    cell = Cell(key, group, task_name, task, model_name, model, train)
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
    text, table = family_section(_finished(tmp_path), tmp_path)
    assert "| copy (ours) | (paper) |" in table.splitlines()[0]
    ntm = next(line for line in table.splitlines() if line.startswith("| NTM, LSTM controller"))
    # test bits: median 0.2 over [0, 0.5], solved (<= 1 bit); the paper's statement a footnote
    assert "**0.20** [0.00-0.50] (n=3) | [1] |" in ntm
    gen = text.split("Generalisation")[1]
    assert "| copy len20 | copy len120 |" in gen  # generalisation columns sorted by length
    ntm_gen = next(line for line in gen.splitlines() if line.startswith("| NTM, LSTM"))
    assert "6.00 [3.00-9.00]" in ntm_gen  # len120: median 6 of 3, 6, 9
    runs = text.split("Runs:")[1]
    ntm_runs = next(line for line in runs.splitlines() if line.startswith("| NTM, LSTM"))
    assert "| copy | length 1-20 | 3 |" in ntm_runs
    # valid bits <= 1 (the task's solved threshold) first at step 200, 300, 200 -> x 16
    assert "3.2k/4.8k/3.2k" in ntm_runs
    lstm = next(line for line in table.splitlines() if line.startswith("| LSTM"))
    assert "| 4.00 | [2] |" in lstm
    assert "300.0" in gen and "never (in 4.8k)" in runs
    assert "[1] NTM, LSTM controller, copy: cost near 0" in text and "section 4.1" in text
    assert "approx. by 200k sequences" in text  # the paper's budget
    for name in ("algorithmic-curves.png", "algorithmic-generalisation.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 10_000


def test_write_reports_dispatches_algorithmic_cells(tmp_path: Path, monkeypatch):
    from mneme.bench import report_family

    monkeypatch.setattr(report_family, "_plots", lambda *args: [])  # drawn in the test above
    finished = _finished(tmp_path, recall=True)
    table = write_reports(get_suite("algorithmic"), finished, tmp_path, seconds=3.0)
    results = (tmp_path / "results.md").read_text()
    assert "## Algorithmic tasks" in results and "| associative-recall (ours) |" in results
    assert "| associative-recall items12 |" in results
    runs = results.split("Runs:")[1]
    assert "| LSTM | associative-recall | items 2-6 | 1 | 2.00 | 3.2k |" in runs
    assert results.index("| copy (ours)") < results.index("| associative-recall (ours)")
    assert "bAbI" not in results and "NTM, LSTM controller" in table


def test_algorithmic_suite_cells():
    cells = SUITES["algorithmic"].build(None)
    lstm = {c.task_name: c for c in cells if c.group == "lstm"}
    assert set(lstm) == {"copy", "repeat-copy", "associative-recall", "priority-sort"}
    # the recipe's 3 layers of the paper's Table 3 sizes, except repeat copy (3 x 256, not 512)
    assert lstm["repeat-copy"].model.hidden_size == 256
    for name in ("copy", "associative-recall", "priority-sort"):
        assert lstm[name].model.hidden_size == PAPER_LSTM_SIZES[name]
    assert {c.model.num_layers for c in lstm.values()} == {3}
    assert type(lstm["copy"].model) is model_entry("lstm", "copy").config
    for cell in cells:
        graves = cell.key in ("ntm-ff-associative-recall", "ntm-lstm-associative-recall",
                              "ntm-lstm-repeat-copy", "ntm-lstm-priority-sort")
        assert cell.train.optimizer == ("rmsprop-graves" if graves else "rmsprop")
        assert cell.train.early_stop == 0.01
        assert not cell.train.progress
        assert cell.train.epochs <= (400 if cell.key == "ntm-lstm-priority-sort" else 250)
        sequences = cell.train.epochs * cell.train.epoch_steps * cell.train.batch_size
        if cell.task_name == "associative-recall" and cell.group != "lstm":
            assert sequences == 150_000  # both controllers, at batch 1
        if cell.key == "ntm-lstm-repeat-copy":
            assert (cell.train.batch_size, sequences) == (1, 200_000)
    ntm = [c for c in cells if c.model_name == "ntm"]  # the ntm core is registered
    assert {c.model.controller for c in ntm} == {"lstm", "feedforward"}
    copy = next(c for c in ntm if c.key == "ntm-lstm-copy")
    assert copy.train.repeats == 3 and copy.model.read_heads == 1
    sort = next(c for c in ntm if c.key == "ntm-ff-priority-sort")  # Table 1: 8 heads, 512
    assert (sort.model.read_heads, sort.model.controller_size) == (8, 512)
    assert sort.model.controller == "feedforward" and sort.train.lr == pytest.approx(3e-4)
    lstm_sort = next(c for c in ntm if c.key == "ntm-lstm-priority-sort")  # Table 2
    assert (lstm_sort.model.read_heads, lstm_sort.model.controller_layers) == (5, 2)
    assert lstm_sort.model.memory_init == "learned"  # its recipe, at the recipe's budget
    assert lstm_sort.train == dataclasses.replace(sort_training(), progress=False)
    quick = [c for c in SUITES["quick"].build(None) if c.task_name == "copy"]
    assert ("ntm", 5) in [(c.model_name, c.task.max_length) for c in quick]
