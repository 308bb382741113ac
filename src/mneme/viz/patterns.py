"""Pictures of associative memories: recall grids (cue -> states -> recalled) and capacity curves.

Both write a PNG with matplotlib's Agg backend and return its path; they take plain arrays and
dicts, never live models, so they can be redrawn from a results file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mneme.viz.figure import save_figure

__all__ = ["RecallRow", "plot_capacity", "plot_recall_grid"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class RecallRow:
    """One row of a recall grid.

    Attributes:
        images: (label, image) pairs drawn left to right; images are (height, width) arrays in
            [-1, 1] (+1 drawn black).
        energy: the energy after every update (or iteration), drawn beside the images.
        energy_unit: what one step of ``energy`` is, for the x axis label.
        note: a short text under the row's last image (e.g. "exact" or "m = 0.94").
        tail: how many of the last images are drawn in the rightmost columns, so that rows
            with fewer intermediate states keep "recalled" and "stored" aligned.
    """

    images: Sequence[tuple[str, np.ndarray]]
    energy: Sequence[float] = field(default_factory=list)
    energy_unit: str = "unit updates"
    note: str = ""
    tail: int = 2


def plot_recall_grid(rows: Sequence[RecallRow], path: str | Path, title: str) -> Path:
    """Write a grid with one row per cue: its images, then its energy curve. Returns the path."""
    plt = _pyplot()
    if not rows:
        raise ValueError("rows must not be empty")
    n_img = max(len(r.images) for r in rows)
    fig = plt.figure(figsize=(1.3 * n_img + 3.2, 1.35 * len(rows) + 0.6))
    grid = fig.add_gridspec(len(rows), n_img + 1, width_ratios=[1] * n_img + [2.6])
    for r, row in enumerate(rows):
        # the last ``tail`` images (recalled, stored) line up in the rightmost columns
        head = len(row.images) - row.tail
        for j, (label, image) in enumerate(row.images):
            c = j if j < head else n_img - (len(row.images) - j)
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(-np.asarray(image, dtype=float), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=7, pad=2)
            if j == len(row.images) - 1 and row.note:
                ax.set_xlabel(row.note, fontsize=7)
        ax = fig.add_subplot(grid[r, n_img])
        if len(row.energy):
            ax.plot(np.arange(len(row.energy)), row.energy, color="C3", lw=1.2)
        ax.tick_params(labelsize=6)
        if r == 0:
            ax.set_title("energy E", fontsize=8)
        if r == len(rows) - 1:
            ax.set_xlabel(row.energy_unit, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    return save_figure(fig, path, dpi=110)


RULE_TITLES = {
    "hebb": "Hebbian",
    "storkey": "Storkey",
    "pinv": "pseudo-inverse",
    "modern": "modern (softmax)",
}


def plot_capacity(
    rows: Sequence[Mapping[str, Any]],
    theory: Mapping[str, Sequence[tuple[float, str]]],
    path: str | Path,
    title: str,
) -> Path:
    """Recall against load P/N: one column per rule, lines per N.

    Args:
        rows: dicts with keys rule, n, load, recall, fixed, overlap and optionally retrieved
            (fractions in [0, 1]).
        theory: per rule, (P/N, label) vertical markers.
        path: the PNG to write.
        title: figure title.
    Returns:
        the path.
    """
    plt = _pyplot()
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    ns = sorted({r["n"] for r in rows})
    width = max(4.2 * len(rules), 7.0)
    fig, axes = plt.subplots(2, len(rules), figsize=(width, 6.4), squeeze=False)
    for col, rule in enumerate(rules):
        top, bottom = axes[0, col], axes[1, col]
        loads_all = [r["load"] for r in rows if r["rule"] == rule]
        log_x = max(loads_all) / min(loads_all) > 20
        for k, n in enumerate(ns):
            mine = sorted((r for r in rows if r["rule"] == rule and r["n"] == n), key=_load)
            if not mine:
                continue
            x = [r["load"] for r in mine]
            color = f"C{k}"
            top.plot(x, [r["recall"] for r in mine], "o-", color=color, ms=3, label=f"N={n}")
            top.plot(x, [r["fixed"] for r in mine], ":", color=color, lw=1)
            bottom.plot(x, [r["overlap"] for r in mine], "o-", color=color, ms=3)
            if "retrieved" in mine[0]:
                bottom.plot(x, [r["retrieved"] for r in mine], "--", color=color, lw=1)
        for j, (load, label) in enumerate(theory.get(rule, [])):
            if min(loads_all) / 1.5 <= load <= max(loads_all) * 1.5:
                for ax in (top, bottom):
                    ax.axvline(load, color="0.3", ls=("--", "-.", ":")[j % 3], lw=0.9)
                bottom.text(
                    load, 0.02, f" {label}", fontsize=6.5, color="0.2", rotation=90,
                    va="bottom", ha="right", transform=bottom.get_xaxis_transform(),
                )  # fmt: skip
        top.set_title(RULE_TITLES.get(rule, rule), fontsize=10)
        top.set_ylabel("exact recall (solid), fixed points (dotted)", fontsize=7)
        bottom.set_ylabel("final overlap m (solid), fraction m > 0.9 (dashed)", fontsize=7)
        bottom.set_xlabel("load P/N", fontsize=8)
        top.set_ylim(-0.03, 1.03)
        bottom.set_ylim(min(0.0, *[r["overlap"] for r in rows]) - 0.03, 1.03)
        for ax in (top, bottom):
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if log_x:
                ax.set_xscale("log")
        top.legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, plt, path)


def _load(row: Mapping[str, Any]) -> float:
    return float(row["load"])


def image_side(n: int) -> tuple[int, int]:
    """A (height, width) to draw N units as an image: square when N is a square, else 1 x N."""
    side = math.isqrt(n)
    return (side, side) if side * side == n else (1, n)
