"""Soft attention, masks, key-value attention and the fused path (mneme.attention.attention)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mneme.attention import (
    Attention,
    KeyValueAttention,
    ScaledDotScore,
    fused_attention,
    masked_softmax,
)

D64 = torch.float64


def _data(b=2, tq=3, tk=5, d=4, dv=3, seed=0, dtype=D64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, tq, d, generator=g, dtype=dtype),
            torch.randn(b, tk, d, generator=g, dtype=dtype),
            torch.randn(b, tk, dv, generator=g, dtype=dtype))


PAD = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])


# ---- masked_softmax -------------------------------------------------------------------------

def test_masked_softmax_padding_causal_and_empty_rows() -> None:
    scores = torch.randn(2, 3, 5, dtype=D64)
    w = masked_softmax(scores, PAD)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, dtype=D64))
    assert (w[0, :, 3:] == 0).all()
    # equals a plain softmax over the kept keys only
    torch.testing.assert_close(w[0, :, :3], torch.softmax(scores[0, :, :3], -1))

    c = masked_softmax(scores, None, causal=True)
    for i in range(3):
        assert (c[:, i, i + 1:] == 0).all()
        torch.testing.assert_close(c[:, i, : i + 1], torch.softmax(scores[:, i, : i + 1], -1))

    full = torch.ones(2, 3, 5, dtype=torch.bool)
    full[1, 2] = False  # one query with nothing to attend to
    s = scores.clone().requires_grad_()
    w = masked_softmax(s, full)
    assert (w[1, 2] == 0).all() and torch.isfinite(w).all()
    w.sum().backward()
    assert torch.isfinite(s.grad).all() and (s.grad[1, 2] == 0).all()


def test_masked_softmax_rejects_bad_masks() -> None:
    scores = torch.zeros(2, 3, 5)
    with pytest.raises(ValueError, match="bool"):
        masked_softmax(scores, PAD.long())
    with pytest.raises(ValueError, match=r"\(B, Tk\)"):
        masked_softmax(scores, PAD[:, :4])


@settings(max_examples=60, deadline=None)
@given(b=st.integers(1, 3), tq=st.integers(1, 4), tk=st.integers(1, 6),
       per_query=st.booleans(), causal=st.booleans(), seed=st.integers(0, 2**16))
def test_mask_invariants(b, tq, tk, per_query, causal, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    scores = 5 * torch.randn(b, tq, tk, generator=g, dtype=D64)
    shape = (b, tq, tk) if per_query else (b, tk)
    mask = torch.rand(shape, generator=g) < 0.6
    w = masked_softmax(scores, mask, causal=causal)
    keep = (mask if per_query else mask[:, None, :]).expand(b, tq, tk)
    if causal:
        keep = keep & torch.ones(tq, tk, dtype=torch.bool).tril()
    assert torch.isfinite(w).all()
    assert (w[~keep] == 0).all()  # exactly zero where masked
    assert (w >= 0).all()
    sums = w.sum(-1)
    torch.testing.assert_close(sums, keep.any(-1).to(D64))  # 1, or 0 for an empty row
    # what a masked score holds does not matter
    noisy = torch.where(keep, scores, 100 * torch.randn(b, tq, tk, generator=g, dtype=D64))
    assert torch.equal(masked_softmax(noisy, mask, causal=causal), w)


# ---- Attention -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["additive", "dot", "scaled_dot", "bilinear", "location"])
def test_context_is_the_weighted_average(name: str) -> None:
    q, k, v = _data()
    att = Attention(name, 4, 4, hidden_dim=3, max_keys=6).double()
    ctx, w = att(q, k, v, PAD)
    assert ctx.shape == (2, 3, 3) and w.shape == (2, 3, 5)
    for b in range(2):
        for i in range(3):
            expect = sum(w[b, i, j] * v[b, j] for j in range(5))
            torch.testing.assert_close(ctx[b, i], expect)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, dtype=D64))
    assert (w[0, :, 3:] == 0).all()
    # values default to the keys
    torch.testing.assert_close(att(q, k)[0], torch.bmm(att(q, k)[1], k))


def test_additive_attention_reuses_projected_keys() -> None:
    q, k, v = _data()
    att = Attention("additive", 4, 4, hidden_dim=5).double()
    pk = att.precompute_keys(k)
    a, b = att(q, k, v, PAD), att(q, k, v, PAD, projected_keys=pk)
    torch.testing.assert_close(a[0], b[0])
    with pytest.raises(TypeError):
        Attention("dot", 4, 4).precompute_keys(k)


MASKS = {
    "none": None,
    "padding": PAD,
    "per_query": torch.rand(2, 3, 5, generator=torch.Generator().manual_seed(3)) < 0.5,
    "empty_row": torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool),
}


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("score", ["dot", "scaled_dot"])
def test_fused_path_equals_readable_path(dtype, tol, mask_name, causal, score) -> None:
    q, k, v = _data(dtype=dtype)
    q, k, v = (t.requires_grad_() for t in (q, k, v))
    att = Attention(score, 4, 4)
    mask = MASKS[mask_name]
    readable, w = att(q, k, v, mask, causal=causal)
    fused, none = att(q, k, v, mask, causal=causal, need_weights=False)
    assert w is not None and none is None
    torch.testing.assert_close(fused, readable, atol=tol, rtol=tol)
    assert torch.isfinite(fused).all()
    grads_r = torch.autograd.grad(readable.sin().sum(), (q, k, v))
    grads_f = torch.autograd.grad(fused.sin().sum(), (q, k, v))
    for gr, gf in zip(grads_r, grads_f):
        torch.testing.assert_close(gf, gr, atol=10 * tol, rtol=10 * tol)


def test_fused_path_can_be_turned_off_and_tq_ne_tk_causal() -> None:
    q, k, v = _data(tq=7, tk=4)
    att = Attention(ScaledDotScore(), fused=False)
    ctx, w = att(q, k, v, causal=True, need_weights=False)
    assert w is None
    # the readable path at Tq > Tk, causal top-left aligned like scaled_dot_product_attention
    torch.testing.assert_close(fused_attention(q, k, v, causal=True), ctx)


@pytest.mark.parametrize("name", ["additive", "dot", "scaled_dot", "bilinear", "location"])
def test_gradcheck_attention(name: str) -> None:
    q, k, v = _data(b=1, tq=2, tk=3, d=2, dv=2)
    att = Attention(name, 2, 2, hidden_dim=2, max_keys=3).double()
    mask = torch.tensor([[True, True, False]])
    for need in (True, False):
        def f(q, k, v, need=need):
            return att(q, k, v, mask, causal=True, need_weights=need)[0]

        assert torch.autograd.gradcheck(f, (q.requires_grad_(), k.requires_grad_(),
                                            v.requires_grad_()))


def test_dropout_only_in_training() -> None:
    q, k, v = _data()
    att = Attention("dot", 4, 4, dropout=0.5)
    att.eval()
    a = att(q, k, v)[0]
    torch.testing.assert_close(att(q, k, v, need_weights=False)[0], a)
    att.train()
    torch.manual_seed(0)
    assert not torch.allclose(att(q, k, v)[0], a)
    with pytest.raises(ValueError, match="dropout"):
        Attention("dot", 4, 4, dropout=1.0)


def test_attention_errors() -> None:
    with pytest.raises(ValueError, match="query_dim and key_dim"):
        Attention("bilinear")
    q, k, v = _data()
    with pytest.raises(ValueError, match="values"):
        Attention("dot", 4, 4)(q, k, v[:, :4])


# ---- key-value attention -------------------------------------------------------------------

def test_key_value_attention_projects_keys_and_values_apart() -> None:
    torch.manual_seed(0)
    kv = KeyValueAttention(query_dim=4, memory_dim=6, key_dim=4, value_dim=3).double()
    q = torch.randn(2, 3, 4, dtype=D64)
    memory = torch.randn(2, 5, 6, dtype=D64)
    ctx, w = kv(q, memory, PAD)
    keys = memory @ kv.key_proj.weight.T
    values = memory @ kv.value_proj.weight.T
    scores = torch.einsum("bid,bjd->bij", q, keys) / 2.0  # sqrt(4)
    expect_w = masked_softmax(scores, PAD)
    torch.testing.assert_close(w, expect_w)
    torch.testing.assert_close(ctx, expect_w @ values)
    torch.testing.assert_close(kv(q, memory, PAD, need_weights=False)[0], ctx)
    assert torch.autograd.gradcheck(lambda q, m: kv(q, m, PAD[:1])[0],
                                    (q[:1, :2].requires_grad_(), memory[:1].requires_grad_()))


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 3), tq=st.integers(1, 5), tk=st.integers(1, 6), d=st.integers(1, 4),
       per_query=st.booleans(), causal=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_equals_readable_property(b, tq, tk, d, per_query, causal, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, t, d, generator=g, dtype=D64) for t in (tq, tk, tk))
    mask = torch.rand((b, tq, tk) if per_query else (b, tk), generator=g) < 0.5
    att = Attention("scaled_dot")
    readable, _ = att(q, k, v, mask, causal=causal)
    fused, _ = att(q, k, v, mask, causal=causal, need_weights=False)
    torch.testing.assert_close(fused, readable, atol=1e-12, rtol=1e-12)
