"""Exact travelling-salesman tours by brute force, the TSP task's targets.

Every tour from city 0 is enumerated once per direction (``(n-1)!/2`` of them, n <= ``TSP_MAX_N``)
and the shortest is kept, vectorised over instances; ``canonical_tour`` fixes which of a tour's
two directions is the target. The task is in ``mneme.tasks.sorting``, which re-exports these
names.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from mneme.errors import UserError
from mneme.tasks.sorting_geometry import polygon_area

__all__ = [
    "canonical_tour",
    "optimal_tours",
    "tour_lengths",
]

TSP_MAX_N = 8
"""Brute force enumerates (n-1)!/2 tours: 2,520 at n = 8, ten times more at 9."""


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
