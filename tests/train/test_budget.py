"""``max_steps`` / ``max_seconds`` end a run as its epochs would, and a larger budget resumes it
bit-identically; the progress bar shows validation as the summary does; missing extras are said
once."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch

from mneme.config import TrainConfig
from mneme.errors import ConfigError
from mneme.train.checkpoint import load_checkpoint
from mneme.train.logging import read_metrics
from mneme.train.resume import finished
from mneme.train.rundir import budget_results
from mneme.train.tracking import budget_spent, valid_postfix
from mneme.types import TaskInfo

from .test_loop import CFG, make, without_time

# ToyTask: 256 examples, batch 32: 8 steps an epoch, CFG trains 4 epochs (32 steps).


@pytest.mark.parametrize("budget", [5, 8, 13])
def test_max_steps_ends_the_run_and_a_larger_budget_continues_bit_identically(
        tmp_path: Path, budget: int) -> None:
    full = make(tmp_path / "full")
    full_result = full.fit()
    cut = make(tmp_path / "cut", dataclasses.replace(CFG, max_steps=budget))
    result = cut.fit()
    # Ended as at a normal end: a checkpoint at the stop, a tested best checkpoint, final.json.
    assert not result.interrupted and result.stopped == "max_steps" and result.steps == budget
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["step"] == budget
    final = json.loads((tmp_path / "cut/final.json").read_text())
    assert final["stopped"] == "max_steps" and final["steps"] == budget
    assert set(final["test"]) >= {"error", "loss"}
    epochs_done = budget // 8
    assert [r["epoch"] for r in read_metrics(tmp_path / "cut")] == list(range(1, epochs_done + 1))
    if epochs_done:
        assert final["best_epoch"] >= 1
    else:  # stopped within the first epoch: the weights at the stop were tested
        assert final["best_epoch"] == 0
    # The same budget again: finished, nothing trained.
    assert finished(tmp_path / "cut", cut.config) is not None
    assert make(tmp_path / "cut", cut.config).fit(resume=True).steps == budget
    # No budget: trains on to the epoch budget as if never stopped.
    assert finished(tmp_path / "cut", CFG) is None
    resumed = make(tmp_path / "cut")
    result = resumed.fit(resume=True)
    assert result.stopped is None and result.steps == full.step
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert without_time(read_metrics(tmp_path / "full")) == without_time(
        read_metrics(tmp_path / "cut"))
    assert result.test == full_result.test and result.best_epoch == full_result.best_epoch
    assert "stopped" not in json.loads((tmp_path / "cut/final.json").read_text())


def test_a_budget_raised_within_the_first_epoch_tests_the_weights_at_the_new_stop(
        tmp_path: Path) -> None:
    direct = make(tmp_path / "direct", dataclasses.replace(CFG, max_steps=6)).fit()
    assert make(tmp_path / "run", dataclasses.replace(CFG, max_steps=3)).fit().steps == 3
    raised = make(tmp_path / "run", dataclasses.replace(CFG, max_steps=6)).fit(resume=True)
    assert raised.steps == 6 and raised.best_epoch == 0
    assert raised.test == direct.test and raised.valid == direct.valid


def test_budget_at_the_last_step_is_a_normal_end(tmp_path: Path) -> None:
    result = make(tmp_path / "run", dataclasses.replace(CFG, max_steps=32)).fit()
    assert result.stopped is None and result.steps == 32


def test_budget_spent() -> None:
    cfg = TrainConfig(max_steps=10, max_seconds=2.5)
    assert budget_spent(cfg, 9, 2.4) is None
    assert budget_spent(cfg, 10, 0.0) == "max_steps"
    assert budget_spent(cfg, 3, 2.5) == "max_seconds"
    assert budget_spent(TrainConfig(), 10**9, 1e9) is None


def test_max_seconds_stops_training(tmp_path: Path) -> None:
    result = make(tmp_path / "run", dataclasses.replace(CFG, max_seconds=1e-9)).fit()
    assert result.stopped == "max_seconds" and result.steps == 1


@pytest.mark.parametrize(("field", "value"), [("max_steps", 0), ("max_seconds", 0.0)])
def test_budgets_are_validated(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"TrainConfig\.{field} must be"):
        TrainConfig(**{field: value}).validate()


# -- the progress bar ------------------------------------------------------------------------
def _info(**kw) -> TaskInfo:
    base = dict(kind="dataset", inputs="features", input_size=1, outputs="classes",
                output_size=2, readout="none", metric="error", unit="%", percent=True,
                selection_metric="error")
    return TaskInfo(**{**base, **kw})  # type: ignore[arg-type]


def test_valid_postfix_uses_the_task_metric_and_unit() -> None:
    assert valid_postfix(_info(), {"error": 0.1234, "loss": 0.5}) == {"valid_error": "12.34%"}
    bits = _info(metric="bits", unit="bits per sequence", percent=False)
    assert valid_postfix(bits, {"bits": 0.81234, "error": 0.5}) == {"valid_bits": "0.8123"}
    # A task whose headline metric is not among the validation metrics: its selection metric.
    assert valid_postfix(_info(metric="bleu", percent=True), {"error": 0.5}) == {
        "valid_error": "50.00%"}


def test_progress_bar_shows_this_epochs_validation_in_percent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = dataclasses.replace(CFG, epochs=1, progress=True)
    result = make(tmp_path / "run", cfg).fit()
    err = capsys.readouterr().err
    shown = f"valid_error={100 * read_metrics(tmp_path / 'run')[0]['valid_error']:.2f}%"
    assert shown in err and result.valid["error"] == read_metrics(tmp_path / "run")[0][
        "valid_error"]


# -- missing extras --------------------------------------------------------------------------
def test_missing_extras_are_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    make(tmp_path / "run", dataclasses.replace(CFG, tensorboard=True)).fit()
    lines = capsys.readouterr().err.splitlines()
    tensorboard = [x for x in lines if "tensorboard extra" in x]
    safetensors = [x for x in lines if "safetensors extra" in x]
    assert tensorboard == ["mneme: note: no TensorBoard event files are written: the tensorboard "
                           "extra is not installed (pip install 'torch-mneme[tensorboard]'; or "
                           "--train.no-tensorboard to turn it off)"]
    assert safetensors == ["mneme: note: model.safetensors is not written: the safetensors "
                           "extra is not installed (pip install 'torch-mneme[safetensors]')"]
    assert not (tmp_path / "run/model.safetensors").exists() and not (tmp_path / "run/tb").exists()


def test_extras_present_write_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("safetensors")
    pytest.importorskip("torch.utils.tensorboard")
    make(tmp_path / "run", dataclasses.replace(CFG, tensorboard=True)).fit()
    assert "extra" not in capsys.readouterr().err
    assert (tmp_path / "run/model.safetensors").exists() and any((tmp_path / "run/tb").iterdir())


# -- a larger epoch budget ------------------------------------------------------------------
def test_a_finished_run_given_more_epochs_trains_on_bit_identically(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, lr_decay_every=100)  # no decay within either budget
    full = make(tmp_path / "full", cfg)
    full_result = full.fit()
    short = dataclasses.replace(cfg, epochs=2)
    assert make(tmp_path / "run", short).fit().steps == 16
    final = json.loads((tmp_path / "run/final.json").read_text())
    assert final["epochs"] == 2 and final["early_stopped"] is False
    assert finished(tmp_path / "run", short) is not None  # the same budget: done
    assert finished(tmp_path / "run", cfg) is None  # 4 epochs: trains on
    extended = make(tmp_path / "run", cfg)
    result = extended.fit(resume=True)
    assert result.steps == full.step and result.epochs == 4
    for a, b in zip(full.model.state_dict().values(), extended.model.state_dict().values()):
        assert torch.equal(a, b)
    assert without_time(read_metrics(tmp_path / "full")) == without_time(
        read_metrics(tmp_path / "run"))
    assert result.test == full_result.test and result.best_epoch == full_result.best_epoch
    # The result at 2 epochs is kept beside the new one.
    history = budget_results(tmp_path / "run")
    assert [r.steps for r in history] == [16, 32] and history[1].test == full_result.test
    assert history[0].test == final["test"] and history[0].epochs == 2


def test_an_early_stopped_run_is_never_extended(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, epochs=50, early_stop=0.1)
    result = make(tmp_path / "run", cfg).fit()
    assert result.early_stopped and result.epochs is not None and result.epochs < 50
    assert finished(tmp_path / "run", dataclasses.replace(cfg, epochs=80)) is not None


def test_an_early_stop_survives_a_kill_before_final_json(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, epochs=50, early_stop=0.1)
    direct = make(tmp_path / "direct", cfg).fit()
    make(tmp_path / "run", cfg).fit()
    (tmp_path / "run/final.json").unlink()  # killed after the last checkpoint, before the end
    again = make(tmp_path / "run", cfg).fit(resume=True)
    assert again.steps == direct.steps and again.early_stopped
    assert len(read_metrics(tmp_path / "run")) == direct.epochs


@pytest.mark.parametrize(("budget", "extended"), [(4, False), (2, True)])
def test_a_final_json_from_before_epochs_were_recorded(tmp_path: Path, budget: int,
                                                        extended: bool) -> None:
    # Trained 2 epochs; config.json says the budget was ``budget``: 4 means it stopped early.
    cfg = dataclasses.replace(CFG, epochs=2)
    make(tmp_path / "run", cfg).fit()
    final = json.loads((tmp_path / "run/final.json").read_text())
    for key in ("epochs", "early_stopped"):
        del final[key]
    (tmp_path / "run/final.json").write_text(json.dumps(final))
    config = json.loads((tmp_path / "run/config.json").read_text())
    config["train"]["epochs"] = budget
    (tmp_path / "run/config.json").write_text(json.dumps(config))
    more = finished(tmp_path / "run", dataclasses.replace(CFG, epochs=6))
    assert (more is None) is extended


@pytest.mark.parametrize("legacy", [False, True])
def test_an_extension_stopped_part_way_resumes_to_the_new_budget(tmp_path: Path,
                                                                 legacy: bool) -> None:
    cfg = dataclasses.replace(CFG, lr_decay_every=100)
    direct = make(tmp_path / "direct", cfg).fit()
    make(tmp_path / "run", dataclasses.replace(cfg, epochs=2)).fit()
    if legacy:  # a final.json from before epochs were recorded
        final = json.loads((tmp_path / "run/final.json").read_text())
        del final["epochs"], final["early_stopped"]
        (tmp_path / "run/final.json").write_text(json.dumps(final))

    def interrupt(trainer) -> None:
        if trainer.step == 20:
            trainer.request_stop()

    assert make(tmp_path / "run", cfg, callbacks=[interrupt]).fit(resume=True).interrupted
    assert not (tmp_path / "run/final.json").exists()  # unfinished until the new budget
    assert (tmp_path / "run/final-step16.json").is_file()
    assert finished(tmp_path / "run", cfg) is None
    result = make(tmp_path / "run", cfg).fit(resume=True)
    assert result.steps == 32 and result.test == direct.test
    assert [r.steps for r in budget_results(tmp_path / "run")] == [16, 32]


def test_a_legacy_final_json_behind_its_log_is_an_extension_under_way(tmp_path: Path) -> None:
    # Written by mneme before this fix: an extension started, was stopped, final.json kept.
    cfg = dataclasses.replace(CFG, lr_decay_every=100)
    make(tmp_path / "run", dataclasses.replace(cfg, epochs=2)).fit()
    final = json.loads((tmp_path / "run/final.json").read_text())
    del final["epochs"], final["early_stopped"]

    def interrupt(trainer) -> None:
        if trainer.step == 28:  # past epoch 3's record
            trainer.request_stop()

    make(tmp_path / "run", cfg, callbacks=[interrupt]).fit(resume=True)
    (tmp_path / "run/final.json").write_text(json.dumps(final))  # as the old code left it
    assert finished(tmp_path / "run", cfg) is None
    assert make(tmp_path / "run", cfg).fit(resume=True).steps == 32
