"""The MQAR report's figures (``mneme.bench.report_mqar``): a heatmap of test accuracy (models x
grid points x widths) and accuracy against the floats each memory's state holds.

Entries are read by attribute only (``core``, ``seq_len``, ``num_pairs``, ``width``,
``accuracy`` in %, ``state_floats``), so this layer does not import the bench layer above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.viz.figure import save_figure

__all__ = ["plot_mqar_heatmap", "plot_mqar_state"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_mqar_heatmap(entries: Sequence[Any], cores: Sequence[str], solved: float,
                      title: str, path: Path) -> Path:
    """One panel per (T, D): rows the cores, columns the widths d, colour the test accuracy (%);
    the text of a solved cell (accuracy >= ``solved``) is bold and starred."""
    import numpy as np

    plt = _pyplot()
    grid = sorted({(e.seq_len, e.num_pairs) for e in entries})
    widths = sorted({e.width for e in entries})
    fig, axes = plt.subplots(1, len(grid), figsize=(1.1 * len(widths) * len(grid) + 3,
                                                    0.45 * len(cores) + 1.6),
                             squeeze=False, sharey=True)
    image = None
    for ax, (seq_len, pairs) in zip(axes[0], grid):
        score = np.full((len(cores), len(widths)), np.nan)
        for e in entries:
            if (e.seq_len, e.num_pairs) == (seq_len, pairs) and e.core in cores:
                i, j = cores.index(e.core), widths.index(e.width)
                score[i, j] = e.accuracy
                mark = e.accuracy >= solved
                ax.text(j, i, f"{e.accuracy:.0f}{'*' if mark else ''}", ha="center",
                        va="center", fontsize=8, fontweight="bold" if mark else "normal")
        image = ax.imshow(score, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
        ax.set_xticks(range(len(widths)), [f"d={w}" for w in widths], fontsize=8)
        ax.set_yticks(range(len(cores)), cores, fontsize=8)
        ax.set_title(f"T = {seq_len}, {pairs} pairs", fontsize=9)
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes[0]))
        bar.set_label(f"test accuracy on queries (%); * solved (>= {solved:g}%)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_mqar_state(entries: Sequence[Any], cores: Sequence[str], solved: float, title: str,
                    path: Path) -> Path:
    """Test accuracy (%) against the floats in the state after a sequence (log scale): one
    colour per core, one marker per (T, D), the widths joined by a line."""
    plt = _pyplot()
    grid = sorted({(e.seq_len, e.num_pairs) for e in entries})
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, core in enumerate(cores):
        for k, point in enumerate(grid):
            mine = sorted((e.state_floats, e.accuracy) for e in entries
                          if e.core == core and (e.seq_len, e.num_pairs) == point
                          and not math.isnan(e.accuracy))
            if not mine:
                continue
            xs, ys = zip(*mine)
            ax.plot(xs, ys, marker="os^D"[k % 4], color=f"C{i}", linewidth=1, markersize=5,
                    label=core if k == 0 else None)
    for k, (seq_len, pairs) in enumerate(grid):  # the markers' legend, in grey
        ax.plot([], [], marker="os^D"[k % 4], color="grey", linestyle="none",
                label=f"T = {seq_len}, {pairs} pairs")
    ax.axhline(solved, color="grey", linestyle=":", linewidth=1, label=f"solved: {solved:g}%")
    ax.set_xscale("log")
    ax.set_ylim(-2, 102)
    ax.set_xlabel("state size: floats carried after T tokens (one sequence)")
    ax.set_ylabel("test accuracy on queries (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
