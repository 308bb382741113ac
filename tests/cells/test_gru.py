"""GRU and layer-normalised GRU: fused, fast scan and reference agree; LN statistics."""

from __future__ import annotations

import pytest
import torch

from mneme.cells import GRU, LayerNormGRU, RNNState, gru_scan
from mneme.cells.reference import gru_reference, stack_reference

D, H, B, T = 3, 4, 2, 5


def _grads_equal(y, h, y_ref, h_ref, inputs):
    w = torch.randn_like(y)
    got = torch.autograd.grad((y * w).sum() + h.sum(), inputs)
    want = torch.autograd.grad((y_ref * w).sum() + h_ref.sum(), inputs)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("path", ["fused", "per-step"])
def test_gru_equals_the_reference(path):
    torch.manual_seed(0)
    core = GRU(D, H).double()
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    out = core(x, RNNState(h0), trace=path == "per-step")
    y, state = out[0], out[1]
    m = core.gru
    y_ref, h_ref = gru_reference(x, h0[0], m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0,
                                 m.bias_hh_l0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(state.hidden[0], h_ref)
    _grads_equal(y, state.hidden[0], y_ref, h_ref, [x, h0, *core.parameters()])


def test_layer_norm_gru_equals_the_reference():
    torch.manual_seed(1)
    core = LayerNormGRU(D, H).double()
    with torch.no_grad():
        for p in core.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    y, state = core(x, RNNState(h0))
    y_ref, ref = stack_reference(core, x, RNNState(h0))
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(state.hidden, ref.hidden)
    _grads_equal(y, state.hidden, y_ref, ref.hidden, [x, h0, *core.parameters()])


@pytest.mark.parametrize("layer_norm", [False, True])
def test_gradcheck_of_the_scan(layer_norm):
    torch.manual_seed(2)

    def rand(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    args = [rand(B, 3, 3 * H), rand(B, H), rand(3 * H, H), rand(3 * H)]
    if layer_norm:
        args.append(rand(3 * H))
    mask = torch.tensor([[2.0, 0, 2, 2], [2, 2, 0, 2]], dtype=torch.float64)

    def f(xw, h0, w, b, *norm):
        y, h, _ = gru_scan(xw, h0, w, b, norm_weight=norm[0] if norm else None,
                           recurrent_mask=mask)
        return y, h

    assert torch.autograd.gradcheck(f, tuple(args))


def test_gradcheck_of_the_layer_norm_gru_with_its_input_norm():
    torch.manual_seed(3)
    core = LayerNormGRU(2, 2).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    params = dict(core.named_parameters())

    def f(x, *p):
        return torch.func.functional_call(core, dict(zip(params, p, strict=True)), (x,))[0]

    assert torch.autograd.gradcheck(f, (x, *params.values()))


def test_gru_trace_by_hand_and_layer_norm_statistics():
    torch.manual_seed(4)
    core = LayerNormGRU(D, H, eps=1e-12).double()
    with torch.no_grad():
        core.weight_ih_l0.zero_()  # LN(0) = 0: only the recurrent term is left
    x = torch.randn(B, T, D, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    y, _, tr = core(x, RNNState(h0), trace=True)
    r, z, n = tr.reset_gate[0], tr.update_gate[0], tr.candidate[0]
    h_prev = torch.cat([h0[0].unsqueeze(1), y[:, :-1]], 1)
    torch.testing.assert_close(y, (1 - z) * n + z * h_prev)
    # u = LN(U h) over its 3H features: mean 0, variance 1 per sequence and step
    u = torch.cat([torch.logit(r), torch.logit(z), torch.atanh(n) / r], -1)
    torch.testing.assert_close(u.mean(-1), torch.zeros(B, T, dtype=torch.float64))
    torch.testing.assert_close(u.var(-1, unbiased=False), torch.ones(B, T, dtype=torch.float64))
