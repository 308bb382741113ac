"""The bench's cells in worker processes, and how they stop: locks, signals, one process a cell.

``run_cell`` trains one cell in its run directory ``OUT/cells/KEY/`` while holding an exclusive
lock (``OUT/cells/.KEY.lock``), so a cell is never trained by two processes at once; one bench at
a time trains in ``OUT`` (``OUT/.bench.lock``). ``run_parallel``
keeps at most ``jobs`` spawned workers busy, one process per cell, results sent back on a pipe.

Stopping (``StopSignals``): on SIGINT or SIGTERM the bench starts no further cell and sends
SIGTERM to every worker; a worker finishes its optimiser step, checkpoints and exits (the loop's
own Ctrl-C path), and the bench returns once all have gone, its exit code ``128 + signal`` (130,
143). A second signal kills the workers at once (checkpoints are written atomically, so the last
one stays loadable), as does a worker still running ``GRACE_SECONDS`` after being told. A worker
whose bench died without stopping it (SIGKILL) notices its new parent and stops the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mneme.errors import MissingDataError, NonFiniteLossError, UserError

if TYPE_CHECKING:  # a worker imports this module before it handles signals: keep it light
    from mneme.bench.cells import Cell

try:
    import fcntl
except ImportError:  # not POSIX: no locks
    fcntl = None  # type: ignore[assignment]

__all__ = ["CellResult", "StopSignals", "bench_lock", "cell_lock", "file_lock", "run_cell",
           "run_parallel"]

CellResult = tuple[str, dict[str, Any] | None, str | None]
"""(cell key, its summary or None, the missing-data message or None); the summary of a cell
that diverged is ``{"diverged": message}``, of one stopped by a signal ``{"interrupted": True}``."""

LOCK_WAIT_SECONDS = 10.0
"""How long a cell waits for its lock: a worker of a killed bench may still be checkpointing."""
GRACE_SECONDS = 60.0
"""How long stopped workers get to checkpoint before they are killed."""
POLL_SECONDS = 0.2


@contextmanager
def file_lock(path: Path, busy: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on the lock file ``path`` (created) for the block.

    The OS drops the lock when its holder exits, however it exits, so it is never stale.

    Raises:
        UserError: ``busy`` when another process still holds it after ``wait_seconds``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(busy) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def bench_lock(out: Path) -> Any:
    """One bench trains in ``out`` at a time: ``OUT/.bench.lock``."""
    return file_lock(out / ".bench.lock",
                     f"{out}: another mneme bench is running in this directory")


def cell_lock(out: Path, key: str) -> Any:
    """One process trains a cell at a time: ``OUT/cells/.KEY.lock``, beside the cell's run
    directory (not in it: a cell that fails to start leaves no directory)."""
    return file_lock(out / "cells" / f".{key}.lock",
                     f"{out / 'cells' / key}: this cell is being trained by another process",
                     wait_seconds=LOCK_WAIT_SECONDS)


def run_cell(cell: Cell, out: str, should_stop: Callable[[], bool] = lambda: False
             ) -> CellResult:
    """Train one cell in this process, holding its directory's lock.

    ``should_stop`` is polled after every optimiser step; once True the cell checkpoints and
    returns the summary ``{"interrupted": True}`` (so does a Ctrl-C, through the loop).
    """
    import torch

    from mneme.train.run import RunConfig, train_run

    torch.set_num_threads(cell.train.threads)
    run_dir = Path(out) / "cells" / cell.key
    config = RunConfig(cell.task_name, cell.task, cell.model_name, cell.model, cell.train)

    def stop_when_asked(trainer: Any) -> None:
        if should_stop():
            trainer.request_stop()

    with cell_lock(Path(out), cell.key):
        try:
            summary = train_run(config, run_dir, resume=(run_dir / "config.json").exists(),
                                progress=False, callbacks=[stop_when_asked])
        except MissingDataError as exc:
            return cell.key, None, str(exc)
        except NonFiniteLossError as exc:  # this cell only: the bench goes on with the others
            return cell.key, {"diverged": str(exc)}, None
    return cell.key, summary, None


class StopSignals:
    """While entered (in the main thread), SIGINT and SIGTERM only record that the bench must
    stop: ``signum`` is the first one received, ``count`` how many arrived."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = self.signum or signum
        self.count += 1

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


class _Stopped(BaseException):
    """Raised by a worker's signal handler while it is still starting (nothing to save)."""


_worker_stop = False  # set in a worker by SIGINT / SIGTERM
_worker_starting = True  # until the heavy imports are done: a signal then aborts them


def _worker_signal(signum: int, frame: Any) -> None:
    global _worker_stop
    _worker_stop = True
    if _worker_starting:
        raise _Stopped


def _worker_main(cell_pickle: bytes, out: str, conn: Connection, bench_pid: int) -> None:
    """A worker's life: train the cell, send ``("done", CellResult)``, ``("error", text)`` or
    ``("stopped", None)`` (stopped before it began).

    The cell comes pickled: it is unpickled (importing torch, seconds on a busy machine) once
    the signals are handled, so that a stop during the imports ends the worker at once.
    """
    global _worker_starting
    signal.signal(signal.SIGINT, _worker_signal)
    signal.signal(signal.SIGTERM, _worker_signal)
    code = 0
    try:
        try:
            cell = pickle.loads(cell_pickle)
            import mneme.train.run  # noqa: F401  (the rest of the imports, still abortable)

            _worker_starting = False
        except _Stopped:
            _worker_starting = False
        if _worker_stop:
            conn.send(("stopped", None))
        else:
            result = run_cell(cell, out, lambda: _worker_stop or os.getppid() != bench_pid)
            conn.send(("done", result))
    except UserError as exc:
        conn.send(("error", str(exc)))
    except KeyboardInterrupt:  # a second Ctrl-C during training: the last checkpoint stands
        code = 130
    finally:
        conn.close()
    # Every file is closed: skip the interpreter's teardown (seconds with torch loaded).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@dataclass
class _Worker:
    cell: Cell
    process: Any
    conn: Connection
    message: tuple[str, Any] | None = None
    told_at: float | None = field(default=None)


def run_parallel(pending: list[Cell], out: Path, jobs: int, stop: StopSignals,
                 collect: Callable[[CellResult], None]) -> None:
    """Train ``pending`` in that order, ``jobs`` spawned workers at a time, until done or
    ``stop`` records a signal; ``collect`` gets each result as it arrives.

    Returns once every worker has exited (none is left behind, whatever happens here).

    Raises:
        UserError: a worker's (the others are stopped first).
        RuntimeError: a worker died without a result (its traceback is on stderr).
    """
    context = multiprocessing.get_context("spawn")
    queue = list(pending)
    running: list[_Worker] = []
    failure: BaseException | None = None
    try:
        while running or (queue and stop.signum is None and failure is None):
            while queue and stop.signum is None and failure is None and len(running) < jobs:
                cell = queue.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_worker_main, name=f"mneme-bench {cell.key}",
                                          args=(pickle.dumps(cell), str(out), sender,
                                                os.getpid()))
                process.start()
                sender.close()
                running.append(_Worker(cell, process, receiver))
            wait([w.process.sentinel for w in running] + [w.conn for w in running],
                 timeout=POLL_SECONDS)
            for worker in list(running):
                failure = _reap(worker, running, collect) or failure
            if (stop.signum is not None or failure is not None) and running:
                if all(w.told_at is None for w in running):
                    print(f"mneme: stopping: {len(running)} worker(s) checkpoint their cell and "
                          "exit (signal again to kill them now)", file=sys.stderr, flush=True)
                _stop_workers(running, kill=stop.count > 1)
    finally:
        _stop_workers(running, kill=True, wait_all=True)
    if failure is not None:
        raise failure


def _reap(worker: _Worker, running: list[_Worker], collect: Callable[[CellResult], None]
          ) -> BaseException | None:
    """Read ``worker``'s message; once it has exited, collect its result (or its failure)."""
    _read(worker)
    if worker.process.is_alive():
        return None
    worker.process.join()
    _read(worker)  # it may have answered between the first read and its exit
    worker.conn.close()
    running.remove(worker)
    kind, payload = worker.message or (None, None)
    if kind in ("done", "stopped"):
        collect(payload if kind == "done" else (worker.cell.key, {"interrupted": True}, None))
        return None
    if kind == "error":
        return UserError(payload)
    if worker.told_at is not None:
        return None  # stopped (or killed) on request before it could answer
    return RuntimeError(f"the worker training cell {worker.cell.key} died with exit code "
                        f"{worker.process.exitcode} (its traceback, if any, is above)")


def _read(worker: _Worker) -> None:
    try:
        if worker.message is None and worker.conn.poll():
            worker.message = worker.conn.recv()
    except (EOFError, OSError):
        pass


def _stop_workers(running: list[_Worker], *, kill: bool, wait_all: bool = False) -> None:
    """SIGTERM each running worker once; SIGKILL when ``kill`` or past the grace period.
    With ``wait_all``: also wait for every one of them to exit."""
    now = time.monotonic()
    for worker in running:
        if not worker.process.is_alive():
            continue
        if worker.told_at is None:
            worker.told_at = now
            worker.process.terminate()
        if kill or now - worker.told_at > GRACE_SECONDS:
            worker.process.kill()
    if wait_all:
        for worker in running:
            worker.process.join(GRACE_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
