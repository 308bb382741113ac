"""Runs a suite's cells (in parallel worker processes, one torch thread each), resumably.

``OUT/cells/KEY/`` is each cell's run directory: a finished cell (``summary.json``) is read back,
an unfinished one resumes from its last checkpoint. ``OUT/results.json``, ``OUT/results.md`` and
``OUT/plots/`` are rewritten from every finished cell at the end.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from mneme.bench.suites import Cell, Suite
from mneme.errors import MissingDataError, UserError
from mneme.train.checkpoint import atomic_write_text


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


def run_cell(cell: Cell, out: str) -> tuple[str, dict[str, Any] | None, str | None]:
    """Train one cell in this process; returns (key, summary or None, missing-data message)."""
    import torch

    from mneme.train.run import RunConfig, train_run

    torch.set_num_threads(cell.train.threads)
    run_dir = Path(out) / "cells" / cell.key
    config = RunConfig(cell.task_name, cell.task, cell.model_name, cell.model, cell.train)
    try:
        summary = train_run(
            config, run_dir, resume=(run_dir / "config.json").exists(), progress=False
        )
    except MissingDataError as exc:
        return cell.key, None, str(exc)
    return cell.key, summary, None


def run_suite(
    suite: Suite, out: Path, *, data_dir: str | None, jobs: int = 2, report_only: bool = False
) -> int:
    """Run every cell of ``suite`` into ``out`` and write the reports.

    Cells whose data is missing are reported (what is missing, how to get it) and skipped. With
    ``report_only`` nothing is trained: the reports cover the cells finished so far.

    Returns:
        0 when every runnable cell finished, 1 when no cell could run at all.
    """
    from tqdm.auto import tqdm

    from mneme.bench.report import write_reports

    out.mkdir(parents=True, exist_ok=True)
    cells = suite.build(data_dir)
    done: dict[str, dict[str, Any]] = {}
    pending: list[Cell] = []
    for cell in cells:
        cell_dir = out / "cells" / cell.key
        _check_same_config(cell, cell_dir)
        summary_path = cell_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
        # A finished cell with fewer repeats than asked for is extended, not retrained.
        if summary is not None and len(summary["repeats"]) >= cell.train.repeats:
            done[cell.key] = summary
        else:
            pending.append(cell)
    print(
        f"suite {suite.name}: {len(cells)} cells, {len(done)} already finished in {out}, "
        f"{len(pending)} to run with {jobs} job(s)",
        flush=True,
    )
    if report_only:
        pending = []
    missing: dict[str, str] = {}
    started = time.perf_counter()
    bar = tqdm(total=len(cells), initial=len(done), unit="cell", dynamic_ncols=True)
    try:
        if jobs == 1 or len(pending) <= 1:
            for cell in pending:
                key, summary, problem = run_cell(cell, str(out))
                _collect(key, summary, problem, done, missing, bar)
        else:
            _run_parallel(pending, out, jobs, done, missing, bar)
    finally:
        bar.close()
    for message in sorted(set(missing.values())):
        print(f"skipped (data missing): {message}", file=sys.stderr)
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


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """What must match for a stored cell to count: not the data location, seeds or repeats."""
    config = json.loads(json.dumps(config))  # tuples become lists, as in config.json
    task = {k: v for k, v in config["task"]["config"].items() if k != "data_dir"}
    train = {k: v for k, v in config["train"].items() if k not in ("repeats", "seed", "progress")}
    return {"task": [config["task"]["name"], task], "model": config["model"], "train": train}


def _check_same_config(cell: Cell, cell_dir: Path) -> None:
    """Refuse to mix results of another configuration into a suite's output directory.

    Raises:
        UserError: ``cell_dir`` holds a run whose task, model or training config differs.
    """
    from mneme.train.run import RunConfig

    path = cell_dir / "config.json"
    if not path.is_file():
        return
    stored = json.loads(path.read_text())
    ours = RunConfig(cell.task_name, cell.task, cell.model_name, cell.model, cell.train).to_json()
    # A field added to a config since the cell ran matches when it holds its default.
    for section, config in (("task", cell.task), ("model", cell.model)):
        _drop_new_defaults(ours[section]["config"], stored[section].get("config", {}), config)
    _drop_new_defaults(ours["train"], stored["train"], cell.train)
    if _comparable(stored) != _comparable(ours):
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


def _collect(
    key: str,
    summary: dict[str, Any] | None,
    problem: str | None,
    done: dict[str, dict[str, Any]],
    missing: dict[str, str],
    bar: Any,
) -> None:
    if summary is not None and not summary.get("interrupted"):
        done[key] = summary
        err = summary["test"].get("error")
        bar.set_postfix_str(f"{key}: test error {100 * err:.1f}%" if err is not None else key)
    elif problem is not None:
        missing[key] = problem
    bar.update(1)


def _run_parallel(
    pending: list[Cell],
    out: Path,
    jobs: int,
    done: dict[str, dict[str, Any]],
    missing: dict[str, str],
    bar: Any,
) -> None:
    # One intra-op thread per worker: two small models side by side beat one using both cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        # Longest cells first keeps both workers busy to the end.
        order = sorted(pending, key=lambda c: -_cost(c))
        futures: dict[Future[Any], Cell] = {pool.submit(run_cell, c, str(out)): c for c in order}
        remaining = set(futures)
        try:
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    key, summary, problem = future.result()
                    _collect(key, summary, problem, done, missing, bar)
        except KeyboardInterrupt:
            for future in remaining:
                future.cancel()
            raise UserError(
                f"interrupted; finished cells are kept in {out}: rerun the same command to resume"
            ) from None


def _cost(cell: Cell) -> float:
    """A rough relative cost, for scheduling the longest cells first."""
    size = 10.0 if getattr(cell.task, "size", "1k") == "10k" else 1.0
    joint = 20.0 if getattr(cell.task, "joint", False) else 1.0
    model = {"lstm": 4.0, "stack-rnn": 6.0}.get(cell.model_name, 1.0)
    if cell.task_name == "retrieval":  # steps cost about this much more than an IRNN's
        per_step = {"alstm": 6.0, "delta-rule": 4.0, "fast-weights": 2.5, "lstm": 1.5}
        model = per_step.get(cell.model_name, 1.0) * getattr(cell.model, "hidden_size", 20) / 20
    return size * joint * model * cell.train.epochs * cell.train.repeats
