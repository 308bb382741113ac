"""Pictures of pointer-network outputs: predicted against true hulls, tours and orderings.

For a convex hull or a tour a drawing beats a table: each panel shows the points, the true
polygon (wide, pale) and the predicted one (thin), titled with whether it is right (hull), or its
length against the optimum (TSP). Sorting panels plot the numbers in the predicted order against
the sorted order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mneme.viz.figure import save_figure

__all__ = ["plot_pointer_examples", "plot_pointer_run"]


def _closed(xy: np.ndarray) -> np.ndarray:
    return np.concatenate([xy, xy[:1]], 0) if len(xy) else xy


def plot_pointer_examples(task_name: str, points: torch.Tensor, point_mask: torch.Tensor,
                          targets: torch.Tensor, target_mask: torch.Tensor,
                          tokens: torch.Tensor, path: Path, title: str = "") -> Path:
    """One panel per example, in a grid; writes ``path`` (PNG) and returns it.

    Args:
        task_name: ``sort``, ``convex-hull`` or ``tsp``.
        points: ``(B, N, D)``; point_mask ``(B, N)``; targets, target_mask ``(B, T)``.
        tokens: ``(B, L)`` decoded positions, -1 after the end (END = N for the hull).
        path: where to save the figure.
        title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mneme.tasks.sorting import hull_matches, tour_lengths

    b = point_mask.shape[0]
    cols = min(b, 4)
    rows = (b + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[b:]:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:b]):
        n = int(point_mask[i].sum())
        pts = points[i, :n].double().numpy()
        true = [t for t, m in zip(targets[i].tolist(), target_mask[i].tolist()) if m and t < n]
        pred = [t for t in tokens[i].tolist() if 0 <= t < n]
        if task_name == "sort":
            ax.plot(pts[true, 0], "o--", color="grey", label="sorted")
            ax.plot(pts[pred, 0], ".-", color="C0", label="predicted")
            right = pred == true
            ax.set_title(f"n={n}: {'right' if right else 'wrong'}", fontsize=9)
            ax.set_xlabel("output position")
            if i == 0:
                ax.legend(fontsize=7)
            continue
        # the true polygon wide and pale under the predicted one: both stay visible
        ax.plot(*_closed(pts[true]).T, "-", color="C1", linewidth=4, alpha=0.45, label="true")
        if len(pred) >= 2:
            ax.plot(*_closed(pts[pred]).T, "-", color="C0", linewidth=1.2, label="predicted")
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color="k", zorder=3)
        for j, (x, y) in enumerate(pts):
            ax.annotate(str(j), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        if task_name == "tsp":
            best = tour_lengths(pts[None], np.asarray([true]))[0]
            if sorted(pred) == list(range(n)):
                length = tour_lengths(pts[None], np.asarray([pred]))[0]
                ax.set_title(f"n={n}: {length:.3f} (optimal {best:.3f})", fontsize=9)
            else:
                ax.set_title(f"n={n}: invalid tour (optimal {best:.3f})", fontsize=9)
        else:
            ok = hull_matches(pred, true)
            ax.set_title(f"n={n}: {'right' if ok else 'wrong'}", fontsize=9)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if i == 0:
            ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path


def plot_pointer_run(task_name: str, task: Any, model: Any, path: Path, *, examples: int = 8,
                     title: str = "") -> Path:
    """Decode the first ``examples`` test examples with ``model`` and draw them to ``path``."""
    batch = next(iter(task.eval_batches("test", max(1, examples))))
    model.eval()
    with torch.no_grad():
        decoded = model.decode(batch.inputs["points"], batch.inputs["point_mask"])
    mask = batch.mask if batch.mask is not None else torch.ones_like(batch.targets, dtype=bool)
    return plot_pointer_examples(task_name, batch.inputs["points"], batch.inputs["point_mask"],
                                 batch.targets, mask, decoded.tokens, path, title)
