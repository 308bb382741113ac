"""Devices: the resolver (``auto`` and unavailable devices, with CUDA faked by monkeypatch) and the
loop's loss kept on the device, read only at sync points."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import torch

from mneme.config import TrainConfig
from mneme.errors import ConfigError, NonFiniteLossError
from mneme.train import loop, resume
from mneme.train.checkpoint import load_checkpoint
from mneme.train.device import resolve_device
from mneme.train.logging import read_metrics
from mneme.train.tracking import EpochLoss

from .test_loop import CFG, make, without_time
from .toy import ToyModel, ToyTask


def fake_machine(monkeypatch: pytest.MonkeyPatch, *, cuda: int = 0, mps: bool = False,
                 built: str | None = "12.1") -> list[torch.device]:
    """A machine with ``cuda`` CUDA devices and MPS or not; returns the set_device calls."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(torch.version, "cuda", built)
    calls: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "set_device", calls.append)
    return calls


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (0, False, "cpu"), (0, True, "mps"), (2, True, "cuda"), (1, False, "cuda"),
])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch, cuda: int,
                                             mps: bool, expected: str) -> None:
    fake_machine(monkeypatch, cuda=cuda, mps=mps)
    assert resolve_device("auto") == torch.device(expected)


def test_named_devices_resolve_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_machine(monkeypatch, cuda=2, mps=True)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("mps") == torch.device("mps")


@pytest.mark.parametrize(("name", "machine", "message"), [
    ("cuda", {"built": None}, r"^TrainConfig\.device is 'cuda', but this PyTorch build has no "
                              r"CUDA support; use cpu or auto$"),
    ("cuda:0", {}, r"^TrainConfig\.device is 'cuda:0', but this machine has no CUDA device"),
    ("cuda:3", {"cuda": 1}, r"^TrainConfig\.device is 'cuda:3', but this machine has 1 CUDA "
                            r"device \(cuda:0 to cuda:0\)$"),
    ("mps", {}, r"^TrainConfig\.device is 'mps', but MPS is not available here"),
    ("gpu", {}, r"^TrainConfig\.device must be auto, cpu, cuda, cuda:N or mps \(got 'gpu'\)$"),
    ("cuda:", {}, r"must be auto, cpu, cuda, cuda:N or mps \(got 'cuda:'\)$"),
])
def test_unavailable_or_unknown_devices_are_one_line_config_errors(
        monkeypatch: pytest.MonkeyPatch, name: str, machine: dict, message: str) -> None:
    fake_machine(monkeypatch, **machine)
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_device(name)
    assert "\n" not in str(caught.value)


def test_the_spelling_is_checked_by_the_config() -> None:
    with pytest.raises(ConfigError, match=r"TrainConfig\.device must be auto, cpu, cuda, "
                                          r"cuda:N or mps \(got 'gpu'\)"):
        TrainConfig(device="gpu").validate()
    TrainConfig(device="cuda:12").validate()  # spelt right; availability is resolve_device's


def test_torchrun_ranks_take_their_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_machine(monkeypatch, cuda=4)
    assert resolve_device("cuda", local_rank=3) == torch.device("cuda", 3)
    assert resolve_device("auto", local_rank=2) == torch.device("cuda", 2)
    assert calls == [torch.device("cuda", 3), torch.device("cuda", 2)]
    assert resolve_device("cpu", local_rank=1) == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"under torchrun each rank uses cuda:LOCAL_RANK"):
        resolve_device("cuda:1", local_rank=0)
    with pytest.raises(ConfigError, match=r"is 'cuda:4', but this machine has 4 CUDA devices"):
        resolve_device("cuda", local_rank=4)


def test_trainer_refuses_a_missing_device_before_writing(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    fake_machine(monkeypatch)
    with pytest.raises(ConfigError, match=r"TrainConfig\.device is 'cuda'"):
        make(tmp_path / "run", TrainConfig(device="cuda", progress=False, tensorboard=False))
    assert not (tmp_path / "run").exists()


# -- the loss on the device ----------------------------------------------------------------
def test_deferred_sums_equal_the_per_step_python_sums() -> None:
    losses = [torch.tensor(v) for v in (0.7, 1.3, 0.2, 2.9)]
    now = EpochLoss(torch.device("cpu"))
    later = EpochLoss(torch.device("cpu"), deferred=True)
    python = 0.0
    for step, loss in enumerate(losses, 1):
        assert now.add(loss, 32, step) is None and later.add(loss, 32, step) is None
        python += float(loss) * 32
    assert later.check() is None
    assert now.state() == later.state() == {"loss": python, "count": 128.0}
    assert now.mean() == later.mean() == python / 128


def test_deferred_check_names_the_first_non_finite_step() -> None:
    tracker = EpochLoss(torch.device("cpu"), deferred=True)
    for step, value in enumerate((0.5, math.inf, math.nan, 0.5), 1):
        assert tracker.add(torch.tensor(value), 8, step) is None  # nothing is read per step
    assert tracker.check() == (math.inf, 2)
    per_step = EpochLoss(torch.device("cpu"))
    assert per_step.add(torch.tensor(0.5), 8, 1) is None
    assert math.isnan(per_step.add(torch.tensor(math.nan), 8, 2))  # on the CPU: at once


def defer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop as on an accelerator: losses read only at sync points."""
    patched = functools.partial(EpochLoss, deferred=True)
    monkeypatch.setattr(loop, "EpochLoss", patched)
    monkeypatch.setattr(resume, "EpochLoss", patched)


def test_deferred_loop_trains_and_resumes_as_the_per_step_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = make(tmp_path / "ref")  # per step, as on the CPU
    reference.fit()
    defer(monkeypatch)

    def interrupt(trainer: loop.Trainer) -> None:
        if trainer.step == 11:
            trainer.request_stop()

    assert make(tmp_path / "cut", callbacks=[interrupt]).fit().interrupted
    resumed = make(tmp_path / "cut")
    resumed.fit(resume=True)
    assert resumed._epoch_sums.deferred
    for a, b in zip(reference.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert without_time(read_metrics(tmp_path / "ref")) == without_time(
        read_metrics(tmp_path / "cut"))


def test_deferred_loop_stops_at_the_step_that_went_non_finite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defer(monkeypatch)

    class LateNaN(ToyTask):
        calls = 0

        def loss(self, output, batch):
            LateNaN.calls += 1
            loss = super().loss(output, batch)
            return loss * float("nan") if LateNaN.calls == 5 else loss

    task = LateNaN()
    cfg = TrainConfig(epochs=2, progress=False, tensorboard=False)
    trainer = loop.Trainer(task, ToyModel(task.spec), cfg, tmp_path / "run")
    assert trainer._epoch_sums.deferred
    with pytest.raises(NonFiniteLossError, match=r"nan at step 5 .*last\.pt \(step 0\) is intact"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 0


def test_epoch_records_name_the_device(tmp_path: Path) -> None:
    make(tmp_path / "run", CFG).fit()
    assert {r["device"] for r in read_metrics(tmp_path / "run")} == {"cpu"}
