"""What a Neural Turing Machine is built from and what it carries between steps: the
hyper-parameters (``NTMConfig``) and the state (``NTMState``).

The model is ``mneme.memory.ntm.NTM`` (Graves, Wayne & Danihelka 2014, arXiv 1410.5401), which
re-exports these names. Legend: B batch, N memory slots, W word size, R read heads, Rw write
heads, L controller layers, H controller units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from mneme.types import register_state
from mneme.validation import Validated, at_least, in_range, one_of

__all__ = ["MEMORY_CONSTANT", "RANDOM_INIT_STD", "NTMConfig", "NTMState"]

MEMORY_CONSTANT = 1e-6
"""Every memory cell's initial value with ``memory_init="constant"`` (Collier & Beel 2018)."""
RANDOM_INIT_STD = 0.5
"""Standard deviation of random and learned memory initialisation (truncated at 2 std)."""


@dataclass(frozen=True)
class NTMConfig(Validated):
    """NTM hyper-parameters; defaults are the paper's copy-task NTM (Table 1: one head, LSTM
    controller of 100 units, a 128 x 20 memory) with Collier & Beel's stabilisers.

    Attributes:
        memory_size: N, memory slots.
        word_size: W, the length of a memory row (the paper's M).
        read_heads: R.
        write_heads: Rw.
        controller: ``"lstm"`` or ``"feedforward"`` (tanh layers).
        controller_size: H, units per controller layer.
        controller_layers: L.
        shift_range: k: a head may shift its weighting by -k..k slots (the paper: 1).
        memory_init: ``"constant"`` (1e-6 everywhere), ``"learned"`` (a trained N x W
            parameter) or ``"random"`` (a fresh truncated normal per sequence; a fixed seed in
            eval mode, so evaluation is repeatable).
        learned_initial_reads: the reads before step 1 are trained parameters (else zeros).
        learned_initial_weightings: every head's w_0 is a trained softmax (else one-hot at 0).
        clip_controller: clamp the head parameters the controller emits to [-c, c] (Collier &
            Beel 2018: 20), None for no clipping.
        addressing: ``"soft"`` (the paper) or ``"hard"`` (stochastic hard reads, REINFORCE).
        clip_weighting_grad: clamp the gradient flowing back into every head's previous
            weighting w_{t-1} to [-c, c] (``mneme.memory.addressing.clip_gradient``), None for
            none. The feed-forward controller needs it: without it its gradient through the
            sharpening recurrence overflows float32 on associative recall.
    """

    memory_size: int = field(default=128, metadata=at_least(1))
    word_size: int = field(default=20, metadata=at_least(1))
    read_heads: int = field(default=1, metadata=at_least(1))
    write_heads: int = field(default=1, metadata=at_least(1))
    controller: Literal["lstm", "feedforward"] = field(default="lstm", metadata=one_of())
    controller_size: int = field(default=100, metadata=at_least(1))
    controller_layers: int = field(default=1, metadata=at_least(1))
    shift_range: int = field(default=1, metadata=at_least(0))
    memory_init: Literal["constant", "learned", "random"] = field(default="constant",
                                                                  metadata=one_of())
    learned_initial_reads: bool = True
    learned_initial_weightings: bool = False
    clip_controller: float | None = field(
        default=20.0, metadata=in_range(0.0, math.inf, closed="neither"))
    addressing: Literal["soft", "hard"] = field(default="soft", metadata=one_of())
    clip_weighting_grad: float | None = field(
        default=None, metadata=in_range(0.0, math.inf, closed="neither"))


@register_state
@dataclass(frozen=True)
class NTMState:
    """The NTM's state between steps.

    Attributes:
        memory: M ``(B, N, W)``.
        read_weightings: ``(B, R, N)`` the read heads' last weightings (one-hot in hard mode).
        write_weightings: ``(B, Rw, N)``.
        reads: ``(B, R, W)`` the last read vectors.
        hidden: ``(L, B, H)`` controller outputs h (LSTM); ``(0, B, H)`` for feed-forward.
        cell: ``(L, B, H)`` LSTM cells c; ``(0, B, H)`` for feed-forward.
        log_prob: ``(B,)`` summed log-probability of the sampled read slots (0 when soft).
    """

    memory: Tensor
    read_weightings: Tensor
    write_weightings: Tensor
    reads: Tensor
    hidden: Tensor
    cell: Tensor
    log_prob: Tensor
