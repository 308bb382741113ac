"""Where a memory model writes on priority sort: the NTM paper's Figures 16-17 (Graves et al.
2014, section 4.5), drawn by ``mneme plot`` for a priority-sort run.

The paper's hypothesis (Figure 16): the NTM writes each input vector to a location set by its
priority, then reads the locations in order. Its Figure 17 tests it: the write locations
predicted by a linear function of the priorities, fitted to the observed ones, beside the
observed write weightings and the read weightings. ``plot_priority_sort`` draws those panels
for one sequence and the fit over many, and writes the measurements of
``mneme.viz.priority_sort_fits`` (whose names it re-exports) as JSON beside the figure.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from mneme.tasks.algorithmic_base import wrong_bits
from mneme.viz.figure import save_figure
from mneme.viz.priority_sort_fits import (
    FOCUSED,
    GAP_EDGES,
    TOLERANCE,
    GapErrors,
    ReadFit,
    WriteFit,
    drawn_head,
    errors_by_gap,
    mean_locations,
    read_order_fits,
    with_head_axis,
    write_location_fits,
)

__all__ = ["FOCUSED", "GAP_EDGES", "TOLERANCE", "GapErrors", "ReadFit", "WriteFit", "drawn_head",
           "errors_by_gap", "plot_priority_sort", "read_order_fits", "write_location_fits"]


def _test_errors(task: Any, model: Any) -> list[GapErrors]:
    """``errors_by_gap`` over ``task``'s whole test set (the output thresholded at 0.5)."""
    n, width = task.config.num_inputs, task.config.width
    priorities, wrong = [], []
    with torch.no_grad():
        for batch in task.eval_batches("test", 500):
            logits = model(batch.inputs).logits[:, n + 1:]
            wrong.append(wrong_bits(logits, batch.targets[:, n + 1:]).cpu())
            priorities.append(batch.inputs[:, :n, width].cpu())
    return errors_by_gap(torch.cat(priorities), torch.cat(wrong))


def plot_priority_sort(task: Any, model: Any, path: Path, *, sequences: int = 100,
                       title: str = "") -> list[Path]:
    """Draw the paper's Figure 17 for ``model`` on ``task``'s test set and write the fits.

    Top, for the first test sequence: over the output steps the weighting of the read head that
    most often fetches the right vector (``read_order_fits``), and for the write head that
    stored what it fetches (``ReadFit.writer``; for a model that traces no reads, or reads only
    unwritten slots, ``drawn_head`` of the fits over the vectors the task outputs) the write
    locations its Theil-Sen line predicts and its observed write weighting over the input
    steps. Bottom: location against priority for every write of ``sequences`` test sequences
    (the vectors left out of the output in grey), with both lines. ``path`` with ``.json``
    gets every head's ``WriteFit`` over all writes (``fits``, as the paper fits) and over the
    output vectors' (``fits_output``), every read head's ``ReadFit`` (``reads``), the heads
    drawn (``drawn``), and ``errors_by_gap`` over the whole test set.

    Returns:
        The written paths (PNG and JSON); none when the model traces no write weightings.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = task.config.num_inputs
    batch = next(iter(task.eval_batches("test", sequences)))
    inputs = batch.inputs[:sequences]
    with torch.no_grad():
        trace = model(inputs, trace=True).trace
    writes = getattr(trace, "write_weightings", None)
    if writes is None:
        return []
    writes = with_head_axis(writes)[:, :n].detach().cpu()
    priorities = inputs[:, :n, task.config.width].cpu()
    output = torch.zeros(priorities.shape, dtype=torch.bool)
    top = priorities.argsort(dim=1, descending=True)[:, :task.config.num_outputs]
    output.scatter_(1, top, True)  # the vectors the task outputs
    fits = write_location_fits(priorities, writes)
    fits_output = write_location_fits(priorities, writes, output)
    reads = getattr(trace, "read_weightings", None)
    read_fits: list[ReadFit] = []
    if reads is not None:
        reads = with_head_axis(reads)[:, n:].detach().cpu()
        read_fits = read_order_fits(priorities, writes, reads)
        reader = max(read_fits, key=lambda f: (f.fetched, f.focus))
    # the head that stored what the best reader fetches; without reads, the best placing head
    best = fits_output[reader.writer] if read_fits and reader.writer >= 0 else drawn_head(
        fits_output)
    locations, _ = mean_locations(writes[:, :, best.head].double())

    fig, axes = plt.subplots(2, 3, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 1.1]})
    slots = writes.shape[-1]
    observed = torch.roll(writes[0, :, best.head], -best.cut, dims=-1).T.float()
    predicted = torch.zeros(slots, n)
    spots = (best.robust_slope * priorities[0] + best.robust_intercept).round().long()
    spots = spots.clamp(0, slots - 1)
    predicted[spots, torch.arange(n)] = 1.0
    images = [(axes[0, 0], predicted, "write locations the Theil-Sen line predicts",
               "input step"),
              (axes[0, 1], observed, f"write weighting, head {best.head}", "input step")]
    if read_fits:
        after = reads[0, 1:, reader.head]
        images.append((axes[0, 2], torch.roll(after, -best.cut, dims=-1).T.float(),
                       f"read weighting, head {reader.head}: {100 * reader.fetched:.0f}% of "
                       "reads fetch the right vector", "output step"))
    else:
        axes[0, 2].axis("off")
    used = torch.cat([image for _, image, _, _ in images], 1)
    rows = (used > 0.05 * float(used.max())).any(1).nonzero().flatten()
    low, high = max(0, int(rows.min()) - 2), min(slots, int(rows.max()) + 3)
    for ax, image, name, xlabel in images:
        ax.imshow(image[low:high].numpy(), aspect="auto", cmap="gray_r", vmin=0, vmax=1,
                  extent=(-0.5, image.shape[1] - 0.5, high - 0.5, low - 0.5),
                  interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
    axes[0, 0].set_ylabel(f"location (memory cut at slot {best.cut})", fontsize=8)
    grid = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    scatter = fig.add_subplot(grid[1, :])
    for chosen, colour, label in ((output, "C0", "output vectors"), (~output, "0.6", "left out")):
        scatter.scatter(priorities[chosen].numpy(), locations[chosen].numpy(), s=4, alpha=0.4,
                        color=colour, label=label)
    line = torch.tensor([-1.0, 1.0])
    scatter.plot(line.numpy(), (best.slope * line + best.intercept).numpy(), color="C3",
                 label=f"head {best.head}, least squares (output vectors): location = "
                       f"{best.slope:.1f} x priority + {best.intercept:.1f}, R^2 = {best.r2:.2f}")
    scatter.plot(line.numpy(), (best.robust_slope * line + best.robust_intercept).numpy(),
                 color="C2", linestyle="--",
                 label=f"Theil-Sen: {best.robust_slope:.1f} x priority + "
                       f"{best.robust_intercept:.1f}; {100 * best.within:.0f}% of the writes "
                       f"within {TOLERANCE:g} slots")
    scatter.set_xlabel("priority", fontsize=8)
    scatter.set_ylabel("mean write location", fontsize=8)
    scatter.set_title(f"every write of {priorities.shape[0]} test sequences; R^2 per head, all "
                      "writes / output vectors': " + ", ".join(
                          f"{a.r2:.2f} / {b.r2:.2f}" for a, b in zip(fits, fits_output)),
                      fontsize=9)
    scatter.legend(fontsize=8)
    fig.suptitle(f"{title}: where the model writes on priority sort (Graves et al. 2014, "
                 "Fig. 17)", fontsize=10)
    fig.tight_layout()
    written = [save_figure(fig, path, dpi=90)]
    summary = path.with_suffix(".json")
    summary.write_text(json.dumps({"sequences": int(priorities.shape[0]),
                                   "fits": [asdict(f) for f in fits],
                                   "fits_output": [asdict(f) for f in fits_output],
                                   "reads": [asdict(f) for f in read_fits],
                                   "drawn": {"write_head": best.head,
                                             "read_head": reader.head if read_fits else None},
                                   "errors_by_gap": [asdict(g) for g in _test_errors(task, model)]},
                                  indent=2) + "\n")
    return [*written, summary]
