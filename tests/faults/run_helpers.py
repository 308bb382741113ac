"""Shared by the run-directory fault tests: a tiny run, a forked child killed at the k-th write,
snapshots of a run directory, and the comparison with an uninterrupted run.

A child is forked from the test process (mneme is imported once) and killed with ``os._exit``:
no ``finally``, no ``atexit``, no flush runs, and the OS drops its lock, as under SIGKILL.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import random
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mneme.cli import main

TINY = ["--task", "copy", "--task.max-length", "3", "--task.valid-size", "20",
        "--task.test-size", "20", "--task.test-lengths", "4", "8",
        "--model", "lstm", "--model.hidden-size", "8", "--model.num-layers", "1",
        "--train.epochs", "3", "--train.epoch-steps", "3", "--train.no-progress",
        "--train.no-tensorboard"]
"""A run of 9 steps in 3 epochs (about 0.2 s of training)."""

KILLED = 137


def fresh(out: Path, *extra: str) -> list[str]:
    return ["train", *TINY, "--out", str(out), *extra]


def in_child(body: Callable[[], int], err: Path | None = None) -> int:
    """Run ``body`` in a forked child; its exit code (stderr to ``err`` when given)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 99
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            sys.stderr = open(err or os.devnull, "w")  # noqa: SIM115
            code = body()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def interrupted(out: Path, at_step: int, argv: list[str] | None = None) -> None:
    """A run (``argv``, default ``fresh(out)``) stopped as by Ctrl-C after step ``at_step``,
    checkpointed there."""
    from mneme.train.loop import Trainer

    def body() -> int:
        step = Trainer._train_step

        def stopping(self: Trainer, batch: Any) -> None:
            step(self, batch)
            if self.step == at_step:
                self.request_stop()

        Trainer._train_step = stopping  # type: ignore[method-assign]
        return main(argv or fresh(out))

    assert in_child(body) == 130


class Writes:
    """Counts the run's write events (open for writing, write, link, rename, unlink) and calls
    ``os._exit(137)`` just before event number ``kill_at``."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at, self.count = kill_at, 0

    def event(self) -> None:
        if self.count == self.kill_at:
            os._exit(KILLED)
        self.count += 1

    def install(self) -> None:
        real_open, real_write = builtins.open, os.write
        # Not fsync: a kill before it leaves what a kill before the next event leaves.
        real = {name: getattr(os, name) for name in ("replace", "link", "rename", "unlink")}

        def opener(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if any(c in mode for c in "wax+"):
                self.event()
            return real_open(file, mode, *args, **kwargs)

        def wrap(name: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.event()
                return real[name](*args, **kwargs)

            return call

        def write(fd: int, data: bytes) -> int:
            if fd > 2:
                self.event()
            return real_write(fd, data)

        builtins.open = io.open = opener  # type: ignore[assignment]
        os.write = write
        for name in real:
            setattr(os, name, wrap(name))


def count_writes(argv: list[str]) -> int:
    """How many write events ``mneme ARGV`` makes (run in a child, which finishes it)."""
    writes, send = Writes(), os.write
    read_fd, write_fd = os.pipe()

    def body() -> int:
        writes.install()
        code = main(argv)
        send(write_fd, str(writes.count).encode())
        return code

    assert in_child(body) == 0
    os.close(write_fd)
    count = int(os.read(read_fd, 64).decode())
    os.close(read_fd)
    return count


def killed_at(argv: list[str], k: int) -> int:
    """Run ``mneme ARGV`` in a child killed just before its write event ``k``."""
    writes = Writes(kill_at=k)

    def body() -> int:
        writes.install()
        return main(argv)

    return in_child(body)


def damage(path: Path, how: str, rng: random.Random) -> None:
    """Cut ``path`` at a random point (``how="truncate"``) or flip one random bit (``"flip"``)."""
    data = bytearray(path.read_bytes())
    at = rng.randrange(len(data))
    if how == "truncate":
        del data[at:]
    else:
        data[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def files(run: Path) -> dict[str, bytes]:
    """Every file of a run directory but its lock, by relative path."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def records(run: Path) -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def assert_same_run(run: Path, reference: Path) -> None:
    """``run`` ended exactly as the uninterrupted ``reference``: history, result, weights."""
    assert records(run) == records(reference)
    final, ref = (json.loads((d / "final.json").read_text()) for d in (run, reference))
    assert {k: final[k] for k in ("valid", "test", "best_epoch", "steps")} == {
        k: ref[k] for k in ("valid", "test", "best_epoch", "steps")}
    for name in ("best.pt", "last.pt"):
        a, b = weights(run / "checkpoints" / name), weights(reference / "checkpoints" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    stale = [p for p in run.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]
    assert not stale, stale


def one_line(err: str) -> str:
    """The single line on stderr (asserting there is exactly one, and no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
