"""A resume killed at every one of its writes loses nothing, and one process owns a run.

Each kill is ``os._exit`` in a forked child just before a write event (a file opened for writing,
``os.write``, ``link``, ``rename``/``replace``, ``unlink``): what SIGKILL does at that moment. The
killed run is resumed to the end and must equal an uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mneme.cli import main
from mneme.train.rundir import own_run

from .run_helpers import (
    KILLED,
    assert_same_run,
    copy_run,
    count_writes,
    files,
    fresh,
    in_child,
    interrupted,
    killed_at,
    one_line,
    records,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run (trained here, so that the children forked later find every module
    imported)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(fresh(out)) == 0
    return out


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> Path:
    """Stopped after step 7 (mid epoch 3), with one record logged after its checkpoint: the state
    a kill between logging and checkpointing leaves, so resume must cut the log back."""
    out = tmp_path_factory.mktemp("cut") / "run"
    interrupted(out, at_step=7)
    extra = (reference / "metrics.jsonl").read_text().splitlines()[2]
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write(extra + "\n")
    return out


def test_a_kill_at_every_write_of_a_resume_loses_nothing(
    tmp_path: Path, reference: Path, cut: Path
) -> None:
    total = count_writes(["train", "--resume", str(copy_run(cut, tmp_path / "count"))])
    assert total > 15  # the cut of the log, then an epoch's checkpoints and record, results
    for k in range(total):
        run = copy_run(cut, tmp_path / f"kill-{k}")
        assert killed_at(["train", "--resume", str(run)], k) == KILLED, k
        # The history the checkpoint saw is never lost, whatever was written so far.
        assert len(records(run)) >= 1, k
        assert in_child(lambda run=run: main(["train", "--resume", str(run)])) == 0, k
        assert_same_run(run, reference)


def test_a_kill_during_a_fresh_run_then_resume(tmp_path: Path, reference: Path) -> None:
    run = tmp_path / "run"
    total = count_writes(fresh(tmp_path / "count"))
    for k in (0, 1, 2, 3, 5, total // 3, total // 2, total - 2):
        if run.exists():
            shutil.rmtree(run)
        assert killed_at(fresh(run), k) == KILLED
        if (run / "config.json").exists():
            # Killed before its first checkpoint, a run has nothing to lose and starts again.
            assert in_child(lambda: main(["train", "--resume", str(run)])) == 0, k
        else:  # killed before it was a run: the same command again
            assert in_child(lambda: main(fresh(run))) == 0, k
        assert_same_run(run, reference)


def _holding(run: Path) -> tuple[int, int]:
    """A child that owns ``run`` until the returned pipe end is closed; (pid, write end)."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(hold_w)
            with own_run(run):
                os.write(ready_w, b"1")
                os.read(hold_r, 1)  # until the parent closes its end
        finally:
            os._exit(0)
    os.close(hold_r)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    return pid, hold_w


def test_a_second_process_on_one_run_is_refused(tmp_path: Path, cut: Path, capsys) -> None:
    run = copy_run(cut, tmp_path / "run")
    before = files(run)
    pid, hold = _holding(run)
    try:
        for argv in (["train", "--resume", str(run)], fresh(run)):
            assert main(argv) == 2
            line = one_line(capsys.readouterr().err)
            assert f"in use by process {pid}" in line or "already holds a run" in line
        assert main(fresh(tmp_path / "other")) == 0  # another run is not blocked
        capsys.readouterr()
        assert main(["train", "--resume", str(run)]) == 2
        assert f"{run}: in use by process {pid}" in one_line(capsys.readouterr().err)
    finally:
        os.close(hold)
        os.waitpid(pid, 0)
    assert files(run) == before
    # The owner is gone (as after a SIGKILL): its lock went with it.
    assert main(["train", "--resume", str(run)]) == 0


def test_two_trainings_started_together_one_wins(tmp_path: Path) -> None:
    out = tmp_path / "same"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
           "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "mneme", *fresh(out)]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    line = one_line(loser)
    assert "in use by process" in line or "already holds a run" in line
    assert [r["epoch"] for r in records(out)] == [1, 2, 3]
    assert json.loads((out / "final.json").read_text())["steps"] == 9
