"""The training engine: exact resume, schedules, hooks, non-finite losses, best-of-N."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path

import pytest
import torch

from mneme.config import TrainConfig
from mneme.errors import NonFiniteLossError, UserError
from mneme.train.checkpoint import load_checkpoint
from mneme.train.hooks import LinearStart
from mneme.train.logging import read_metrics
from mneme.train.loop import Trainer, epoch_permutation

from .toy import ToyModel, ToyTask

CFG = TrainConfig(
    epochs=4, batch_size=32, optimizer="sgd", lr=0.2, momentum=0.9, lr_decay_every=2,
    clip_norm=1.0, progress=False, tensorboard=False,
)


def make(run_dir: Path, cfg: TrainConfig = CFG, hooks=(), callbacks=()) -> Trainer:
    torch.manual_seed(cfg.seed)
    task = ToyTask()
    return Trainer(task, ToyModel(task.spec), cfg, run_dir, hooks=hooks, callbacks=callbacks)


def without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize("stop_at", [5, 8, 17])
def test_resume_is_bit_identical(tmp_path: Path, stop_at: int) -> None:
    full = make(tmp_path / "full")
    full.fit()

    def interrupt(trainer: Trainer) -> None:
        if trainer.step == stop_at:
            trainer.request_stop()

    first = make(tmp_path / "cut", callbacks=[interrupt])
    assert first.fit().interrupted
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["step"] == stop_at
    resumed = make(tmp_path / "cut")  # fresh objects, as a new process would build them
    result = resumed.fit(resume=True)
    assert not result.interrupted and result.steps == full.step
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert without_time(read_metrics(tmp_path / "full")) == without_time(
        read_metrics(tmp_path / "cut")
    )
    final_full = json.loads((tmp_path / "full/final.json").read_text())
    final_cut = json.loads((tmp_path / "cut/final.json").read_text())
    assert final_full["test"] == final_cut["test"]


def test_learns_and_writes_run_dir(tmp_path: Path) -> None:
    trainer = make(tmp_path / "run")
    result = trainer.fit()
    assert result.test["error"] < 0.1  # the toy classes are well separated
    records = read_metrics(tmp_path / "run")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert (tmp_path / "run/checkpoints/best.pt").is_file()
    assert (tmp_path / "run/final.json").is_file()
    # Atomic writes keep the usual file mode (the temp files they start from are 0600).
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "final.json", "checkpoints/last.pt"):
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    from safetensors.torch import load_file

    exported = load_file(str(tmp_path / "run/model.safetensors"))
    best = torch.load(tmp_path / "run/checkpoints/best.pt", weights_only=True)["model"]
    assert exported.keys() == best.keys()
    assert all(torch.equal(exported[k], best[k]) for k in best)


def test_early_stop_at_target(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, epochs=50, early_stop=0.1)
    trainer = make(tmp_path / "run", cfg)
    result = trainer.fit()
    records = read_metrics(tmp_path / "run")
    assert records[-1]["valid_error"] <= 0.1 < min(r["valid_error"] for r in records[:-1])
    assert trainer.epoch == len(records) < 50 and result.steps == trainer.step


def test_step_schedule_halves(tmp_path: Path) -> None:
    trainer = make(tmp_path / "run")
    trainer.fit()
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run")]
    assert lrs == pytest.approx([0.2, 0.2, 0.1, 0.1])


def test_linear_start_switches_and_restarts_schedule(tmp_path: Path) -> None:
    hook = LinearStart(epochs=3, lr=0.05)
    cfg = dataclasses.replace(CFG, epochs=6)
    trainer = make(tmp_path / "run", cfg, hooks=[hook])
    trainer.fit()
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run")]
    # Three linear epochs held at 0.05 (no decay at epoch 2), then a fresh schedule from 0.05
    # halved every 2 epochs.
    assert lrs == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.05, 0.025])
    assert hook.switched_at == 3 and not bool(trainer.model.linear)


def test_nonfinite_loss_stops_and_keeps_last_checkpoint(tmp_path: Path) -> None:
    trainer = make(tmp_path / "run")
    trainer.fit()
    before = (tmp_path / "run/checkpoints/last.pt").read_bytes()

    class Exploding(ToyTask):
        def loss(self, output, batch):
            return super().loss(output, batch) * float("nan")

    cfg = TrainConfig(epochs=2, progress=False, tensorboard=False)
    task = Exploding()
    bad = Trainer(task, ToyModel(task.spec), cfg, tmp_path / "run2")
    with pytest.raises(NonFiniteLossError, match=r"nan at step 1 .*last\.pt \(step 0\) is intact"):
        bad.fit()
    # Only the step-0 checkpoint a fresh run starts with was saved.
    assert load_checkpoint(tmp_path / "run2/checkpoints/last.pt")["step"] == 0
    assert (tmp_path / "run/checkpoints/last.pt").read_bytes() == before


def test_fresh_fit_refuses_existing_run(tmp_path: Path) -> None:
    make(tmp_path / "run").fit()
    before = (tmp_path / "run/metrics.jsonl").read_text()
    with pytest.raises(UserError, match="already holds a run"):
        make(tmp_path / "run").fit()
    assert (tmp_path / "run/metrics.jsonl").read_text() == before


def test_corrupt_checkpoint_is_a_user_error(tmp_path: Path) -> None:
    make(tmp_path / "run").fit()
    (tmp_path / "run/final.json").unlink()
    (tmp_path / "run/checkpoints/prev.pt").unlink()
    (tmp_path / "run/checkpoints/last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"last\.pt: corrupt checkpoint \(its SHA-256 differs"):
        make(tmp_path / "run").fit(resume=True)


def test_epoch_permutation_is_a_deterministic_permutation() -> None:
    a = epoch_permutation(3, 5, 100)
    assert torch.equal(a, epoch_permutation(3, 5, 100))
    assert torch.equal(a.sort().values, torch.arange(100))
    assert not torch.equal(a, epoch_permutation(3, 6, 100))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("batch_size", 0, "batch_size must be >= 1 (got 0)"),
     ("epochs", -1, "epochs must be >= 1 (got -1)"),
     ("lr", -0.1, "lr must be in (0, 1000] (got -0.1)"),
     ("lr", math.inf, "lr must be in (0, 1000] (got inf)"),
     ("lr", 1e38, "lr must be in (0, 1000] (got 1e+38)"),
     ("lr_decay", 0.0, "lr_decay must be in (0, 1] (got 0.0)"),
     ("lr_decay_start", -1, "lr_decay_start must be >= 0 (got -1)"),
     ("clip_norm", 0.0, "clip_norm must be > 0 (got 0.0)"),
     ("clip_value", -1.0, "clip_value must be > 0 (got -1.0)"),
     ("momentum", -0.5, "momentum must be >= 0 (got -0.5)"),
     ("weight_decay", -1e-4, "weight_decay must be >= 0 (got -0.0001)")],
)
def test_config_validation_names_the_field(field: str, value: float, message: str) -> None:
    import dataclasses

    with pytest.raises(UserError, match="^" + re.escape(f"TrainConfig.{message}") + "$"):
        dataclasses.replace(CFG, **{field: value}).validate()
    dataclasses.replace(CFG, clip_norm=None, clip_value=None, lr_decay=1.0).validate()


def test_best_of_n_breaks_validation_ties_by_validation_loss_not_seed_order() -> None:
    from mneme.train.run import select_repeat

    valid = [{"error": 0.0, "loss": 0.30}, {"error": 0.0, "loss": 0.02},
             {"error": 0.01, "loss": 0.001}]
    assert select_repeat(valid, "error") == 1  # seed 1: same error as seed 0, lower loss
    assert select_repeat([{"error": 0.0, "loss": 0.1}] * 3, "error") == 0  # a full tie: seed order
    assert select_repeat([{"bits": 2.0}, {"bits": 1.0}], "bits") == 1  # no loss recorded
