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
                                          counter-clockwise like the hull (exact,
                                          n <= 12), T = n
============  ==========================  ================================================

The hull is computed by Andrew's monotone chain (A. M. Andrew 1979, "Another efficient
algorithm for convex hulls in two dimensions"); points on a hull edge but not at a corner are
not vertices. The paper's TSP targets for n <= 20 came from the Held-Karp algorithm and for
larger n from approximate solvers (section 4.3); here brute force over the (n-1)!/2 tours up
to n = 8 (2,520 tours) and Held-Karp from 9 to 12 cities, both exact and vectorised over
instances.

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

Where it lives: the geometry (``convex_hull``, ``polygon_area``, ...) in
``mneme.tasks.sorting_geometry``; the exact TSP solver (``optimal_tours``: brute force,
Held-Karp) in ``mneme.tasks.sorting_tsp``; the shared config fields, ``PointerSpec`` and the
base class ``PointerTask`` in ``mneme.tasks.sorting_base``; the configurations and the three
tasks here.
Every public name is importable from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from mneme.registry import register_task
from mneme.tasks.sorting_base import (
    _END_PLACEHOLDER,
    PointerSpec,
    PointerTask,
    _PointerConfig,
    _sequences,
)
from mneme.tasks.sorting_base import PointerData as PointerData
from mneme.tasks.sorting_geometry import (
    convex_hull,
    hull_matches,
    is_simple_polygon,
    polygon_area,
)
from mneme.tasks.sorting_tsp import TSP_MAX_N, canonical_tour, optimal_tours, tour_lengths

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
    """Planar symmetric TSP on n <= 12 cities in the unit square (Vinyals et al. 2015, section
    4.3), optimal tours by brute force (n <= 8) or Held-Karp (``optimal_tours``)."""

    min_n: ClassVar[int] = 3
    max_n: ClassVar[int | None] = TSP_MAX_N
    label: ClassVar[str] = "tsp"


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
               summary="the optimal tour of n <= 12 cities in the unit square",
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
