"""The family report's hooks: what a task family's section adds to the generic table.

bAbI spreads a joint-training cell over one column per task and adds the mean, the failed tasks
(> 5% error) and the paper's mean over all 20 tasks; associative retrieval names its columns by R;
the algorithmic tasks explain their units. Importing this module fills
``mneme.bench.report_family_entries.HOOKS``.
"""

from __future__ import annotations

import statistics
from typing import Any

from mneme.bench.anchors import BABI, anchor_for
from mneme.bench.report_family_entries import HOOKS, FamilyEntry, Hooks
from mneme.bench.suites import Cell
from mneme.types import TaskInfo

__all__ = ["FAILED_ABOVE"]


def _babi_size(cell: Cell) -> str:
    return str(getattr(cell.task, "size", "1k"))


def _babi_column(cell: Cell) -> str:
    return f"task {cell.task.task_id} ({_babi_size(cell)})"


def _babi_expand(cell: Cell, summary: dict[str, Any], info: TaskInfo) -> list[FamilyEntry]:
    """Joint training: one cell, one column per bAbI task (``error_task{N}``)."""
    if not getattr(cell.task, "joint", False):
        return []
    entries = []
    for key, value in summary["test"].items():
        if key.startswith("error_task"):
            task_id = int(key.removeprefix("error_task"))
            entries.append(FamilyEntry(cell, cell.group, f"task {task_id} ({_babi_size(cell)})",
                                       info, (float(value),),
                                       seconds=float(summary.get("seconds", 0.0))))
    return entries


FAILED_ABOVE = 5.0
"""% test error: the bAbI papers' definition of a failed task (the task's ``solved_below``)."""


def _babi_rows(entries: list[FamilyEntry]) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """bAbI's summary: the mean over the table's tasks, failed tasks (> 5%), the same for each
    task's median repeat where a group has several, the paper's mean over all 20 tasks."""
    size = _babi_size(entries[0].cell)
    mean, failed, paper = {}, {}, {}
    median_mean: dict[str, tuple[str, str]] = {}
    median_failed: dict[str, tuple[str, str]] = {}
    for group in dict.fromkeys(e.group for e in entries):
        mine = [e for e in entries if e.group == group]
        ours = [100 * e.headline for e in mine]
        theirs = [float(a[0]) for e in mine
                  if (a := anchor_for("babi", group, e.column)) is not None]
        mean[group] = (f"{statistics.fmean(ours):.1f}" if ours else "n/a",
                       f"{statistics.fmean(theirs):.1f}" if theirs else "n/a")
        failed[group] = (str(sum(v > FAILED_ABOVE for v in ours)),
                         str(sum(v > FAILED_ABOVE for v in theirs)) if theirs else "n/a")
        if any(len(e.values) > 1 for e in mine):
            medians = [100 * e.median for e in mine]
            median_mean[group] = (f"{statistics.fmean(medians):.1f}", "")
            median_failed[group] = (str(sum(v > FAILED_ABOVE for v in medians)), "")
        anchor = BABI[size].get(group)
        paper[group] = ("", f"{anchor.mean} ({anchor.failed} failed)" if anchor else "n/a")
    rows = [("mean", mean), (f"failed (> {FAILED_ABOVE:.0f}%)", failed)]
    if median_mean:
        rows += [("mean, median repeat", median_mean),
                 (f"failed (> {FAILED_ABOVE:.0f}%), median repeat", median_failed)]
    return [*rows, ("paper, all 20 tasks", paper)]


def _retrieval_column(cell: Cell) -> str:
    return f"R = {int(getattr(cell.model, 'hidden_size', 0))}"


def _counting_labels() -> list[str]:
    from mneme.tasks.counting import LANGUAGES

    return [spec.label for spec in LANGUAGES.values()]


def _counting_column(cell: Cell) -> str:
    from mneme.tasks.counting import LANGUAGES

    return LANGUAGES[cell.task.language].label


HOOKS.update({
    "babi": Hooks(
        "bAbI",
        "Test error in % of the repeat selected on validation error, the median and range over "
        "repeats in brackets. 'mean' averages the tasks in this table (ours and the paper's over "
        "the same tasks); the last row is the paper's mean over all 20 tasks. Paper: Sukhbaatar "
        "et al. 2015, Table 1 (LSTM: Weston et al. 2015; MemNN: Weston et al. 2015, Table 3, as "
        "errors).",
        column=_babi_column, expand=_babi_expand, summary_rows=_babi_rows,
        plot_name=lambda es: f"babi-{_babi_size(es[0].cell)}-test-error.png"),
    "retrieval": Hooks(
        "Associative retrieval (K = 4)",
        "Test error % on the held-out sequences: the median over seeds, the range in brackets, "
        "n seeds; every seed counts (no selection). Paper: Ba et al. 2016, arXiv 1610.06258, "
        "Table 1.",
        column=_retrieval_column),
    "algorithmic": Hooks(
        "Algorithmic tasks (Graves et al. 2014, section 4)",
        "Bits per sequence: wrong output bits (sigmoid thresholded at 0.5) per sequence, the "
        "median over seeds with the range in brackets; every seed counts. The test set is at the "
        "training distribution; the generalisation sets are lenL: length L, repR: R repeats, "
        "itemsK: K items (repeat copy's lenL runs at the most training repeats and repR at the "
        "longest training length). Paper: Graves, Wayne & Danihelka 2014; its results are "
        "learning curves and pictures, so 'approx.' values are read off figures."),
    "counting": Hooks(
        "Counting languages and memorisation (Joulin & Mikolov 2015, Table 2)",
        "Next-symbol prediction on a stream of strings, trained on n <= 19 with the paper's "
        "curriculum; an n is solved when every predictable symbol of its test strings is "
        "predicted, for n = 1..60 (a^n b^m c^(n+m): n + m = 2..61). Entries are the % of those "
        "n *not* solved (100 minus Table 2's '% of n solved'): the median over seeds, the best "
        "seed the lower end of the range. 'Stack RNN 40+10 + rounding' is the same training "
        "with discrete actions in evaluation (validation, hence the checkpoint, and test), as "
        "the authors' -hard flag.",
        column=_counting_column,
        sort_key=lambda c: _counting_labels().index(c) if c in _counting_labels() else 99),
})
"""Per task family (``TaskInfo.family``): what its section adds to the generic table."""


