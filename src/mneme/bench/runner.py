"""Runs a suite's cells (in parallel worker processes, one torch thread each), resumably.

``OUT/cells/KEY/`` is each cell's run directory: a finished cell (``summary.json``) is read back,
an unfinished one resumes from its last checkpoint. ``OUT/results.json``, ``OUT/results.md`` and
``OUT/plots/`` are rewritten from every finished cell at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from mneme.bench.cell_files import check_cell_files, read_json, read_summary
from mneme.bench.suites import Cell, Suite
from mneme.bench.workers import CellResult, StopSignals, bench_lock, run_cell, run_parallel
from mneme.errors import DataFormatError, UserError
from mneme.train.checkpoint import atomic_write_text

__all__ = ["cell_rows", "run_cell", "run_suite"]


def cell_rows(cell: Cell, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``results.json`` rows of a finished cell: one per repeat, the selected one marked."""
    rows = []
    for rep in summary["repeats"]:
        row: dict[str, Any] = {
            "cell": cell.key,
            "group": cell.group,
            "task": _task_label(cell),
            "model": cell.model_name,
            "seed": rep["seed"],
            "selected": rep["dir"] == summary["selected"],
            "steps": rep["steps"],
            "seconds": rep["seconds"],
            "best_epoch": rep["best_epoch"],
        }
        row.update({f"valid_{k}": v for k, v in rep["valid"].items()})
        row.update({f"test_{k}": v for k, v in rep["test"].items()})
        rows.append(row)
    return rows


def _task_label(cell: Cell) -> str:
    task = cell.task
    if getattr(task, "joint", False):
        return f"{cell.task_name}-joint"
    task_id = getattr(task, "task_id", None)
    return f"{cell.task_name}{task_id}" if task_id is not None else cell.task_name


def run_suite(
    suite: Suite, out: Path, *, data_dir: str | None, jobs: int = 2, report_only: bool = False,
    device: str | None = None, compile: bool = False,
) -> int:
    """Run every cell of ``suite`` into ``out`` and write the reports.

    Cells whose data is missing are reported (what is missing, how to get it) and skipped. With
    ``report_only`` nothing is trained: the reports cover the cells finished so far. A finished
    cell whose files are unreadable is skipped with a warning naming the file (and a corrupt
    ``summary.json`` is rebuilt when training). One bench at a time trains in ``out`` (a lock,
    ``OUT/.bench.lock``). SIGINT and SIGTERM stop it: see ``mneme.bench.workers``. ``device``
    overrides every cell's ``TrainConfig.device``; ``compile`` sets ``TrainConfig.compile`` in
    the cells whose core has a compiled path (``registry.Entry.compiles``).

    Returns:
        0 when every runnable cell finished, 1 when no cell could run at all or a cell diverged
        (NaN or infinite loss: the others run, the reports cover them), ``128 + signal``
        (130 SIGINT, 143 SIGTERM) when stopped; the interrupted cells resume on a rerun.

    Raises:
        UserError: another bench trains in ``out``; a cell of another configuration or with an
            unreadable ``config.json`` or ``final.json`` (when training); a worker's error.
    """
    out.mkdir(parents=True, exist_ok=True)
    if report_only:
        cells = suite.build(data_dir)
        done, _, skipped = _plan(cells, out, report_only=True)
        print(f"suite {suite.name}: {len(cells)} cells, {len(done)} finished in {out}", flush=True)
        return _report(suite, cells, out, done, {}, skipped, time.perf_counter())
    with bench_lock(out):
        cells = suite.build(data_dir)
        if device is not None:
            cells = [dataclasses.replace(c, train=dataclasses.replace(c.train, device=device))
                     for c in cells]
        if compile:
            cells = [dataclasses.replace(c, train=dataclasses.replace(c.train, compile=True))
                     if _compiles(c.model_name) else c for c in cells]
        done, pending, skipped = _plan(cells, out, report_only=False)
        print(
            f"suite {suite.name}: {len(cells)} cells, {len(done)} already finished in {out}, "
            f"{len(pending)} to run with {jobs} job(s)",
            flush=True,
        )
        missing: dict[str, str] = {}
        diverged: dict[str, str] = {}
        started = time.perf_counter()
        signum = _train(pending, out, jobs, done, (missing, diverged), len(cells))
        if signum is not None:
            name = signal.Signals(signum).name
            print(f"mneme: interrupted by {name}: {len(done)} of {len(cells)} cells finished; "
                  f"the interrupted ones are checkpointed in {out}: rerun the same command to "
                  "resume", file=sys.stderr)
            return 128 + signum
        code = _report(suite, cells, out, done, missing, skipped, started)
        for key, message in diverged.items():
            print(f"mneme: error: cell {key} diverged: {message}; the other cells ran, and a "
                  "rerun retries it from that checkpoint", file=sys.stderr)
        return 1 if diverged else code


def _plan(cells: list[Cell], out: Path, *, report_only: bool
          ) -> tuple[dict[str, dict[str, Any]], list[Cell], list[str]]:
    """(finished cells' summaries, cells to train, warnings for the cells skipped)."""
    done: dict[str, dict[str, Any]] = {}
    pending: list[Cell] = []
    skipped: list[str] = []
    for cell in cells:
        cell_dir = out / "cells" / cell.key
        try:
            _check_same_config(cell, cell_dir)
            summary = _read_summary(cell_dir / "summary.json", rebuild=not report_only)
            # A finished cell with fewer repeats or epochs than asked for is extended, not
            # retrained.
            finished = summary is not None and _complete(cell, cell_dir, summary)
            if not finished and not report_only:
                check_cell_files(cell_dir, "final.json")  # finished repeats are read back
        except DataFormatError as exc:
            if not report_only:
                raise UserError(f"{exc}; delete {cell_dir} to train the cell again") from None
            skipped.append(f"cell {cell.key}: {exc} (rerun without --report-only to rebuild "
                           "a summary, or delete the cell to train it again)")
            continue
        if not finished:
            pending.append(cell)
            continue
        try:
            check_cell_files(cell_dir, "metrics.jsonl")  # the reports plot them
        except DataFormatError as exc:
            skipped.append(f"cell {cell.key}: {exc} (delete the cell to train it again)")
            continue
        done[cell.key] = summary
    return done, pending, skipped


def _complete(cell: Cell, cell_dir: Path, summary: dict[str, Any]) -> bool:
    """Whether a cell's stored repeats are all the cell asks for: enough of them, each trained
    to the cell's budget (``mneme.train.resume.finished``: a larger epoch budget extends one
    that was not stopped early)."""
    from mneme.train.resume import finished

    repeats = summary["repeats"]
    return len(repeats) >= cell.train.repeats and all(
        finished(cell_dir / str(r.get("dir", ".")), cell.train) is not None for r in repeats)


def _read_summary(path: Path, *, rebuild: bool) -> dict[str, Any] | None:
    """The summary of a finished cell, None for an unfinished one. With ``rebuild`` an
    unreadable one is None (the cell is rerun: its finished repeats are read back, not
    retrained) after a warning; without, ``DataFormatError``."""
    if not path.is_file():
        return None
    try:
        return read_summary(path)
    except DataFormatError as exc:
        if not rebuild:
            raise
        print(f"mneme: warning: {exc}; rebuilding it", file=sys.stderr)
        return None


def _train(pending: list[Cell], out: Path, jobs: int, done: dict[str, dict[str, Any]],
           problems: tuple[dict[str, str], dict[str, str]], total: int) -> int | None:
    """Train ``pending`` (in this process with one job), filling ``done`` and ``problems``
    (missing data, divergence: cell key -> message); the signal that stopped it, or None."""
    missing, diverged = problems
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=len(done), unit="cell", dynamic_ncols=True)
    with StopSignals() as stop:

        def collect(result: CellResult) -> None:
            key, summary, problem = result
            if summary is not None and summary.get("interrupted"):
                stop.signum = stop.signum or signal.SIGINT  # a Ctrl-C reached the loop
                return
            if summary is not None and "diverged" in summary:
                diverged[key] = summary["diverged"]
                bar.update(1)
                return
            if summary is not None:
                done[key] = summary
                err = summary["test"].get("error")
                bar.set_postfix_str(f"{key}: test error {100 * err:.1f}%" if err is not None
                                    else key)
            elif problem is not None:
                missing[key] = problem
            bar.update(1)

        try:
            if jobs == 1 or len(pending) <= 1:
                for cell in pending:
                    if stop.signum is not None:
                        break
                    collect(run_cell(cell, str(out), lambda: stop.signum is not None))
            else:
                # One intra-op thread per worker: two small models side by side beat one using
                # both cores. Longest cells first keeps both workers busy to the end.
                os.environ.setdefault("OMP_NUM_THREADS", "1")
                order = sorted(pending, key=lambda c: -_cost(c))
                run_parallel(order, out, jobs, stop, collect)
        finally:
            bar.close()
    return stop.signum


def _report(suite: Suite, cells: list[Cell], out: Path, done: dict[str, dict[str, Any]],
            missing: dict[str, str], skipped: list[str], started: float) -> int:
    """Write ``results.json``, ``results.md`` and the plots of the finished cells."""
    from mneme.bench.report import write_reports

    for message in sorted(set(missing.values())):
        print(f"skipped (data missing): {message}", file=sys.stderr)
    for i, message in enumerate(skipped, start=1):
        print(f"mneme: warning: skipped {i}/{len(skipped)}, unreadable: {message}",
              file=sys.stderr)
    finished = [(cell, done[cell.key]) for cell in cells if cell.key in done]
    rows = [row for cell, summary in finished for row in cell_rows(cell, summary)]
    atomic_write_text(out / "results.json", json.dumps(rows, indent=2) + "\n")
    table = write_reports(suite, finished, out, seconds=time.perf_counter() - started)
    print(table)
    print(f"wrote {out / 'results.md'}, {out / 'results.json'} and {out / 'plots'}")
    if not finished:
        print(f"mneme: error: no cell of suite {suite.name} could run", file=sys.stderr)
        return 1
    return 0


def _compiles(model_name: str) -> bool:
    """Whether ``model_name`` is a core with a compiled path (``registry.Entry.compiles``)."""
    from mneme import registry

    entry = registry.CORES.get(model_name)
    return entry is not None and entry.compiles


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """What must match for a stored cell to count: not the data location, seeds, repeats,
    device, compilation or epoch budget (more repeats or epochs extend a cell)."""
    config = json.loads(json.dumps(config))  # tuples become lists, as in config.json
    task = {k: v for k, v in config["task"]["config"].items() if k != "data_dir"}
    train = {k: v for k, v in config["train"].items()
             if k not in ("repeats", "seed", "progress", "device", "compile", "epochs")}
    return {"task": [config["task"]["name"], task], "model": config["model"], "train": train}


def _check_same_config(cell: Cell, cell_dir: Path) -> None:
    """Refuse to mix results of another configuration into a suite's output directory.

    Raises:
        UserError: ``cell_dir`` holds a run whose task, model or training config differs.
        DataFormatError: its ``config.json`` is unreadable.
    """
    from mneme.train.run import RunConfig

    path = cell_dir / "config.json"
    if not path.is_file():
        return
    stored = read_json(path)
    ours = RunConfig(cell.task_name, cell.task, cell.model_name, cell.model, cell.train).to_json()
    try:
        # A field added to a config since the cell ran matches when it holds its default.
        for section, config in (("task", cell.task), ("model", cell.model)):
            _drop_new_defaults(ours[section]["config"], stored[section].get("config", {}), config)
        _drop_new_defaults(ours["train"], stored["train"], cell.train)
        same = _comparable(stored) == _comparable(ours)
        trained = int(stored["train"]["epochs"])
    except (KeyError, TypeError, AttributeError, ValueError):
        raise DataFormatError(path, None, "not a mneme run configuration") from None
    if same and trained > cell.train.epochs:  # a longer budget extends a cell; never shortens
        raise UserError(
            f"{path}: this cell was trained for {trained} epochs, more than the suite's "
            f"{cell.train.epochs}; use another --out (or delete the cell to rerun it)"
        )
    if not same:
        raise UserError(
            f"{path}: this cell was run with another configuration than the suite's current one; "
            "use another --out (or delete the cell to rerun it)"
        )


def _drop_new_defaults(ours: dict[str, Any], stored: dict[str, Any], config: Any) -> None:
    """Remove from ``ours`` the fields ``stored`` lacks whose value in ``config`` is the field's
    default (fields added to a config class after the stored run)."""
    if not dataclasses.is_dataclass(config):
        return
    for f in dataclasses.fields(config):
        if f.name in ours and f.name not in stored:
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            if getattr(config, f.name) == default:
                del ours[f.name]


def _cost(cell: Cell) -> float:
    """A rough relative cost, for scheduling the longest cells first."""
    size = 10.0 if getattr(cell.task, "size", "1k") == "10k" else 1.0
    joint = 20.0 if getattr(cell.task, "joint", False) else 1.0
    model = {"lstm": 4.0, "stack-rnn": 6.0}.get(cell.model_name, 1.0)
    if cell.task_name == "retrieval":  # steps cost about this much more than an IRNN's
        per_step = {"alstm": 6.0, "delta-rule": 4.0, "fast-weights": 2.5, "lstm": 1.5}
        model = per_step.get(cell.model_name, 1.0) * getattr(cell.model, "hidden_size", 20) / 20
    return size * joint * model * cell.train.epochs * cell.train.repeats
