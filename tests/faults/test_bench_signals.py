"""SIGTERM and Ctrl-C to ``mneme bench``: the bench and every process it started stop, the
cells being trained are checkpointed, queued cells never start, the exit code is 130 / 143, and
a rerun resumes the interrupted cells without repeating an epoch. Workers of a bench killed
with SIGKILL notice and stop on their own. (That a resumed cell finishes is checked in-process by
``tests/bench/test_runner.py`` and ``test_bench_files.py``.)

The bench runs as a subprocess (``bench_driver.py``: three tiny copy cells, two workers), in its
own session so that a Ctrl-C can go to its whole process group as a terminal sends it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mneme

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

DRIVER = Path(__file__).with_name("bench_driver.py")
SRC = Path(mneme.__file__).resolve().parents[1]
EPOCHS = 1000  # 10 steps each: a minute a cell, never finished here
CELLS = ("rnn-copy-0", "rnn-copy-1", "rnn-copy-2")  # trained in this order, two at a time


def start_bench(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(EPOCHS), "--out", str(out), *extra], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # state, ppid, ...


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def metrics_epochs(cell_dir: Path) -> list[int]:
    path = cell_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["epoch"] for line in path.read_text().splitlines() if line]


def wait_until_training(proc: subprocess.Popen[str], out: Path, keys: tuple[str, ...]) -> None:
    """Until every cell of ``keys`` has logged an epoch (the bench must still be running)."""
    deadline = time.monotonic() + 180
    while not all(metrics_epochs(out / "cells" / key) for key in keys):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the cells never started training"
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, err


def all_gone(pids: set[int]) -> bool:
    """Whether every process of ``pids`` has exited; waits for stragglers a while (the resource
    tracker exits when it reads the end of the bench's pipe), so only one left running fails."""
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def assert_stopped_cleanly(out: Path, workers: set[int], err: str, name: str) -> None:
    assert len(workers) >= 3  # two workers and multiprocessing's resource tracker
    assert all_gone(workers)
    assert err.strip().splitlines()[-1].startswith(f"mneme: interrupted by {name}:")
    assert "Traceback" not in err
    for key in CELLS[:2]:  # checkpointed mid-way
        cell = out / "cells" / key
        assert (cell / "checkpoints" / "last.pt").is_file()
        assert not (cell / "summary.json").exists()
        assert metrics_epochs(cell) == list(range(1, len(metrics_epochs(cell)) + 1))
    assert not (out / "cells" / CELLS[2]).exists()  # the queued cell never started


def resume_until_progress(out: Path, before: dict[str, list[int]]) -> subprocess.Popen[str]:
    """Rerun the bench until both cells have logged epochs beyond ``before``."""
    proc = start_bench(out, "--jobs", "2")
    deadline = time.monotonic() + 180
    while not all(len(metrics_epochs(out / "cells" / k)) > len(before[k]) for k in before):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the rerun never resumed training"
        time.sleep(0.05)
    return proc


def assert_resumed(out: Path, before: dict[str, list[int]]) -> None:
    """Each cell went on from where it stopped: the old lines kept, every epoch once."""
    for key, old in before.items():
        epochs = metrics_epochs(out / "cells" / key)
        assert epochs[: len(old)] == old
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > len(old)


def test_sigterm_stops_workers_and_a_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_bench(out, "--jobs", "2")
    wait_until_training(proc, out, CELLS[:2])
    workers = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)  # to the bench alone: it must stop its workers itself
    code, err = finish(proc)
    assert code == 143
    assert_stopped_cleanly(out, workers, err, "SIGTERM")
    before = {key: metrics_epochs(out / "cells" / key) for key in CELLS[:2]}
    proc = resume_until_progress(out, before)
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    assert code == 143, err
    assert_resumed(out, before)


def test_ctrl_c_stops_everything_and_a_killed_bench_leaves_no_worker(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_bench(out, "--jobs", "2")
    wait_until_training(proc, out, CELLS[:2])
    workers = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    code, err = finish(proc)
    assert code == 130
    assert_stopped_cleanly(out, workers, err, "SIGINT")
    # A bench killed outright cannot stop its workers: they notice and stop on their own.
    before = {key: metrics_epochs(out / "cells" / key) for key in CELLS[:2]}
    proc = resume_until_progress(out, before)
    workers = descendants(proc.pid)
    proc.kill()
    finish(proc)
    assert all_gone(workers)
    assert_resumed(out, before)
