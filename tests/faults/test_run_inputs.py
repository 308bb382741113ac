"""Damaged, missing and malformed run files: one line on stderr, exit 2, nothing written.

Every case starts from a copy of a small run, damages one file, runs the command in this process,
and checks the message (one line, naming the file or field), the exit code, and that no file of
the run changed (``.lock`` aside: it holds the PID of the last process that owned the run).
"""

from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path

import pytest
import torch

from mneme.cli import main
from mneme.train.checkpoint import checksum_path, save_checkpoint

from .run_helpers import (
    assert_same_run,
    copy_run,
    damage,
    files,
    fresh,
    interrupted,
    one_line,
    records,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(fresh(out)) == 0
    return out


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> Path:
    """Stopped after step 4 (mid epoch 2); last.pt at step 4, prev.pt at step 3."""
    out = tmp_path_factory.mktemp("cut") / "run"
    interrupted(out, at_step=4)
    return out


def refused(argv: list[str], run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``mneme ARGV``: exit 2, one line, nothing in ``run`` changed; the line."""
    before = files(run)
    capsys.readouterr()
    assert main(argv) == 2
    line = one_line(capsys.readouterr().err)
    assert files(run) == before
    return line


# -- checkpoints ---------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_a_damaged_last_checkpoint_falls_back_to_the_previous(
    tmp_path: Path, reference: Path, cut: Path, how: str, capsys
) -> None:
    rng = random.Random(how)
    for trial in range(6):
        run = copy_run(cut, tmp_path / f"run{trial}")
        last = run / "checkpoints" / "last.pt"
        damage(last, how, rng)
        capsys.readouterr()
        assert main(["train", "--resume", str(run)]) == 0
        warning = one_line(capsys.readouterr().err)
        assert warning.startswith(f"mneme: warning: {last}: corrupt checkpoint")
        assert "resuming from" in warning and "prev.pt" in warning
        assert_same_run(run, reference)


def test_both_checkpoints_damaged_is_one_line_naming_last(tmp_path: Path, cut: Path,
                                                          capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    for name in ("last.pt", "prev.pt"):
        path = run / "checkpoints" / name
        path.write_bytes(path.read_bytes()[:1000])
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert f"{run / 'checkpoints' / 'last.pt'}: corrupt checkpoint" in line


def test_a_truncated_checkpoint_without_a_checksum_is_one_line(tmp_path: Path, cut: Path,
                                                               capsys) -> None:
    """Runs of older versions have no sidecar: a cut file is still named, not a traceback."""
    run = copy_run(cut, tmp_path / "run")
    names = ("last.pt", "prev.pt")
    for name in names:
        checksum_path(run / "checkpoints" / name).unlink()
    for cut_at in (10, 3000, 20000):
        for name in names:
            (run / "checkpoints" / name).write_bytes(
                (cut / "checkpoints" / name).read_bytes()[:cut_at])
        line = refused(["train", "--resume", str(run)], run, capsys)
        assert f"{run / 'checkpoints' / 'last.pt'}: not a readable checkpoint" in line


def _rewrite(path: Path, change) -> None:
    """Load a checkpoint, ``change`` it, save it with a fresh checksum (a well-formed file)."""
    payload = torch.load(path, weights_only=True)
    change(payload)
    save_checkpoint(path, payload)


def test_a_checkpoint_of_another_model_is_one_line(tmp_path: Path, cut: Path, capsys) -> None:
    other = tmp_path / "other"
    assert main(fresh(other, "--model.hidden-size", "5")) == 0
    run = copy_run(cut, tmp_path / "run")
    for name in ("last.pt", "prev.pt"):
        _rewrite(run / "checkpoints" / name, lambda p: p.update(
            model=torch.load(other / "checkpoints/last.pt", weights_only=True)["model"]))
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert "last.pt: does not fit this run's model" in line


def test_a_checkpoint_without_optimizer_is_one_line(tmp_path: Path, cut: Path, capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    for name in ("last.pt", "prev.pt"):
        _rewrite(run / "checkpoints" / name, lambda p: p.pop("optimizer"))
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert line.endswith("last.pt: incomplete checkpoint (no 'optimizer')")


def test_a_flipped_best_checkpoint_is_named_by_eval(tmp_path: Path, reference: Path,
                                                    capsys) -> None:
    run = copy_run(reference, tmp_path / "run")
    best = run / "checkpoints" / "best.pt"
    data = bytearray(best.read_bytes())
    data[len(data) // 2] ^= 4
    best.write_bytes(bytes(data))
    assert f"{best}: corrupt checkpoint" in refused(["eval", str(run)], run, capsys)


# -- missing files -------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["checkpoints", "last.pt+prev.pt", "metrics.jsonl"])
def test_resume_with_a_missing_file_overwrites_nothing(tmp_path: Path, cut: Path, missing: str,
                                                       capsys) -> None:
    import shutil

    run = copy_run(cut, tmp_path / "run")
    if missing == "checkpoints":
        shutil.rmtree(run / "checkpoints")
    elif missing == "metrics.jsonl":
        (run / "metrics.jsonl").unlink()
    else:
        for name in ("last.pt", "prev.pt"):
            (run / "checkpoints" / name).unlink()
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert ("metrics.jsonl: missing" if missing == "metrics.jsonl" else "missing, so there is "
            "nothing to resume from") in line


def test_a_history_shorter_than_the_checkpoint_is_refused(tmp_path: Path, cut: Path,
                                                          capsys) -> None:
    """The bug of issue 15: a kill during the cut used to leave an empty log, and the next resume
    went on with epochs 1-4 gone."""
    run = copy_run(cut, tmp_path / "run")
    (run / "metrics.jsonl").write_text("")
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert "holds fewer records than the 1 that" in line and "last.pt was saved after" in line
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 7, "step": 1}) + "\n")
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert "its record 1 is of epoch 7" in line


# -- malformed files -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [b"{not json", b"\xff\xfe garbage", b"[1, 2]"])
def test_a_malformed_metrics_line_is_named_by_plot_and_resume(tmp_path: Path, cut: Path,
                                                              bad: bytes, capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    path = run / "metrics.jsonl"
    path.write_bytes(bad + b"\n" + path.read_bytes())  # line 1 bad; the record is line 2
    for argv in (["plot", str(run)], ["train", "--resume", str(run)]):
        assert f"{path}:1: " in refused(argv, run, capsys)
    assert not (run / "plots").exists()  # plot wrote nothing before failing


def _babi_config(run: Path) -> None:
    """A bAbI + MemN2N ``config.json`` (read without its data: the config fails first)."""
    from mneme.config import TrainConfig
    from mneme.memory.memn2n import MemN2NConfig
    from mneme.tasks.babi import BabiConfig
    from mneme.train.run import RunConfig

    config = RunConfig("babi", BabiConfig(), "memn2n", MemN2NConfig(), TrainConfig())
    (run / "config.json").write_text(json.dumps(config.to_json()))


@pytest.mark.parametrize(
    ("part", "field", "value", "message"),
    [("train", "epochs", "ten", "TrainConfig.epochs must be an integer (got 'ten')"),
     ("train", "lr", None, "TrainConfig.lr must be a number (got None)"),
     ("train", "lr", 1e38, "TrainConfig.lr must be in (0, 1000] (got 1e+38)"),
     ("train", "progress", "no", "TrainConfig.progress must be true or false (got 'no')"),
     ("task", "task_id", "1", "BabiConfig.task_id must be an integer (got '1')"),
     ("model", "hops", 2.5, "MemN2NConfig.hops must be an integer (got 2.5)")],
)
def test_a_config_value_of_the_wrong_type_is_named(tmp_path: Path, cut: Path, part: str,
                                                   field: str, value: object, message: str,
                                                   capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    if part != "train":
        _babi_config(run)
    data = json.loads((run / "config.json").read_text())
    section = data["train"] if part == "train" else data[part]["config"]
    section[field] = value
    (run / "config.json").write_text(json.dumps(data))
    for argv in (["train", "--resume", str(run)], ["eval", str(run)], ["plot", str(run)]):
        line = refused(argv, run, capsys)
        assert line == f"mneme: error: {run / 'config.json'}: {message}"


@pytest.mark.parametrize("content", [b"{", b"\xff", b'{"valid": {}, "test": "x"}', b"[]"])
def test_a_corrupt_final_json_is_one_line(tmp_path: Path, reference: Path, content: bytes,
                                          capsys) -> None:
    run = copy_run(reference, tmp_path / "run")
    (run / "summary.json").unlink()
    (run / "final.json").write_bytes(content)
    line = refused(["train", "--resume", str(run)], run, capsys)
    assert f"{run / 'final.json'}: corrupt result file" in line


def test_a_huge_learning_rate_is_refused_before_anything_is_written(tmp_path: Path,
                                                                    capsys) -> None:
    capsys.readouterr()
    assert main(fresh(tmp_path / "run", "--train.lr", "1e38")) == 2
    assert "TrainConfig.lr must be in (0, 1000] (got 1e+38)" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_a_run_that_fails_before_writing_leaves_no_directory(tmp_path: Path, capsys) -> None:
    """Missing data is found after the run directory (and its parents) were made to lock it."""
    capsys.readouterr()
    argv = ["train", "--task", "babi", "--model", "memn2n", "--data-dir", str(tmp_path),
            "--out", str(tmp_path / "runs" / "new" / "run")]
    assert main(argv) == 2
    assert "tasks_1-20_v1-2.tar.gz" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


# -- a full disk ---------------------------------------------------------------------------------
def test_a_full_disk_on_save_keeps_the_previous_checkpoint(
    tmp_path: Path, reference: Path, cut: Path, monkeypatch, capsys
) -> None:
    run = copy_run(cut, tmp_path / "run")
    kept = {n: (run / "checkpoints" / n).read_bytes() for n in ("last.pt", "prev.pt")}
    real = os.fsync
    calls = {"n": 0}

    def full(fd: int) -> None:  # the disk fills at the 5th fsync (inside the first save)
        calls["n"] += 1
        if calls["n"] >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", full)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "cannot write (No space left on device)" in line
    assert "the previous version is intact" in line
    monkeypatch.setattr(os, "fsync", real)
    loaded = {n: torch.load(run / "checkpoints" / n, weights_only=True)["step"] for n in kept}
    assert loaded["last.pt"] >= 4  # intact (the one before, or the one just written)
    assert main(["train", "--resume", str(run)]) == 0
    assert_same_run(run, reference)


# -- TensorBoard, temp files, file modes ---------------------------------------------------------
def test_a_failed_resume_adds_no_tensorboard_file_and_a_good_one_adds_one(
    tmp_path: Path, cut: Path, capsys
) -> None:
    pytest.importorskip("tensorboard")
    run = copy_run(cut, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["train"]["tensorboard"] = True
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.jsonl").rename(run / "saved.jsonl")
    refused(["train", "--resume", str(run)], run, capsys)
    assert not (run / "tb").exists()
    (run / "saved.jsonl").rename(run / "metrics.jsonl")
    assert main(["train", "--resume", str(run)]) == 0
    assert len(list((run / "tb").iterdir())) == 1  # each resume adds one events file


def test_stale_temp_files_are_removed_and_files_keep_the_usual_mode(tmp_path: Path,
                                                                    cut: Path) -> None:
    run = copy_run(cut, tmp_path / "run")
    stale = [run / ".metrics.jsonl.x1.tmp", run / "checkpoints" / ".last.pt.x2.tmp",
             run / ".model.safetensors.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    assert main(["train", "--resume", str(run)]) == 0
    assert not any(p.exists() for p in stale)
    mode = (run / "config.json").stat().st_mode & 0o777
    for name in ("model.safetensors", "final.json", "checkpoints/last.pt", "checkpoints/prev.pt",
                 "checkpoints/last.pt.sha256"):
        assert (run / name).stat().st_mode & 0o777 == mode, name


# -- divergence and resuming with a new schedule -------------------------------------------------
def test_divergence_saves_nothing_non_finite_and_says_what_is_left(tmp_path: Path,
                                                                   capsys) -> None:
    """The adding task's regression at lr 100 without clipping blows up in epoch 3."""
    run = tmp_path / "run"
    argv = ["train", "--task", "adding", "--task.seq-len", "5", "--task.valid-size", "20",
            "--task.test-size", "20", "--model", "lstm", "--model.hidden-size", "8",
            "--model.num-layers", "1", "--train.epochs", "3", "--train.epoch-steps", "3",
            "--train.no-progress", "--train.no-tensorboard", "--train.optimizer", "sgd",
            "--train.lr", "100", "--train.clip-norm", "None", "--train.clip-value", "None",
            "--out", str(run)]
    capsys.readouterr()
    assert main(argv) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("mneme: training stopped: ")
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert f"last.pt (step {saved['step']}) is intact" in line
    for name in ("last.pt", "prev.pt", "best.pt"):
        path = run / "checkpoints" / name
        if path.exists():
            model = torch.load(path, weights_only=True)["model"]
            assert all(bool(torch.isfinite(t).all()) for t in model.values()), name
    assert all(all(v == v and abs(v) != float("inf") for v in r.values()
                   if isinstance(v, float)) for r in records(run))
    # The advice can be followed: resume at a smaller rate.
    assert main(["train", "--resume", str(run), "--train.lr", "0.01"]) == 0
    assert records(run)[-1]["lr"] == pytest.approx(0.01)


def test_resume_takes_a_new_rate_and_budget_only(tmp_path: Path, cut: Path, capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    refused(["train", "--resume", str(run), "--train.batch-size", "4"], run, capsys)
    refused(["train", "--resume", str(run), "--train.seed", "3"], run, capsys)
    assert main(["train", "--resume", str(run), "--train.lr", "0.05", "--train.epochs",
                 "4"]) == 0
    lrs = [r["lr"] for r in records(run)]
    assert lrs[0] == pytest.approx(3e-4) and lrs[1:] == pytest.approx([0.05] * 3)
    config = json.loads((run / "config.json").read_text())["train"]
    assert (config["lr"], config["epochs"]) == (0.05, 4)  # what the rest was trained with


def test_annealing_on_resume_equals_annealing_from_the_start(tmp_path: Path) -> None:
    """A finished run resumed with a step decay from its last epoch trains exactly as a run
    given that schedule from the start (the earlier epochs' rates agree)."""
    anneal = ["--train.lr-schedule", "step", "--train.lr-decay", "0.5",
              "--train.lr-decay-every", "1", "--train.lr-decay-start", "2"]
    reference = tmp_path / "reference"
    assert main(fresh(reference, "--train.epochs", "4", *anneal)) == 0
    run = tmp_path / "run"
    assert main(fresh(run, "--train.epochs", "2")) == 0
    assert main(["train", "--resume", str(run), "--train.epochs", "4", *anneal]) == 0
    assert [r["lr"] for r in records(run)] == pytest.approx([3e-4, 3e-4, 1.5e-4, 7.5e-5])
    assert_same_run(run, reference)
    config = json.loads((run / "config.json").read_text())["train"]
    assert (config["lr_schedule"], config["lr_decay_start"]) == ("step", 2)
