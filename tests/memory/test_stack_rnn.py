"""The Stack RNN core (Joulin & Mikolov 2015, sections 3-4)."""

from __future__ import annotations

import math

import pytest
import torch
from tests.learning import train_steps

from mneme import registry
from mneme.errors import ConfigError
from mneme.memory.stack_rnn import (
    EMPTY_VALUE,
    NOOP,
    POP,
    PUSH,
    StackRNN,
    StackRNNConfig,
    StackState,
    build_stack_rnn_core,
    stack_update,
)
from mneme.types import pack_state, unpack_state

f64 = torch.float64


def _core(d=3, seed=0, dtype=f64, **kw) -> StackRNN:
    torch.manual_seed(seed)
    base = dict(hidden_size=6, num_stacks=2, stack_depth=4, cell_size=2, read_top=2)
    return StackRNN(d, StackRNNConfig(**{**base, **kw})).to(dtype)


def _random_state(core: StackRNN, b: int) -> StackState:
    g = torch.Generator().manual_seed(1)
    cfg = core.config
    return StackState(torch.rand(b, cfg.hidden_size, generator=g, dtype=f64),
                      torch.rand(b, cfg.num_stacks, cfg.stack_depth, cfg.cell_size, generator=g,
                                 dtype=f64))


class DiscreteStack:
    """A Python list as a stack of ``depth`` cells (index 0 the top): PUSH drops the bottom cell
    when full, POP of an empty stack leaves it empty; missing cells read ``EMPTY_VALUE``."""

    def __init__(self, depth: int, cell_size: int = 1) -> None:
        self.items: list[list[float]] = []
        self.depth, self.cell_size = depth, cell_size

    def act(self, action: int, value: list[float]) -> None:
        if action == PUSH:
            self.items = [value, *self.items][:self.depth]
        elif action == POP:
            self.items = self.items[1:]

    def cells(self) -> list[list[float]]:
        empty = [EMPTY_VALUE] * self.cell_size
        return self.items + [empty] * (self.depth - len(self.items))


def test_shapes_and_trace() -> None:
    core = _core()
    x = torch.randn(4, 7, 3, dtype=f64)
    y, state, trace = core(x, trace=True)
    assert core.output_size == 6 and y.shape == (4, 7, 6)
    assert state.hidden.shape == (4, 6) and state.stacks.shape == (4, 2, 4, 2)
    assert trace.actions.shape == (4, 7, 2, 3) and trace.tops.shape == (4, 7, 2, 2)
    torch.testing.assert_close(trace.actions.sum(-1), torch.ones(4, 7, 2, dtype=f64))
    assert (trace.actions >= 0).all()
    torch.testing.assert_close(trace.tops[:, -1], state.stacks[:, :, 0])
    assert trace.stacks.shape == (4, 7, 2, 4, 2)
    torch.testing.assert_close(trace.stacks[:, -1], state.stacks)
    torch.testing.assert_close(trace.stacks[:, :, :, 0], trace.tops)
    torch.testing.assert_close(trace.hidden, y)
    init = core.initial_state(3)
    assert (init.stacks == EMPTY_VALUE).all() and (init.hidden == 0).all()
    back = unpack_state(pack_state(state))
    torch.testing.assert_close(back.stacks, state.stacks)


def test_one_step_push_and_pop_by_hand() -> None:
    """Stack 0 forced to PUSH, stack 1 to POP (action logits set through the bias): the PUSH puts
    sigmoid(D h) on top and shifts the rest down (dropping the bottom), the POP shifts up and
    fills the bottom with EMPTY_VALUE; h is sigmoid(U x + R h + P s[0:k])."""
    core = _core(d=2, hidden_size=2, num_stacks=2, stack_depth=3, cell_size=1, read_top=2)
    with torch.no_grad():
        core.input_weight.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.25]]))
        core.input_weight.bias.copy_(torch.tensor([0.1, -0.1]))
        assert core.recurrent_weight is not None
        core.recurrent_weight.weight.copy_(torch.tensor([[0.3, 0.0], [-0.2, 0.4]]))
        core.stack_weight.weight.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.5], [0.0, -1.0, 2.0, 0.0]]))
        core.action_weight.weight.zero_()
        core.action_weight.bias.copy_(torch.tensor([100.0, 0, 0, 0, 100.0, 0]))
        core.push_weight.weight.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
        core.push_weight.bias.copy_(torch.tensor([0.0, 3.0]))
    x = torch.tensor([[[0.5, 1.0]]], dtype=f64)
    h0 = torch.tensor([[0.2, 0.6]], dtype=f64)
    s0 = torch.tensor([[[[0.1], [0.2], [0.3]], [[0.7], [0.8], [0.9]]]], dtype=f64)
    y, state, trace = core(x, StackState(h0, s0), trace=True)
    # pre = U x + b + R h0 + P [0.1, 0.2, 0.7, 0.8]
    pre = [0.5 - 2.0 + 0.1 + 0.06 + 0.1 + 0.4, 0.25 + 0.25 - 0.1 - 0.04 + 0.24 - 0.2 + 1.4]
    h = torch.sigmoid(torch.tensor(pre, dtype=f64))
    torch.testing.assert_close(y[0, 0], h)
    pushed = torch.sigmoid(h.sum())
    expected = torch.tensor([[[[float(pushed)], [0.1], [0.2]], [[0.8], [0.9], [EMPTY_VALUE]]]],
                            dtype=f64)
    torch.testing.assert_close(state.stacks, expected)
    assert float(trace.actions[0, 0, 0, PUSH]) == pytest.approx(1.0)
    assert float(trace.actions[0, 0, 1, POP]) == pytest.approx(1.0)


def test_stack_update_mixes_the_three_moves() -> None:
    s = torch.arange(1.0, 4.0, dtype=f64).view(1, 1, 3, 1)
    a = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=f64)
    out = stack_update(s, a, torch.tensor([[[9.0]]], dtype=f64))
    push = torch.tensor([9.0, 1.0, 2.0])
    pop = torch.tensor([2.0, 3.0, EMPTY_VALUE])
    noop = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(out.flatten(), (0.5 * push + 0.25 * pop + 0.25 * noop).double())
    assert (PUSH, POP, NOOP) == (0, 1, 2)


def test_one_hot_actions_equal_a_discrete_stack() -> None:
    """400 random one-hot actions and pushed values on stacks of depth 5 (so they fill, drop
    their bottom cell and empty again): ``stack_update`` equals a Python list stack."""
    g = torch.Generator().manual_seed(0)
    b, s, depth = 4, 2, 5
    stacks = torch.full((b, s, depth, 1), EMPTY_VALUE, dtype=f64)
    refs = [[DiscreteStack(depth) for _ in range(s)] for _ in range(b)]
    full = empty = 0
    for t in range(400):
        bias = torch.tensor([0.6, 0.3, 0.1] if (t // 40) % 2 == 0 else [0.2, 0.7, 0.1])
        actions = torch.multinomial(bias, b * s, replacement=True, generator=g).view(b, s)
        values = torch.rand(b, s, 1, generator=g, dtype=f64)
        stacks = stack_update(stacks, torch.nn.functional.one_hot(actions, 3).to(f64), values)
        for i in range(b):
            for j in range(s):
                refs[i][j].act(int(actions[i, j]), [float(values[i, j, 0])])
        expected = torch.tensor([[ref.cells() for ref in row] for row in refs], dtype=f64)
        assert torch.equal(stacks, expected)
        full += sum(len(ref.items) == depth for row in refs for ref in row)
        empty += sum(not ref.items for row in refs for ref in row)
    assert full > 100 and empty > 100  # both ends of the stack were exercised


def test_rounded_core_replays_on_a_discrete_stack() -> None:
    """The whole core in eval mode with rounding: its traced stacks equal Python stacks driven by
    its traced one-hot actions (a PUSH pushes the traced new top), every step."""
    core = _core(seed=4, rounding=True, stack_depth=4, cell_size=2).eval()
    torch.manual_seed(4)
    _, _, trace = core(3 * torch.randn(3, 50, 3, dtype=f64), trace=True)
    assert set(trace.actions.unique().tolist()) <= {0.0, 1.0}
    for i in range(3):
        for j in range(2):
            ref = DiscreteStack(4, cell_size=2)
            for t in range(50):
                ref.act(int(trace.actions[i, t, j].argmax()), trace.tops[i, t, j].tolist())
                assert trace.stacks[i, t, j].tolist() == ref.cells()
    assert trace.actions.argmax(-1).flatten().bincount(minlength=3).min() > 10  # all 3 moves


@pytest.mark.parametrize("recurrence", [True, False])
def test_forward_equals_chunks_and_steps(recurrence: bool) -> None:
    core = _core(recurrence=recurrence)
    assert (core.recurrent_weight is None) == (not recurrence)
    x = torch.randn(3, 9, 3, dtype=f64)
    start = _random_state(core, 3)
    y, state = core(x, start)
    y1, mid = core(x[:, :4], start)
    y2, end = core(x[:, 4:], mid)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    torch.testing.assert_close(end.stacks, state.stacks)
    s, outs = start, []
    for t in range(9):
        out, s = core.step(x[:, t], s)
        outs.append(out)
    torch.testing.assert_close(torch.stack(outs, 1), y)
    torch.testing.assert_close(s.hidden, state.hidden)


def test_gradcheck() -> None:
    core = _core(d=2, hidden_size=3, num_stacks=2, stack_depth=3, cell_size=1, read_top=2)
    x = torch.randn(2, 4, 2, dtype=f64, requires_grad=True)
    start = _random_state(core, 2)
    stacks = start.stacks.clone().requires_grad_(True)

    def f(x, stacks):
        y, state = core(x, StackState(start.hidden, stacks))
        return y, state.stacks

    assert torch.autograd.gradcheck(f, (x, stacks))
    names = [n for n, _ in core.named_parameters()]

    def g(*ps):
        return torch.func.functional_call(core, dict(zip(names, ps, strict=True)), (x.detach(),))[0]

    assert torch.autograd.gradcheck(g, tuple(p.detach().clone().requires_grad_(True)
                                             for p in core.parameters()))


def test_rounding_gives_one_hot_actions_in_eval() -> None:
    core = _core(rounding=True)
    x = torch.randn(2, 5, 3, dtype=f64)
    _, _, soft = core(x, trace=True)  # training mode: soft actions
    assert ((soft.actions > 0) & (soft.actions < 1)).any()
    core.eval()
    _, state, hard = core(x, trace=True)
    assert set(hard.actions.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(hard.actions.sum(-1), torch.ones(2, 5, 2, dtype=f64))
    # with one-hot actions, every cell is a pushed value or EMPTY_VALUE
    assert ((state.stacks == EMPTY_VALUE) | ((state.stacks > 0) & (state.stacks < 1))).all()
    plain = _core(rounding=False).eval()
    _, _, t = plain(x, trace=True)
    assert ((t.actions > 0) & (t.actions < 1)).any()


@pytest.mark.parametrize(("changes", "named", "text"), [
    ({"hidden_size": 0}, "hidden_size", ">= 1"), ({"num_stacks": 0}, "num_stacks", ">= 1"),
    ({"stack_depth": 0}, "stack_depth", ">= 1"), ({"cell_size": 0}, "cell_size", ">= 1"),
    ({"read_top": 0}, "read_top", ">= 1"),
    ({"read_top": 5, "stack_depth": 4}, "stack_depth", "read_top"),
])
def test_validate_names_the_field(changes: dict, named: str, text: str) -> None:
    config = StackRNNConfig(**changes)
    with pytest.raises(ConfigError, match=f"StackRNNConfig.{named}") as err:
        config.validate()
    assert text in str(err.value)
    with pytest.raises(ConfigError):
        build_stack_rnn_core(config, 3)


def test_registered() -> None:
    registry.load()
    entry = registry.core_entry("stack-rnn")
    assert entry.family == "external" and "1503.01007" in entry.source
    assert isinstance(entry.build(StackRNNConfig(hidden_size=4), 3), StackRNN)


def test_learns_copy() -> None:
    """Fixed seed, one thread: ``--model stack-rnn`` (H = 64, two stacks of 8-wide cells) learns
    copy of lengths 1-3 within 2000 updates: under 1 wrong bit per sequence on the test set,
    where guessing gets 8 (8 bits x 2 vectors / 2)."""
    from mneme.models.build import build_model
    from mneme.models.sequence import composed_config
    from mneme.tasks.algorithmic import CopyConfig, CopyTask
    from mneme.train.evaluate import evaluate

    registry.load()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        task = CopyTask(CopyConfig(max_length=3, valid_size=64, test_size=64))
        config = composed_config(registry.core_entry("stack-rnn"))(hidden_size=64, cell_size=8)
        model = build_model("stack-rnn", config, task)
        opt = torch.optim.Adam(model.parameters(), lr=2e-2)
        train_steps(model, task, opt, 2000, clip_norm=10.0)
        bits = evaluate(model, task, "test", 64)["bits"]
    finally:
        torch.set_num_threads(threads)
    assert math.isfinite(bits) and bits < 1.0, bits
