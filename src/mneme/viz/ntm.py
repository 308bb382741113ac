"""Figures of a model on the NTM paper's algorithmic tasks (Graves et al. 2014, Figures 6, 9, 12).

For each drawn sequence, one figure of stacked channel x time heatmaps: the inputs, the targets,
the outputs (sigmoid of the logits), and, when the model traces an NTM, the write heads' add
vectors and the write and read weightings over memory locations (location x time), as the
paper's Figure 6 shows them for the copy task. Models without weightings (the LSTM baseline) get
the first three panels.

``plot_algorithmic_run`` draws a few test sequences and, for copy, the longest generalisation
sequence (the paper's Figure 6 uses a long one to show the heads sweep the memory); for priority
sort, the paper's Figure 17 (``mneme.viz.priority_sort``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.viz.figure import save_figure

__all__ = ["ALGORITHMIC_TASKS", "Panel", "plot_algorithmic_run", "plot_panels"]

ALGORITHMIC_TASKS = ("copy", "repeat-copy", "associative-recall", "priority-sort")


@dataclass(frozen=True)
class Panel:
    """One heatmap: ``image`` ``(rows, T)`` drawn with rows top to bottom, time left to right.

    ``crop_rows``: draw only the rows that were used (any value above 5% of the panel's largest,
    plus one row either side), e.g. the memory locations a head visited out of 128.
    """

    title: str
    image: Tensor
    ylabel: str
    vmin: float | None = 0.0
    vmax: float | None = 1.0
    cmap: str = "viridis"
    crop_rows: bool = False


def _cropped(panel: Panel) -> tuple[Tensor, int]:
    """The rows of ``panel.image`` to draw and the index of the first."""
    image = panel.image.detach().cpu().float()
    if not panel.crop_rows or image.numel() == 0:
        return image, 0
    peak = float(image.abs().max())
    used = (image.abs() > 0.05 * peak).any(1).nonzero().flatten() if peak > 0 else None
    if used is None or used.numel() == 0:
        return image, 0
    first = max(0, int(used[0]) - 1)
    last = min(image.shape[0], int(used[-1]) + 2)
    return image[first:last], first


def plot_panels(panels: list[Panel], title: str, path: Path) -> Path:
    """Stack ``panels`` over a shared time axis and write ``path`` (PNG, and SVG beside it).

    Every panel has its own colour bar and integer ticks; ``crop_rows`` panels show only the
    rows that were used, their y ticks numbering the real rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    shown = [_cropped(p) for p in panels]
    steps = max(int(p.image.shape[1]) for p in panels)
    heights = [max(0.8, min(3.0, 0.1 * image.shape[0] + 0.5)) for image, _ in shown]
    width = min(18.0, max(6.0, 0.08 * steps + 2.5))
    total = sum(heights) + 0.45 * len(panels) + 1.1
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, total),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.97, top=1 - 0.9 / total, bottom=0.5 / total,
                        hspace=0.45 * len(panels) / sum(heights) + 0.1)
    for ax, panel, (image, first) in zip(axes[:, 0], panels, shown):
        low = float(image.min()) if panel.vmin is None else panel.vmin
        high = float(image.max()) if panel.vmax is None else panel.vmax
        drawn = ax.imshow(image.numpy(), aspect="auto", interpolation="nearest", cmap=panel.cmap,
                          vmin=low, vmax=high)
        bar = fig.colorbar(drawn, ax=ax, fraction=0.02, pad=0.01)
        bar.ax.tick_params(labelsize=6)
        rows = f" (rows {first}-{first + image.shape[0] - 1} of {panel.image.shape[0]})" \
            if image.shape[0] < panel.image.shape[0] else ""
        ax.set_title(panel.title + rows, fontsize=8, loc="left", pad=2)
        ax.set_ylabel(panel.ylabel, fontsize=7)
        ax.set_xlim(-0.5, steps - 0.5)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, first=first: f"{int(v) + first}"))
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel("time step", fontsize=7)
    fig.suptitle(title, fontsize=9, y=1 - 0.3 / total)
    return save_figure(fig, path, dpi=90)


def _sequence_panels(task: Any, batch: Any, logits: Tensor, trace: Any, index: int) -> list[Panel]:
    from mneme.tasks.algorithmic import decode_example

    ex = decode_example(task, batch, index, logits)
    steps = ex.inputs.shape[0]
    panels = [
        Panel("inputs", ex.inputs.T, "channel", vmin=None, vmax=None, cmap="gray_r"),
        Panel("targets", ex.targets.T, "channel", cmap="gray_r"),
        Panel("outputs (sigmoid)", ex.outputs.T if ex.outputs is not None else ex.targets.T * 0,
              "channel", cmap="gray_r"),
    ]
    add = getattr(trace, "add_vector", None)
    if add is not None:
        for h in range(add.shape[2]):
            panels.append(Panel(f"add vector, write head {h}", add[index, :steps, h].T, "element",
                                vmin=-1.0, vmax=1.0, cmap="RdBu_r"))
    for name, label in (("write_weightings", "write weighting"),
                        ("read_weightings", "read weighting")):
        weights = getattr(trace, name, None)
        if weights is None:
            continue
        hard = name == "read_weightings" and getattr(trace, "read_policy", None) is not None
        for h in range(weights.shape[2]):
            suffix = " (sampled slot, hard reads)" if hard else ""
            panels.append(Panel(f"{label}, head {h}{suffix}", weights[index, :steps, h].T,
                                "location", crop_rows=True))
    from mneme.viz.dnc import dnc_panels

    return panels + dnc_panels(trace, index, steps)


def plot_algorithmic_run(task: Any, model: Any, out_dir: Path, *, examples: int = 3,
                         title: str = "") -> list[Path]:
    """Draw ``examples`` test sequences (``{out_dir}/sequence-{i}.png``), for copy the longest
    generalisation sequence (``{out_dir}/generalisation-len{L}.png``), and for priority sort
    where the model writes (``{out_dir}/priority-sort-writes.png`` and ``.json``,
    ``mneme.viz.priority_sort``).

    Args:
        task: an algorithmic task (``mneme.tasks.algorithmic``).
        model: the composed model (``SequenceModel``) of a core on the task, put in eval mode.
        out_dir: where the PNGs go.
        examples: how many test sequences to draw.
        title: prefix of every figure's title (model and task).

    Returns:
        The written paths.
    """
    model.eval()
    written: list[Path] = []
    first, longest = None, None
    for batch in task.eval_batches("test", max(1, examples)):
        group = batch.meta.get("group")
        if group is None:
            first = first if first is not None else batch
        elif task.name == "copy" and group.startswith("len") and (
                longest is None or int(group[3:]) > int(longest.meta["group"][3:])):
            longest = batch
    with torch.no_grad():
        if first is not None:
            out = model(first.inputs, trace=True)
            for i in range(min(examples, first.size)):
                panels = _sequence_panels(task, first, out.logits, out.trace, i)
                wrong = _wrong_bits(first, out.logits, i)
                path = out_dir / f"sequence-{i}.png"
                written.append(plot_panels(panels, f"{title}: test sequence {i} "
                                                   f"({wrong} wrong bits)", path))
        if longest is not None:
            one = _first_of(longest)
            out = model(one.inputs, trace=True)
            group = longest.meta["group"]
            wrong = _wrong_bits(one, out.logits, 0)
            path = out_dir / f"generalisation-{group}.png"
            panels = _sequence_panels(task, one, out.logits, out.trace, 0)
            written.append(plot_panels(panels, f"{title}: generalisation, length "
                                               f"{group[3:]} ({wrong} wrong bits)", path))
    if task.name == "priority-sort":
        from mneme.viz.priority_sort import plot_priority_sort

        written += plot_priority_sort(task, model, out_dir / "priority-sort-writes.png",
                                      title=title)
    return written


def _first_of(batch: Any) -> Any:
    from mneme.types import Batch

    meta = {**batch.meta, "steps": batch.meta["steps"][:1]}
    return Batch(batch.inputs[:1], batch.targets[:1], batch.mask[:1], meta)


def _wrong_bits(batch: Any, logits: Tensor, index: int) -> int:
    mask = batch.mask[index].unsqueeze(-1)
    wrong = (logits[index] > 0) != (batch.targets[index] > 0.5)
    return int((wrong & mask).sum())
