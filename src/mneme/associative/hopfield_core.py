"""A causal modern-Hopfield sequence core: every step writes a pattern pair and retrieves over
all pairs written so far (Ramsauer et al. 2021, "Hopfield Networks is All You Need", arXiv
2008.02217, eq. 10 as an update rule, used here as a growing associative memory).

The retrieval is the modern Hopfield update of ``mneme.associative.hopfield_layers``
(``Hopfield._associate``): softmax(beta K q) over the stored keys, then the values. The state is
the memory itself (keys and values, oldest first), so chunked calls and ``step`` continue it.

Legend: B batch, T time, D input features, H output features, N stored pairs, D_k key size,
D_v value size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mneme.associative.hopfield_layers import Hopfield
from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, greater_than

__all__ = ["HopfieldCore", "HopfieldCoreConfig", "HopfieldState", "HopfieldTrace"]


@register_state
@dataclass(frozen=True)
class HopfieldState:
    """Patterns written so far: keys (B, N, D_k) and values (B, N, D_v), oldest first."""

    keys: Tensor
    values: Tensor


@dataclass(frozen=True)
class HopfieldTrace:
    """association: (B, T, N) weights of each step over all N slots (later slots get 0)."""

    association: Tensor


class HopfieldCore(nn.Module):
    """A sequence core with a growing modern Hopfield memory: at step t it writes the pattern
    pair (k_t = W_K x_t, v_t = W_V x_t), then retrieves with q_t = W_Q x_t over every pair
    written so far, itself included (causal), y_t = W_O V^T softmax(beta K q_t), after
    ``update_steps - 1`` Hopfield updates q <- K^T softmax(beta K q).

    Args:
        input_size: D. hidden_size: H, the output features. key_size: D_k (default H).
        value_size: D_v (default H). beta: None for 1/sqrt(D_k). update_steps: >= 1.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        key_size: int | None = None,
        value_size: int | None = None,
        *,
        beta: float | None = None,
        update_steps: int = 1,
    ) -> None:
        super().__init__()
        if update_steps < 1:
            raise ValueError(f"update_steps must be >= 1, got {update_steps}")
        self.key_size, self.value_size = key_size or hidden_size, value_size or hidden_size
        self.beta = 1 / math.sqrt(self.key_size) if beta is None else beta
        self.update_steps = update_steps
        self.output_size = hidden_size
        self.w_q = nn.Linear(input_size, self.key_size)
        self.w_k = nn.Linear(input_size, self.key_size)
        self.w_v = nn.Linear(input_size, self.value_size)
        self.w_o = nn.Linear(self.value_size, hidden_size)

    def initial_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> HopfieldState:
        """An empty memory: keys (B, 0, D_k), values (B, 0, D_v)."""
        dtype = dtype or self.w_q.weight.dtype
        return HopfieldState(
            torch.zeros(batch_size, 0, self.key_size, device=device, dtype=dtype),
            torch.zeros(batch_size, 0, self.value_size, device=device, dtype=dtype),
        )

    def forward(
        self, x: Tensor, state: HopfieldState | None = None, *, trace: bool = False
    ) -> tuple[Tensor, HopfieldState] | tuple[Tensor, HopfieldState, HopfieldTrace]:
        """x (B, T, D) -> (y (B, T, H), state with T more slots[, HopfieldTrace])."""
        if x.dim() != 3:
            raise ValueError(f"x must be (B, T, D), got {tuple(x.shape)}")
        b, t, _ = x.shape
        state = self.initial_state(b, x.device, x.dtype) if state is None else state
        past = state.keys.shape[1]
        keys = torch.cat([state.keys, self.w_k(x)], dim=1)  # (B, N, D_k), N = past + T
        values = torch.cat([state.values, self.w_v(x)], dim=1)
        slot = torch.arange(past + t, device=x.device)
        allowed = slot.unsqueeze(0) <= past + torch.arange(t, device=x.device).unsqueeze(1)
        q = self.w_q(x)
        for _ in range(self.update_steps - 1):
            q = Hopfield._associate(q, keys, self.beta, allowed) @ keys
        assoc = Hopfield._associate(q, keys, self.beta, allowed)
        y = self.w_o(assoc @ values)
        new_state = HopfieldState(keys, values)
        if trace:
            return y, new_state, HopfieldTrace(assoc.detach())
        return y, new_state

    def step(self, x_t: Tensor, state: HopfieldState) -> tuple[Tensor, HopfieldState]:
        """x_t (B, D) -> (y_t (B, H), state with one more slot)."""
        y, state = self.forward(x_t.unsqueeze(1), state)
        return y.squeeze(1), state


@dataclass(frozen=True)
class HopfieldCoreConfig(Validated):
    """The causal modern-Hopfield core.

    Attributes:
        hidden_size: H, the output features (and, by default, D_k and D_v).
        key_size: D_k (None: H).
        beta: inverse temperature (None: 1 / sqrt(D_k), the paper's choice).
        update_steps: Hopfield updates of the query, >= 1 (the paper: one suffices).
    """

    hidden_size: int = field(default=100, metadata=at_least(1))
    key_size: int | None = field(default=None, metadata=at_least(1))
    beta: float | None = field(default=None, metadata=greater_than(0.0))
    update_steps: int = field(default=1, metadata=at_least(1))


@register_core("hopfield", config=HopfieldCoreConfig, family="associative",
               summary="causal modern Hopfield memory: store every step, retrieve over the past",
               source="Ramsauer et al. 2021, arXiv 2008.02217, section 2 and eq. 10")
def build_hopfield_core(config: HopfieldCoreConfig, input_size: int) -> HopfieldCore:
    """A ``HopfieldCore`` reading D = ``input_size`` features."""
    config.validate()
    return HopfieldCore(input_size, config.hidden_size, config.key_size, beta=config.beta,
                        update_steps=config.update_steps)
