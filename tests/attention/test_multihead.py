"""Multi-head attention and self-attention (mneme.attention.multihead)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mneme.attention import Attention, MultiHeadAttention, SelfAttention, masked_softmax

D64 = torch.float64
PAD = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])


def _data(seed=0, dtype=D64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 3, 8, generator=g, dtype=dtype),
            torch.randn(2, 5, 6, generator=g, dtype=dtype),
            torch.randn(2, 5, 7, generator=g, dtype=dtype))


def test_one_head_equals_single_head_attention() -> None:
    torch.manual_seed(0)
    q, k, v = _data()
    mha = MultiHeadAttention(8, 1, key_dim=6, value_dim=7, head_dim=4, out_dim=5).double()
    single = Attention("scaled_dot")
    for mask, causal in ((None, False), (PAD, False), (PAD, True)):
        out, w = mha(q, k, v, mask, causal=causal)
        ctx, w1 = single(mha.query_proj(q), mha.key_proj(k), mha.value_proj(v), mask,
                         causal=causal)
        torch.testing.assert_close(out, mha.out_proj(ctx))
        torch.testing.assert_close(w[:, 0], w1)


def test_heads_are_independent_attentions_concatenated() -> None:
    torch.manual_seed(0)
    q, k, v = _data()
    mha = MultiHeadAttention(8, 2, key_dim=6, value_dim=7, bias=False).double()
    out, w = mha(q, k, v, PAD)
    assert out.shape == (2, 3, 8) and w.shape == (2, 2, 3, 5)
    heads = []
    for h in range(2):
        rows = slice(4 * h, 4 * h + 4)  # head h's rows of the stacked W^Q, W^K, W^V
        qh = q @ mha.query_proj.weight[rows].T
        kh = k @ mha.key_proj.weight[rows].T
        vh = v @ mha.value_proj.weight[rows].T
        wh = masked_softmax(qh @ kh.transpose(1, 2) / 2.0, PAD)
        torch.testing.assert_close(w[:, h], wh)
        heads.append(wh @ vh)
    torch.testing.assert_close(out, torch.cat(heads, -1) @ mha.out_proj.weight.T)


def test_matches_torch_multihead_attention() -> None:
    torch.manual_seed(0)
    q = torch.randn(2, 3, 8, dtype=D64)
    kv = torch.randn(2, 5, 8, dtype=D64)
    ours = MultiHeadAttention(8, 2).double()
    ref = nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.query_proj.weight, ours.key_proj.weight,
                                            ours.value_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.query_proj.bias, ours.key_proj.bias,
                                          ours.value_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    out, w = ours(q, kv, kv, PAD)
    ref_out, ref_w = ref(q, kv, kv, key_padding_mask=~PAD, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(w, ref_w)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask", [None, PAD, torch.rand(2, 3, 5) < 0.5])
def test_fused_equals_readable(dtype, tol, causal, mask) -> None:
    torch.manual_seed(0)
    q, k, v = _data(dtype=dtype)
    mha = MultiHeadAttention(8, 2, key_dim=6, value_dim=7).to(dtype)
    readable, w = mha(q, k, v, mask, causal=causal)
    fused, none = mha(q, k, v, mask, causal=causal, need_weights=False)
    assert none is None and w is not None
    torch.testing.assert_close(fused, readable, atol=tol, rtol=tol)
    gr = torch.autograd.grad(readable.square().sum(), list(mha.parameters()))
    gf = torch.autograd.grad(fused.square().sum(), list(mha.parameters()))
    for a, b in zip(gf, gr):
        torch.testing.assert_close(a, b, atol=10 * tol, rtol=10 * tol)


def test_gradcheck_multihead() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 2, key_dim=3, value_dim=2).double()
    q = torch.randn(1, 2, 4, dtype=D64, requires_grad=True)
    k = torch.randn(1, 3, 3, dtype=D64, requires_grad=True)
    v = torch.randn(1, 3, 2, dtype=D64, requires_grad=True)
    mask = torch.tensor([[True, False, True]])
    for need in (True, False):
        assert torch.autograd.gradcheck(
            lambda q, k, v, need=need: mha(q, k, v, mask, causal=True, need_weights=need)[0],
            (q, k, v))


def test_self_attention_causal_never_sees_the_future_nor_padding() -> None:
    torch.manual_seed(0)
    sa = SelfAttention(6, 3).double()
    x = torch.randn(2, 5, 6, dtype=D64)
    y, w = sa(x, causal=True)
    assert y.shape == (2, 5, 6) and w.shape == (2, 3, 5, 5)
    assert (w.triu(1) == 0).all()
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 2, 6, dtype=D64)  # the future of positions 0..2
    torch.testing.assert_close(sa(changed, causal=True)[0][:, :3], y[:, :3])
    # padded positions are never attended: changing them leaves the real positions alone
    y_pad, w_pad = sa(x, PAD)
    assert (w_pad[0, :, :, 3:] == 0).all()
    torch.testing.assert_close(sa(changed, PAD)[0][0, :3], y_pad[0, :3])
    torch.testing.assert_close(sa(x, PAD, need_weights=False)[0], y_pad)


def test_multihead_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(6, 4)
    assert MultiHeadAttention(6, 4, head_dim=5).query_proj.out_features == 20
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(6, 0)
    with pytest.raises(ValueError, match="key/value_dim"):
        SelfAttention(6, 2, key_dim=3)
