"""Pointer tasks (Vinyals et al. 2015): exact solvers, targets, metrics on hand-made predictions."""

from __future__ import annotations

import itertools
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mneme.errors import UserError
from mneme.tasks.base import Batch, DatasetTask, ModelOutput, reduce_metrics
from mneme.tasks.sorting import (
    ConvexHullConfig,
    ConvexHullTask,
    SortConfig,
    SortTask,
    TSPConfig,
    TSPTask,
    canonical_tour,
    convex_hull,
    hull_matches,
    is_simple_polygon,
    optimal_tours,
    polygon_area,
    tour_lengths,
)

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


# -- convex hull -------------------------------------------------------------------------------
def test_hull_square_with_interior_point():
    assert convex_hull([*SQUARE, (0.5, 0.5)]) == [0, 1, 2, 3]


def test_hull_starts_at_lowest_index_and_runs_counter_clockwise():
    # indices: 0 (1,1), 1 (0,0), 2 interior, 3 (1,0), 4 (0,1); CCW from (0,0): 1, 3, 0, 4
    points = [(1.0, 1.0), (0.0, 0.0), (0.5, 0.5), (1.0, 0.0), (0.0, 1.0)]
    assert convex_hull(points) == [0, 4, 1, 3]


def test_hull_triangle_and_collinear_points():
    assert convex_hull([(0.0, 0.0), (0.0, 1.0), (1.0, 0.0)]) == [0, 2, 1]
    # (1, 0) lies inside the edge (0,0)-(2,0): not a vertex
    assert convex_hull([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 1.0)]) == [0, 2, 3]
    assert convex_hull([(0.0, 0.0), (2.0, 2.0), (1.0, 1.0)]) == [0, 1]  # a segment


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 12), st.integers(0, 10**6))
def test_hull_is_convex_ccw_and_contains_every_point(n, seed):
    pts = np.random.default_rng(seed).random((n, 2))
    hull = convex_hull(pts)
    assert hull[0] == min(hull) and len(set(hull)) == len(hull) >= 3
    m = len(hull)
    for k in range(m):
        a, b, c = pts[hull[k]], pts[hull[(k + 1) % m]], pts[hull[(k + 2) % m]]
        turn = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        assert turn > 0  # a strict left turn at every vertex
        left = (b[0] - a[0]) * (pts[:, 1] - a[1]) - (b[1] - a[1]) * (pts[:, 0] - a[0])
        assert (left >= -1e-12).all()  # every point on the inner side of every edge
    assert polygon_area(pts[hull]) > 0


def test_polygon_area_and_simplicity():
    sq = np.array(SQUARE)
    assert polygon_area(sq) == 1.0 and polygon_area(sq[::-1]) == -1.0
    assert is_simple_polygon(sq) and is_simple_polygon(sq[::-1])
    assert not is_simple_polygon(sq[[0, 2, 1, 3]])  # a bow tie
    assert not is_simple_polygon(sq[:2])
    assert not is_simple_polygon(np.array([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]))  # no area
    # a spike folding back along an edge: zero-width, touching itself
    assert not is_simple_polygon(np.array([(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (1.0, 1.0)]))


def test_hull_matches_up_to_rotation_only():
    assert hull_matches([2, 3, 0, 1], [0, 1, 2, 3])
    assert not hull_matches([0, 3, 2, 1], [0, 1, 2, 3])  # the other orientation
    assert not hull_matches([0, 1, 2], [0, 1, 2, 3])
    assert not hull_matches([], [])


# -- travelling salesman -----------------------------------------------------------------------
def test_tsp_square_perimeter_and_canonical_direction():
    pts = np.array([[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]])
    tours, lengths = optimal_tours(pts)
    assert tours.tolist() == [[0, 2, 1, 3]]
    assert lengths[0] == pytest.approx(4.0)


def test_tsp_on_a_line_goes_out_and_back():
    pts = np.array([[(0.0, 0.0), (3.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.5, 0.0)]])
    _, lengths = optimal_tours(pts)
    assert lengths[0] == pytest.approx(6.0)


def test_tsp_brute_force_agrees_with_every_permutation():
    pts = np.random.default_rng(3).random((5, 6, 2))
    tours, lengths = optimal_tours(pts, chunk_elements=500)  # several chunks
    for i in range(5):
        best = min(tour_lengths(pts[i : i + 1], np.array([p]))[0]
                   for p in itertools.permutations(range(6)))
        assert lengths[i] == pytest.approx(best)
        assert tour_lengths(pts[i : i + 1], tours[i : i + 1])[0] == pytest.approx(best)
        assert tours[i].tolist() == canonical_tour(tours[i].tolist(), pts[i])


@pytest.mark.parametrize("n", [4, 6, 8])
def test_held_karp_finds_the_brute_force_optimum(n):
    from mneme.tasks.sorting_tsp import _brute_force, _held_karp

    pts = np.random.default_rng(n).random((40, n, 2))
    dist = np.sqrt(((pts[:, :, None] - pts[:, None]) ** 2).sum(-1))
    _, brute = _brute_force(dist)
    tours, lengths = _held_karp(dist)
    np.testing.assert_allclose(lengths, brute)
    np.testing.assert_allclose(tour_lengths(pts, tours), lengths)  # the tours are the lengths'
    assert (np.sort(tours, 1) == np.arange(n)).all() and (tours[:, 0] == 0).all()


def test_tsp_at_10_cities_is_solved_by_held_karp_in_canonical_form():
    pts = np.random.default_rng(0).random((200, 10, 2))
    tours, lengths = optimal_tours(pts, chunk_elements=50_000)  # several chunks
    np.testing.assert_allclose(tour_lengths(pts, tours), lengths)
    assert all(t.tolist() == canonical_tour(t.tolist(), p) for t, p in zip(tours, pts))
    # no 2-opt move shortens an optimal tour
    for tour, p, length in zip(tours[:20], pts[:20], lengths):
        for i, j in itertools.combinations(range(1, 10), 2):
            moved = np.concatenate([tour[:i], tour[i:j + 1][::-1], tour[j + 1:]])
            assert tour_lengths(p[None], moved[None])[0] >= length - 1e-12
    assert 2.6 < lengths.mean() < 3.1  # Vinyals et al.'s optimum at n = 10: 2.87


def test_canonical_tour_starts_at_city_0_counter_clockwise():
    assert canonical_tour([2, 3, 0, 1], SQUARE) == [0, 1, 2, 3]
    assert canonical_tour([1, 0, 3, 2], SQUARE) == [0, 1, 2, 3]  # clockwise: reversed
    line = [(0.0, 0.0), (2.0, 0.0), (1.0, 0.0)]
    assert canonical_tour([0, 2, 1], line) == [0, 1, 2]  # no area: lower neighbour first
    assert canonical_tour([1, 0], SQUARE[:2]) == [0, 1]


def test_tsp_targets_run_counter_clockwise():
    data = TSPTask(TSPConfig(n=6, train_size=1, valid_size=50, test_size=1)).split("valid")
    for pts, tour in zip(data.points.double().numpy(), data.targets.numpy()):
        assert tour[0] == 0 and polygon_area(pts[tour]) > 0


# -- tasks -------------------------------------------------------------------------------------
def test_sort_targets_sort_the_inputs_with_variable_n():
    task = SortTask(SortConfig(n=3, n_max=7, train_size=200, valid_size=50, test_size=50))
    assert isinstance(task, DatasetTask)
    assert task.spec.max_points == 7 and task.spec.input_dim == 1 and not task.spec.end_token
    data = task.split("train")
    counts = data.point_mask.sum(1)
    assert counts.min() >= 3 and counts.max() <= 7 and len(set(counts.tolist())) > 1
    assert torch.equal(data.target_mask.sum(1), counts)
    for x, t, m, n in zip(data.points[..., 0], data.targets, data.target_mask, counts):
        assert (x[n:] == 0).all()
        values = x[t[m]]
        assert sorted(t[m].tolist()) == list(range(n)) and (values[1:] >= values[:-1]).all()


@pytest.mark.parametrize("n, n_max", [(6, None), (4, 7)])
def test_hull_targets_end_with_end_token(n, n_max):
    task = ConvexHullTask(ConvexHullConfig(n=n, n_max=n_max, train_size=10, valid_size=30,
                                           test_size=10))
    data = task.split("valid")
    end = n_max or n
    assert task.spec.end_token and task.spec.max_output == end + 1
    for pts, count, t, m in zip(data.points, data.point_mask.sum(1), data.targets,
                                data.target_mask):
        seq = t[m].tolist()
        assert seq[-1] == end and seq[:-1] == convex_hull(pts[:count].numpy())


def test_splits_are_fixed_and_distinct():
    cfg = TSPConfig(n=5, train_size=20, valid_size=20, test_size=20)
    a, b = TSPTask(cfg), TSPTask(cfg)
    assert torch.equal(a.split("test").points, b.split("test").points)
    assert not torch.equal(a.split("test").points, a.split("valid").points)
    batch = next(a.eval_batches("test", 8))
    assert batch.inputs["points"].shape == (8, 5, 2) and batch.targets.shape == (8, 5)
    assert batch.inputs["targets"] is batch.targets
    assert (batch.targets[:, 0] == 0).all()
    with pytest.raises(UserError, match="unknown split"):
        a.split("dev")


@pytest.mark.parametrize("cfg, message", [
    (SortConfig(n=1), "SortConfig.n must be >= 2 for sort (got 1)"),
    (ConvexHullConfig(n=2), "ConvexHullConfig.n must be >= 3 for convex-hull (got 2)"),
    (TSPConfig(n=5, n_max=13),
     "TSPConfig.n_max must be <= 12 for tsp, the exact solver's limit (got 13)"),
    (TSPConfig(n=13), "TSPConfig.n must be <= 12 for tsp, the exact solver's limit (got 13)"),
    (SortConfig(n=5, n_max=4), "SortConfig.n_max must be >= n = 5 (got 4)"),
    (SortConfig(train_size=0), "SortConfig.train_size must be >= 1 (got 0)"),
])
def test_config_validation_names_the_field(cfg, message):
    with pytest.raises(UserError, match="^" + re.escape(message) + "$"):
        cfg.validate()


# -- loss and metrics on hand-made predictions ---------------------------------------------------
def _batch(points, targets, mask, end=None):
    pts = torch.tensor(points, dtype=torch.float32)
    t = torch.tensor(targets)
    m = torch.tensor(mask)
    inputs = {"points": pts, "point_mask": torch.ones(pts.shape[:2], dtype=torch.bool),
              "targets": t}
    return Batch(inputs, t, m)


def _output(batch, tokens, k):
    b, t = batch.targets.shape
    logits = torch.full((b, t, k), -math.log(k))  # uniform
    return ModelOutput(logits, trace=SimpleNamespace(tokens=torch.tensor(tokens)))


def _evaluate(task, output, batch):
    return task.finalize_metrics(reduce_metrics(task.metrics(output, batch)))


def test_sort_metrics_and_uniform_loss():
    task = SortTask(SortConfig(n=5, train_size=1, valid_size=1, test_size=1))
    pts = [[[0.5], [0.1], [0.9], [0.3], [0.7]]] * 2
    batch = _batch(pts, [[1, 3, 0, 4, 2]] * 2, [[True] * 5] * 2)
    out = _output(batch, [[1, 3, 0, 4, 2], [3, 1, 0, 4, 2]], 5)
    m = _evaluate(task, out, batch)
    assert m["error"] == 0.5
    assert m["position_accuracy"] == pytest.approx((1 + 3 / 5) / 2)
    assert m["loss"] == pytest.approx(5 * math.log(5), rel=1e-6)
    assert float(task.loss(out, batch)) == pytest.approx(5 * math.log(5), rel=1e-6)


def test_hull_metrics_exact_match_failure_and_area():
    task = ConvexHullTask(ConvexHullConfig(n=5, train_size=1, valid_size=1, test_size=1))
    pts = [[*SQUARE, (0.5, 0.4)]] * 4
    end = 5
    true = [0, 1, 2, 3, end, 0]
    mask = [True] * 5 + [False]
    batch = _batch(pts, [true] * 4, [mask] * 4)
    predictions = [
        [0, 1, 2, 3, end, -1],  # exact
        [1, 2, 3, 0, end, -1],  # the same cycle from another vertex: right
        [0, 1, 2, end, -1, -1],  # a valid triangle, half the area: wrong
        [0, 2, 1, 3, end, -1],  # a bow tie: wrong and a failure
    ]
    m = _evaluate(task, _output(batch, predictions, 6), batch)
    assert m["error"] == 0.5
    assert m["failure"] == 0.25 and m["n_valid"] == 3
    assert m["area_coverage"] == pytest.approx((1 + 1 + 0.5) / 3)
    # masked padding steps do not count in the loss: 5 steps of log 6
    assert m["loss"] == pytest.approx(5 * math.log(6), rel=1e-6)


def test_tsp_metrics_lengths_ratio_and_invalid_tours():
    task = TSPTask(TSPConfig(n=4, train_size=1, valid_size=1, test_size=1))
    batch = _batch([SQUARE] * 3, [[0, 1, 2, 3]] * 3, [[True] * 4] * 3)
    predictions = [[0, 3, 2, 1], [0, 2, 1, 3], [0, 1, 1, 3]]  # optimal, crossing, invalid
    m = _evaluate(task, _output(batch, predictions, 4), batch)
    crossing = 2 + 2 * math.sqrt(2)
    assert m["failure"] == pytest.approx(1 / 3) and m["n_valid"] == 2
    assert m["tour_length"] == pytest.approx((4 + crossing) / 2)
    assert m["optimal_length"] == pytest.approx(4.0)
    assert m["length_ratio"] == pytest.approx((1 + crossing / 4) / 2)
    assert m["error"] == pytest.approx(2 / 3)
    assert task.selection_metric == "length_ratio"


def test_metrics_need_decoded_tokens():
    task = SortTask(SortConfig(n=3, train_size=1, valid_size=1, test_size=1))
    batch = _batch([[[0.1], [0.2], [0.3]]], [[0, 1, 2]], [[True] * 3])
    with pytest.raises(ValueError, match=r"trace\.tokens"):
        task.metrics(ModelOutput(torch.zeros(1, 3, 3)), batch)
