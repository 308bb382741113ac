"""Stacks: shapes, bidirectional merge, separate parameters, step, state carry, both paths."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch

from mneme.cells import CELLS, LSTMState, RecurrentStack, RNNState, build_stack, detach_state
from mneme.cells.reference import stack_reference

D, H, B, T = 3, 4, 2, 6
LSTM_LIKE = {"lstm", "peephole", "coupled", "no-forget", "no-output", "ln-lstm"}


def _stack(cell: str, **kw) -> RecurrentStack:
    torch.manual_seed(0)
    return build_stack(cell, D, H, kw.pop("num_layers", 2), **kw).double().eval()


def _x(t: int = T) -> torch.Tensor:
    return torch.randn(B, t, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def test_the_documented_cell_names():
    assert list(CELLS) == ["rnn", "irnn", "lstm", "gru", "peephole", "coupled", "no-forget",
                           "no-output", "ln-lstm", "ln-gru"]
    with pytest.raises(ValueError, match="choose one of: rnn, irnn, lstm"):
        build_stack("transformer", D, H)


@pytest.mark.parametrize("cell", list(CELLS))
def test_deep_and_bidirectional_shapes(cell):
    deep = _stack(cell, num_layers=3)
    y, state = deep(_x())
    assert y.shape == (B, T, H) and deep.output_size == H
    assert state.hidden.shape == (3, B, H)
    assert isinstance(state, LSTMState if cell in LSTM_LIKE else RNNState)
    if cell in LSTM_LIKE:
        assert state.cell.shape == (3, B, H)
    bi = _stack(cell, bidirectional=True)
    y_cat, state = bi(_x())
    assert y_cat.shape == (B, T, 2 * H) and bi.output_size == 2 * H
    assert state.hidden.shape == (4, B, H)
    bi.merge = "sum"
    y_sum, _ = bi(_x())
    torch.testing.assert_close(y_sum, y_cat[..., :H] + y_cat[..., H:])
    _, _, trace = bi(_x(), trace=True)
    for field in vars(trace).values():
        assert field.shape == (4, B, T, H)


@pytest.mark.parametrize("cell", list(CELLS))
def test_stack_equals_the_reference_both_directions(cell):
    stack = _stack(cell, bidirectional=True)
    x = _x()
    s0 = stack.initial_state(B, dtype=torch.float64)
    s0 = type(s0)(*(torch.randn_like(v) for v in vars(s0).values()))
    y, state = stack(x, s0)
    y_ref, ref = stack_reference(stack, x, s0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(state.hidden, ref.hidden)
    # the per-step path (trace=True) equals the fused one for the standard cells
    y_steps, state_steps, _ = stack(x, s0, trace=True)
    torch.testing.assert_close(y_steps, y)
    torch.testing.assert_close(state_steps.hidden, state.hidden)


@pytest.mark.parametrize("cell", list(CELLS))
def test_layers_and_directions_do_not_share_parameters(cell):
    stack = _stack(cell, bidirectional=True)
    params = list(stack.parameters())
    assert len({p.data_ptr() for p in params}) == len(params)
    _, state = stack(_x())
    # the final state of layer 0 does not depend on layer 1's parameters
    layer1 = [p for n, p in stack.named_parameters() if "_l1" in n]
    assert layer1 and len(layer1) == len([n for n, _ in stack.named_parameters() if "_l0" in n])
    grads = torch.autograd.grad(state.hidden[:2].sum(), layer1, allow_unused=True)
    assert all(g is None or torch.all(g == 0) for g in grads)


@pytest.mark.parametrize("cell", list(CELLS))
def test_forward_equals_repeated_step_and_state_carry(cell):
    stack = _stack(cell)
    x = _x()
    s0 = stack.initial_state(B, dtype=torch.float64)
    y, state = stack(x, s0)
    s = s0
    for t in range(T):
        y_t, s = stack.step(x[:, t], s)
        torch.testing.assert_close(y_t, y[:, t])
    torch.testing.assert_close(s.hidden, state.hidden)
    first, mid = stack(x[:, :2])
    second, end = stack(x[:, 2:], detach_state(mid))
    torch.testing.assert_close(torch.cat([first, second], 1), y)
    torch.testing.assert_close(end.hidden, state.hidden)
    if cell in LSTM_LIKE:
        torch.testing.assert_close(end.cell, state.cell)


def test_detach_state_and_errors():
    w = torch.ones(2, requires_grad=True)
    state = LSTMState(w * 2, w * 3)
    cut = detach_state(state)
    assert isinstance(cut, LSTMState) and cut.hidden.grad_fn is None
    torch.testing.assert_close(cut.cell, torch.full((2,), 3.0))

    class Pair(NamedTuple):
        a: torch.Tensor
        b: tuple

    nested = detach_state(Pair(w * 1, (w * 2, None)))
    assert nested.a.grad_fn is None and nested.b[0].grad_fn is None and nested.b[1] is None
    with pytest.raises(TypeError):
        detach_state(object())
    bi = build_stack("gru", D, H, bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional"):
        bi.step(torch.zeros(B, D), bi.initial_state(B))
    with pytest.raises(ValueError, match=r"\(B, T, 3\)"):
        bi(torch.zeros(B, T, D + 1))
    with pytest.raises(ValueError, match="state of shape"):
        bi(torch.zeros(B, T, D), RNNState(torch.zeros(1, B, H)))
    with pytest.raises(ValueError, match="merge"):
        build_stack("lstm", D, H, merge="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_layers"):
        build_stack("lstm", D, H, 0)
