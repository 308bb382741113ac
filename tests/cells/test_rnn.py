"""Elman RNN and IRNN: the fused kernel and the per-step scan against the reference equations."""

from __future__ import annotations

import pytest
import torch

from mneme.cells import IRNN, ElmanRNN, RNNState, rnn_scan
from mneme.cells.reference import rnn_reference


def _weights(core: ElmanRNN) -> list[torch.Tensor]:
    return [getattr(core.rnn, f"{n}_l0") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


@pytest.mark.parametrize("cls", [ElmanRNN, IRNN])
def test_fused_equals_reference_outputs_states_and_gradients(cls):
    torch.manual_seed(0)
    core = cls(3, 5).double()
    if cls is IRNN:  # move off the identity so the check is not trivial
        with torch.no_grad():
            for p in core.parameters():
                p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 5, dtype=torch.float64, requires_grad=True)
    y, state = core(x, RNNState(h0))
    y_ref, h_ref = rnn_reference(x, h0[0], *_weights(core), nonlinearity=core.nonlinearity)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(state.hidden[0], h_ref)
    w = torch.randn_like(y)
    inputs = [x, h0, *core.parameters()]
    got = torch.autograd.grad((y * w).sum() + state.hidden.sum(), inputs)
    want = torch.autograd.grad((y_ref * w).sum() + h_ref.sum(), inputs)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r)


def test_scan_with_recurrent_mask_matches_reference_and_gradcheck():
    torch.manual_seed(1)
    w_ih, w_hh = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    mask = torch.tensor([[2.0, 0, 2, 2], [0, 2, 2, 0]], dtype=torch.float64)
    for act in ("tanh", "relu"):
        y, h, pre = rnn_scan(x @ w_ih.t() + b, h0, w_hh, nonlinearity=act, recurrent_mask=mask)
        y_ref, h_ref = rnn_reference(x, h0, w_ih, w_hh, b, None, nonlinearity=act,
                                     recurrent_mask=mask)
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(h, h_ref)
        assert pre.shape == (2, 5, 4)
    xw = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    hh = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    ww = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c: rnn_scan(a, b, c, recurrent_mask=mask)[0], (xw, hh, ww))


def test_irnn_identity_init_and_legacy_names():
    core = IRNN(3, 4, num_layers=2)
    for layer in range(2):
        assert torch.equal(getattr(core.rnn, f"weight_hh_l{layer}"), torch.eye(4))
        assert torch.all(getattr(core.rnn, f"bias_hh_l{layer}") == 0)
        assert torch.all(getattr(core.rnn, f"bias_ih_l{layer}") == 0)
    half = IRNN(3, 4, recurrent_init=0.5)
    assert torch.equal(half.rnn.weight_hh_l0, 0.5 * torch.eye(4))
    assert core.nonlinearity == "relu" and ElmanRNN(3, 4).nonlinearity == "tanh"
    # with W_ih = 0, the identity recurrence carries h forward unchanged (ReLU of h >= 0)
    with torch.no_grad():
        half.rnn.weight_ih_l0.zero_()
        half.rnn.weight_hh_l0.copy_(torch.eye(4))
    h0 = torch.rand(1, 2, 4)
    y, _ = half(torch.randn(2, 7, 3), RNNState(h0))
    torch.testing.assert_close(y, h0[0].unsqueeze(1).expand(2, 7, 4))


def test_trace_pre_activation_and_gradcheck_of_the_stack():
    torch.manual_seed(2)
    core = ElmanRNN(2, 3, num_layers=2, bidirectional=True).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    y, _, trace = core(x, trace=True)
    assert trace.pre_activation.shape == (4, 2, 4, 3)  # (L * dirs, B, T, H)
    # the top layer's forward direction: y = tanh(pre)
    torch.testing.assert_close(y[..., :3], torch.tanh(trace.pre_activation[2]))
    assert torch.autograd.gradcheck(lambda v: core(v)[0], (x,))
    assert torch.autograd.gradcheck(lambda v: core(v, trace=True)[0], (x,))
