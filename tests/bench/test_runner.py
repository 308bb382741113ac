"""The bench runner: runs cells, skips finished ones, reports missing data, writes reports."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mneme.bench import runner
from mneme.bench.suites import SUITES, Suite, get_suite, recipe_cell
from mneme.errors import UserError
from mneme.tasks.babi import BabiConfig
from mneme.train.logging import read_metrics

from ..babi_fake import write_fake_babi


def tiny_suite(
    data_dir: str | None, repeats: int = 2, epochs: int = 2, lstm_repeats: int = 1,
    **train: object,
) -> Suite:
    def build(_: str | None) -> list:
        task = BabiConfig(task_id=1, data_dir=data_dir)
        fast = {"epochs": epochs, "tensorboard": False, **train}
        return [
            recipe_cell("memn2n-1k-task01", "memn2n", "babi", task, "memn2n",
                        model_overrides={"linear_start_epochs": 1},
                        train_overrides={**fast, "repeats": repeats}),
            recipe_cell("lstm-1k-task01", "lstm", "babi", task, "lstm",
                        train_overrides={**fast, "repeats": lstm_repeats}),
        ]

    return Suite("tiny", "a tiny suite", build, report="babi-1k")


def test_runs_writes_reports_and_resumes(tmp_path: Path, capsys) -> None:
    data = write_fake_babi(tmp_path / "data", stories=60)
    out = tmp_path / "out"
    assert runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1) == 0
    rows = json.loads((out / "results.json").read_text())
    assert {r["model"] for r in rows} == {"memn2n", "lstm"}
    assert len(rows) == 3  # two MemN2N repeats and one LSTM run
    assert sum(r["selected"] for r in rows if r["model"] == "memn2n") == 1
    for row in rows:
        assert {"task", "model", "seed", "test_error", "steps", "seconds"} <= set(row)
        assert row["task"] == "babi1"
    text = (out / "results.md").read_text()
    assert "MemN2N PE LS RN (ours)" in text and "(paper)" in text
    assert (out / "plots" / "babi-1k-test-error.png").stat().st_size > 0
    # A second run finds every cell finished and trains nothing.
    stamp = (out / "cells" / "lstm-1k-task01" / "summary.json").stat().st_mtime_ns
    capsys.readouterr()
    assert runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1) == 0
    assert "2 already finished" in capsys.readouterr().out
    assert (out / "cells" / "lstm-1k-task01" / "summary.json").stat().st_mtime_ns == stamp
    # Asking for more repeats extends the finished cell: old repeats are kept, new ones trained.
    first = (out / "cells" / "memn2n-1k-task01" / "repeat-0" / "final.json").read_bytes()
    single = (out / "cells" / "lstm-1k-task01" / "final.json").read_bytes()
    more = tiny_suite(str(data), repeats=3, lstm_repeats=2)
    assert runner.run_suite(more, out, data_dir=None, jobs=1) == 0
    rows = json.loads((out / "results.json").read_text())
    assert sorted(r["seed"] for r in rows if r["model"] == "memn2n") == [0, 1, 2]
    # The finished single LSTM run became repeat 0 of two; it was not trained again.
    assert sorted(r["seed"] for r in rows if r["model"] == "lstm") == [0, 1]
    assert (out / "cells" / "lstm-1k-task01" / "final.json").read_bytes() == single
    assert not (out / "cells" / "lstm-1k-task01" / "repeat-0").exists()
    assert (out / "cells" / "memn2n-1k-task01" / "repeat-0" / "final.json").read_bytes() == first
    # Another configuration in the same output directory is refused, nothing overwritten.
    with pytest.raises(UserError, match="another configuration"):
        runner.run_suite(tiny_suite(str(data), clip_norm=0.5), out, data_dir=None, jobs=1)
    assert (out / "cells" / "memn2n-1k-task01" / "repeat-0" / "final.json").read_bytes() == first


def test_a_larger_epoch_budget_extends_finished_cells_as_a_longer_run(tmp_path: Path) -> None:
    data = write_fake_babi(tmp_path / "data", stories=60)
    out, direct = tmp_path / "out", tmp_path / "direct"
    assert runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1) == 0
    assert runner.run_suite(tiny_suite(str(data), epochs=3), out, data_dir=None, jobs=1) == 0
    assert runner.run_suite(tiny_suite(str(data), epochs=3), direct, data_dir=None, jobs=1) == 0
    for key, run in (("memn2n-1k-task01", "repeat-1"), ("lstm-1k-task01", ".")):
        extended, fresh = out / "cells" / key / run, direct / "cells" / key / run
        final = json.loads((extended / "final.json").read_text())
        assert final["epochs"] == 3 and final["early_stopped"] is False
        assert final["test"] == json.loads((fresh / "final.json").read_text())["test"]
        assert [r["valid_error"] for r in read_metrics(extended)] == [
            r["valid_error"] for r in read_metrics(fresh)]
    # A shorter budget than a cell was trained for is refused, nothing overwritten.
    with pytest.raises(UserError, match="trained for 3 epochs, more than the suite's 2"):
        runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1)
    assert json.loads((out / "cells/lstm-1k-task01/final.json").read_text())["epochs"] == 3


def test_report_only_trains_nothing(tmp_path: Path) -> None:
    data = write_fake_babi(tmp_path / "data", stories=60)
    out = tmp_path / "out"
    code = runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1, report_only=True)
    assert code == 1  # nothing finished, nothing to report
    assert not (out / "cells").exists()
    assert json.loads((out / "results.json").read_text()) == []


def test_missing_data_is_reported_and_exits_nonzero(tmp_path: Path, capsys) -> None:
    code = runner.run_suite(tiny_suite(str(tmp_path)), tmp_path / "out", data_dir=None, jobs=1)
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped (data missing)" in err and "tasks_1-20_v1-2.tar.gz" in err


def test_table_puts_paper_numbers_beside_ours(tmp_path: Path) -> None:
    from mneme.bench.report_family import family_entries, family_section

    cell = recipe_cell("c", "memn2n", "babi", BabiConfig(task_id=3), "memn2n")
    summary = {
        "test": {"error": 0.25},
        "seconds": 1.0,
        "repeats": [{"test": {"error": 0.25}}, {"test": {"error": 0.35}}],
    }
    _, table = family_section([(cell, summary)], tmp_path, select_best=True, plots=False)
    row = next(line for line in table.splitlines() if line.startswith("| task 3 (1k) |"))
    assert "25.00 (median 30.00 [25.00-35.00], n=2)" in row and "40.3" in row  # paper: 40.3
    (entry,) = family_entries([(cell, summary)], None, select_best=True)
    assert 100 * entry.selected == pytest.approx(25.0)
    assert "13.9 (11 failed)" in table


def test_suites_are_well_formed() -> None:
    for name, suite in SUITES.items():
        cells = suite.build("/nowhere")
        assert cells, name
        assert len({c.key for c in cells}) == len(cells)
        for cell in cells:
            cell.train.validate()
            cell.model.validate()
    quick = SUITES["quick"].build(None)
    from mneme.bench.matrix import QUICK_CORES, columns, sequence_cores

    assert {c.group for c in quick if c.column} == set(QUICK_CORES)
    assert {c.task_name for c in quick if c.column} == {
        "copy", "associative-recall", "retrieval", "adding", "repeat-copy"}
    assert {(c.task_name, c.model_name) for c in quick if not c.column} == {
        ("babi", "memn2n"), ("babi", "lstm")}
    matrix = SUITES["matrix"].build(None)
    assert len(matrix) == len(sequence_cores()) * len(columns()) >= 77  # every core x column
    assert {"dnc", "tape-rnn"} <= set(sequence_cores())
    assert {c.train.repeats for c in matrix} == {3}
    assert {c.train.optimizer for c in matrix} == {"adam"}  # one protocol for every core
    fw = {(c.group, c.model.hidden_size): c.train.repeats
          for c in SUITES["fast-weights"].build(None)}
    assert {m for m, _ in fw} >= {"fast-weights", "lstm", "irnn", "alstm"}
    assert fw[("fast-weights", 20)] == 3
    long = {c.group: c for c in SUITES["fast-weights-long"].build(None)}
    assert set(long) == {"fast-weights", "lstm-tuned"}
    for cell in long.values():  # the same longer budget and schedule for the model and baseline
        train = cell.train
        assert (train.epochs, train.lr_schedule, train.repeats) == (154, "constant", 3)
        assert cell.model.hidden_size == 20 and cell.train.epochs * 781 > 120_000
    assert long["lstm-tuned"].train.lr == 3e-3
    with pytest.raises(UserError, match="unknown suite"):
        get_suite("nope")


def test_a_config_field_added_since_a_cell_ran_matches_at_its_default(tmp_path: Path) -> None:
    from mneme.bench.matrix import matrix_cell, quick_columns
    from mneme.train.checkpoint import atomic_write_text
    from mneme.train.run import RunConfig

    column = next(c for c in quick_columns() if c.key == "copy-5")
    cell = matrix_cell("self-attention", column, seeds=1)
    stored = RunConfig(cell.task_name, cell.task, cell.model_name, cell.model,
                       cell.train).to_json()
    del stored["model"]["config"]["causal"]  # a cell run before the field existed
    atomic_write_text(tmp_path / "config.json", json.dumps(stored))
    runner._check_same_config(cell, tmp_path)  # the new field holds its default: the same run
    encoder = dataclasses.replace(cell, model=dataclasses.replace(cell.model, causal=False))
    with pytest.raises(UserError, match="another configuration"):
        runner._check_same_config(encoder, tmp_path)


def test_a_diverged_cell_is_reported_and_the_others_run(tmp_path: Path, monkeypatch,
                                                        capsys) -> None:
    from mneme.errors import NonFiniteLossError
    from mneme.train import run as run_module

    data = write_fake_babi(tmp_path / "data", stories=60)
    real = run_module.train_run

    def diverging(config, run_dir, **kwargs):
        if config.model_name == "memn2n":
            raise NonFiniteLossError("the training loss became nan at step 3 (epoch 1)")
        return real(config, run_dir, **kwargs)

    monkeypatch.setattr(run_module, "train_run", diverging)
    out = tmp_path / "out"
    assert runner.run_suite(tiny_suite(str(data)), out, data_dir=None, jobs=1) == 1
    err = capsys.readouterr().err
    assert "mneme: error: cell memn2n-1k-task01 diverged: the training loss became nan" in err
    rows = json.loads((out / "results.json").read_text())
    assert {r["model"] for r in rows} == {"lstm"}  # the other cell ran and is reported


def test_compile_switches_only_the_cells_of_cores_with_a_compiled_path(tmp_path: Path,
                                                                        monkeypatch) -> None:
    from mneme.tasks.algorithmic import CopyConfig
    from mneme.train import run as run_module

    real, seen = run_module.train_run, {}

    def recording(config, run_dir, **kwargs):
        seen[config.model_name] = config.train.compile
        eager = dataclasses.replace(config.train, compile=False)  # no C++ build in this test
        return real(dataclasses.replace(config, train=eager), run_dir, **kwargs)

    def build(_: str | None) -> list:
        task = CopyConfig(max_length=3, test_lengths=(), valid_size=8, test_size=8)
        fast = {"epochs": 1, "epoch_steps": 2, "tensorboard": False, "eval_batch_size": 8}
        return [recipe_cell("ntm-copy", "ntm", "copy", task, "ntm",
                            model_overrides={"memory_size": 8, "controller_size": 8},
                            train_overrides=fast),
                recipe_cell("lstm-copy", "lstm", "copy", task, "lstm",
                            model_overrides={"hidden_size": 8}, train_overrides=fast)]

    monkeypatch.setattr(run_module, "train_run", recording)
    suite = Suite("tiny-ntm", "an NTM and an LSTM cell", build, report="algorithmic")
    assert runner.run_suite(suite, tmp_path / "out", data_dir=None, jobs=1, compile=True) == 0
    assert seen == {"ntm": True, "lstm": False}
