"""The Tape RNN (Deletang et al. 2023, "Neural Networks and the Chomsky Hierarchy", ICLR, arXiv
2207.02098, appendix A.2; DeepMind's released code ``models/tape_rnn.py``,
``TapeInputLengthJumpCore``).

A tanh RNN controller (the released code's default inner core, ``hk.VanillaRNN``; its
``constants.py`` builds ``tape_rnn`` with it) reads its input and the cell under the head of each
of K tapes, writes a value into that cell and moves the head by a softmax mixture of five
actions::

    h(t)  = tanh(U x(t) + R h(t-1) + P m(t-1)[0])            (every tape's cell 0, flattened)
    w(t)  = MLP(h(t))                   value written, per tape (ReLU layers, linear output)
    a(t)  = softmax(A h(t))             per tape, over STAY / LEFT / RIGHT / JUMP_LEFT / JUMP_RIGHT
    m'    = m(t-1) with cell 0 replaced by w(t)               (every action writes first)
    m(t)[i] = a_stay m'[i] + a_left m'[i+1] + a_right m'[i-1] + a_jump_left m'[i+L]
              + a_jump_right m'[i-L]                                   (indices modulo N)

The tape is circular and rolled so that the head is always at cell 0 (the released code applies
rolled identity matrices; rolling the tape is the same map). The action names and their order
are the code's: LEFT rolls the tape by -1 (the head then reads what was cell 1).

**L, the jump length.** The code keeps the input length L (the input part of the sequence,
before the empty output tokens) in the core's state, set once per batch by ``initial_state``.
A mneme core streams and is never told where the input ends, so L is state too:
``TapeState.jump_length`` ``(B,)``, one L per example, which ``initial_state`` fills from its
``input_length`` argument when given (the composed model passes the task's per-example input
lengths: ``mneme.models.sequence``, the Chomsky tasks), else with the config's ``jump_length``.
The default 0 makes both jumps equal to STAY: with no L given, the core is a three-move tape
RNN.

The tape starts at 0 (as in the code). The core's output is h(t) alone; the code's model adds
ReLU then a linear layer, the composed model adds the linear head only (``head_size`` gives a
ReLU MLP head). ``rounding=True`` discretises the actions to one-hot by argmax in eval mode, as
the Stack RNN's option does.

Legend: B batch, T time, D input features, H hidden units, K tapes, N tape cells, C cell size,
L jump length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, each

__all__ = [
    "ACTIONS",
    "JUMP_LEFT",
    "JUMP_RIGHT",
    "LEFT",
    "RIGHT",
    "STAY",
    "TapeRNN",
    "TapeRNNConfig",
    "TapeState",
    "TapeTrace",
    "build_tape_rnn_core",
    "tape_update",
]

STAY, LEFT, RIGHT, JUMP_LEFT, JUMP_RIGHT = range(5)
"""The order of the five actions along the last axis of the actions (the released code's)."""
ACTIONS = ("stay", "left", "right", "jump-left", "jump-right")


@dataclass(frozen=True)
class TapeRNNConfig(Validated):
    """Tape RNN hyper-parameters (the released code's ``example.py``: H = 256, N = 40, C = 8).

    Attributes:
        hidden_size: H, tanh units of the controller.
        num_tapes: K, independent tapes (the code: 1).
        tape_size: N, cells per tape (circular).
        cell_size: C, size of a tape cell.
        mlp_sizes: hidden layers of the MLP that computes the written value (empty: linear).
        jump_length: L given to every example by ``initial_state`` (0: jumps are STAY).
        rounding: in eval mode, one-hot actions by argmax.
    """

    hidden_size: int = field(default=256, metadata=at_least(1))
    num_tapes: int = field(default=1, metadata=at_least(1))
    tape_size: int = field(default=40, metadata=at_least(1))
    cell_size: int = field(default=8, metadata=at_least(1))
    mlp_sizes: tuple[int, ...] = field(default=(64, 64), metadata=each(at_least(1)))
    jump_length: int = field(default=0, metadata=at_least(0))
    rounding: bool = False


@register_state
@dataclass(frozen=True)
class TapeState:
    """h(t-1) ``(B, H)``, the tapes ``(B, K, N, C)`` (cell 0 under the head) and L ``(B,)``
    (int64, taken modulo N)."""

    hidden: Tensor
    tapes: Tensor
    jump_length: Tensor


@dataclass(frozen=True)
class TapeTrace:
    """``actions`` ``(B, T, K, 5)``, ``tape`` ``(B, T, K, N, C)`` after each step's update (cell
    0 under the head), ``written`` ``(B, T, K, C)`` w(t), ``hidden`` ``(B, T, H)``."""

    actions: Tensor
    tape: Tensor
    written: Tensor
    hidden: Tensor


def tape_update(tapes: Tensor, actions: Tensor, written: Tensor, jump_length: Tensor) -> Tensor:
    """One write-then-move step for every batch element and tape at once.

    Args:
        tapes: m(t-1) ``(B, K, N, C)``.
        actions: ``(B, K, 5)``, weights of STAY, LEFT, RIGHT, JUMP_LEFT, JUMP_RIGHT.
        written: w(t) ``(B, K, C)``, written into cell 0 before the move.
        jump_length: L ``(B,)`` integers.

    Returns:
        m(t) ``(B, K, N, C)``.
    """
    m = torch.cat([written.unsqueeze(2), tapes[:, :, 1:]], dim=2)
    n = m.shape[2]
    cells = torch.arange(n, device=m.device)
    jump = jump_length.to(m.device).view(-1, 1)  # (B, 1)

    def gather(index: Tensor) -> Tensor:  # out[b, :, i] = m[b, :, index[b, i]]
        return m.gather(2, index[:, None, :, None].expand(-1, m.shape[1], -1, m.shape[3]))

    moved = (m, m.roll(-1, 2), m.roll(1, 2), gather((cells + jump) % n), gather((cells - jump) % n))
    a = actions[..., None, None]  # (B, K, 5, 1, 1)
    return sum(a[:, :, i] * moved[i] for i in range(5))  # type: ignore[return-value]


class TapeRNN(nn.Module):
    """A tanh recurrent controller writing to and moving over K circular tapes, a core.

    Args:
        input_size: D.
        config: the hyper-parameters.
    """

    def __init__(self, input_size: int, config: TapeRNNConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        h, k, c = config.hidden_size, config.num_tapes, config.cell_size
        self.hidden_size = self.output_size = h
        self.input_weight = nn.Linear(input_size, h)  # U (and the bias)
        self.recurrent_weight = nn.Linear(h, h, bias=False)  # R
        self.read_weight = nn.Linear(k * c, h, bias=False)  # P
        self.action_weight = nn.Linear(h, k * 5)  # A
        layers: list[nn.Module] = []
        width = h
        for size in config.mlp_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.write_mlp = nn.Sequential(*layers, nn.Linear(width, k * c))

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None, *, input_length: Tensor | None = None
                      ) -> TapeState:
        """h = 0, tapes of zeros, L = ``input_length`` ``(B,)`` (each example's input length,
        the code's L) or ``config.jump_length`` for every example."""
        p = self.input_weight.weight
        device, dtype = device or p.device, dtype or p.dtype
        cfg = self.config
        return TapeState(
            torch.zeros(batch_size, cfg.hidden_size, device=device, dtype=dtype),
            torch.zeros(batch_size, cfg.num_tapes, cfg.tape_size, cfg.cell_size, device=device,
                        dtype=dtype),
            torch.full((batch_size,), cfg.jump_length, device=device, dtype=torch.long)
            if input_length is None else input_length.to(device=device, dtype=torch.long))

    def actions(self, hidden: Tensor) -> Tensor:
        """a(t) ``(B, K, 5)`` from h(t): softmax, or one-hot by argmax when rounding in eval."""
        logits = self.action_weight(hidden).view(hidden.shape[0], self.config.num_tapes, 5)
        if self.config.rounding and not self.training:
            return F.one_hot(logits.argmax(-1), 5).to(logits.dtype)
        return torch.softmax(logits, dim=-1)

    def forward(self, x: Tensor, state: TapeState | None = None, *, trace: bool = False
                ) -> tuple[Tensor, TapeState] | tuple[Tensor, TapeState, TapeTrace]:
        """``x`` ``(B, T, D)`` -> ``(h (B, T, H), state)``, plus a ``TapeTrace`` with ``trace``."""
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        k, c = self.config.num_tapes, self.config.cell_size
        pre_in = self.input_weight(x)  # U x + bias, all steps at once
        h, tapes, jump = state.hidden, state.tapes, state.jump_length
        hs, acts, cells, writes = [], [], [], []
        for t in range(steps):
            h = torch.tanh(pre_in[:, t] + self.recurrent_weight(h)
                           + self.read_weight(tapes[:, :, 0].reshape(b, k * c)))
            a = self.actions(h)
            written = self.write_mlp(h).view(b, k, c)
            tapes = tape_update(tapes, a, written, jump)
            hs.append(h)
            if trace:
                acts.append(a)
                cells.append(tapes)
                writes.append(written)
        out = torch.stack(hs, dim=1)
        new_state = TapeState(h, tapes, jump)
        if not trace:
            return out, new_state
        return out, new_state, TapeTrace(torch.stack(acts, 1).detach(),
                                         torch.stack(cells, 1).detach(),
                                         torch.stack(writes, 1).detach(), out.detach())

    def step(self, x_t: Tensor, state: TapeState) -> tuple[Tensor, TapeState]:
        """``x_t`` ``(B, D)`` -> ``(h_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state


@register_core("tape-rnn", config=TapeRNNConfig, family="external",
               summary="Tape RNN: a tanh RNN writing to a circular tape, moving by 1 or by L",
               source="Deletang et al. 2023, arXiv 2207.02098, appendix A.2; DeepMind's "
                      "neural_networks_chomsky_hierarchy models/tape_rnn.py")
def build_tape_rnn_core(config: TapeRNNConfig, input_size: int) -> TapeRNN:
    """A ``TapeRNN`` core reading D = ``input_size`` features."""
    config.validate()
    return TapeRNN(input_size, config)
