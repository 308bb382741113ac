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

Where it lives: what the report reads (``task_info``, ``column_name``, ``FamilyEntry``,
``family_entries``) and the families' ``Hooks``, what is genuinely paper-specific (``HOOKS``, filled
by ``mneme.bench.report_hooks``), in ``mneme.bench.report_family_entries``; the tables, the
section and the plots here. Every public name is importable from this module.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import anchor_for
from mneme.bench.report_family_entries import (
    HOOKS,
    FamilyEntry,
    Hooks,
    _hooks,
    column_name,
    family_entries,
    task_info,
)
from mneme.bench.suites import Cell

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
    "lstm": "LSTM", "dnc": "DNC",
    # counting languages
    "rnn": "RNN (tanh)", "stack-rnn": "Stack RNN 40+10",
    "stack-rnn-rounding": "Stack RNN 40+10 + rounding",
}
"""Report groups' names in tables, in table order (unknown groups follow, in cell order)."""
INLINE_ANCHOR = 16
"""Anchor texts up to this many characters sit in the table; longer ones become footnotes."""


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
    # a paper column where the paper gives a value: per row, or only a summary (a mean)
    with_paper = [a for a in across if any(
        anchors[(d, a) if not transposed else (a, d)] for d in down) or any(
        by_group.get(a, ("", ""))[1] not in ("", "n/a") for _, by_group in summary)]
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
