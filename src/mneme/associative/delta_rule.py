"""The delta-rule fast weight programmer.

Schlag, Irie & Schmidhuber 2021, "Linear Transformers Are Secretly Fast Weight Programmers" (ICML,
arXiv 2102.11174), section 4.2: a slow network programs a fast weight matrix W by the delta rule,
which writes the *difference* between the new value and what the key already retrieves, so an
association can be overwritten instead of piling up as in the purely additive (Hebbian) rule::

    k, v, q, beta = slow(x(t), y(t-1))              (projections; beta = sigmoid)
    v_old = W(t-1) phi(k)
    W(t)  = W(t-1) + beta (v - v_old) phi(k)^T        (eq. 17-18)
    y(t)  = W(t) phi(q)

phi is a softmax over the key dimension (keys and queries sum to 1, the normalisation the paper
adds for stability). Feeding back y(t-1) into the slow projections is the recurrent variant of
Irie, Schlag, Csordás & Schmidhuber 2021 ("Going Beyond Linear Transformers with Recurrent Fast
Weight Programmers"); it lets a key and the value that follows it be bound in one write.

Legend: B batch, T time, D input features, H hidden units (key, value and query size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least

__all__ = ["DeltaFastWeights", "DeltaState"]


@register_state
@dataclass(frozen=True)
class DeltaState:
    """y(t-1) ``(B, H)`` and the fast weights W ``(B, H, H)`` (value x key)."""

    hidden: Tensor
    fast_weights: Tensor


@dataclass(frozen=True)
class DeltaTrace:
    """``write_strength`` ``(B, T)`` beta of every step, ``hidden`` ``(B, T, H)`` outputs."""

    write_strength: Tensor
    hidden: Tensor


class DeltaFastWeights(nn.Module):
    """A recurrent delta-rule fast weight programmer, a core.

    Args:
        input_size: D.
        hidden_size: H.
        layer_norm: normalise the output y (keeps the feedback well scaled).
    """

    def __init__(self, input_size: int, hidden_size: int, *, layer_norm: bool = True) -> None:
        super().__init__()
        self.hidden_size = self.output_size = hidden_size
        self.input_weight = nn.Linear(input_size, 3 * hidden_size + 1)
        self.recurrent_weight = nn.Linear(hidden_size, 3 * hidden_size + 1, bias=False)
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> DeltaState:
        """Zeros."""
        p = self.recurrent_weight.weight
        device, dtype = device or p.device, dtype or p.dtype
        h = self.hidden_size
        return DeltaState(torch.zeros(batch_size, h, device=device, dtype=dtype),
                          torch.zeros(batch_size, h, h, device=device, dtype=dtype))

    def forward(self, x: Tensor, state: DeltaState | None = None, *, trace: bool = False
                ) -> tuple[Tensor, DeltaState] | tuple[Tensor, DeltaState, DeltaTrace]:
        """``x`` ``(B, T, D)`` -> ``(y (B, T, H), state)``, plus a ``DeltaTrace`` with ``trace``."""
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        pre_in = self.input_weight(x)  # the input half of the projections, all steps at once
        y, w = state.hidden, state.fast_weights
        ys, betas = [], []
        for t in range(steps):
            pre = pre_in[:, t] + self.recurrent_weight(y)
            k, v, q, beta = pre.split([self.hidden_size] * 3 + [1], dim=1)
            k, q, beta = torch.softmax(k, dim=1), torch.softmax(q, dim=1), torch.sigmoid(beta)
            v_old = torch.bmm(w, k.unsqueeze(2)).squeeze(2)
            w = torch.baddbmm(w, (beta * (v - v_old)).unsqueeze(2), k.unsqueeze(1))
            y = self.norm(torch.bmm(w, q.unsqueeze(2)).squeeze(2))
            ys.append(y)
            betas.append(beta)
        out = torch.stack(ys, dim=1)
        if not trace:
            return out, DeltaState(y, w)
        return out, DeltaState(y, w), DeltaTrace(torch.cat(betas, dim=1).detach(), out.detach())

    def step(self, x_t: Tensor, state: DeltaState) -> tuple[Tensor, DeltaState]:
        """``x_t`` ``(B, D)`` -> ``(y_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)  # type: ignore[misc]
        return y[:, 0], new_state


@dataclass(frozen=True)
class DeltaRuleConfig(Validated):
    """The delta-rule fast weight programmer as a core (Schlag, Irie & Schmidhuber 2021).

    Attributes:
        hidden_size: H.
        layer_norm: normalise the output y (keeps the feedback well scaled).
    """

    hidden_size: int = field(default=100, metadata=at_least(1))
    layer_norm: bool = True


@register_core("delta-rule", config=DeltaRuleConfig, family="fast-weights",
               summary="recurrent delta-rule fast weight programmer",
               source="Schlag, Irie & Schmidhuber 2021, arXiv 2102.11174; Irie et al. 2021")
def build_delta_rule_core(config: DeltaRuleConfig, input_size: int) -> DeltaFastWeights:
    """A ``DeltaFastWeights`` core reading D = ``input_size`` features."""
    config.validate()
    return DeltaFastWeights(input_size, config.hidden_size, layer_norm=config.layer_norm)
