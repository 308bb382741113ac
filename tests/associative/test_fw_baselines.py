"""The other cores of the fast-weights comparison: associative LSTM, delta rule, IRNN, LSTM."""

from __future__ import annotations

import pytest
import torch

from mneme.associative.associative_lstm import AssociativeLSTM, bound, complex_mul
from mneme.associative.delta_rule import DeltaFastWeights, DeltaState
from mneme.cells.recurrent import IRNN, LSTM


def test_complex_mul_and_bound_match_torch_complex():
    a, b = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    za, zb = torch.complex(a[:, :3], a[:, 3:]), torch.complex(b[:, :3], b[:, 3:])
    prod = za * zb
    torch.testing.assert_close(complex_mul(a, b), torch.cat([prod.real, prod.imag], 1))
    bounded = bound(3 * a)
    z = torch.complex(bounded[:, :3], bounded[:, 3:])
    assert torch.all(z.abs() <= 1 + 1e-12)
    small = torch.tensor([[0.3, 0.4]], dtype=torch.float64)  # |z| = 0.5 stays as is
    torch.testing.assert_close(bound(small), small)
    torch.testing.assert_close(bound(torch.tensor([[3.0, 4.0]])), torch.tensor([[0.6, 0.8]]))


def test_associative_lstm_cell_by_hand_one_copy():
    """With one copy, c = f c + r_i (*) (i u) and h = o bound(r_o (*) c), checked step by step."""
    torch.manual_seed(0)
    core = AssociativeLSTM(3, 4, copies=1).double()
    x = torch.randn(2, 3, 3, dtype=torch.float64)
    y, state = core(x)
    h = torch.zeros(2, 4, dtype=torch.float64)
    c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(3):
        pre = core.input_weight(x[:, t]) + core.recurrent_weight(h)
        g = torch.sigmoid(pre[:, :6])
        f, i, o = (torch.cat([g[:, k : k + 2]] * 2, 1) for k in (0, 2, 4))
        r_i, r_o, u = bound(pre[:, 6:10]), bound(pre[:, 10:14]), bound(pre[:, 14:18])
        c = f * c + complex_mul(r_i, i * u)
        h = o * bound(complex_mul(r_o, c))
        torch.testing.assert_close(y[:, t], h)
    torch.testing.assert_close(state.cell[:, 0], c)


def test_associative_lstm_copies_use_fixed_permutations_and_gradcheck():
    core = AssociativeLSTM(2, 6, copies=3, seed=1).double()
    perm = core.permutation
    assert perm.shape == (3, 6)
    assert torch.equal(perm[0], torch.arange(6))
    assert torch.equal(perm[:, 3:], perm[:, :3] + 3)  # real and imaginary parts move together
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: core(x)[0], (x,))
    with pytest.raises(ValueError, match="even"):
        AssociativeLSTM(2, 5)


def test_delta_rule_overwrites_an_association():
    """With beta = 1 and a one-hot key, the write replaces the stored value exactly."""
    core = DeltaFastWeights(1, 3, layer_norm=False).double()
    big = 50.0  # softmax of a large one-hot logit is (nearly) one-hot
    with torch.no_grad():
        core.input_weight.weight.zero_()
        core.recurrent_weight.weight.zero_()
        # k = one-hot(0), v = (1, 2, 3) * x, q = k, beta = 1
        core.input_weight.bias.copy_(torch.tensor([big, 0, 0, 0, 0, 0, big, 0, 0, big],
                                                  dtype=torch.float64))
        core.input_weight.weight[3:6, 0] = torch.tensor([1.0, 2.0, 3.0])
    x = torch.tensor([[[1.0], [-2.0]]], dtype=torch.float64)
    y, state = core(x)
    torch.testing.assert_close(y[0, 0], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    # the second write replaces (not adds to) the value under the same key
    torch.testing.assert_close(y[0, 1], torch.tensor([-2.0, -4.0, -6.0], dtype=torch.float64))
    torch.testing.assert_close(state.fast_weights[0, :, 0], y[0, 1])


def test_delta_rule_matches_its_equations_and_carries_state():
    torch.manual_seed(0)
    core = DeltaFastWeights(3, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, _ = core(x)
    st = core.initial_state(2, dtype=torch.float64)
    yy, w = st.hidden, st.fast_weights
    for t in range(5):
        k, v, q, beta = (core.input_weight(x[:, t]) + core.recurrent_weight(yy)).split(
            [4, 4, 4, 1], 1)
        k, q, beta = k.softmax(1), q.softmax(1), beta.sigmoid()
        w = w + torch.einsum("bi,bj->bij", beta * (v - torch.einsum("bij,bj->bi", w, k)), k)
        yy = core.norm(torch.einsum("bij,bj->bi", w, q))
        torch.testing.assert_close(y[:, t], yy)
    first, state = core(x[:, :2])
    second, _ = core(x[:, 2:], DeltaState(state.hidden, state.fast_weights))
    torch.testing.assert_close(torch.cat([first, second], 1), y)
    _, _, trace = core(x, trace=True)
    assert trace.write_strength.shape == (2, 5)


def test_irnn_is_identity_initialised_and_lstm_agrees_with_its_step():
    core = IRNN(3, 4)
    assert torch.equal(core.rnn.weight_hh_l0, torch.eye(4))
    assert torch.all(core.rnn.bias_hh_l0 == 0)
    for c in (core, LSTM(3, 4)):
        x = torch.randn(2, 5, 3)
        y, _ = c(x)
        state = c.initial_state(2)
        for t in range(5):
            yt, state = c.step(x[:, t], state)
            torch.testing.assert_close(yt, y[:, t])
    torch.manual_seed(3)
    plain = LSTM(3, 4, forget_bias=0.0).lstm.bias_ih_l0.detach()
    torch.manual_seed(3)
    shifted = LSTM(3, 4, forget_bias=1.0).lstm.bias_ih_l0.detach()
    diff = shifted - plain  # gate order i, f, g, o: only the forget gate moves
    torch.testing.assert_close(diff, torch.tensor([0.0] * 4 + [1.0] * 4 + [0.0] * 8))
