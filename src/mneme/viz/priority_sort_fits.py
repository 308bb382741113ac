"""The measurements behind Figure 17 of the NTM paper (Graves et al. 2014, section 4.5):
where a memory model writes on priority sort, what its reads fetch, and where its errors lie.

``write_location_fits`` fits each write head's locations during the input to the priorities
(the location of a write is the weighting's mean location, on the memory cut open at its
least-written slot: the NTM's shifts wrap around, so a band of written slots may straddle slot 0),
with a least-squares line (the paper's fit) and a Theil-Sen line (robust to the few writes a
model dumps far from the rest, e.g. the vectors it will leave out). A model may also sort the
other way round, writing in input order and reading by priority: ``read_order_fits`` scores the
reads whichever way the sort is done, how often a read head's strongest slot at output step k
holds the k-th ranked vector. ``errors_by_gap`` says where the wrong bits lie: on output vectors
whose priority is close to another's, the resolution of the model's sort.
``mneme.viz.priority_sort`` draws them.

Legend: B sequences, n input vectors, M output vectors, H write heads, R read heads, N memory
locations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["FOCUSED", "GAP_EDGES", "TOLERANCE", "GapErrors", "ReadFit", "WriteFit", "drawn_head",
           "errors_by_gap", "mean_locations", "read_order_fits", "with_head_axis",
           "write_location_fits"]

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


def with_head_axis(weightings: Tensor) -> Tensor:
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
    writes = with_head_axis(write_weightings.detach())
    reads = with_head_axis(read_weightings.detach())
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


GAP_EDGES = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 2.0)
"""Bins of ``errors_by_gap``: the distance from a vector's priority to the nearest other one
(priorities lie in [-1, 1]; 20 of them are on average 0.1 apart)."""


@dataclass(frozen=True)
class GapErrors:
    """The output vectors whose priority lies ``low`` to ``high`` from the nearest other one.

    Attributes:
        low, high: the bin, in units of priority.
        vectors: how many output vectors fall in it.
        wrong_bits: their mean wrong bits (of ``width``).
        share: their share of all the wrong bits (0 when there are none).
    """

    low: float
    high: float
    vectors: int
    wrong_bits: float
    share: float


def errors_by_gap(priorities: Tensor, wrong_bits: Tensor,
                  edges: tuple[float, ...] = GAP_EDGES) -> list[GapErrors]:
    """Wrong bits of the output vectors by how close their priority is to another input's.

    A sort that places vectors by priority on a grid of slots confuses those closer than a
    slot apart; the bin where the errors stop is the resolution of the model's sort.

    Args:
        priorities: ``(B, n)`` each input vector's priority.
        wrong_bits: ``(B, M)`` the wrong bits of each output step's vector (the k-th highest
            priority's at step k).

    Returns:
        One ``GapErrors`` per bin of ``edges``, in order.

    Raises:
        ValueError: the shapes disagree, or ``n`` < 2 (no other priority to be near).
    """
    b, n = priorities.shape
    if n < 2 or wrong_bits.dim() != 2 or wrong_bits.shape[0] != b or wrong_bits.shape[1] > n:
        raise ValueError(f"wrong_bits {tuple(wrong_bits.shape)} must be (B, M), M <= n, for "
                         f"priorities {tuple(priorities.shape)} with n >= 2")
    p = priorities.detach().double()
    apart = (p[:, :, None] - p[:, None, :]).abs() + torch.eye(n, dtype=p.dtype) * 4.0
    ranked = p.argsort(dim=1, descending=True)[:, :wrong_bits.shape[1]]
    nearest = apart.min(-1).values.gather(1, ranked)  # (B, M)
    wrong = wrong_bits.detach().double()
    total = float(wrong.sum())
    rows = []
    for low, high in itertools.pairwise(edges):
        chosen = (nearest >= low) & (nearest < high)
        count = int(chosen.sum())
        bits = float(wrong[chosen].sum())
        rows.append(GapErrors(low, high, count, bits / count if count else 0.0,
                              bits / total if total else 0.0))
    return rows


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


def mean_locations(weightings: Tensor) -> tuple[Tensor, int]:
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
        locations, cut = mean_locations(weights[:, :, head])
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
