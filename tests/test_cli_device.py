"""The device and budget options through the command line, in a subprocess where the user's path
is the shell (this PyTorch build has no CUDA, so asking for it must be one line and exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mneme.cli import main
from mneme.train.logging import read_metrics

from .babi_fake import write_fake_babi

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
FAST = ["--train.epochs", "2", "--train.no-progress", "--train.no-tensorboard"]


def mneme(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mneme", *argv], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_babi(tmp_path_factory.mktemp("data"))


def train_argv(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--task", "babi", "--task.task-id", "1", "--model", "memn2n",
            "--data-dir", str(data), "--out", str(out), *FAST, *extra]


@pytest.mark.parametrize(("device", "message"), [
    ("cuda", "mneme: error: TrainConfig.device is 'cuda', but this PyTorch build has no CUDA "
             "support; use cpu or auto"),
    ("gpu", "mneme: error: TrainConfig.device must be auto, cpu, cuda, cuda:N or mps (got "
            "'gpu')"),
])
def test_train_on_a_missing_or_unknown_device_is_one_line_and_exit_2(
        tmp_path: Path, data: Path, device: str, message: str) -> None:
    if device == "cuda" and torch.version.cuda:
        message = message.replace("this PyTorch build has no CUDA support",
                                  "this machine has no CUDA device")
    done = mneme(*train_argv(data, tmp_path / "run", "--train.device", device))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [message]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_eval_takes_a_device(tmp_path: Path, data: Path) -> None:
    run = tmp_path / "run"
    assert main(train_argv(data, run, "--train.device", "auto")) == 0
    assert {json.loads(line)["device"] for line in (run / "metrics.jsonl").read_text()
            .splitlines()} == {"cpu"}  # auto on a machine without an accelerator
    done = mneme("eval", str(run), "--json", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert json.loads(done.stdout)["test_error"] == pytest.approx(summary["test"]["error"])
    done = mneme("eval", str(run), "--device", "cuda:1")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "device is 'cuda:1'" in done.stderr


@pytest.mark.parametrize("command", ["plot", "ask", "generate", "translate"])
def test_every_model_command_refuses_an_unknown_device(
        tmp_path: Path, data: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(train_argv(data, run)) == 0
    extra = ["je suis ."] if command == "translate" else []
    capsys.readouterr()
    assert main([command, str(run), *extra, "--device", "gpu"]) == 2
    assert capsys.readouterr().err == ("mneme: error: device must be auto, cpu, cuda, cuda:N or "
                                       "mps (got 'gpu')\n")


def test_bench_device_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    assert main(["bench", "--suite", "quick", "--out", str(tmp_path / "b"), "--device",
                 "mps"]) == 2
    assert not (tmp_path / "b").exists()


def test_max_steps_ends_and_a_resume_with_more_goes_on(tmp_path: Path, data: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(train_argv(data, run, "--train.max-steps", "3")) == 0
    assert "3 steps" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["repeats"][0]["stopped"] == "max_steps"
    assert main(["train", "--resume", str(run), "--train.max-steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 steps" in out and "stopped by --train.max-steps" in out
    assert main(["train", "--resume", str(run), "--train.max-steps", "5"]) == 0  # spent: as is
    assert json.loads((run / "summary.json").read_text())["steps"] == 5


def test_a_finished_run_trains_on_to_more_epochs_and_no_other_change_is_taken(
        tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(train_argv(data, run)) == 0  # 2 epochs
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--train.lr", "0.001"]) == 2
    assert "the run is finished and these --train.* options train it no further" in (
        capsys.readouterr().err)
    assert main(["train", "--resume", str(run), "--train.epochs", "3"]) == 0
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    (archived,) = run.glob("final-step*.json")  # the result at 2 epochs, kept
    assert json.loads(archived.read_text())["epochs"] == 2
    assert json.loads((run / "final.json").read_text())["epochs"] == 3
