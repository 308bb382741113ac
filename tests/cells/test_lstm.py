"""LSTM and its variants: fused, fast scan and reference agree; the variants do what they say."""

from __future__ import annotations

import pytest
import torch

from mneme.cells import GATE_LAYOUT, LSTM, LSTM_VARIANTS, LSTMState, VariantLSTM, lstm_scan
from mneme.cells.reference import layer_norm, lstm_reference, stack_reference

D, H, B, T = 3, 4, 2, 5


def _random_state(core, batch=B):
    s = core.initial_state(batch, dtype=torch.float64)
    return LSTMState(torch.randn_like(s.hidden).requires_grad_(),
                     torch.randn_like(s.cell).requires_grad_())


def _check_grads(y, state, y_ref, state_ref, inputs):
    w = torch.randn_like(y)
    got = torch.autograd.grad((y * w).sum() + state.hidden.sum() + 2 * state.cell.sum(), inputs)
    want = torch.autograd.grad((y_ref * w).sum() + state_ref.hidden.sum()
                               + 2 * state_ref.cell.sum(), inputs)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("path", ["fused", "per-step"])
def test_fused_lstm_and_its_scan_equal_the_reference(path):
    torch.manual_seed(0)
    core = LSTM(D, H, forget_bias=1.0).double()
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    state = _random_state(core)
    out = core(x, state, trace=path == "per-step")
    y, new = out[0], out[1]
    m = core.lstm
    y_ref, h_ref, c_ref = lstm_reference(x, state.hidden[0], state.cell[0], m.weight_ih_l0,
                                         m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(new.hidden[0], h_ref)
    torch.testing.assert_close(new.cell[0], c_ref)
    _check_grads(y, new, y_ref, LSTMState(h_ref[None], c_ref[None]),
                 [x, state.hidden, state.cell, *core.parameters()])


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_every_variant_equals_its_reference(variant):
    torch.manual_seed(1)
    core = VariantLSTM(D, H, variant=variant).double()
    with torch.no_grad():  # norm gains and biases off their init, so they are tested too
        for p in core.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    state = _random_state(core)
    y, new = core(x, state)
    y_ref, ref = stack_reference(core, x, state)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(new.hidden, ref.hidden)
    torch.testing.assert_close(new.cell, ref.cell)
    _check_grads(y, new, y_ref, ref, [x, state.hidden, state.cell, *core.parameters()])


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_gradcheck_of_the_scan_in_every_variant(variant):
    torch.manual_seed(2)
    n_gates = len(GATE_LAYOUT[variant])

    def rand(*shape):
        return torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    xw, h0, c0, w = rand(B, 3, n_gates * H), rand(B, H), rand(B, H), rand(n_gates * H, H)
    extra = {}
    if variant == "peephole":
        extra = {"peephole": rand(3, H)}
    if variant == "layer-norm":
        extra = {"recurrent_norm_weight": rand(n_gates * H), "cell_norm_weight": rand(H),
                 "cell_norm_bias": rand(H)}
    names = list(extra)
    mask = torch.tensor([[2.0, 0, 2, 2], [2, 2, 0, 2]], dtype=torch.float64)

    def f(xw, h0, c0, w, *e):
        y, h, c, _, _ = lstm_scan(xw, h0, c0, w, variant=variant, recurrent_mask=mask,
                                  **dict(zip(names, e, strict=True)))
        return y, h, c

    assert torch.autograd.gradcheck(f, (xw, h0, c0, w, *extra.values()))


@pytest.mark.parametrize("variant", ["peephole", "layer-norm"])
def test_gradcheck_of_a_variant_stack_with_its_input_path(variant):
    torch.manual_seed(3)
    core = VariantLSTM(2, 2, variant=variant).double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    params = dict(core.named_parameters())

    def f(x, *p):
        return torch.func.functional_call(core, dict(zip(params, p, strict=True)), (x,))[0]

    assert torch.autograd.gradcheck(f, (x, *params.values()))


def _trace(variant, seed=4):
    torch.manual_seed(seed)
    core = VariantLSTM(D, H, variant=variant).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = core.initial_state(B, dtype=torch.float64)
    state = LSTMState(torch.randn_like(state.hidden), torch.randn_like(state.cell))
    y, new, tr = core(x, state, trace=True)
    c_prev = torch.cat([state.cell[0].unsqueeze(1), tr.cell[0, :, :-1]], 1)
    return core, y, new, tr, c_prev


def test_coupled_forget_gate_is_one_minus_input_gate():
    _, y, _, tr, c_prev = _trace("coupled")
    i, f, g, o, c = (v[0] for v in (tr.input_gate, tr.forget_gate, tr.cell_candidate,
                                    tr.output_gate, tr.cell))
    torch.testing.assert_close(f, 1 - i)
    torch.testing.assert_close(c, (1 - i) * c_prev + i * g)  # the cell really used it
    torch.testing.assert_close(y, o * torch.tanh(c))


def test_no_forget_gate_keeps_the_cell():
    core, _, _, tr, c_prev = _trace("no-forget")
    assert torch.all(tr.forget_gate == 1)
    torch.testing.assert_close(tr.cell[0], c_prev + tr.input_gate[0] * tr.cell_candidate[0])
    assert core.weight_hh_l0.shape == (3 * H, H)  # i, g, o only


def test_no_output_gate_exposes_tanh_of_the_cell():
    _, y, _, tr, c_prev = _trace("no-output")
    assert torch.all(tr.output_gate == 1)
    torch.testing.assert_close(y, torch.tanh(tr.cell[0]))
    f, i, g = tr.forget_gate[0], tr.input_gate[0], tr.cell_candidate[0]
    torch.testing.assert_close(tr.cell[0], f * c_prev + i * g)


def test_peephole_with_zero_peepholes_is_the_plain_lstm():
    torch.manual_seed(5)
    core = VariantLSTM(D, H, variant="peephole").double()
    with torch.no_grad():
        core.peephole_l0.zero_()
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = _random_state(core)
    y, new = core(x, state)
    y_ref, h_ref, c_ref = lstm_reference(x, state.hidden[0], state.cell[0], core.weight_ih_l0,
                                         core.weight_hh_l0, core.bias_l0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(new.hidden[0], h_ref)
    torch.testing.assert_close(new.cell[0], c_ref)
    # and nonzero peepholes change the result: the cell reaches the gates
    with torch.no_grad():
        core.peephole_l0.fill_(0.5)
    assert not torch.allclose(core(x, state)[0], y_ref)


def test_peephole_gates_see_the_cell_by_hand():
    """First step by hand: i, f see c_0 and o sees c_1 through the diagonal peepholes."""
    torch.manual_seed(7)
    core = VariantLSTM(D, H, variant="peephole").double()
    x = torch.randn(B, 2, D, dtype=torch.float64)
    state = _random_state(core)
    y, _, tr = core(x, state, trace=True)
    h0, c0, p = state.hidden[0], state.cell[0], core.peephole_l0
    a = x[:, 0] @ core.weight_ih_l0.t() + h0 @ core.weight_hh_l0.t() + core.bias_l0
    a_i, a_f, a_g, a_o = a.chunk(4, 1)
    i, f = torch.sigmoid(a_i + p[0] * c0), torch.sigmoid(a_f + p[1] * c0)
    c1 = f * c0 + i * torch.tanh(a_g)
    o = torch.sigmoid(a_o + p[2] * c1)
    torch.testing.assert_close(tr.input_gate[0, :, 0], i)
    torch.testing.assert_close(tr.forget_gate[0, :, 0], f)
    torch.testing.assert_close(tr.cell[0, :, 0], c1)
    torch.testing.assert_close(tr.output_gate[0, :, 0], o)
    torch.testing.assert_close(y[:, 0], o * torch.tanh(c1))


def test_layer_norm_lstm_normalises_gates_and_cell():
    """With W = 0 and zero biases, the gate pre-activations are LN(U h): mean 0, variance 1
    over the 4H vector of each sequence; and h = o * tanh(LN(c)) with the cell's statistics."""
    torch.manual_seed(6)
    core = VariantLSTM(D, H, variant="layer-norm", eps=1e-12).double()
    with torch.no_grad():
        core.weight_ih_l0.zero_()
        core.bias_l0.zero_()
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = core.initial_state(B, dtype=torch.float64)
    state = LSTMState(torch.randn_like(state.hidden), torch.randn_like(state.cell))
    y, _, tr = core(x, state, trace=True)
    i, f, g, o, c = (v[0] for v in (tr.input_gate, tr.forget_gate, tr.cell_candidate,
                                    tr.output_gate, tr.cell))
    a = torch.cat([torch.logit(i), torch.logit(f), torch.atanh(g), torch.logit(o)], -1)
    torch.testing.assert_close(a.mean(-1), torch.zeros(B, T, dtype=torch.float64))
    torch.testing.assert_close(a.var(-1, unbiased=False), torch.ones(B, T, dtype=torch.float64))
    normed = (c - c.mean(-1, keepdim=True)) / c.std(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(y, o * torch.tanh(normed))
    torch.testing.assert_close(layer_norm(c, None, None, 1e-12), normed)


def test_forget_bias_and_legacy_layout():
    torch.manual_seed(3)
    plain = LSTM(3, 4, forget_bias=0.0).lstm.bias_ih_l0.detach()
    torch.manual_seed(3)
    shifted = LSTM(3, 4, forget_bias=1.0).lstm.bias_ih_l0.detach()
    torch.testing.assert_close(shifted - plain, torch.tensor([0.0] * 4 + [1.0] * 4 + [0.0] * 8))
    torch.manual_seed(3)
    v0 = VariantLSTM(3, 4, variant="vanilla", forget_bias=0.0).bias_l0.detach()
    torch.manual_seed(3)
    v1 = VariantLSTM(3, 4, variant="vanilla", forget_bias=2.0).bias_l0.detach()
    torch.testing.assert_close(v1 - v0, torch.tensor([0.0] * 4 + [2.0] * 4 + [0.0] * 8))
    with pytest.raises(ValueError, match="variant"):
        VariantLSTM(3, 4, variant="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="peephole"):
        lstm_scan(torch.zeros(1, 2, 16), torch.zeros(1, 4), torch.zeros(1, 4),
                  torch.zeros(16, 4), variant="vanilla", peephole=torch.zeros(3, 4))


def test_layer_norm_scan_without_the_cell_norm_affine():
    torch.manual_seed(8)
    args = [torch.randn(*s, dtype=torch.float64, requires_grad=True)
            for s in ((B, 3, 4 * H), (B, H), (B, H), (4 * H, H), (4 * H,))]

    def f(xw, h0, c0, w, rn):
        return lstm_scan(xw, h0, c0, w, variant="layer-norm", recurrent_norm_weight=rn)[:3]

    assert torch.autograd.gradcheck(f, tuple(args))
