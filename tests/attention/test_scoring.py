"""Attention scores (mneme.attention.scoring) against their definitions, computed by loops."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from mneme.attention.scoring import (
    AdditiveScore,
    BilinearScore,
    DotScore,
    LocationScore,
    ScaledDotScore,
    build_score,
)

D64 = torch.float64


def _loop_scores(fn, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """scores[b, i, j] = fn(query[b, i], keys[b, j], j), one pair at a time."""
    b, tq, _ = query.shape
    tk = keys.shape[1]
    out = torch.empty(b, tq, tk, dtype=query.dtype)
    for bi in range(b):
        for i in range(tq):
            for j in range(tk):
                out[bi, i, j] = fn(query[bi, i], keys[bi, j], j)
    return out


def _inputs(dq=3, dk=3, b=2, tq=2, tk=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, tq, dq, generator=g, dtype=D64),
            torch.randn(b, tk, dk, generator=g, dtype=D64))


def test_hand_computed_values() -> None:
    q = torch.tensor([[[1.0, 2.0]]], dtype=D64)
    k = torch.tensor([[[3.0, 4.0], [-1.0, 0.5]]], dtype=D64)
    assert DotScore()(q, k).tolist() == [[[11.0, 0.0]]]
    torch.testing.assert_close(ScaledDotScore()(q, k),
                               torch.tensor([[[11.0 / math.sqrt(2), 0.0]]], dtype=D64))

    bil = BilinearScore(2, 2).double()
    with torch.no_grad():
        bil.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    # q W = [7, 10]; . [3, 4] = 61; . [-1, 0.5] = -2
    torch.testing.assert_close(bil(q, k), torch.tensor([[[61.0, -2.0]]], dtype=D64))

    add = AdditiveScore(2, 2, 2).double()
    with torch.no_grad():
        add.query_proj.weight.copy_(torch.eye(2))
        add.key_proj.weight.copy_(torch.eye(2))
        add.v.weight.copy_(torch.tensor([[1.0, -2.0]]))
    # tanh([4, 6]) . [1, -2] and tanh([0, 2.5]) . [1, -2]
    expect = [math.tanh(4) - 2 * math.tanh(6), math.tanh(0) - 2 * math.tanh(2.5)]
    torch.testing.assert_close(add(q, k), torch.tensor([[expect]], dtype=D64))

    loc = LocationScore(2, 3).double()
    with torch.no_grad():
        loc.proj.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        loc.proj.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
    torch.testing.assert_close(loc(q, k), torch.tensor([[[1.5, 2.0]]], dtype=D64))


def test_additive_matches_loops_and_reuses_projected_keys() -> None:
    q, k = _inputs(3, 5)
    score = AdditiveScore(3, 5, 4, bias=True).double()
    w, u, ub, v = (score.query_proj.weight, score.key_proj.weight, score.key_proj.bias,
                   score.v.weight[0])

    def one(qi, kj, _j):
        return sum(v[a] * torch.tanh(sum(w[a, c] * qi[c] for c in range(3))
                                     + sum(u[a, c] * kj[c] for c in range(5)) + ub[a])
                   for a in range(4))

    expected = _loop_scores(one, q, k)
    torch.testing.assert_close(score(q, k), expected)
    pk = score.precompute_keys(k)
    assert pk.shape == (2, 4, 4)
    torch.testing.assert_close(score(q, k, projected_keys=pk), expected)


@pytest.mark.parametrize("name", ["dot", "scaled_dot", "bilinear", "location"])
def test_scores_match_loops(name: str) -> None:
    dq, dk = (3, 3) if name in ("dot", "scaled_dot") else (3, 5)
    q, k = _inputs(dq, dk)
    score = build_score(name, dq, dk, max_keys=6).double()
    if name == "dot":
        def one(qi, kj, _j):
            return sum(qi[c] * kj[c] for c in range(dk))
    elif name == "scaled_dot":
        def one(qi, kj, _j):
            return sum(qi[c] * kj[c] for c in range(dk)) / dk**0.5
    elif name == "bilinear":
        w = score.weight

        def one(qi, kj, _j):
            return sum(qi[r] * w[r, c] * kj[c] for r in range(dq) for c in range(dk))
    else:
        w, bias = score.proj.weight, score.proj.bias

        def one(qi, _kj, j):
            return sum(w[j, c] * qi[c] for c in range(dq)) + bias[j]
    torch.testing.assert_close(score(q, k), _loop_scores(one, q, k))


@pytest.mark.parametrize("name", ["additive", "dot", "scaled_dot", "bilinear", "location"])
def test_gradcheck_every_score(name: str) -> None:
    dq, dk = (3, 3) if name in ("dot", "scaled_dot") else (3, 2)
    q, k = _inputs(dq, dk, tk=3)
    score = build_score(name, dq, dk, hidden_dim=4, max_keys=4).double()
    names = [n for n, _ in score.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in score.named_parameters()]

    # the location score never reads the keys' content: no gradient path to them to check
    reads_keys = name != "location"

    def f(q, *rest):
        k_in, ps = (rest[0], rest[1:]) if reads_keys else (k, rest)
        return functional_call(score, dict(zip(names, ps)), (q, k_in))

    inputs = (q.requires_grad_(), *([k.requires_grad_()] if reads_keys else []), *params)
    assert torch.autograd.gradcheck(f, inputs)


def test_location_score_ignores_key_content_and_checks_max_keys() -> None:
    q, k = _inputs(3, 2, tk=4)
    loc = LocationScore(3, 4).double()
    torch.testing.assert_close(loc(q, k), loc(q, torch.randn_like(k)))
    with pytest.raises(ValueError, match="max_keys=4"):
        loc(q, torch.randn(2, 5, 2, dtype=D64))


def test_build_score_and_errors() -> None:
    assert isinstance(build_score("additive", 3, 4), AdditiveScore)
    assert build_score("additive", 3, 4).v.in_features == 4  # hidden defaults to Dk
    assert isinstance(build_score("scaled_dot", 4, 4), ScaledDotScore)
    assert isinstance(build_score("bilinear", 3, 4), BilinearScore)
    with pytest.raises(ValueError, match="max_keys"):
        build_score("location", 3, 4)
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        build_score("dot", 3, 4)
    with pytest.raises(ValueError, match="unknown score"):
        build_score("cosine", 3, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Dq == Dk"):
        DotScore()(torch.zeros(1, 1, 2), torch.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="same B"):
        DotScore()(torch.zeros(2, 1, 2), torch.zeros(1, 1, 2))
    assert all(isinstance(build_score(n, 2, 2, max_keys=3), nn.Module)
               for n in ("additive", "dot", "scaled_dot", "bilinear", "location"))
