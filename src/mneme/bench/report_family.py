"""The family report: one table code path for every non-matrix cell, driven by ``TaskInfo``.

Cells are grouped by their task's family (``info.family``). Per family, one table: report groups
(``cell.group``) against task settings (``column_name``: the task and what distinguishes its
cells, e.g. ``task 3 (1k)``, ``R = 20``, ``copy``); the longer axis goes down. An entry is the
task's headline metric (``info.metric``, in percent when ``info.percent``) on the test set: the
median over repeats with the range, or, where the suite selects the best of N repeats on
validation (``Suite.select_best``), the selected repeat with the median and range beside it;
**bold** when solved (at or below ``info.solved_below``). The published number for the entry
(``anchors.anchor_for``) sits beside it, long statements as footnotes. Below: the generalisation
sets (``info.generalisation``), per run the budget and the sequences each seed took to reach the
solved threshold, and the plots (validation curves, generalisation, ours against the papers).

What is genuinely paper-specific stays in a family's ``Hooks``: its title and introduction, how
one cell spreads over several columns (joint bAbI), extra summary rows (bAbI's mean and failed
tasks).
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mneme import registry
from mneme.bench.anchors import anchor_for
from mneme.bench.cell_files import read_jsonl
from mneme.bench.suites import Cell
from mneme.errors import MissingDataError
from mneme.types import TaskInfo

__all__ = ["HOOKS", "FamilyEntry", "Hooks", "column_name", "family_entries", "family_section",
           "task_info"]

GROUP_TITLES = {
    # bAbI
    "memn2n": "MemN2N PE LS RN", "memn2n-joint": "MemN2N joint",
    "memnn": "MemNN (strong supervision)",
    # associative retrieval
    "fast-weights": "Fast weights", "irnn": "IRNN", "alstm": "A-LSTM",
    "lstm-tuned": "LSTM, lr 3e-3", "irnn-tuned": "IRNN, lr 3e-3", "delta-rule": "Delta-rule FWP",
    # algorithmic
    "ntm-lstm": "NTM, LSTM controller", "ntm-ff": "NTM, feedforward controller",
    "ntm-hard": "NTM, stochastic hard reads (REINFORCE)",
    "lstm": "LSTM",
    # counting languages
    "rnn": "RNN (tanh)", "stack-rnn": "Stack RNN 40+10",
    "stack-rnn-rounding": "Stack RNN 40+10 + rounding",
}
"""Report groups' names in tables, in table order (unknown groups follow, in cell order)."""
INLINE_ANCHOR = 16
"""Anchor texts up to this many characters sit in the table; longer ones become footnotes."""


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


def _differing(cells: Sequence[Cell]) -> dict[str, list[str]]:
    """Per cell key: ``field=value`` of the task and model config fields that differ between
    the cells of one group and task."""
    out: dict[str, list[str]] = {c.key: [] for c in cells}
    for part in ("task", "model"):
        configs = [getattr(c, part) for c in cells]
        if len(configs) < 2 or not all(dataclasses.is_dataclass(x) for x in configs):
            continue
        for f in dataclasses.fields(configs[0]):
            values = [getattr(x, f.name, None) for x in configs]
            if f.name != "data_dir" and len({repr(v) for v in values}) > 1:
                for cell, value in zip(cells, values):
                    out[cell.key].append(f"{f.name}={value}")
    return out


def column_name(cell: Cell, info: TaskInfo, siblings: Sequence[Cell] = ()) -> str:
    """The task setting a cell reports under: the family hook's name, else the task's name plus
    the config fields that tell it from ``siblings`` (the same group's cells of that task)."""
    hooks = _hooks(info.family)
    if hooks is not None and hooks.column is not None:
        return hooks.column(cell)
    same = [c for c in siblings if c.task_name == cell.task_name and c.group == cell.group]
    extra = _differing(same or [cell]).get(cell.key, [])
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


# -- the section --------------------------------------------------------------------------------
def _order(groups: Sequence[str]) -> list[str]:
    known = [g for g in GROUP_TITLES if g in groups]
    return known + [g for g in dict.fromkeys(groups) if g not in GROUP_TITLES]


def _title(group: str) -> str:
    return GROUP_TITLES.get(group, group)


def _count(n: int) -> str:
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n / 1000:.1f}k"


def _training(cell: Cell) -> str:
    """The training ranges of a task config (``min_X``/``max_X`` fields): ``length 1-20``."""
    task = cell.task
    if not dataclasses.is_dataclass(task):
        return ""
    names = {f.name for f in dataclasses.fields(task)}
    return ", ".join(f"{n.removeprefix('min_')} {getattr(task, n)}-{getattr(task, 'max_' + n[4:])}"
                     for n in sorted(names) if n.startswith("min_") and f"max_{n[4:]}" in names)


def _table(entries: list[FamilyEntry], groups: list[str], columns: list[str],
           family: str, notes: list[str],
           summary: list[tuple[str, dict[str, tuple[str, str]]]]) -> str:
    grid = {(e.group, e.column): e for e in entries}
    anchors = {(g, c): anchor_for(family, g, c) for g in groups for c in columns}

    def paper(g: str, c: str) -> str:
        found = anchors[(g, c)]
        if found is None:
            return ""
        text, source = found
        if len(text) <= INLINE_ANCHOR:
            if source not in notes:
                notes.append(source)
            return text
        notes.append(f"{_title(g)}, {c}: {text} ({source})")
        return f"[{len(notes)}]"

    # the longer axis goes down; summary rows run across the groups, so they make groups columns
    transposed = len(columns) > len(groups) or bool(summary)
    down, across = (columns, groups) if transposed else (groups, columns)
    with_paper = [a for a in across if any(
        anchors[(d, a) if not transposed else (a, d)] for d in down)]
    head = ["task" if transposed else "model"]
    for a in across:
        label = _title(a) if transposed else a
        head += [f"{label} (ours)", "(paper)"] if a in with_paper else [label]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in down:
        row = [d if transposed else _title(d)]
        for a in across:
            g, c = (a, d) if transposed else (d, a)
            e = grid.get((g, c))
            row.append("" if e is None else e.text())
            if a in with_paper:
                row.append(paper(g, c))
        lines.append("| " + " | ".join(row) + " |")
    for label, by_group in summary:
        row = [label]
        for a in across:
            ours, theirs = by_group.get(a, ("", ""))
            row += [ours, theirs] if a in with_paper else [ours]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _generalisation(entries: list[FamilyEntry], groups: list[str], columns: list[str]) -> str:
    keys = list(dict.fromkeys((e.column, s) for e in entries for s in e.info.generalisation
                              if s in e.generalisation))
    if not keys:
        return ""
    keys.sort(key=lambda k: (columns.index(k[0]), _setting(k[1])))
    grid = {(e.group, e.column): e for e in entries}
    lines = ["| model | " + " | ".join(f"{c} {s}" for c, s in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for g in groups:
        cells = []
        for c, s in keys:
            e = grid.get((g, c))
            cells.append("" if e is None or s not in e.generalisation
                         else e.spread(e.generalisation[s]))
        if any(cells):
            lines.append(f"| {_title(g)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _runs(entries: list[FamilyEntry], groups: list[str], columns: list[str]) -> str:
    rows = [e for g in groups for c in columns for e in entries
            if (e.group, e.column) == (g, c) and e.sequences]
    if not rows:
        return ""
    solved = rows[0].info.solved_below
    head = ["model", "setting", "trained on", "seeds", f"valid {rows[0].info.metric}",
            "sequences a seed", *(["sequences to solved, per seed"] if solved is not None else []),
            "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in rows:
        row = [_title(e.group), e.column, _training(e.cell), str(len(e.values)),
               e.spread(e.valid), "/".join(_count(s) for s in e.sequences)]
        if solved is not None:
            reached = e.reached
            if not reached:
                row.append("")
            elif all(r is None for r in reached):
                row.append(f"never (in {_count(max(e.sequences))})")
            else:
                row.append("/".join(_count(r) if r is not None else "never" for r in reached))
        row.append(f"{e.seconds:.0f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


_SETTING = re.compile(r"^(?P<kind>[a-z]+)(?P<n>\d+)$")


def _setting(group: str) -> tuple[str, int]:
    match = _SETTING.match(group)
    return (match["kind"], int(match["n"])) if match else (group, 0)


def family_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path | None, *,
                   select_best: bool = False, plots: bool = True) -> tuple[str, str]:
    """Markdown for ``results.md`` and the tables for the terminal: one part per task family,
    plots under ``OUT/plots/``."""
    entries = family_entries(finished, out, select_best=select_best)
    by_family: dict[str, list[FamilyEntry]] = {}
    for e in entries:
        by_family.setdefault(e.info.family or e.cell.task_name, []).append(e)
    texts, tables = [], []
    for family, mine in by_family.items():
        hooks = _hooks(family) or Hooks(family)
        groups = _order([e.group for e in mine])
        columns = list(dict.fromkeys(e.column for e in mine))
        if hooks.column is not None:  # the hook's names sort (task 2 before task 10)
            columns.sort(key=hooks.sort_key or (lambda c: [int(t) if t.isdigit() else t
                                                           for t in re.split(r"(\d+)", c)]))
        info = mine[0].info
        notes: list[str] = []
        summary = hooks.summary_rows(mine) if hooks.summary_rows else []
        table = _table(mine, groups, columns, family, notes, summary)
        tables.append(table)
        unit = f"{info.metric} ({info.unit})" if info.unit else info.metric
        text = [f"## {hooks.title}", "", hooks.intro, "",
                f"Test {unit}; lower is better"
                + (f"; **bold**: solved (at or below {mine[0].show(info.solved_below)})"
                   if info.solved_below is not None else "") + ".", "", table, ""]
        if notes:
            text += ["Papers:", "", *(f"[{i}] {n}" for i, n in enumerate(notes, 1)), ""]
        gen = _generalisation(mine, groups, columns)
        if gen:
            text += ["Generalisation (test, median over seeds with the range):", "", gen, ""]
        runs = _runs(mine, groups, columns)
        if runs and (any(len(e.values) > 1 for e in mine) or any(e.curves for e in mine)
                     or gen):
            text += ["Runs: training sequences (steps x batch) per seed and until the "
                     "validation metric first reached the solved threshold:", "", runs, ""]
        if plots and out is not None:
            for path in _plots(family, hooks, mine, groups, columns, out):
                text += [f"Plot: `plots/{path.name}`.", ""]
        texts.append("\n".join(text).rstrip() + "\n")
    return "\n".join(texts), "\n\n".join(tables)


def _plots(family: str, hooks: Hooks, entries: list[FamilyEntry], groups: list[str],
           columns: list[str], out: Path) -> list[Path]:
    from mneme.viz.report import plot_against_papers, plot_curves, plot_generalisation

    paths = []
    if any(e.curves and any(e.curves) for e in entries):
        paths.append(plot_curves(entries, groups, columns, _title,
                                 out / "plots" / f"{family}-curves.png"))
    if any(e.generalisation for e in entries):
        paths.append(plot_generalisation(entries, groups, columns, _title, _setting,
                                         out / "plots" / f"{family}-generalisation.png"))
    if hooks.plot_name is not None:
        anchors = {(e.group, e.column): anchor_for(family, e.group, e.column) for e in entries}
        name = hooks.plot_name(entries)
        paths.append(plot_against_papers(entries, groups, columns, _title, anchors,
                                         out / "plots" / name))
    return paths
