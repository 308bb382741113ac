"""Where a memory model writes on priority sort: the NTM paper's Figures 16-17 (Graves et al.
2014, section 4.5).

The paper's hypothesis (Figure 16): the NTM writes each input vector to a location set by its
priority, then reads the locations in order. Its Figure 17 tests it: the write locations
predicted by a linear function of the priorities, fitted to the observed ones, beside the
observed write weightings and the read weightings.

``write_location_fits`` measures it per write head over many test sequences (the location of a
write is the weighting's mean location, on the memory cut open at its least-written slot: the
NTM's shifts wrap around, so a band of written slots may straddle slot 0), with a least-squares
line (the paper's fit) and a Theil-Sen line (robust to the few writes a model dumps far from the
rest, e.g. the vectors it will leave out); ``plot_priority_sort`` draws the paper's three panels
for one sequence and the fit over all of them, and writes the fits as JSON beside the figure.

A model may sort the other way round: write in input order and read by priority.
``read_order_fits`` scores the reads whichever way the sort is done: how often a read head's
strongest slot at output step k holds the k-th ranked vector.

Legend: B sequences, n input vectors, M output vectors, H write heads, R read heads, N memory
locations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.viz.figure import save_figure

__all__ = ["FOCUSED", "TOLERANCE", "ReadFit", "WriteFit", "drawn_head", "plot_priority_sort",
           "read_order_fits", "write_location_fits"]

FOCUSED = 0.25
"""The least ``WriteFit.focus`` of a head ``drawn_head`` picks: a quarter of a write's weight on
one slot (an unfocused head's mean location moves little whatever its weighting does)."""
TOLERANCE = 2.0
"""Slots from the Theil-Sen line within which a write counts as on it (``WriteFit.within``)."""


@dataclass(frozen=True)
class WriteFit:
    """A least-squares line ``location = slope * priority + intercept`` for one write head.

    Attributes:
        head: the write head.
        slope: locations per unit of priority (priorities lie in [-1, 1]).
        intercept: the location at priority 0, on the cut memory (``cut`` is location 0).
        r2: the fraction of the locations' variance the line explains (1: writes placed by
            priority alone; near 0: unrelated).
        cut: the least-written slot, where the circular memory is cut open.
        focus: the mean largest weight of a write (1: one slot; 1/N: spread evenly).
        robust_slope, robust_intercept: the Theil-Sen line (Sen 1968: the median of the
            pairwise slopes), which a few writes dumped far away do not pull as they pull the
            least-squares line.
        within: the fraction of the writes within ``TOLERANCE`` slots of the Theil-Sen line.
    """

    head: int
    slope: float
    intercept: float
    r2: float
    cut: int
    focus: float
    robust_slope: float
    robust_intercept: float
    within: float


@dataclass(frozen=True)
class ReadFit:
    """How often one read head fetches the vector each output step needs.

    Attributes:
        head: the read head.
        lag: 0 when output step k's own read is scored; 1 when the read of the step before (its
            read vector reaches the controller, hence step k's output, a step later), whichever
            fetches more.
        fetched: the fraction of output steps whose read's strongest slot is owned by the
            vector of that rank (the input that wrote to the slot most, any write head); 1 for a
            head that reads in sorted order, whether the writes or the reads did the sorting.
        focus: the mean largest weight of a read.
        writer: the write head that wrote most of the slots this head reads (the one that
            stored what it fetches); -1 when it reads only slots no input wrote.
    """

    head: int
    lag: int
    fetched: float
    focus: float
    writer: int


def _heads(weightings: Tensor) -> Tensor:
    """``weightings`` with a head axis: ``(B, T, N)`` -> ``(B, T, 1, N)``."""
    return weightings if weightings.dim() == 4 else weightings.unsqueeze(2)


def read_order_fits(priorities: Tensor, write_weightings: Tensor,
                    read_weightings: Tensor) -> list[ReadFit]:
    """Score each read head's reads during the output against the sorted order.

    A slot is owned by the input vector that wrote to it most strongly (erasures are not
    traced, so a slot written twice belongs to its stronger write); a slot no input wrote to
    with more than a uniform weighting's 1/N is owned by none.

    Args:
        priorities: ``(B, n)`` each input vector's priority.
        write_weightings: ``(B, n, H, N)`` or ``(B, n, N)``, the writes at the input steps.
        read_weightings: ``(B, M + 1, R, N)`` or ``(B, M + 1, N)``, the reads at the delimiter
            step and the M output steps.

    Returns:
        One ``ReadFit`` per read head, in head order.

    Raises:
        ValueError: the shapes disagree.
    """
    writes, reads = _heads(write_weightings.detach()), _heads(read_weightings.detach())
    b, n = priorities.shape
    outputs = reads.shape[1] - 1
    if writes.shape[:2] != (b, n) or reads.shape[0] != b or not 0 < outputs <= n or (
            reads.shape[-1] != writes.shape[-1]):
        raise ValueError(f"write_weightings {tuple(write_weightings.shape)} and read_weightings "
                         f"{tuple(read_weightings.shape)} must be (B, n, H, N) and "
                         f"(B, M + 1, R, N), M <= n, for priorities {tuple(priorities.shape)}")
    strongest, by_head = writes.max(2)  # (B, n, N): each input's strongest write to each slot
    owner = strongest.argmax(1)  # (B, N): the input that wrote to each slot most
    owner_head = by_head.gather(1, owner[:, None]).squeeze(1)  # (B, N): with which write head
    unwritten = strongest.amax(1) <= 1.0 / writes.shape[-1]  # no more than a uniform share
    owner[unwritten], owner_head[unwritten] = -1, -1
    ranked = priorities.argsort(dim=1, descending=True)[:, :outputs]  # (B, M)
    fits = []
    for head in range(reads.shape[2]):
        read = [reads[:, 1 - lag:reads.shape[1] - lag, head].argmax(-1) for lag in (0, 1)]
        scores = [float((owner.gather(1, slots) == ranked).double().mean()) for slots in read]
        lag = int(scores[1] > scores[0])  # read slots (B, M) of each lag, the better one
        focus = float(reads[:, 1:, head].max(-1).values.double().mean())
        writers = owner_head.gather(1, read[lag])
        writers = writers[writers >= 0]
        writer = int(torch.bincount(writers).argmax()) if writers.numel() else -1
        fits.append(ReadFit(head, lag, scores[lag], focus, writer))
    return fits


def _theil_sen(x: Tensor, y: Tensor, limit: int = 2000) -> tuple[float, float]:
    """The median pairwise slope of the points ``(x, y)`` and the median intercept under it; at
    most ``limit`` evenly spaced points (the pairs grow as the square)."""
    if x.numel() > limit:
        pick = torch.linspace(0, x.numel() - 1, limit).long()
        x, y = x[pick], y[pick]
    i, j = torch.triu_indices(x.numel(), x.numel(), 1)
    dx = x[j] - x[i]
    valid = dx != 0
    if not bool(valid.any()):
        return 0.0, float(y.median())
    slope = float(((y[j] - y[i])[valid] / dx[valid]).median())
    return slope, float((y - slope * x).median())


def _locations(weightings: Tensor) -> tuple[Tensor, int]:
    """``(B, n)`` mean write location of ``weightings`` ``(B, n, N)`` on the memory cut open at
    its least-written slot, and that slot."""
    cut = int(weightings.sum((0, 1)).argmin())
    cut_open = torch.roll(weightings, -cut, dims=-1)
    slots = torch.arange(weightings.shape[-1], dtype=weightings.dtype)
    return (cut_open * slots).sum(-1) / cut_open.sum(-1).clamp_min(1e-12), cut


def write_location_fits(priorities: Tensor, write_weightings: Tensor,
                        mask: Tensor | None = None) -> list[WriteFit]:
    """Fit each write head's locations during the input phase to the priorities.

    Args:
        priorities: ``(B, n)`` each input vector's priority.
        write_weightings: ``(B, n, H, N)`` or ``(B, n, N)`` (one head) the write weightings at
            the input steps.
        mask: ``(B, n)`` bool, the writes to fit (e.g. of the vectors the task outputs); all
            when None. The cut is found from every write.

    Returns:
        One ``WriteFit`` per head, in head order.

    Raises:
        ValueError: the shapes disagree, or fewer than two writes to fit.
    """
    weights = write_weightings.detach().double()
    if weights.dim() == 3:
        weights = weights.unsqueeze(2)
    if weights.dim() != 4 or weights.shape[:2] != priorities.shape:
        raise ValueError(f"write_weightings {tuple(write_weightings.shape)} must be (B, n, H, N) "
                         f"with (B, n) = priorities' {tuple(priorities.shape)}")
    keep = torch.ones(priorities.shape, dtype=torch.bool) if mask is None else mask.bool()
    if keep.shape != priorities.shape or int(keep.sum()) < 2:
        raise ValueError("a line needs at least two writes (and mask, if given, priorities' "
                         "shape)")
    x = priorities.detach().double()[keep]
    design = torch.stack([x, torch.ones_like(x)], 1)
    fits = []
    for head in range(weights.shape[2]):
        locations, cut = _locations(weights[:, :, head])
        y = locations[keep]
        slope, intercept = torch.linalg.lstsq(design, y[:, None]).solution.flatten().tolist()
        residual = float(((y - design @ torch.tensor([slope, intercept],
                                                     dtype=torch.float64)) ** 2).sum())
        spread = float(((y - y.mean()) ** 2).sum())
        robust_slope, robust_intercept = _theil_sen(x, y)
        near = (y - robust_slope * x - robust_intercept).abs() <= TOLERANCE
        fits.append(WriteFit(head, slope, intercept, 1.0 - residual / spread if spread else 0.0,
                             cut, float(weights[:, :, head][keep].max(-1).values.mean()),
                             robust_slope, robust_intercept, float(near.double().mean())))
    return fits


def drawn_head(fits: list[WriteFit]) -> WriteFit:
    """The head whose writes the priorities explain best (highest R^2) among those that place
    their writes (``focus`` at least ``FOCUSED``; all when none does): a nearly uniform
    weighting has a mean location that tracks anything a little."""
    placing = [f for f in fits if f.focus >= FOCUSED] or fits
    return max(placing, key=lambda f: f.r2)


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
    output vectors' (``fits_output``), every read head's ``ReadFit`` (``reads``), and the heads
    drawn (``drawn``).

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
    writes = _heads(writes)[:, :n].detach().cpu()
    priorities = inputs[:, :n, task.config.width].cpu()
    output = torch.zeros(priorities.shape, dtype=torch.bool)
    top = priorities.argsort(dim=1, descending=True)[:, :task.config.num_outputs]
    output.scatter_(1, top, True)  # the vectors the task outputs
    fits = write_location_fits(priorities, writes)
    fits_output = write_location_fits(priorities, writes, output)
    reads = getattr(trace, "read_weightings", None)
    read_fits: list[ReadFit] = []
    if reads is not None:
        reads = _heads(reads)[:, n:].detach().cpu()
        read_fits = read_order_fits(priorities, writes, reads)
        reader = max(read_fits, key=lambda f: (f.fetched, f.focus))
    # the head that stored what the best reader fetches; without reads, the best placing head
    best = fits_output[reader.writer] if read_fits and reader.writer >= 0 else drawn_head(
        fits_output)
    locations, _ = _locations(writes[:, :, best.head].double())

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
                                             "read_head": reader.head if read_fits else None}},
                                  indent=2) + "\n")
    return [*written, summary]
