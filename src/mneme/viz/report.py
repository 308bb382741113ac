"""The family report's figures (``mneme.bench.report_family``): validation curves per setting,
the metric against each generalisation setting, and ours beside the papers' numbers.

Entries are the report's ``FamilyEntry`` objects, read by attribute only (``group``, ``column``,
``info``, ``values``, ``headline``, ``generalisation``, ``curves``), so this layer does not
import the bench layer above it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mneme.viz.figure import save_figure

__all__ = ["plot_against_papers", "plot_curves", "plot_generalisation"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scale(info: Any) -> float:
    return 100.0 if info.percent else 1.0


def _label(info: Any) -> str:
    return f"{info.metric} ({info.unit})" if info.unit else info.metric


def _symlog(ax: Any, info: Any) -> None:
    from matplotlib.ticker import NullLocator

    limit = info.solved_below
    ax.set_yscale("symlog", linthresh=_scale(info) * limit if limit else 1.0)
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(bottom=0)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_curves(entries: Sequence[Any], groups: Sequence[str], columns: Sequence[str],
                title: Callable[[str], str], path: Path) -> Path:
    """Per setting, the validation metric of every seed against training sequences."""
    plt = _pyplot()
    from matplotlib.ticker import EngFormatter
    shown = [c for c in columns if any(e.column == c and any(e.curves) for e in entries)]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8), squeeze=False)
    for ax, column in zip(axes[0], shown):
        info = None
        for i, group in enumerate(groups):
            for e in entries:
                if (e.group, e.column) != (group, column):
                    continue
                info = e.info
                for j, curve in enumerate(c for c in e.curves if c):
                    seen, values = zip(*curve)
                    ax.plot(seen, [_scale(e.info) * v for v in values], color=f"C{i}",
                            alpha=0.8, linewidth=1.2, label=title(group) if j == 0 else None)
        if info is not None:
            if info.solved_below is not None:
                line = _scale(info) * info.solved_below
                ax.axhline(line, color="grey", linestyle=":", linewidth=1,
                           label=f"solved: at or below {line:g}{'%' if info.percent else ''}")
            ax.set_ylabel(f"validation {_label(info)}")
            _symlog(ax, info)
        ax.set_title(column)
        ax.set_xlabel("training sequences")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 150k, 1.5M: no crowded digits
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Validation curves: every seed")
    return _save(fig, path)


def plot_generalisation(entries: Sequence[Any], groups: Sequence[str], columns: Sequence[str],
                        title: Callable[[str], str],
                        setting: Callable[[str], tuple[str, int]], path: Path) -> Path:
    """Per setting, the test metric (median over seeds) against each generalisation set
    (``len120`` -> length 120)."""
    plt = _pyplot()
    shown = [c for c in columns if any(e.column == c and e.generalisation for e in entries)]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8), squeeze=False)
    for ax, column in zip(axes[0], shown):
        mine = [e for e in entries if e.column == column and e.generalisation]
        kinds = sorted({setting(s)[0] for e in mine for s in e.generalisation})
        for i, group in enumerate(groups):
            for e in (e for e in mine if e.group == group):
                for k, kind in enumerate(kinds):
                    points = sorted((setting(s)[1], statistics.median(v))
                                    for s, v in e.generalisation.items()
                                    if setting(s)[0] == kind)
                    if points:
                        xs, ys = zip(*points)
                        ax.plot(xs, [_scale(e.info) * y for y in ys], marker="os^"[k % 3],
                                linestyle=("-", "--", ":")[k % 3], color=f"C{i}",
                                label=title(group) + (f", by {kind}" if len(kinds) > 1 else ""))
        ax.set_xlabel(" / ".join(kinds))
        ax.set_ylabel(f"test {_label(mine[0].info)}")
        _symlog(ax, mine[0].info)
        ax.set_title(column)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_against_papers(entries: Sequence[Any], groups: Sequence[str], columns: Sequence[str],
                        title: Callable[[str], str],
                        anchors: Mapping[tuple[str, str], tuple[str, str] | None],
                        path: Path) -> Path:
    """Per group, bars of ours (the headline value) and the paper's number per setting."""
    plt = _pyplot()
    mine = [g for g in groups if any(e.group == g for e in entries)]
    fig, axes = plt.subplots(len(mine), 1, figsize=(max(6, 0.5 * len(columns) + 2),
                                                    2.6 * len(mine)), squeeze=False)
    width = 0.4
    grid = {(e.group, e.column): e for e in entries}
    info = entries[0].info
    for ax, group in zip(axes[:, 0], mine):
        xs = range(len(columns))
        ours = [_scale(info) * grid[(group, c)].headline if (group, c) in grid else math.nan
                for c in columns]

        def number(c: str, group: str = group) -> float:
            found = anchors.get((group, c))
            try:
                return float(found[0]) if found else math.nan
            except ValueError:
                return math.nan

        # Error bars: the range over seeds (min to max) around the headline value.
        low, high = [], []
        for c, value in zip(columns, ours):
            seeds = [_scale(info) * v for v in getattr(grid.get((group, c)), "values", ())]
            low.append(value - min(seeds) if seeds and not math.isnan(value) else 0.0)
            high.append(max(seeds) - value if seeds and not math.isnan(value) else 0.0)
        theirs = [number(c) for c in columns]
        left = [x - width / 2 for x in xs]
        right = [x + width / 2 for x in xs]
        ax.bar(left, ours, width, yerr=[low, high], capsize=2, label="mneme (range over seeds)",
               error_kw={"linewidth": 0.8})
        ax.bar(right, theirs, width, label="paper", alpha=0.6)
        # A bar of height 0 is invisible: mark it, so 0% reads as a result, not a gap.
        for xs_, values, colour in ((left, ours, "C0"), (right, theirs, "C1")):
            zeros = [x for x, v in zip(xs_, values) if v == 0]
            ax.plot(zeros, [0.0] * len(zeros), linestyle="none", marker="_", markersize=10,
                    markeredgewidth=2, color=colour)
        if info.solved_below is not None:
            line = _scale(info) * info.solved_below
            ax.axhline(line, color="grey", linestyle=":", linewidth=1,
                       label=f"solved: at or below {line:g}{'%' if info.percent else ''}")
        ax.set_xticks(list(xs), [c.split(" (")[0].removeprefix("task ") for c in columns])
        ax.set_xlim(-0.6, len(columns) - 0.4)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"test {_label(info)}")
        ax.set_title(title(group))
        ax.legend(loc="upper left", fontsize=7)
    return _save(fig, path)
