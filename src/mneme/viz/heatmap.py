"""A heatmap of scores: rows (models) x columns (tasks), the value in each cell, solved cells
boxed. Drawn for the Chomsky-hierarchy report; any models x tasks score grid fits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mneme.viz.figure import save_figure

__all__ = ["plot_heatmap"]


def plot_heatmap(values: Sequence[Sequence[float | None]], rows: Sequence[str],
                 columns: Sequence[str], solved: Sequence[Sequence[bool]], path: Path, *,
                 title: str, label: str, vmin: float, vmax: float) -> Path:
    """``values[i][j]`` of row i and column j as colour (higher is greener) and text, None as an
    empty cell; ``solved[i][j]`` boxes the cell. Writes ``path`` (PNG) and its SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(0.75 * len(columns) + 2.5, 0.45 * len(rows) + 1.8))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=vmin, vmax=vmax, aspect="auto")
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v is not None:
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        fontweight="bold" if solved[i][j] else "normal")
            if solved[i][j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, linewidth=1.5))
    ax.set_xticks(range(len(columns)), list(columns), fontsize=7, rotation=40, ha="right")
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    fig.colorbar(image, ax=ax).set_label(label, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
