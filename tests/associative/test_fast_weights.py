"""The layer-normalised fast-weight RNN (Ba et al. 2016, eqs. 1-4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mneme.associative.fast_weights import (
    FastWeightRNN,
    fast_weight_attention,
    fast_weight_matrix,
)


def _reference(core: FastWeightRNN, x: torch.Tensor) -> torch.Tensor:
    """The paper's equations literally, one sequence at a time, with A as an explicit matrix."""
    outs = []
    w, c, bias = core.recurrent_weight, core.input_weight.weight, core.input_weight.bias
    for b in range(x.shape[0]):
        h = torch.zeros(core.hidden_size, dtype=x.dtype)
        a = torch.zeros(core.hidden_size, core.hidden_size, dtype=x.dtype)
        ys = []
        for t in range(x.shape[1]):
            a = core.decay * a + core.fast_lr * torch.outer(h, h)
            slow = w @ h + c @ x[b, t] + bias
            hs = torch.relu(slow)
            for _ in range(core.inner_steps):
                z = slow + a @ hs
                if isinstance(core.norm, nn.LayerNorm):
                    z = (z - z.mean()) / torch.sqrt(z.var(unbiased=False) + core.norm.eps)
                    z = z * core.norm.weight + core.norm.bias
                hs = torch.relu(z)
            h = hs
            ys.append(h)
        outs.append(torch.stack(ys))
    return torch.stack(outs)


def _core(d, h, **kw) -> FastWeightRNN:
    torch.manual_seed(0)
    core = FastWeightRNN(d, h, **kw).double()
    with torch.no_grad():  # a recurrent matrix far from identity, so the test sees W
        core.recurrent_weight.add_(0.3 * torch.randn(h, h, dtype=torch.float64))
        if isinstance(core.norm, nn.LayerNorm):
            core.norm.weight.uniform_(0.5, 1.5)
            core.norm.bias.uniform_(-0.1, 0.1)
    return core


@pytest.mark.parametrize("retrieval", ["matrix", "attention"])
@pytest.mark.parametrize(("inner_steps", "layer_norm"), [(1, True), (3, True), (2, False)])
def test_matches_the_equations(retrieval, inner_steps, layer_norm):
    core = _core(3, 5, inner_steps=inner_steps, layer_norm=layer_norm, retrieval=retrieval)
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    y, _ = core(x)
    assert y.shape == (4, 6, 5)
    torch.testing.assert_close(y, _reference(core, x))


@pytest.mark.parametrize(("b", "t", "h"), [(1, 1, 1), (3, 7, 4), (2, 12, 9), (5, 3, 16)])
def test_retrieval_forms_agree_with_gradients(b, t, h):
    """The materialised B x H x H matrix and the attention over past states are equal (eq. 4)."""
    gen = torch.Generator().manual_seed(b * 100 + t * 10 + h)
    past = torch.randn(b, t, h, dtype=torch.float64, generator=gen, requires_grad=True)
    q = torch.randn(b, h, dtype=torch.float64, generator=gen, requires_grad=True)
    via_matrix = torch.bmm(fast_weight_matrix(past, 0.9, 0.5), q.unsqueeze(2)).squeeze(2)
    via_attention = fast_weight_attention(past, q, 0.9, 0.5)
    torch.testing.assert_close(via_matrix, via_attention)
    g1 = torch.autograd.grad(via_matrix.sum(), (past, q))
    g2 = torch.autograd.grad(via_attention.sum(), (past, q))
    for a, c in zip(g1, g2):
        torch.testing.assert_close(a, c)

    core_m = _core(4, h, retrieval="matrix")
    core_a = _core(4, h, retrieval="attention")
    x = torch.randn(b, t, 4, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(core_m(x)[0], core_a(x)[0])


def test_fast_weight_matrix_by_hand():
    """A = eta (lambda h1 h1^T + h2 h2^T) for two past states."""
    past = torch.tensor([[[1.0, 2.0], [0.0, 1.0]]])
    a = fast_weight_matrix(past, decay=0.5, fast_lr=2.0)
    expected = 2.0 * (0.5 * torch.tensor([[1.0, 2.0], [2.0, 4.0]]) + torch.tensor([[0.0, 0.0],
                                                                                   [0.0, 1.0]]))
    torch.testing.assert_close(a[0], expected)


@pytest.mark.parametrize("retrieval", ["matrix", "attention"])
def test_state_carries_across_calls(retrieval):
    core = _core(3, 6, retrieval=retrieval)
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    whole, _ = core(x)
    first, state = core(x[:, :4])
    second, _ = core(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    steps, state = [], core.initial_state(2, dtype=torch.float64, form=retrieval)
    for t in range(9):
        y, state = core.step(x[:, t], state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), whole)


def test_auto_picks_attention_for_short_sequences():
    core = FastWeightRNN(3, 8)
    _, state = core(torch.randn(2, 5, 3))
    assert state.past is not None and state.fast_weights is None
    _, state = core(torch.randn(2, 12, 3))
    assert state.fast_weights is not None and state.past is None


def test_layer_norm_is_per_sequence_not_over_the_batch():
    core = _core(3, 6)
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    pre = []
    handle = core.norm.register_forward_hook(lambda m, i, o: pre.append(i[0]))
    y, _ = core(x)
    handle.remove()
    z = pre[0]  # (B, H): the pre-activation of each sequence is normalised on its own
    normed = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True)
                                                         + core.norm.eps)
    torch.testing.assert_close(core.norm(z), normed * core.norm.weight + core.norm.bias)
    # changing other sequences of the batch leaves a sequence's output unchanged
    x2 = x.clone()
    x2[1:] = 100 * torch.randn(3, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(core(x2)[0][0], y[0])


def test_gradcheck_one_step():
    core = _core(2, 3, inner_steps=2)
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    past = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)

    def one_step(x, h, past):
        from mneme.associative.fast_weights import FastWeightState

        y, _ = core.step(x, FastWeightState(h, past=past))
        return y

    assert torch.autograd.gradcheck(one_step, (x, h, past))


def test_trace_attention_reconstructs_the_fast_retrieval():
    core = _core(3, 5, retrieval="attention")
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y, _, trace = core(x, trace=True)
    assert trace.attention.shape == (2, 6, 6)
    assert torch.all(trace.attention.triu() == 0)  # only earlier steps are attended
    torch.testing.assert_close(trace.hidden, y)
    # sum_tau attention[t, tau] y_tau is A(t) q_t (from a zero initial state)
    q = []
    handle = core.norm.register_forward_hook(lambda m, i, o: q.append(i[0]))
    core(x)
    handle.remove()
    for t in range(1, 6):
        retrieved = torch.einsum("bk,bkh->bh", trace.attention[:, t, :t], y[:, :t])
        slow = core.input_weight(x[:, t]) + y[:, t - 1] @ core.recurrent_weight.t()
        torch.testing.assert_close(retrieved, q[t] - slow)


@pytest.mark.parametrize(("kwargs", "match"), [({"decay": 1.5}, "decay"),
                                               ({"fast_lr": -1.0}, "fast_lr"),
                                               ({"inner_steps": 0}, "inner_steps"),
                                               ({"retrieval": "dense"}, "retrieval")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FastWeightRNN(2, 3, **kwargs)
