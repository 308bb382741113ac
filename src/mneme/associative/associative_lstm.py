"""The associative LSTM: an LSTM whose cell is a holographic key-value memory.

Danihelka, Wayne, Uria, Kalchbrenner & Graves 2016, "Associative Long Short-Term Memory" (ICML,
arXiv 1602.03032), section 3. The H hidden units are read as H/2 complex numbers. Each step
produces an input key r_i, an output key r_o and a value u (complex, bounded to modulus <= 1) and
real gates f, i, o; the cell keeps S redundant copies, each binding values with a fixed random
permutation of the input key (complex multiplication), which averages retrieval noise away::

    c_s(t) = f * c_s(t-1) + (P_s r_i) (*) (i * u)              (eq. 24)
    h(t)   = o * bound( (1/S) sum_s (P_s r_o) (*) c_s(t) )       (eq. 25)

with ``(*)`` the complex product and bound(z) = z / max(1, |z|) per complex unit. Copy 0 uses the
identity permutation. The paper's Table 1 baseline of the fast-weights paper ("A-LSTM").

Legend: B batch, T time, D input features, H hidden units (H/2 complex), S copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, invalid

__all__ = ["AssociativeLSTM", "AssociativeLSTMState", "bound", "complex_mul"]


@register_state
@dataclass(frozen=True)
class AssociativeLSTMState:
    """h ``(B, H)`` and the cell copies ``(B, S, H)`` (real halves then imaginary halves)."""

    hidden: Tensor
    cell: Tensor


def complex_mul(a: Tensor, b: Tensor) -> Tensor:
    """The complex product of ``(..., H)`` tensors laid out as [real (H/2), imaginary (H/2)]."""
    ar, ai = a.chunk(2, dim=-1)
    br, bi = b.chunk(2, dim=-1)
    return torch.cat([ar * br - ai * bi, ar * bi + ai * br], dim=-1)


def bound(z: Tensor) -> Tensor:
    """z / max(1, |z|) per complex unit of ``(..., H)`` ([real, imaginary] halves)."""
    re, im = z.chunk(2, dim=-1)
    d = torch.clamp(torch.sqrt(re * re + im * im), min=1.0)
    return torch.cat([re / d, im / d], dim=-1)


class AssociativeLSTM(nn.Module):
    """An associative LSTM core.

    Args:
        input_size: D.
        hidden_size: H, even (H/2 complex units).
        copies: S redundant memory copies (the paper uses 1-8; more copies, less noise).
        seed: seed of the fixed key permutations (saved as a buffer).

    Raises:
        ValueError: odd ``hidden_size`` or ``copies`` < 1.
    """

    def __init__(self, input_size: int, hidden_size: int, *, copies: int = 4,
                 seed: int = 0) -> None:
        super().__init__()
        if hidden_size % 2:
            raise ValueError(f"hidden_size must be even (complex units), got {hidden_size}")
        if copies < 1:
            raise ValueError(f"copies must be >= 1, got {copies}")
        self.hidden_size, self.copies = hidden_size, copies
        self.output_size = hidden_size
        half = hidden_size // 2
        # gates f, i, o (H/2 each, shared by real and imaginary parts), then r_i, r_o, u (H each)
        self.input_weight = nn.Linear(input_size, 3 * half + 3 * hidden_size)
        self.recurrent_weight = nn.Linear(hidden_size, 3 * half + 3 * hidden_size, bias=False)
        with torch.no_grad():
            self.input_weight.bias[:half] += 1.0  # forget bias
        gen = torch.Generator().manual_seed(seed)
        perms = [torch.arange(half)] + [torch.randperm(half, generator=gen)
                                         for _ in range(copies - 1)]
        p = torch.stack(perms)  # (S, H/2): the same permutation of real and imaginary parts
        self.register_buffer("permutation", torch.cat([p, p + half], dim=1), persistent=True)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> AssociativeLSTMState:
        """Zeros."""
        p = self.recurrent_weight.weight
        device, dtype = device or p.device, dtype or p.dtype
        h = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        c = torch.zeros(batch_size, self.copies, self.hidden_size, device=device, dtype=dtype)
        return AssociativeLSTMState(h, c)

    def forward(self, x: Tensor, state: AssociativeLSTMState | None = None, *,
                trace: bool = False) -> tuple[Tensor, AssociativeLSTMState]:
        """``x`` ``(B, T, D)`` -> ``(y (B, T, H), state)``; ``trace`` has nothing to add."""
        b, steps, _ = x.shape
        if state is None:
            state = self.initial_state(b, x.device, x.dtype)
        half = self.hidden_size // 2
        pre_in = self.input_weight(x)  # all time steps in one op
        h, c = state.hidden, state.cell
        perm = self.permutation
        ys = []
        for t in range(steps):
            pre = pre_in[:, t] + self.recurrent_weight(h)
            # real gates, one per complex unit, applied to its real and imaginary parts alike
            f, i, o = torch.sigmoid(pre[:, : 3 * half]).repeat(1, 2).unflatten(
                1, (2, 3, half)).transpose(1, 2).flatten(2).unbind(1)
            r_in, r_out, u = bound(pre[:, 3 * half :].unflatten(1, (3, self.hidden_size))).unbind(1)
            keys_in = r_in[:, perm]  # (B, S, H)
            keys_out = r_out[:, perm]
            c = f.unsqueeze(1) * c + complex_mul(keys_in, (i * u).unsqueeze(1))
            h = o * bound(complex_mul(keys_out, c).mean(dim=1))
            ys.append(h)
        return torch.stack(ys, dim=1), AssociativeLSTMState(h, c)

    def step(self, x_t: Tensor, state: AssociativeLSTMState) -> tuple[Tensor, AssociativeLSTMState]:
        """``x_t`` ``(B, D)`` -> ``(y_t (B, H), state)``."""
        y, new_state = self.forward(x_t.unsqueeze(1), state)
        return y[:, 0], new_state


@dataclass(frozen=True)
class AssociativeLSTMConfig(Validated):
    """The associative LSTM as a core (Danihelka et al. 2016).

    Attributes:
        hidden_size: H, even (H/2 complex units).
        copies: S redundant memory copies.
    """

    hidden_size: int = field(default=100, metadata=at_least(2))
    copies: int = field(default=4, metadata=at_least(1))

    def check(self) -> None:
        """H/2 complex units: ``hidden_size`` is even."""
        if self.hidden_size % 2:
            raise invalid(self, "hidden_size", "must be even")


@register_core("alstm", config=AssociativeLSTMConfig, family="fast-weights",
               summary="associative LSTM: holographic key-value memory in the cell",
               source="Danihelka, Wayne, Uria, Kalchbrenner & Graves 2016, arXiv 1602.03032")
def build_alstm_core(config: AssociativeLSTMConfig, input_size: int) -> AssociativeLSTM:
    """An ``AssociativeLSTM`` reading D = ``input_size`` features."""
    config.validate()
    return AssociativeLSTM(input_size, config.hidden_size, copies=config.copies)
