"""Heatmaps of attention over a sequence's own past (fast weights, self-attention), and of a
memory network's hops over the sentences of a story (``mneme ask``, ``mneme plot``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from mneme.viz.figure import save_figure


def plot_attention_over_past(
    symbols: Sequence[str], attention: Tensor, title: str, path: Path
) -> Path:
    """One ``(T, T)`` heatmap: row t is the retrieval at step t, column tau the step it reads.

    Args:
        symbols: the T input symbols, labelling rows and columns.
        attention: ``(T, T)`` weights (signed: fast weights attend by inner products, which may
            be negative); drawn on a symmetric colour scale.
        title: the figure title (the answer and the truth, say).
        path: the PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = attention.detach().cpu().float().numpy()
    bound = float(abs(weights).max()) or 1.0
    n = len(symbols)
    fig, ax = plt.subplots(figsize=(1.2 + 0.42 * n, 1.0 + 0.42 * n))
    image = ax.imshow(weights, cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.set_xticks(range(n), list(symbols))
    ax.set_yticks(range(n), list(symbols))
    ax.set_xlabel("earlier step read (tau)")
    ax.set_ylabel("retrieving at step t")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path


def plot_attention(
    story: Sequence[str], question: str, word: str, weights: Tensor, path: Path
) -> Path:
    """A heatmap of the attention of every hop over the story sentences, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hops = weights.shape[0]
    story = list(story) + ["(null memory)"] * (weights.shape[1] - len(story))
    fig, ax = plt.subplots(
        figsize=(
            2.5 + 1.1 * hops + 0.07 * max(map(len, story), default=10),
            1.2 + 0.35 * len(story),
        )
    )
    image = ax.imshow(weights.T.numpy(), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(hops), [f"hop {k + 1}" for k in range(hops)])
    ax.set_yticks(range(len(story)), list(story), fontsize=8)
    for k in range(hops):
        for i in range(len(story)):
            value = float(weights[k, i])
            ax.text(
                k,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > 0.6 else "black",
            )
    ax.set_title(f"{question}  ->  {word}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    return path
