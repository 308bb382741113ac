"""Alignment heatmaps of a sequence-to-sequence model's attention.

As in Bahdanau et al. 2015, figure 3: the source words along x, the output words along y, each
cell the weight ``a_ij`` of source word j when emitting output word i, in grey levels (black 0,
white 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from mneme.viz.figure import save_figure

__all__ = ["plot_alignment", "plot_seq2seq_run"]


def plot_alignment(source: Sequence[str], output: Sequence[str], weights: Tensor, path: Path,
                   *, title: str = "") -> Path:
    """Save one alignment heatmap as PNG and return its path.

    Args:
        source: the T_s source tokens (x axis), ``</s>`` included.
        output: the L output tokens (y axis), ``</s>`` included.
        weights: ``(L, T_s)`` attention weights in [0, 1].
        path: the PNG to write (parents are created).
        title: the figure title.

    Raises:
        ValueError: ``weights`` does not have shape ``(len(output), len(source))``.
    """
    if tuple(weights.shape) != (len(output), len(source)):
        raise ValueError(f"weights must be (len(output), len(source)) = "
                         f"{(len(output), len(source))}; got {tuple(weights.shape)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols, rows = len(source), len(output)
    fig, ax = plt.subplots(figsize=(1.6 + 0.42 * cols, 1.3 + 0.36 * rows))
    image = ax.imshow(weights.detach().cpu().float().numpy(), cmap="gray", vmin=0.0, vmax=1.0,
                      aspect="auto")
    ax.set_xticks(range(cols), list(source), rotation=90)
    ax.xaxis.tick_top()
    ax.set_yticks(range(rows), list(output))
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9, pad=40)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path


def plot_seq2seq_run(task: Any, model: Any, out_dir: Path, *, examples: int = 3,
                     title: str = "") -> list[Path]:
    """Greedy alignments of ``examples`` test sources, from short to long, as
    ``out_dir/alignment-{i}.png``; nothing for a model without attention."""
    if not getattr(model, "has_attention", False):
        return []
    sources = list(task.sources["test"])
    if not sources or examples < 1:
        return []
    by_length = sorted(range(len(sources)), key=lambda i: (len(sources[i]), i))
    count = min(examples, len(sources))
    picks = [by_length[round(k * (len(by_length) - 1) / max(count - 1, 1))] for k in range(count)]
    chosen = [sources[i] for i in picks]
    source, lengths = task.encode_sources(chosen)
    result = model.translate(source, lengths)
    vocab_in, vocab_out = task.spec.source_vocab, task.spec.target_vocab
    written = []
    for i, (ids, ends) in enumerate(zip(result.tokens, result.finished, strict=True)):
        words = [vocab_in.itos[j] for j in source[i, : int(lengths[i])].tolist()]
        output = [vocab_out.itos[j] for j in ids] + (["</s>"] if ends else [])
        weights = result.attention[i][: len(output)]
        label = f"{title}: test example {i}" if title else f"test example {i}"
        written.append(plot_alignment(words, output, weights, out_dir / f"alignment-{i}.png",
                                      title=label))
    return written
