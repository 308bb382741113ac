"""The Tape RNN core (Deletang et al. 2023, appendix A.2; DeepMind's ``models/tape_rnn.py``)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from tests.learning import train_steps

from mneme import registry
from mneme.errors import ConfigError
from mneme.memory.tape_rnn import (
    ACTIONS,
    JUMP_LEFT,
    JUMP_RIGHT,
    LEFT,
    RIGHT,
    STAY,
    TapeRNN,
    TapeRNNConfig,
    TapeState,
    build_tape_rnn_core,
    tape_update,
)
from mneme.types import pack_state, unpack_state

f64 = torch.float64


def _core(d=3, seed=0, dtype=f64, **kw) -> TapeRNN:
    torch.manual_seed(seed)
    base = dict(hidden_size=6, num_tapes=2, tape_size=5, cell_size=2, mlp_sizes=(4,))
    return TapeRNN(d, TapeRNNConfig(**{**base, **kw})).to(dtype)


def _random_state(core: TapeRNN, b: int) -> TapeState:
    g = torch.Generator().manual_seed(1)
    cfg = core.config
    return TapeState(torch.rand(b, cfg.hidden_size, generator=g, dtype=f64),
                     torch.rand(b, cfg.num_tapes, cfg.tape_size, cfg.cell_size, generator=g,
                                dtype=f64),
                     torch.arange(b) + 1)


class DiscreteTape:
    """A circular tape of ``n`` cells and a head index, written then moved as the actions say:
    LEFT moves the head to the next cell (the rolled tape's cell 1), JUMP_LEFT L cells on."""

    def __init__(self, n: int, jump: int, cell_size: int = 1) -> None:
        self.cells: list[list[float]] = [[0.0] * cell_size for _ in range(n)]
        self.head, self.jump = 0, jump

    def act(self, action: int, value: list[float]) -> None:
        self.cells[self.head] = value
        move = {STAY: 0, LEFT: 1, RIGHT: -1, JUMP_LEFT: self.jump, JUMP_RIGHT: -self.jump}
        self.head = (self.head + move[action]) % len(self.cells)

    def seen_from_head(self) -> list[list[float]]:
        n = len(self.cells)
        return [self.cells[(self.head + i) % n] for i in range(n)]


def test_shapes_and_trace() -> None:
    core = _core(jump_length=2)
    x = torch.randn(4, 7, 3, dtype=f64)
    y, state, trace = core(x, trace=True)
    assert core.output_size == 6 and y.shape == (4, 7, 6)
    assert state.hidden.shape == (4, 6) and state.tapes.shape == (4, 2, 5, 2)
    assert state.jump_length.tolist() == [2] * 4 and state.jump_length.dtype == torch.long
    assert trace.actions.shape == (4, 7, 2, 5) and trace.tape.shape == (4, 7, 2, 5, 2)
    assert trace.written.shape == (4, 7, 2, 2) and len(ACTIONS) == 5
    torch.testing.assert_close(trace.actions.sum(-1), torch.ones(4, 7, 2, dtype=f64))
    torch.testing.assert_close(trace.tape[:, -1], state.tapes)
    torch.testing.assert_close(trace.hidden, y)
    init = core.initial_state(3)
    assert (init.tapes == 0).all() and (init.hidden == 0).all()
    back = unpack_state(pack_state(state))
    torch.testing.assert_close(back.tapes, state.tapes)
    assert torch.equal(back.jump_length, state.jump_length)


def test_tape_update_mixes_the_five_moves_by_hand() -> None:
    """Tape [1, 2, 3, 4, 5], 9 written into cell 0, L = 2: each move rolls [9, 2, 3, 4, 5]."""
    m = torch.arange(1.0, 6.0, dtype=f64).view(1, 1, 5, 1)
    a = torch.tensor([[[0.1, 0.2, 0.3, 0.15, 0.25]]], dtype=f64)
    out = tape_update(m, a, torch.tensor([[[9.0]]], dtype=f64), torch.tensor([2]))
    moves = torch.tensor([[9, 2, 3, 4, 5], [2, 3, 4, 5, 9], [5, 9, 2, 3, 4], [3, 4, 5, 9, 2],
                          [4, 5, 9, 2, 3]], dtype=f64)
    torch.testing.assert_close(out.flatten(), a.flatten() @ moves)


def test_one_hot_actions_equal_a_discrete_tape() -> None:
    """400 random one-hot actions and written values, per-example L (including L = 0 and L >= N):
    the rolled tape equals a Python tape with a moving head, seen from the head."""
    g = torch.Generator().manual_seed(0)
    b, n, steps = 6, 7, 400
    jumps = torch.tensor([0, 1, 3, 6, 7, 10])
    tapes = torch.zeros(b, 1, n, 1, dtype=f64)
    refs = [DiscreteTape(n, int(j)) for j in jumps]
    for _ in range(steps):
        actions = torch.randint(0, 5, (b,), generator=g)
        values = torch.randn(b, 1, 1, generator=g, dtype=f64)
        tapes = tape_update(tapes, torch.nn.functional.one_hot(actions, 5).to(f64)[:, None],
                            values, jumps)
        for i, ref in enumerate(refs):
            ref.act(int(actions[i]), [float(values[i, 0, 0])])
        expected = torch.tensor([ref.seen_from_head() for ref in refs], dtype=f64)
        assert torch.equal(tapes[:, 0], expected)


def test_rounded_core_replays_on_a_discrete_tape() -> None:
    """The whole core in eval mode with rounding: its traced tapes equal a Python tape driven by
    its traced (one-hot) actions and written values, every step."""
    core = _core(seed=4, rounding=True, num_tapes=1, tape_size=6, jump_length=4).eval()
    torch.manual_seed(4)
    x = 3 * torch.randn(3, 60, 3, dtype=f64)
    _, _, trace = core(x, trace=True)
    assert set(trace.actions.unique().tolist()) <= {0.0, 1.0}
    assert trace.actions.argmax(-1).flatten().bincount(minlength=5).min() > 10  # all 5 moves
    for i in range(3):
        ref = DiscreteTape(6, 4, cell_size=2)
        for t in range(60):
            ref.act(int(trace.actions[i, t, 0].argmax()), trace.written[i, t, 0].tolist())
            assert trace.tape[i, t, 0].tolist() == ref.seen_from_head()
    _, _, soft = core.train()(x, trace=True)
    assert ((soft.actions > 0) & (soft.actions < 1)).any()


def test_forward_equals_chunks_and_steps() -> None:
    core = _core()
    x = torch.randn(3, 9, 3, dtype=f64)
    start = _random_state(core, 3)  # L = 1, 2, 3
    y, state = core(x, start)
    y1, mid = core(x[:, :4], start)
    y2, end = core(x[:, 4:], mid)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    torch.testing.assert_close(end.tapes, state.tapes)
    s, outs = start, []
    for t in range(9):
        out, s = core.step(x[:, t], s)
        outs.append(out)
    torch.testing.assert_close(torch.stack(outs, 1), y)
    torch.testing.assert_close(s.tapes, state.tapes)
    assert torch.equal(s.jump_length, start.jump_length)
    other, _ = core(x, dataclasses.replace(start, jump_length=torch.tensor([0, 0, 0])))
    assert not torch.allclose(other, y)  # L is used


def test_gradcheck() -> None:
    core = _core(d=2, hidden_size=3, num_tapes=1, tape_size=4, cell_size=2, mlp_sizes=(3,))
    x = torch.randn(2, 4, 2, dtype=f64, requires_grad=True)
    start = _random_state(core, 2)
    tapes = start.tapes.clone().requires_grad_(True)

    def f(x, tapes):
        y, state = core(x, TapeState(start.hidden, tapes, start.jump_length))
        return y, state.tapes

    assert torch.autograd.gradcheck(f, (x, tapes))
    names = [n for n, _ in core.named_parameters()]

    def g(*ps):
        params = dict(zip(names, ps, strict=True))
        return torch.func.functional_call(core, params, (x.detach(), start))[1].tapes

    assert torch.autograd.gradcheck(g, tuple(p.detach().clone().requires_grad_(True)
                                             for p in core.parameters()))


def test_linear_write_when_no_mlp_layers() -> None:
    core = _core(mlp_sizes=())
    assert len(core.write_mlp) == 1
    assert core(torch.randn(2, 3, 3, dtype=f64))[0].shape == (2, 3, 6)


@pytest.mark.parametrize(("changes", "named", "text"), [
    ({"hidden_size": 0}, "hidden_size", ">= 1"), ({"num_tapes": 0}, "num_tapes", ">= 1"),
    ({"tape_size": 0}, "tape_size", ">= 1"), ({"cell_size": 0}, "cell_size", ">= 1"),
    ({"mlp_sizes": (4, 0)}, "mlp_sizes", ">= 1"), ({"jump_length": -1}, "jump_length", ">= 0"),
])
def test_validate_names_the_field(changes: dict, named: str, text: str) -> None:
    config = TapeRNNConfig(**changes)
    with pytest.raises(ConfigError, match=f"TapeRNNConfig.{named}") as err:
        config.validate()
    assert text in str(err.value)
    with pytest.raises(ConfigError):
        build_tape_rnn_core(config, 3)


def test_registered() -> None:
    registry.load()
    entry = registry.core_entry("tape-rnn")
    assert entry.family == "external" and "2207.02098" in entry.source
    assert isinstance(entry.build(TapeRNNConfig(hidden_size=4), 3), TapeRNN)


def test_learns_copy() -> None:
    """Fixed seed, one thread: ``--model tape-rnn`` (H = 64, one tape of 8-wide cells) learns
    copy of lengths 1-3: under 1 wrong bit per sequence on the test set, where guessing gets
    8 (8 bits x 2 vectors / 2)."""
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
        config = composed_config(registry.core_entry("tape-rnn"))(hidden_size=64, tape_size=8)
        model = build_model("tape-rnn", config, task)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        train_steps(model, task, opt, 1000, clip_norm=10.0)
        bits = evaluate(model, task, "test", 64)["bits"]
    finally:
        torch.set_num_threads(threads)
    assert math.isfinite(bits) and bits < 1.0, bits
