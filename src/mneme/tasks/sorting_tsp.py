"""Exact travelling-salesman tours, the TSP task's targets: brute force up to 8 cities, Held-Karp
dynamic programming above.

Up to ``BRUTE_FORCE_MAX_N`` cities every tour from city 0 is enumerated once per direction
(``(n-1)!/2`` of them) and the shortest is kept; from 9 to ``TSP_MAX_N`` cities Held-Karp's
dynamic programme (Held & Karp 1962: the cheapest path from city 0 through each subset of cities
ending at each city, O(2^n n^2)) finds the optimum, 20,000 instances of 10 cities in ~4 s. Both
are vectorised over instances; ``canonical_tour`` fixes which of a tour's two directions is the
target. The task is in ``mneme.tasks.sorting``, which re-exports these names.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np

from mneme.errors import UserError
from mneme.tasks.sorting_geometry import polygon_area

__all__ = [
    "BRUTE_FORCE_MAX_N",
    "TSP_MAX_N",
    "canonical_tour",
    "optimal_tours",
    "tour_lengths",
]

BRUTE_FORCE_MAX_N = 8
"""Brute force enumerates (n-1)!/2 tours: 2,520 at n = 8, ten times more at 9."""
TSP_MAX_N = 12
"""Held-Karp holds 2^(n-1) (n-1) path costs per instance: 22,528 at n = 12."""


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
    """The shortest closed tour of each instance: brute force over every tour up to
    ``BRUTE_FORCE_MAX_N`` cities, Held-Karp above.

    Args:
        points: ``(S, n, 2)`` city coordinates, n <= ``TSP_MAX_N``.
        chunk_elements: instances are solved in chunks of about this many (instance, tour,
            edge) lengths or (instance, subset, city) path costs, which bounds the memory.

    Returns:
        ``tours (S, n)`` int64 in canonical form (``canonical_tour``), ``lengths (S,)``.
        Among tours of equal length brute force keeps the first in ``itertools.permutations``
        order (Held-Karp another; random cities have no ties).

    Raises:
        UserError: n above ``TSP_MAX_N``.
    """
    s, n, _ = points.shape
    if n > TSP_MAX_N:
        raise UserError(f"tsp: exact tours are limited to n <= {TSP_MAX_N} (got {n})")
    solve = _brute_force if n <= BRUTE_FORCE_MAX_N else _held_karp
    tours = np.empty((s, n), dtype=np.int64)
    lengths = np.empty(s, dtype=np.float64)
    per_chunk = max(1, chunk_elements // (len(_tour_table(n)) * n if n <= BRUTE_FORCE_MAX_N
                                          else 2 ** (n - 1) * n))
    for first in range(0, s, per_chunk):
        pts = points[first : first + per_chunk].astype(np.float64)
        dist = np.sqrt(((pts[:, :, None, :] - pts[:, None, :, :]) ** 2).sum(-1))  # (c, n, n)
        tours[first : first + len(pts)], lengths[first : first + len(pts)] = solve(dist)
    # one direction per tour so far; turn the clockwise ones round
    ordered = np.take_along_axis(points, tours[..., None], axis=1)
    x, y = ordered[..., 0], ordered[..., 1]
    area = (x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)
    flip = area < 0
    tours[flip, 1:] = tours[flip, 1:][:, ::-1]
    return tours, lengths


def _brute_force(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tours ``(c, n)`` from city 0 and their lengths from distances ``(c, n, n)``."""
    table = _tour_table(dist.shape[1])  # (P, n)
    total = dist[:, table, np.roll(table, -1, axis=1)].sum(-1)  # (c, P)
    best = total.argmin(1)
    return table[best], total[np.arange(len(dist)), best]


@cache
def _subsets(m: int) -> list[np.ndarray]:
    """For every subset (bit mask) of m cities, its members' indices."""
    return [np.flatnonzero(mask >> np.arange(m) & 1) for mask in range(1 << m)]


def _held_karp(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Held-Karp on distances ``(c, n, n)``: tours ``(c, n)`` from city 0 and their lengths.

    ``cost[:, S, j]`` is the shortest path from city 0 through the cities of subset S (bit k for
    city k + 1) that ends at city j + 1; subsets are visited in increasing order, so every
    ``S - {j}`` is done before S. ``parent`` keeps each path's previous city for the walk back.
    """
    c, n, _ = dist.shape
    m = n - 1
    between = dist[:, 1:, 1:]  # between[:, k, j]: from city k + 1 to city j + 1
    cost = np.full((c, 1 << m, m), np.inf)
    parent = np.zeros((c, 1 << m, m), dtype=np.int8)
    cost[:, 1 << np.arange(m), np.arange(m)] = dist[:, 0, 1:]
    for mask, members in enumerate(_subsets(m)):
        if len(members) < 2:
            continue
        # (c, |S|, m): arrive at j in S from each k, having visited S - {j} ending at k
        paths = cost[:, mask ^ (1 << members), :] + between[:, :, members].transpose(0, 2, 1)
        best = paths.argmin(-1)
        cost[:, mask, members] = np.take_along_axis(paths, best[..., None], -1)[..., 0]
        parent[:, mask, members] = best
    full = (1 << m) - 1
    closed = cost[:, full, :] + dist[:, 1:, 0]
    last = closed.argmin(-1)
    rows = np.arange(c)
    tours = np.zeros((c, n), dtype=np.int64)
    mask = np.full(c, full)
    for position in range(n - 1, 0, -1):  # walk the parents back from the last city
        tours[:, position] = last + 1
        previous = parent[rows, mask, last].astype(np.int64)
        mask = mask ^ (1 << last)
        last = previous
    return tours, closed[rows, tours[:, -1] - 1]


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
