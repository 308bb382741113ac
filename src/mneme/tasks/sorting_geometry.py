"""The planar geometry of the pointer tasks: convex hulls, polygon area and simplicity.

``convex_hull`` makes the convex-hull task's targets (Andrew's monotone chain);
``hull_matches``, ``is_simple_polygon`` and ``polygon_area`` score its predictions. The tasks are
in ``mneme.tasks.sorting``, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "convex_hull",
    "hull_matches",
    "is_simple_polygon",
    "polygon_area",
]


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
