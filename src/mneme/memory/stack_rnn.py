"""The Stack RNN (Joulin & Mikolov 2015, "Inferring Algorithmic Patterns with Stack-Augmented
Recurrent Nets", arXiv 1503.01007, sections 3-4).

A recurrent controller with sigmoid units reads its input, its last hidden state and the k top
elements of each of S differentiable stacks (section 3.1, eq. 4 with the stacks of section 3.2)::

    h(t)  = sigmoid(U x(t) + R h(t-1) + P s(t-1)[0:k])          (all stacks' k tops, flattened)
    a(t)  = softmax(A h(t))                     per stack, over PUSH / POP / NO-OP   (eq. 5)
    s(t)[0] = a_push sigmoid(D h(t)) + a_pop s(t-1)[1] + a_noop s(t-1)[0]            (eq. 6)
    s(t)[i] = a_push s(t-1)[i-1] + a_pop s(t-1)[i+1] + a_noop s(t-1)[i]              (eq. 7)

The core's output is h(t) alone (the paper's y(t) = f(V h(t)); the task-facing model adds the
linear head V), so ``output_size = hidden_size``; the stacks reach the output through the next
step's h.

Empty cells hold -1 (``EMPTY_VALUE``; the paper leaves the bottom unspecified, -1 is the value
we recall from the authors' released code, not re-checked here, and it keeps an empty cell apart
from any pushed value, which lies in (0, 1)): the stacks start filled with -1 and a POP shifts -1
into the bottom cell. A PUSH drops the bottom cell (a stack of finite ``stack_depth``). Cells
are vectors of ``cell_size`` (the paper: 1).

``recurrence=False`` is the paper's variant with recurrence only through the stacks (R = 0).
``rounding=True`` discretises the actions to one-hot by argmax in eval mode (the paper's
"rounding", Table 2); training always uses the soft actions.

Speed: one Python loop over time; batch and stacks are updated together, and the input part U x
is projected for all T at once.

Legend: B batch, T time, D input features, H hidden units, S stacks, N stack depth, C cell size,
k top elements read per stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, ordered

__all__ = [
    "EMPTY_VALUE",
    "NOOP",
    "POP",
    "PUSH",
    "StackRNN",
    "StackRNNConfig",
    "StackState",
    "StackTrace",
    "build_stack_rnn_core",
    "stack_update",
]

EMPTY_VALUE = -1.0
"""The value of an empty stack cell."""
PUSH, POP, NOOP = 0, 1, 2
"""The order of the three actions along the last axis of the actions."""


@dataclass(frozen=True)
class StackRNNConfig(Validated):
    """Stack RNN hyper-parameters (Joulin & Mikolov 2015).

    Attributes:
        hidden_size: H, sigmoid units of the controller.
        num_stacks: S, independent stacks.
        stack_depth: N, cells per stack (a PUSH drops the bottom one).
        cell_size: C, size of a stack cell (the paper: 1).
        read_top: k, top cells of every stack fed to the controller (the paper: 2).
        recurrence: keep R; False: recurrence only through the stacks (R = 0).
        rounding: in eval mode, one-hot actions by argmax (the paper's Table 2).
    """

    hidden_size: int = field(default=64, metadata=at_least(1))
    num_stacks: int = field(default=2, metadata=at_least(1))
    stack_depth: int = field(default=32, metadata=at_least(1))
    cell_size: int = field(default=1, metadata=at_least(1))
    read_top: int = field(default=2, metadata=at_least(1))
    recurrence: bool = True
    rounding: bool = False

    def check(self) -> None:
        ordered(self, "read_top", "stack_depth")


@register_state
@dataclass(frozen=True)
class StackState:
    """h(t-1) ``(B, H)`` and the stacks ``(B, S, N, C)`` (cell 0 is the top)."""

    hidden: Tensor
    stacks: Tensor


@dataclass(frozen=True)
class StackTrace:
    """``actions`` ``(B, T, S, 3)`` (PUSH, POP, NO-OP), ``tops`` ``(B, T, S, C)`` s(t)[0] after
    each step's update, ``hidden`` ``(B, T, H)``, ``stacks`` ``(B, T, S, N, C)`` s(t)."""

    actions: Tensor
    tops: Tensor
    hidden: Tensor
    stacks: Tensor


def stack_update(stacks: Tensor, actions: Tensor, pushed: Tensor) -> Tensor:
    """One step of eqs. 6-7 for every batch element and stack at once.

    Args:
        stacks: s(t-1) ``(B, S, N, C)``.
        actions: ``(B, S, 3)``, weights of PUSH, POP, NO-OP.
        pushed: the value a PUSH puts on top ``(B, S, C)``.

    Returns:
        s(t) ``(B, S, N, C)``.
    """
    empty = stacks.new_full(stacks[:, :, :1].shape, EMPTY_VALUE)
    after_push = torch.cat([pushed.unsqueeze(2), stacks[:, :, :-1]], dim=2)
    after_pop = torch.cat([stacks[:, :, 1:], empty], dim=2)
    a = actions[..., None, None]  # (B, S, 3, 1, 1)
    return a[:, :, PUSH] * after_push + a[:, :, POP] * after_pop + a[:, :, NOOP] * stacks


class StackRNN(nn.Module):
    """A sigmoid recurrent controller with S differentiable stacks, a core.

    Args:
        input_size: D.
        config: the hyper-parameters.
    """

    def __init__(self, input_size: int, config: StackRNNConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        h, s, c, k = config.hidden_size, config.num_stacks, config.cell_size, config.read_top
        self.hidden_size = self.output_size = h
        self.input_weight = nn.Linear(input_size, h)  # U (and the bias)
        self.recurrent_weight = nn.Linear(h, h, bias=False) if config.recurrence else None  # R
        self.stack_weight = nn.Linear(s * k * c, h, bias=False)  # P
        self.action_weight = nn.Linear(h, s * 3)  # A
        self.push_weight = nn.Linear(h, s * c)  # D

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> StackState:
        """h = 0 and empty stacks (every cell ``EMPTY_VALUE``)."""
        p = self.input_weight.weight
        device, dtype = device or p.device, dtype or p.dtype
        cfg = self.config
        return StackState(
            torch.zeros(batch_size, cfg.hidden_size, device=device, dtype=dtype),
            torch.full((batch_size, cfg.num_stacks, cfg.stack_depth, cfg.cell_size), EMPTY_VALUE,
                       device=device, dtype=dtype))

    def actions(self, hidden: Tensor) -> Tensor:
        """a(t) ``(B, S, 3)`` from h(t): softmax, or one-hot by argmax when rounding in eval."""
        logits = self.action_weight(hidden).view(hidden.shape[0], self.config.num_stacks, 3)
        if self.config.rounding and not self.training:
            return F.one_hot(logits.argmax(-1), 3).to(logits.dtype)
        return torch.softmax(logits, dim=-1)

    def forward(self, x: Tensor, state: StackState | None = None, *, trace: bool = False
                ) -> tuple[Tensor, StackState] | tuple[Tensor, StackState, StackTrace]:
        """``x`` ``(B, T, D)`` -> ``(h (B, T, H), state)``, plus a ``StackTrace`` with ``trace``."""
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        cfg = self.config
        pre_in = self.input_weight(x)  # U x + bias, all steps at once
        h, stacks = state.hidden, state.stacks
        hs, acts, kept = [], [], []
        for t in range(steps):
            pre = pre_in[:, t] + self.stack_weight(stacks[:, :, :cfg.read_top].reshape(b, -1))
            if self.recurrent_weight is not None:
                pre = pre + self.recurrent_weight(h)
            h = torch.sigmoid(pre)
            a = self.actions(h)
            pushed = torch.sigmoid(self.push_weight(h)).view(b, cfg.num_stacks, cfg.cell_size)
            stacks = stack_update(stacks, a, pushed)
            hs.append(h)
            if trace:
                acts.append(a)
                kept.append(stacks)
        out = torch.stack(hs, dim=1)
        new_state = StackState(h, stacks)
        if not trace:
            return out, new_state
        every = torch.stack(kept, 1).detach()  # (B, T, S, N, C)
        return out, new_state, StackTrace(torch.stack(acts, 1).detach(), every[:, :, :, 0],
                                          out.detach(), every)

    def step(self, x_t: Tensor, state: StackState) -> tuple[Tensor, StackState]:
        """``x_t`` ``(B, D)`` -> ``(h_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state


@register_core("stack-rnn", config=StackRNNConfig, family="external",
               summary="Stack RNN: a recurrent controller with k differentiable push/pop stacks",
               source="Joulin & Mikolov 2015, arXiv 1503.01007, sections 3-4")
def build_stack_rnn_core(config: StackRNNConfig, input_size: int) -> StackRNN:
    """A ``StackRNN`` core reading D = ``input_size`` features."""
    config.validate()
    return StackRNN(input_size, config)
