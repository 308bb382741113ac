"""What the family report reads: each cell's ``TaskInfo``, column and entry; the families' hooks.

``task_info`` is the ``TaskInfo`` a cell's task declares, ``column_name`` the task setting a cell
reports under, and ``family_entries`` one ``FamilyEntry`` per finished cell: the headline test
metric of every repeat, the selected repeat's, the generalisation sets and, per seed, the budget
and the validation curve. The tables, the section and the plots that show them are
``mneme.bench.report_family``'s.

What is genuinely paper-specific stays in a family's ``Hooks``: its title and introduction, how
one cell spreads over several columns (joint bAbI), extra summary rows (bAbI's mean and failed
tasks). ``HOOKS`` holds them per family; importing ``mneme.bench.report_hooks`` fills it.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mneme import registry
from mneme.bench.cell_files import read_jsonl
from mneme.bench.suites import Cell
from mneme.errors import MissingDataError
from mneme.types import TaskInfo

__all__ = ["HOOKS", "FamilyEntry", "Hooks", "column_name", "family_entries", "task_info"]


# -- what a task declares ---------------------------------------------------------------------
_INFOS: dict[tuple[str, str], TaskInfo] = {}


def task_info(cell: Cell, summary: dict[str, Any] | None = None) -> TaskInfo:
    """The ``TaskInfo`` the cell's task declares (built once per task config).

    A dataset task whose data is gone (a report rebuilt elsewhere) cannot be built: its info is
    then the registry's family with the headline metric ``error`` in percent, the metric every
    such task's summary holds."""
    key = (cell.task_name, repr(cell.task))
    if key not in _INFOS:
        entry = registry.task_entry(cell.task_name)
        try:
            _INFOS[key] = entry.build(cell.task).info
        except MissingDataError:
            return TaskInfo(kind="dataset", inputs="structured", input_size=0,
                            outputs="classes", output_size=0, readout="last_step",
                            metric="error", unit="%", percent=True, selection_metric="error",
                            solved_below=0.05 if entry.family == "babi" else None,
                            family=entry.family, source=entry.source)
    return _INFOS[key]


def _differing(cells: Sequence[Cell], part: str) -> dict[str, list[str]]:
    """Per cell key: ``field=value`` of the ``part`` (task or model) config fields that differ
    between ``cells``."""
    out: dict[str, list[str]] = {c.key: [] for c in cells}
    configs = [getattr(c, part) for c in cells]
    if len(configs) < 2 or not all(dataclasses.is_dataclass(x) for x in configs):
        return out
    for f in dataclasses.fields(configs[0]):
        values = [getattr(x, f.name, None) for x in configs]
        if f.name != "data_dir" and len({repr(v) for v in values}) > 1:
            for cell, value in zip(cells, values):
                out[cell.key].append(f"{f.name}={value}")
    return out


def column_name(cell: Cell, info: TaskInfo, siblings: Sequence[Cell] = ()) -> str:
    """The task setting a cell reports under: the family hook's name, else the task's name plus
    the fields that tell it from ``siblings``: the task config's among every cell of that task
    (one setting is one row whichever groups ran it), the model config's among the same
    group's."""
    hooks = _hooks(info.family)
    if hooks is not None and hooks.column is not None:
        return hooks.column(cell)
    task = [c for c in siblings if c.task_name == cell.task_name] or [cell]
    model = [c for c in task if c.group == cell.group] or [cell]
    extra = [*_differing(task, "task").get(cell.key, []),
             *_differing(model, "model").get(cell.key, [])]
    return " ".join([cell.task_name, *extra])


# -- entries ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyEntry:
    """One (group, column) of a family table: the headline test metric of every repeat (in the
    stored unit: fractions for percentages), the selected repeat's, and per seed the budget and
    the validation curve."""

    cell: Cell
    group: str
    column: str
    info: TaskInfo
    values: tuple[float, ...]
    selected: float | None = None
    valid: tuple[float, ...] = ()
    generalisation: dict[str, tuple[float, ...]] = field(default_factory=dict)
    sequences: tuple[int, ...] = ()
    curves: tuple[tuple[tuple[int, float], ...], ...] = ()
    seconds: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def headline(self) -> float:
        """The selected repeat's value where the suite selects, else the median."""
        return self.median if self.selected is None else self.selected

    @property
    def solved(self) -> bool:
        limit = self.info.solved_below
        return limit is not None and not math.isnan(self.headline) and self.headline <= limit

    @property
    def reached(self) -> tuple[int | None, ...]:
        """Per seed: training sequences until the validation metric first reached the task's
        solved threshold (None: never)."""
        limit = self.info.solved_below
        if limit is None:
            return ()
        return tuple(next((seen for seen, v in curve if v <= limit), None)
                     for curve in self.curves)

    def show(self, value: float | None) -> str:
        """``value`` in the task's unit (percent for fractions)."""
        if value is None or math.isnan(value):
            return "n/a"
        value = 100 * value if self.info.percent else value
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}"

    def spread(self, values: Sequence[float]) -> str:
        """``median [min-max]`` of ``values`` (just the value for one)."""
        if not values:
            return ""
        text = self.show(statistics.median(values))
        return text + (f" [{self.show(min(values))}-{self.show(max(values))}]"
                       if len(values) > 1 else "")

    def text(self) -> str:
        """The table entry: headline (bold when solved), then median and range over repeats."""
        head = self.show(self.headline)
        head = f"**{head}**" if self.solved else head
        n = len(self.values)
        if n <= 1:
            return head
        if self.selected is not None:
            return f"{head} (median {self.spread(self.values)}, n={n})"
        lo, hi = self.show(min(self.values)), self.show(max(self.values))
        return f"{head} [{lo}-{hi}] (n={n})"


def _curve(path: Path, key: str, batch: int) -> tuple[tuple[int, float], ...]:
    points = []
    if path.is_file():
        for record in read_jsonl(path):
            if key in record and "step" in record:
                points.append((int(record["step"]) * batch, float(record[key])))
    return tuple(points)


def family_entries(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path | None, *,
                   select_best: bool = False) -> list[FamilyEntry]:
    """One entry per finished cell (or per column a hook spreads it over)."""
    cells = [c for c, _ in finished]
    entries = []
    for cell, summary in finished:
        info = task_info(cell, summary)
        hooks = _hooks(info.family)
        if hooks is not None and hooks.expand is not None:
            spread = hooks.expand(cell, summary, info)
            if spread:
                entries += spread
                continue
        reps = summary.get("repeats") or [{"test": summary.get("test", {})}]
        metric = info.metric
        values = tuple(float(r["test"][metric]) for r in reps if metric in r.get("test", {}))
        selected = None
        if select_best and len(values) > 1 and metric in summary.get("test", {}):
            selected = float(summary["test"][metric])
        gen = {}
        for group in info.generalisation:
            found = tuple(float(r["test"][f"{metric}_{group}"]) for r in reps
                          if f"{metric}_{group}" in r.get("test", {}))
            if found:
                gen[group] = found
        batch = cell.train.batch_size
        curves = ()
        if out is not None:
            curves = tuple(_curve(out / "cells" / cell.key / r["dir"] / "metrics.jsonl",
                                  f"valid_{metric}", batch) for r in reps if "dir" in r)
        entries.append(FamilyEntry(
            cell, cell.group, column_name(cell, info, cells), info, values, selected,
            valid=tuple(float(r["valid"][metric]) for r in reps
                        if metric in r.get("valid", {})),
            generalisation=gen,
            sequences=tuple(int(r["steps"]) * batch for r in reps if "steps" in r),
            curves=curves,
            seconds=float(summary.get("seconds", 0.0))))
    return entries


# -- hooks: what cannot be generic (filled by mneme.bench.report_hooks) ------------------------
@dataclass(frozen=True)
class Hooks:
    """What a family's section needs beyond the generic table.

    Attributes:
        title: the section heading.
        intro: the paragraph under it (the papers, the protocol).
        column: a cell's column name, where the generic one (task + differing fields) is not
            what the papers call it.
        expand: one cell spread over several columns (joint bAbI: one column per task).
        summary_rows: extra rows under the table, ``(label, {group: (ours, paper)})``.
        plot_name: the name of the ours-against-the-papers bar chart, from the section's cells.
        sort_key: orders the hook's column names (default: natural order, task 2 before 10).
    """

    title: str
    intro: str = ""
    column: Callable[[Cell], str] | None = None
    expand: Callable[[Cell, dict[str, Any], TaskInfo], list[FamilyEntry]] | None = None
    summary_rows: Callable[[list[FamilyEntry]], list[tuple[str, dict[str, tuple[str, str]]]]] \
        | None = None
    plot_name: Callable[[list[FamilyEntry]], str] | None = None
    sort_key: Callable[[str], Any] | None = None


HOOKS: dict[str, Hooks] = {}
"""Per task family (``TaskInfo.family``): what its section adds to the generic table; filled by
importing ``mneme.bench.report_hooks`` (``_hooks``)."""


def _hooks(family: str | None) -> Hooks | None:
    import mneme.bench.report_hooks  # noqa: F401  (fills HOOKS on first use)

    return HOOKS.get(family or "")
