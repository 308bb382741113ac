"""A run directory's integrity: one owner at a time, no stale temp files, a safe resume point.

``own_run`` holds an OS lock on ``RUN/.lock`` (``fcntl.flock``) for the life of a training, so a
second ``mneme train --out RUN``, ``--resume RUN`` or bench cell on the same directory stops with
one line naming the owner's PID. The OS releases the lock when its process exits in any way
(Ctrl-C, SIGKILL, a crash), so a lock left by a dead run never blocks. ``.lock`` keeps the PID of
the last owner; it is the only file a refused or failed command may touch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mneme.errors import UserError
from mneme.train.checkpoint import atomic_write_text, load_checkpoint, previous_path
from mneme.train.evaluate import FitResult

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "archive_final", "budget_results", "load_resume_point", "own_run",
           "read_final", "remove_stale_temp", "resumable"]

LOCK_NAME = ".lock"
_HELD: set[Path] = set()  # the run directories this process owns


@contextlib.contextmanager
def own_run(run_dir: Path, *, enabled: bool = True) -> Iterator[None]:
    """Hold ``RUN/.lock`` while the block runs (re-entrant within one process).

    The directory is created if needed; if this call created it and the block fails before
    anything but the lock was written, it (and the parents created with it) is removed again: a
    failing command writes nothing.

    Raises:
        UserError: another process owns the run (the message names its PID).
    """
    run_dir = Path(run_dir)
    if not enabled or fcntl is None:
        yield
        return
    key = run_dir.resolve()
    if key in _HELD:  # this process owns it already (train_run, then Trainer.fit)
        yield
        return
    created = [p for p in (run_dir, *run_dir.parents) if not p.exists()]  # the leaf first
    fd = _acquire(run_dir)
    _HELD.add(key)
    try:
        yield
    except BaseException:
        if created and {p.name for p in run_dir.iterdir()} <= {LOCK_NAME}:
            (run_dir / LOCK_NAME).unlink(missing_ok=True)
            for folder in created:
                with contextlib.suppress(OSError):  # a parent another process filled stays
                    folder.rmdir()
        raise
    finally:
        _HELD.discard(key)
        os.close(fd)


def _acquire(run_dir: Path) -> int:
    path = run_dir / LOCK_NAME
    while True:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UserError(f"{path}: cannot create the run's lock ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"{run_dir}: in use by process {owner} (another mneme train or bench owns this "
                "run); wait for it to end or stop it"
            ) from None
        try:  # the file may have been removed and made anew between open and flock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)


def remove_stale_temp(run_dir: Path) -> None:
    """Delete the temp files (``.NAME.*.tmp``) that killed writes left in ``run_dir`` and its
    ``checkpoints/``; call it only while owning the run."""
    for folder in (run_dir, run_dir / "checkpoints"):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.startswith(".") and path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)


def resumable(run_dir: Path) -> bool:
    """True when ``run_dir`` holds anything a fresh start would lose: a checkpoint, a metrics
    record or ``final.json``. (A run killed before its first checkpoint holds none of them.)"""
    metrics = run_dir / "metrics.jsonl"
    return (
        any((run_dir / "checkpoints").glob("*.pt"))
        or (run_dir / "final.json").exists()
        or (metrics.exists() and metrics.stat().st_size > 0)
    )


def load_resume_point(checkpoint_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The checkpoint to resume from: ``last.pt``, or ``prev.pt`` (with a warning on stderr) when
    ``last.pt`` is missing or damaged.

    Raises:
        UserError: neither loads (names ``last.pt`` and why).
    """
    last = checkpoint_dir / "last.pt"
    prev = previous_path(last)
    need = ("model", "optimizer", "schedule", "hooks", "step", "epoch", "best", "rng")
    if not last.exists() and not prev.exists():
        where = last if checkpoint_dir.is_dir() else checkpoint_dir
        raise UserError(f"{where}: missing, so there is nothing to resume from and starting "
                        "again would overwrite the run's history; restore it or choose another "
                        "--out")
    try:
        return last, load_checkpoint(last, require=need)
    except UserError as problem:
        if not prev.exists():
            raise
        try:
            payload = load_checkpoint(prev, require=need)
        except UserError:
            raise problem from None
        print(f"mneme: warning: {problem}; resuming from {prev} (the checkpoint before)",
              file=sys.stderr)
        return prev, payload


def read_final(run_dir: Path, name: str = "final.json") -> FitResult:
    """The ``FitResult`` stored in ``RUN/final.json`` (or ``name``, an archived one).

    Raises:
        UserError: the file is not valid UTF-8 JSON with ``valid``, ``test`` (name -> number),
            ``best_epoch``, ``steps`` (integers) and ``seconds``.
    """
    path = run_dir / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: corrupt result file ({type(exc).__name__})") from None

    def metrics(value: Any) -> bool:
        return isinstance(value, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        )

    ok = (
        isinstance(data, dict)
        and metrics(data.get("valid")) and metrics(data.get("test"))
        and all(type(data.get(k)) is int for k in ("best_epoch", "steps"))
        and isinstance(data.get("seconds"), int | float)
        and math.isfinite(data["seconds"])
    )
    if not ok:
        raise UserError(f"{path}: corrupt result file (not a mneme final.json)")
    return FitResult(run_dir, valid=data["valid"], test=data["test"],
                     best_epoch=data["best_epoch"], steps=data["steps"], seconds=data["seconds"],
                     stopped=data["stopped"] if isinstance(data.get("stopped"), str) else None,
                     epochs=data["epochs"] if type(data.get("epochs")) is int else None,
                     early_stopped=data.get("early_stopped") if isinstance(
                         data.get("early_stopped"), bool) else None)


def archive_final(run_dir: Path) -> None:
    """Keep a finished run's result before a larger budget extends it: ``RUN/final.json`` is
    copied to ``RUN/final-stepN.json`` (N its steps) atomically, then removed, since the run is
    unfinished until it has trained the larger budget (a rerun after a kill between the two
    writes the same copy again)."""
    result = read_final(run_dir)
    text = (run_dir / "final.json").read_text(encoding="utf-8")
    atomic_write_text(run_dir / f"final-step{result.steps}.json", text)
    (run_dir / "final.json").unlink()


def budget_results(run_dir: Path) -> list[FitResult]:
    """A run's result at every budget it finished at, by steps: the archived ``final-stepN.json``
    of each extension, then ``final.json`` (empty when the run has not finished).

    Raises:
        UserError: a result file is corrupt (names it).
    """
    if not (run_dir / "final.json").is_file():
        return []
    results = {r.steps: r for r in (read_final(run_dir, p.name)
                                    for p in run_dir.glob("final-step*.json"))}
    final = read_final(run_dir)
    results[final.steps] = final
    return [results[k] for k in sorted(results) if k <= final.steps]
