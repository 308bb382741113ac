"""The Differentiable Neural Computer (Graves, Wayne, Reynolds et al. 2016, Nature 538:471,
"Methods").

An LSTM controller reads its input and last step's read vectors, and emits through ONE linear
layer the interface vector xi: read keys and strengths, the write key and strength, the erase and
write vectors, the free gates, the allocation and write gates and the read modes. The memory is
addressed by content, by usage-based dynamic allocation and through the temporal link matrix
(``mneme.memory.dnc_access``). Order within a step (the paper's): the controller runs; usage is
updated with the retention of the last reads; the write weighting comes from the last memory;
memory is written; the link matrix and precedence are updated; the read heads address the new
memory and read it. The step's output is ``[controller output, reads]``: the paper's
``y = W_y h + W_r [r^1..r^R]`` is the task-facing head's linear layer over it (as for the NTM).

Interface functions (Methods, "Interface parameters"): keys as emitted, strengths
``oneplus(x) = 1 + softplus(x)``, erase vector, free, allocation and write gates sigmoid, write
vector as emitted, read modes softmax over ``[backward, content, forward]``. The interface logits
are clamped to [-c, c] (``clip_controller``; DeepMind's released code: 20).

Defaults, chosen for the NTM paper's algorithmic tasks: 32 slots x 16 words (DeepMind's released
``train.py`` uses 16 x 16 for repeat copy of lengths <= 2; 32 slots hold a copy of length 20, the
NTM paper's training lengths, with room to spare), 4 read heads and one write head (DeepMind's
defaults; the paper's Methods have one write head), an LSTM controller of 64 units (DeepMind's
``hidden_size``: the memory, not the controller, should hold the sequence; 64 also matches the
matrix's width).

The sparse link matrix of Rae et al. 2016 (SAM/SDNC) is not implemented, measured and decided:
``benchmarks/dnc_speed.py`` times the whole dense link work (update, precedence, forward and
backward weightings, with their backward) at 13% of a DNC training step at batch 1 and 29% at
batch 64 (N = 32, one thread, shared machine), the most a sparse link could save; at N = 32 its
gathers and scatters would cost more than the dense passes over N^2 = 1024 values (two fused
variants of the dense update were slower still). Sparsity pays at thousands of slots.

Legend: B batch, T time, D input features, H controller units, N memory slots, W word size, R read
heads, Rw write heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.errors import UserError
from mneme.memory import dnc_access as access
from mneme.memory.addressing import content_weighting
from mneme.memory.ntm_heads import read_memory, write_memory
from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, in_range

__all__ = ["DNC", "DNCConfig", "DNCState", "DNCTrace", "build_dnc_core"]


@dataclass(frozen=True)
class DNCConfig(Validated):
    """DNC hyper-parameters (defaults: see the module docstring).

    Attributes:
        memory_size: N, memory slots.
        word_size: W, the length of a memory row.
        num_reads: R, read heads.
        num_writes: Rw, write heads (the paper: 1).
        controller_size: H, LSTM units.
        clip_controller: clamp the interface logits to [-c, c]; None for no clipping.
        usage_gradient: differentiate usage through the last write weighting (the paper's
            equations as written); False stops that gradient, as DeepMind's code does.
    """

    memory_size: int = field(default=32, metadata=at_least(1))
    word_size: int = field(default=16, metadata=at_least(1))
    num_reads: int = field(default=4, metadata=at_least(1))
    num_writes: int = field(default=1, metadata=at_least(1))
    controller_size: int = field(default=64, metadata=at_least(1))
    clip_controller: float | None = field(
        default=20.0, metadata=in_range(0.0, math.inf, closed="neither"))
    usage_gradient: bool = False


@register_state
@dataclass(frozen=True)
class DNCState:
    """The DNC's state between steps.

    Attributes:
        memory: M ``(B, N, W)``.
        usage: u ``(B, N)``.
        link: L ``(B, Rw, N, N)``.
        precedence: p ``(B, Rw, N)``.
        read_weightings: ``(B, R, N)``.
        write_weightings: ``(B, Rw, N)``.
        reads: ``(B, R, W)`` the last read vectors.
        hidden: ``(B, H)`` the controller's h.
        cell: ``(B, H)`` the controller's c.
    """

    memory: Tensor
    usage: Tensor
    link: Tensor
    precedence: Tensor
    read_weightings: Tensor
    write_weightings: Tensor
    reads: Tensor
    hidden: Tensor
    cell: Tensor


@dataclass(frozen=True)
class DNCTrace:
    """What the memory access did over a sequence (detached), for the paper's figures.

    Attributes:
        write_weightings: ``(B, T, Rw, N)``.
        read_weightings: ``(B, T, R, N)``.
        free_gates: ``(B, T, R)``.
        allocation_gates: ``(B, T, Rw)``.
        write_gates: ``(B, T, Rw)``.
        read_modes: ``(B, T, R, 1 + 2 Rw)`` ``[backward, content, forward]`` when Rw = 1.
        usage: ``(B, T, N)`` u_t, the usage the step allocated from.
    """

    write_weightings: Tensor
    read_weightings: Tensor
    free_gates: Tensor
    allocation_gates: Tensor
    write_gates: Tensor
    read_modes: Tensor
    usage: Tensor


def oneplus(x: Tensor) -> Tensor:
    """1 + softplus(x): a strength in [1, inf) (Methods, "Interface parameters")."""
    return 1.0 + F.softplus(x)


class DNC(nn.Module):
    """The Differentiable Neural Computer core (DESIGN.md's core contract).

    Attributes:
        controller: ``LSTMCell(D + R W, H)`` over ``[x_t, reads_{t-1}]``.
        interface: ``Linear(H, P)``, the interface vector xi: ``[read keys (R W), read strengths
            (R), write keys (Rw W), write strengths (Rw), erase vectors (Rw W), write vectors
            (Rw W), free gates (R), allocation gates (Rw), write gates (Rw), read modes
            (R (1 + 2 Rw))]``.

    Args:
        input_size: D.
        config: the hyper-parameters.

    Raises:
        UserError: a bad config field or D < 1.
    """

    def __init__(self, input_size: int, config: DNCConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else DNCConfig()
        config.validate()
        if input_size < 1:
            raise UserError(f"input_size must be >= 1 (got {input_size})")
        self.config = config
        self.input_size = input_size
        w, r, rw = config.word_size, config.num_reads, config.num_writes
        self.modes = 1 + 2 * rw
        self.split = [r * w, r, rw * w, rw, rw * w, rw * w, r, rw, rw, r * self.modes]
        self.output_size = config.controller_size + r * w
        """H + R W: the width of every step's output ``[controller output, reads]``."""
        self.controller = nn.LSTMCell(input_size + r * w, config.controller_size)
        self.interface = nn.Linear(config.controller_size, sum(self.split))

    def initial_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DNCState:
        """The state before step 1: everything zero (empty memory, no usage, no links)."""
        cfg = self.config
        p = self.interface.weight
        b, n, w, r, rw = batch_size, cfg.memory_size, cfg.word_size, cfg.num_reads, cfg.num_writes

        def zeros(*shape: int) -> Tensor:
            return torch.zeros(*shape, device=device or p.device, dtype=dtype or p.dtype)

        return DNCState(zeros(b, n, w), zeros(b, n), zeros(b, rw, n, n), zeros(b, rw, n),
                        zeros(b, r, n), zeros(b, rw, n), zeros(b, r, w),
                        zeros(b, cfg.controller_size), zeros(b, cfg.controller_size))

    def forward(
        self, x: Tensor, state: DNCState | None = None, *, trace: bool = False
    ) -> tuple[Tensor, DNCState] | tuple[Tensor, DNCState, DNCTrace]:
        """Run over a sequence.

        Args:
            x: ``(B, T, D)``.
            state: from ``initial_state`` or a previous call; None starts fresh.
            trace: also return a ``DNCTrace``.

        Returns:
            ``(y (B, T, H + R W), state)``, plus the trace when asked; ``y[:, t]`` is
            ``[controller output, reads]`` of step t.
        """
        b, steps, _ = x.shape
        s = state if state is not None else self.initial_state(b, x.device, x.dtype)
        outputs: list[Tensor] = []
        record: list[tuple[Tensor, ...]] = []
        for t in range(steps):
            s, y_t, seen = self._step(x[:, t], s)
            outputs.append(y_t)
            if trace:
                record.append(seen)
        y = torch.stack(outputs, 1) if outputs else x.new_zeros(b, 0, self.output_size)
        if not trace:
            return y, s
        if not record:
            raise ValueError("trace needs at least one time step")
        parts = [torch.stack([step[i].detach() for step in record], 1) for i in range(7)]
        return y, s, DNCTrace(*parts)

    def _step(self, x_t: Tensor, s: DNCState) -> tuple[DNCState, Tensor, tuple[Tensor, ...]]:
        cfg = self.config
        b, w, r, rw = x_t.shape[0], cfg.word_size, cfg.num_reads, cfg.num_writes
        h, c = self.controller(torch.cat([x_t, s.reads.reshape(b, r * w)], 1), (s.hidden, s.cell))
        xi = self.interface(h)
        if cfg.clip_controller is not None:
            xi = F.hardtanh(xi, -cfg.clip_controller, cfg.clip_controller)
        (read_keys, read_strengths, write_keys, write_strengths, erase, write_vector, free_gates,
         allocation_gates, write_gates, read_modes) = xi.split(self.split, 1)
        free_gates, allocation_gates = torch.sigmoid(free_gates), torch.sigmoid(allocation_gates)
        write_gates = torch.sigmoid(write_gates)
        read_modes = torch.softmax(read_modes.view(b, r, self.modes), -1)
        # write: usage from the last reads and writes, then allocation and content on M_{t-1}
        usage = access.update_usage(s.usage, s.write_weightings,
                                    access.retention(free_gates, s.read_weightings),
                                    differentiable=cfg.usage_gradient)
        allocation = access.write_allocations(usage, write_gates, allocation_gates)
        write_content = content_weighting(s.memory, write_keys.view(b, rw, w),
                                          oneplus(write_strengths))
        write_w = access.write_weighting(write_content, allocation, allocation_gates, write_gates)
        memory = write_memory(s.memory, write_w, torch.sigmoid(erase.view(b, rw, w)),
                              write_vector.view(b, rw, w))
        link = access.update_link(s.link, s.precedence, write_w)
        precedence = access.update_precedence(s.precedence, write_w)
        # read: backward, content and forward modes on M_t
        forward_w, backward_w = access.directional_weightings(link, s.read_weightings)
        read_content = content_weighting(memory, read_keys.view(b, r, w),
                                         oneplus(read_strengths))
        read_w = access.read_weighting(read_modes, backward_w, read_content, forward_w)
        reads = read_memory(memory, read_w)
        y_t = torch.cat([h, reads.view(b, r * w)], 1)
        new = DNCState(memory, usage, link, precedence, read_w, write_w, reads, h, c)
        return new, y_t, (write_w, read_w, free_gates, allocation_gates, write_gates, read_modes,
                          usage)

    def step(self, x_t: Tensor, state: DNCState) -> tuple[Tensor, DNCState]:
        """One time step: ``x_t`` ``(B, D)`` -> ``(y_t (B, H + R W), state)``."""
        new, y_t, _ = self._step(x_t, state)
        return y_t, new


@register_core("dnc", config=DNCConfig, family="external", size="controller_size",
               summary="Differentiable Neural Computer: content, allocation and temporal links",
               source="Graves et al. 2016, Nature 538:471, Methods; DeepMind's released dnc "
                      "(several write heads, allocation eps)")
def build_dnc_core(config: DNCConfig, input_size: int) -> DNC:
    """A ``DNC`` core reading D = ``input_size`` features; a composed model adds the linear
    output layer."""
    config.validate()
    return DNC(input_size, config)
