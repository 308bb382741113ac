"""Pointer tasks: sorting numbers, planar convex hulls and small travelling-salesman instances.

Vinyals, Fortunato & Jaitly 2015, "Pointer Networks" (NIPS 2015, arXiv 1506.03134), section 4:
the answer is a sequence of *positions in the input*, so the output dictionary grows with the
input. Three tasks, each with an exact solver that makes the targets:

============  ==========================  ================================================
name          input (B, N, D)             target (B, T) of input positions
============  ==========================  ================================================
sort          n numbers U[0, 1], D = 1    the permutation sorting them ascending, T = n
convex-hull   n points U[0, 1]^2, D = 2   the hull's vertices counter-clockwise from the
                                          lowest index (section 4.2), then END, T <= n + 1
tsp           n cities U[0, 1]^2, D = 2   the shortest closed tour from city 0,
                                          counter-clockwise like the hull (brute force,
                                          n <= 8), T = n
============  ==========================  ================================================

The hull is computed by Andrew's monotone chain (A. M. Andrew 1979, "Another efficient
algorithm for convex hulls in two dimensions"); points on a hull edge but not at a corner are
not vertices. The paper's TSP targets for n <= 20 came from the Held-Karp algorithm and for
larger n from approximate solvers (section 4.3); here brute force over the (n-1)!/2 tours is
exact and fast up to n = 8 (2,520 tours), vectorised over instances.

Examples have a fixed n, or with ``n_max`` each draws n uniformly from ``n..n_max`` (the paper
trained on n = 5-50); shorter ones are padded to N = ``n_max`` points. A batch holds::

    inputs  = {"points": (B, N, D) float, "point_mask": (B, N) bool, "targets": (B, T) long}
    targets = (B, T) long input positions (END = N for the hull), mask (B, T) bool

``inputs["targets"]`` is the same tensor as ``targets``: the model feeds it back to itself as the
decoder's input (teacher forcing, training and the evaluation loss) and must not read it when it
decodes. Splits are fixed by ``split_seed`` and generated once, in memory (the training split
lazily, when first read).

Metrics (``metrics`` returns sums, ``finalize_metrics`` turns the valid-only ones into means over
valid predictions), from the model's greedy (or beam) decoding in ``output.trace.tokens``:

- all: ``loss`` (teacher-forced NLL per sequence, nats), ``error`` (fraction not exactly right);
- sort: ``position_accuracy`` (fraction of output positions right);
- convex-hull: ``error`` counts a hull right when the predicted vertex cycle equals the true one
  up to the starting vertex (same orientation), the paper's "accuracy" being exact match;
  ``failure`` (fraction of predictions that are not a simple polygon: fewer than 3 vertices,
  zero area or crossing edges), ``area_coverage`` (area of the predicted polygon / area of the
  true hull, mean over the valid predictions; the paper's "area covered");
- tsp: ``tour_length`` (mean over valid tours: each city once), ``optimal_length`` (mean over the
  same instances), ``length_ratio`` (mean predicted / optimal over valid tours), ``failure``
  (invalid tours), ``error`` (tours longer than optimal, invalid ones included).

Legend: B batch, N points (padded), D coordinates, T target length, K = N (+ 1 END) positions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import ClassVar

import numpy as np
import torch

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, invalid, ordered

__all__ = [
    "ConvexHullConfig",
    "ConvexHullTask",
    "PointerSpec",
    "PointerTask",
    "SortConfig",
    "SortTask",
    "TSPConfig",
    "TSPTask",
    "canonical_tour",
    "convex_hull",
    "hull_matches",
    "is_simple_polygon",
    "optimal_tours",
    "polygon_area",
    "tour_lengths",
]

POINTER_TASKS = ("sort", "convex-hull", "tsp")
TSP_MAX_N = 8
"""Brute force enumerates (n-1)!/2 tours: 2,520 at n = 8, ten times more at 9."""


# -- exact solvers and geometry ----------------------------------------------------------------
def _cross(o: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    """z of (a - o) x (b - o): > 0 when o -> a -> b turns counter-clockwise."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: np.ndarray | Sequence[Sequence[float]]) -> list[int]:
    """Indices of the convex hull's vertices, counter-clockwise, starting at the lowest index.

    Andrew's monotone chain: sort by (x, y), build the lower and upper chains, popping every
    point that does not make a strict left turn, so points inside an edge are not vertices.

    Args:
        points: ``(n, 2)`` coordinates (distinct points).

    Returns:
        The vertex indices (all of them for n <= 2; the two ends when every point is collinear).
    """
    pts = np.asarray(points, dtype=np.float64).tolist()
    n = len(pts)
    if n <= 2:
        return list(range(n))
    order = sorted(range(n), key=lambda i: (pts[i][0], pts[i][1]))
    lower: list[int] = []
    for i in order:
        while len(lower) >= 2 and _cross(pts[lower[-2]], pts[lower[-1]], pts[i]) <= 0:
            lower.pop()
        lower.append(i)
    upper: list[int] = []
    for i in reversed(order):
        while len(upper) >= 2 and _cross(pts[upper[-2]], pts[upper[-1]], pts[i]) <= 0:
            upper.pop()
        upper.append(i)
    hull = lower[:-1] + upper[:-1]
    if len(hull) < 2:  # all points equal
        return hull[:1]
    first = hull.index(min(hull))
    return hull[first:] + hull[:first]


def polygon_area(points: np.ndarray) -> float:
    """Signed area of the polygon ``points`` ``(m, 2)`` in order (shoelace): > 0 when CCW."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:
    """Collinear point r lies within the bounding box of segment p-q."""
    return bool(min(p[0], q[0]) <= r[0] <= max(p[0], q[0])
                and min(p[1], q[1]) <= r[1] <= max(p[1], q[1]))


def _segments_meet(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Closed segments p1-p2 and q1-q2 share a point (crossing, touching or overlapping)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return ((d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
            or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2)))


def is_simple_polygon(points: np.ndarray) -> bool:
    """Whether the closed polygon ``points`` ``(m, 2)`` is simple (either orientation).

    Simple: at least 3 vertices, non-zero area, no two non-adjacent edges meeting, and no
    adjacent edges folding back onto each other.
    """
    m = len(points)
    if m < 3 or polygon_area(points) == 0.0:
        return False
    for i in range(m):
        a, b, c = points[i], points[(i + 1) % m], points[(i + 2) % m]
        # a fold: b -> c goes back along a -> b
        if _cross(a, b, c) == 0 and float(np.dot(a - b, c - b)) > 0:
            return False
    for i in range(m):
        for j in range(i + 2, m):
            if i == 0 and j == m - 1:
                continue  # the closing edge is adjacent to the first
            if _segments_meet(points[i], points[(i + 1) % m], points[j], points[(j + 1) % m]):
                return False
    return True


def hull_matches(predicted: Sequence[int], true: Sequence[int]) -> bool:
    """Whether ``predicted`` is the vertex cycle ``true`` started at any vertex (same direction)."""
    if len(predicted) != len(true) or not true:
        return False
    predicted, true = list(predicted), list(true)
    if predicted[0] not in true:
        return False
    at = true.index(predicted[0])
    return predicted == true[at:] + true[:at]


@cache
def _tour_table(n: int) -> np.ndarray:
    """Every tour of n cities from city 0, one per direction: ``(n-1)!/2 (or 1), n`` int64."""
    if n <= 3:
        return np.arange(n, dtype=np.int64)[None, :]
    rows = [(0, *p) for p in itertools.permutations(range(1, n)) if p[0] < p[-1]]
    return np.asarray(rows, dtype=np.int64)


def tour_lengths(points: np.ndarray, tours: np.ndarray) -> np.ndarray:
    """Closed-tour lengths ``(S,)`` of ``tours`` ``(S, n)`` over ``points`` ``(S, n, 2)``."""
    ordered = np.take_along_axis(points, tours[..., None], axis=1)
    steps = ordered - np.roll(ordered, -1, axis=1)
    return np.sqrt((steps**2).sum(-1)).sum(-1)


def optimal_tours(points: np.ndarray, chunk_elements: int = 4_000_000) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """The shortest closed tour of each instance by brute force over every tour.

    Args:
        points: ``(S, n, 2)`` city coordinates, n <= 8.
        chunk_elements: instances are solved in chunks of about this many (instance, tour,
            edge) lengths, which bounds the memory.

    Returns:
        ``tours (S, n)`` int64 in canonical form (``canonical_tour``), ``lengths (S,)``.
        Among tours of equal length the first in ``itertools.permutations`` order wins.

    Raises:
        UserError: n above ``TSP_MAX_N``.
    """
    s, n, _ = points.shape
    if n > TSP_MAX_N:
        raise UserError(f"tsp: brute force is limited to n <= {TSP_MAX_N} (got {n})")
    table = _tour_table(n)  # (P, n)
    nxt = np.roll(table, -1, axis=1)
    per_chunk = max(1, chunk_elements // (table.size))
    tours = np.empty((s, n), dtype=np.int64)
    lengths = np.empty(s, dtype=np.float64)
    for first in range(0, s, per_chunk):
        pts = points[first : first + per_chunk].astype(np.float64)
        dist = np.sqrt(((pts[:, :, None, :] - pts[:, None, :, :]) ** 2).sum(-1))  # (c, n, n)
        total = dist[:, table, nxt].sum(-1)  # (c, P)
        best = total.argmin(1)
        tours[first : first + len(pts)] = table[best]
        lengths[first : first + len(pts)] = total[np.arange(len(pts)), best]
    # the table holds one direction per tour; turn the clockwise ones round
    ordered = np.take_along_axis(points, tours[..., None], axis=1)
    x, y = ordered[..., 0], ordered[..., 1]
    area = (x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)
    flip = area < 0
    tours[flip, 1:] = tours[flip, 1:][:, ::-1]
    return tours, lengths


def canonical_tour(tour: Sequence[int], points: np.ndarray) -> list[int]:
    """The same closed tour started at its lowest city and run counter-clockwise.

    A tour and its reverse have the same length, so the targets fix one: counter-clockwise, the
    hull's convention (an optimal Euclidean tour never crosses itself, so its orientation is the
    sign of its area). A tour with zero area (collinear cities) runs towards the lower of its
    first city's two neighbours.

    Args:
        tour: city indices, each once.
        points: ``(n, 2)`` city coordinates.
    """
    tour = list(tour)
    if len(tour) < 3:
        return sorted(tour)
    at = tour.index(min(tour))
    tour = tour[at:] + tour[:at]
    area = polygon_area(np.asarray(points, dtype=np.float64)[tour])
    if area < 0 or (area == 0 and tour[1] > tour[-1]):
        tour = [tour[0], *reversed(tour[1:])]
    return tour


# -- configs and data --------------------------------------------------------------------------
@dataclass(frozen=True)
class _PointerConfig(Validated):
    """Pointer task settings (shared fields).

    Attributes:
        n: points per example (the fewest, with ``n_max``).
        n_max: None for a fixed n; else each example draws n uniformly from ``n..n_max``.
        train_size: fixed training examples (the paper: 1M).
        valid_size: validation examples (evaluated every epoch, with decoding).
        test_size: test examples.
        split_seed: seed of the fixed splits.
    """

    n: int = 5
    n_max: int | None = None
    train_size: int = field(default=100_000, metadata=at_least(1))
    valid_size: int = field(default=1_000, metadata=at_least(1))
    test_size: int = field(default=10_000, metadata=at_least(1))
    split_seed: int = 1506

    min_n: ClassVar[int] = 2
    max_n: ClassVar[int | None] = None
    label: ClassVar[str] = "pointer"

    @property
    def largest(self) -> int:
        """N, the most points of an example."""
        return self.n if self.n_max is None else self.n_max

    def check(self) -> None:
        if self.n < self.min_n:
            raise invalid(self, "n", f"must be >= {self.min_n} for {self.label}")
        ordered(self, "n", "n_max")
        if self.max_n is not None and self.largest > self.max_n:
            raise invalid(self, "n_max" if self.n_max is not None else "n",
                          f"must be <= {self.max_n} for {self.label}, the brute-force limit")


@dataclass(frozen=True)
class SortConfig(_PointerConfig):
    """Sorting n numbers drawn from U[0, 1] (Vinyals et al. 2015, section 1: sorting variable
    sized sequences); fields as ``_PointerConfig``."""

    label: ClassVar[str] = "sort"


@dataclass(frozen=True)
class ConvexHullConfig(_PointerConfig):
    """Planar convex hull of n points in the unit square (Vinyals et al. 2015, section 4.2)."""

    min_n: ClassVar[int] = 3
    label: ClassVar[str] = "convex-hull"


@dataclass(frozen=True)
class TSPConfig(_PointerConfig):
    """Planar symmetric TSP on n <= 8 cities in the unit square (Vinyals et al. 2015, section
    4.3), optimal tours by brute force."""

    min_n: ClassVar[int] = 3
    max_n: ClassVar[int | None] = TSP_MAX_N
    label: ClassVar[str] = "tsp"


@dataclass(frozen=True)
class PointerSpec:
    """What a pointer model needs.

    Attributes:
        input_dim: D, coordinates per point.
        max_points: N, the padded number of points; END's position when ``end_token``.
        end_token: the output ends with END (the hull), else after exactly n pointers.
        max_output: T, the longest target.
    """

    input_dim: int
    max_points: int
    end_token: bool
    max_output: int


@dataclass(frozen=True)
class PointerData:
    """A whole split: points ``(S, N, D)``, point_mask ``(S, N)``, targets and target_mask
    ``(S, T)``."""

    points: torch.Tensor
    point_mask: torch.Tensor
    targets: torch.Tensor
    target_mask: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    def batch(self, index: torch.Tensor | slice) -> Batch:
        """The examples ``index`` as a ``Batch`` (see the module docstring)."""
        targets = self.targets[index]
        inputs = {"points": self.points[index], "point_mask": self.point_mask[index],
                  "targets": targets}
        return Batch(inputs, targets, self.target_mask[index])


class PointerTask:
    """A pointer task over fixed splits (a ``DatasetTask``); subclasses give the solver.

    Raises:
        UserError: a bad config field, or an unknown split in ``eval_batches``.
    """

    name: ClassVar[str] = "pointer"
    selection_metric: ClassVar[str] = "error"
    input_dim: ClassVar[int] = 2
    end_token: ClassVar[bool] = False
    _VALID_ONLY: ClassVar[tuple[str, ...]] = ()
    """Metrics averaged over valid predictions only (``finalize_metrics``)."""

    def __init__(self, config: _PointerConfig) -> None:
        config.validate()
        self.config = config
        n_max = config.largest
        self.spec = PointerSpec(self.input_dim, n_max, self.end_token,
                                n_max + int(self.end_token))
        self.info = TaskInfo(
            kind="dataset", inputs="structured", input_size=self.input_dim,
            outputs="structured", output_size=n_max + int(self.end_token), readout="none",
            metric=self.selection_metric, unit="" if self.selection_metric != "error" else "%",
            percent=self.selection_metric == "error", selection_metric=self.selection_metric,
            family="pointer", source="Vinyals et al. 2015")
        self._splits: dict[str, PointerData] = {}
        self._sizes = {"train": config.train_size, "valid": config.valid_size,
                       "test": config.test_size}

    # -- data ----------------------------------------------------------------------------------
    def solve(self, points: np.ndarray) -> list[list[int]]:
        """Target position sequences for ``points`` ``(S, n, D)`` of one n (END included)."""
        raise NotImplementedError

    def generate(self, size: int, rng: np.random.Generator) -> PointerData:
        """``size`` examples drawn with ``rng`` and solved exactly."""
        cfg = self.config
        n_max, t_max = self.spec.max_points, self.spec.max_output
        counts = (np.full(size, cfg.n) if cfg.n_max is None
                  else rng.integers(cfg.n, cfg.n_max + 1, size=size))
        points = rng.random((size, n_max, self.input_dim))
        point_mask = np.arange(n_max)[None, :] < counts[:, None]
        points[~point_mask] = 0.0
        targets = np.zeros((size, t_max), dtype=np.int64)
        target_mask = np.zeros((size, t_max), dtype=bool)
        for n in np.unique(counts):
            rows = np.flatnonzero(counts == n)
            for row, seq in zip(rows, self.solve(points[rows, :n]), strict=True):
                targets[row, : len(seq)] = seq
                target_mask[row, : len(seq)] = True
        if self.end_token:  # END is position N whatever the example's own n
            targets[targets == _END_PLACEHOLDER] = n_max
        return PointerData(torch.from_numpy(points).float(), torch.from_numpy(point_mask),
                           torch.from_numpy(targets), torch.from_numpy(target_mask))

    def split(self, name: str) -> PointerData:
        """The fixed split ``train``, ``valid`` or ``test`` (generated on first use)."""
        if name not in self._sizes:
            raise UserError(f"{self.name}: unknown split {name!r}; choose test, train or valid")
        if name not in self._splits:
            which = ("train", "valid", "test").index(name)
            # one generator per split: changing a split's size leaves the others unchanged
            rng = np.random.default_rng([self.config.split_seed, which])
            self._splits[name] = self.generate(self._sizes[name], rng)
        return self._splits[name]

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return self.config.train_size

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training examples ``indices`` ``(B,)``; ``generator`` is unused."""
        return self.split("train").batch(indices.to(dtype=torch.long))

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Batches of ``split`` in order."""
        if batch_size < 1:
            raise UserError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        data = self.split(split)
        for first in range(0, data.size, batch_size):
            yield data.batch(slice(first, first + batch_size))

    # -- loss and metrics ----------------------------------------------------------------------
    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean over sequences of the teacher-forced NLL (nats) of the target positions.

        ``output.logits`` ``(B, T, K)`` are log-probabilities over the K positions.
        """
        nll = _sequence_nll(output.logits, batch)
        loss = nll.mean()
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch (``count``, ``loss``, ``error`` and the task's own).

        Raises:
            ValueError: the output carries no decoded sequences (``output.trace.tokens``).
        """
        tokens = getattr(output.trace, "tokens", None)
        if tokens is None:
            raise ValueError(f"{self.name}: metrics need the model's decoded positions in "
                             "output.trace.tokens (a pointer model decodes in eval mode)")
        nll = _sequence_nll(output.logits.detach().float(), batch)
        sums = {"count": float(batch.size), "loss": float(nll.sum())}
        assert isinstance(batch.inputs, dict)
        sums.update(self.score(tokens.cpu(), batch.inputs["points"].cpu(),
                               batch.inputs["point_mask"].cpu(), batch.targets.cpu(),
                               batch.mask.cpu() if batch.mask is not None else None))
        return sums

    def score(self, tokens: torch.Tensor, points: torch.Tensor, point_mask: torch.Tensor,
              targets: torch.Tensor, target_mask: torch.Tensor | None) -> dict[str, float]:
        """Task metrics (sums) of decoded ``tokens`` ``(B, L)`` (-1 after the end)."""
        raise NotImplementedError

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Turn the valid-only sums (divided by ``count`` by ``reduce_metrics``) into means over
        the ``n_valid`` valid predictions (NaN when there is none)."""
        out = dict(metrics)
        valid = out.get("n_valid")
        for key in self._VALID_ONLY:
            if key in out and valid is not None:
                out[key] = out[key] * out.get("count", 0.0) / valid if valid else math.nan
        return out


_END_PLACEHOLDER = -7  # END before the padded N is known; replaced in ``generate``


def _sequence_nll(log_probs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-sequence NLL ``(B,)`` of ``batch.targets`` under ``log_probs`` ``(B, T, K)``."""
    targets = batch.targets.to(log_probs.device)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = batch.mask.to(log_probs.device) if batch.mask is not None else torch.ones_like(
        targets, dtype=torch.bool)
    # where, not a product: a masked step's log-probability may be hugely negative
    return -torch.where(mask, picked, picked.new_zeros(())).sum(-1)


def _sequences(tokens: torch.Tensor) -> list[list[int]]:
    """Decoded rows ``(B, L)`` as lists, each up to its first -1."""
    out = []
    for row in tokens.tolist():
        seq = []
        for t in row:
            if t < 0:
                break
            seq.append(t)
        out.append(seq)
    return out


@register_task("sort", config=SortConfig, family="pointer",
               summary="point to n numbers from U[0, 1] in ascending order",
               source="Vinyals et al. 2015")
class SortTask(PointerTask):
    """Sort n numbers: point to them from the smallest to the largest."""

    name = "sort"
    input_dim = 1

    def solve(self, points: np.ndarray) -> list[list[int]]:
        return np.argsort(points[..., 0], axis=1, kind="stable").tolist()

    def score(self, tokens: torch.Tensor, points: torch.Tensor, point_mask: torch.Tensor,
              targets: torch.Tensor, target_mask: torch.Tensor | None) -> dict[str, float]:
        mask = point_mask if target_mask is None else target_mask
        length = min(tokens.shape[1], targets.shape[1])
        right = (tokens[:, :length] == targets[:, :length]) & mask[:, :length]
        n = mask.sum(1).clamp(min=1)
        exact = right.sum(1) == mask.sum(1)
        return {"error": float((~exact).sum()),
                "position_accuracy": float((right.sum(1) / n).sum())}


@register_task("convex-hull", config=ConvexHullConfig, family="pointer",
               summary="the convex hull of n points in the unit square, counter-clockwise",
               source="Vinyals et al. 2015, section 4.2")
class ConvexHullTask(PointerTask):
    """Planar convex hull: the hull's vertices counter-clockwise from the lowest index, END."""

    name = "convex-hull"
    end_token = True
    _VALID_ONLY = ("area_coverage",)

    def solve(self, points: np.ndarray) -> list[list[int]]:
        return [[*convex_hull(p), _END_PLACEHOLDER] for p in points]

    def score(self, tokens: torch.Tensor, points: torch.Tensor, point_mask: torch.Tensor,
              targets: torch.Tensor, target_mask: torch.Tensor | None) -> dict[str, float]:
        end = self.spec.max_points
        pts = points.double().numpy()
        wrong = failures = 0
        area = 0.0
        for i, (pred, true) in enumerate(zip(_sequences(tokens), targets.tolist(), strict=True)):
            hull = true[: true.index(end)]
            pred = pred[: pred.index(end)] if end in pred else pred
            wrong += not hull_matches(pred, hull)
            if len(set(pred)) != len(pred) or not is_simple_polygon(pts[i, pred]):
                failures += 1
                continue
            area += abs(polygon_area(pts[i, pred])) / abs(polygon_area(pts[i, hull]))
        b = len(targets)
        return {"error": float(wrong), "failure": float(failures), "area_coverage": area,
                "n_valid": float(b - failures)}


@register_task("tsp", config=TSPConfig, family="pointer",
               summary="the optimal tour of n <= 8 cities in the unit square",
               source="Vinyals et al. 2015, section 4.3")
class TSPTask(PointerTask):
    """Travelling salesman: the shortest closed tour through every city, from city 0."""

    name = "tsp"
    selection_metric = "length_ratio"
    _VALID_ONLY = ("tour_length", "optimal_length", "length_ratio")

    def solve(self, points: np.ndarray) -> list[list[int]]:
        tours, _ = optimal_tours(points)
        return tours.tolist()

    def score(self, tokens: torch.Tensor, points: torch.Tensor, point_mask: torch.Tensor,
              targets: torch.Tensor, target_mask: torch.Tensor | None) -> dict[str, float]:
        pts = points.double().numpy()
        counts = point_mask.sum(1).tolist()
        predicted, optimal, ratio = 0.0, 0.0, 0.0
        failures = longer = 0
        for i, (pred, n) in enumerate(zip(_sequences(tokens), counts, strict=True)):
            best = float(tour_lengths(pts[i : i + 1, :n], targets[i : i + 1, :n].numpy())[0])
            if sorted(pred) != list(range(n)):
                failures += 1
                longer += 1
                continue
            length = float(tour_lengths(pts[i : i + 1, :n], np.asarray([pred]))[0])
            predicted += length
            optimal += best
            ratio += length / best
            longer += length > best * (1 + 1e-9)
        b = len(counts)
        return {"tour_length": predicted, "optimal_length": optimal, "length_ratio": ratio,
                "failure": float(failures), "error": float(longer),
                "n_valid": float(b - failures)}

