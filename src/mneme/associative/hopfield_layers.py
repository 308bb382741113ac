"""Hopfield layers: modern Hopfield retrieval (Ramsauer et al. 2020, arXiv 2008.02217) as
``torch.nn`` modules with learned projections.

Layers (the roles of the ``hopfield-layers`` package, written here in plain torch):
`Hopfield` (stored and state patterns given, projections learned), `HopfieldPooling` (learned
state patterns pool a set), `HopfieldLayer` (learned stored patterns: a lookup over learned
memories) and `HopfieldCore`, a sequence core (DESIGN.md contract) whose state is the list of
key/value patterns written so far. Legend: B batch, S state patterns, P stored patterns, D
features, T time, N memory slots written so far, H output features.

The update they apply is ``mneme.associative.modern_hopfield``'s; ``HopfieldCore`` is in
``mneme.associative.hopfield_core``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Hopfield", "HopfieldLayer", "HopfieldPooling"]


class Hopfield(nn.Module):
    """Hopfield layer (Ramsauer et al. 2020, eq. 10): Z = softmax(beta Q K^T) V with
    Q = R W_Q (state patterns R), K = Y W_K (stored patterns Y), V = Y_v W_V (Y_v: the pattern
    projection input, Y by default), heads split the association space, W_O maps to the output.

    With ``update_steps`` u > 1 the state first takes u - 1 Hopfield updates in the association
    space, Q <- softmax(beta Q K^T) K (eq. 3 with X = K), stopping early once no query moves by
    more than ``update_tol``; then it reads V. ``update_steps=1`` is multi-head attention.

    Args:
        state_size: D_q, features of the state patterns R.
        stored_size: D_y of the stored patterns Y (default D_q).
        hidden_size: association space size, split over heads (default D_q).
        output_size: H (default D_q).
        value_size: D_v of the pattern projection input (default D_y).
        num_heads: heads; hidden_size must be divisible by it.
        beta: inverse temperature; None: 1/sqrt(head size). ``trainable_beta`` learns log beta.
        update_steps: see above.
        update_tol: see above.
        normalize: LayerNorm on R, Y and Y_v before projecting (as the reference layers do).
        dropout: on the association weights.
    Raises:
        ValueError: non-positive sizes, hidden_size not divisible by num_heads, update_steps < 1.
    """

    def __init__(
        self,
        state_size: int,
        stored_size: int | None = None,
        hidden_size: int | None = None,
        output_size: int | None = None,
        value_size: int | None = None,
        *,
        num_heads: int = 1,
        beta: float | None = None,
        trainable_beta: bool = False,
        update_steps: int = 1,
        update_tol: float = 0.0,
        normalize: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        stored_size = stored_size or state_size
        hidden_size = hidden_size or state_size
        output_size = output_size or state_size
        value_size = value_size or stored_size
        for name, v in (("state_size", state_size), ("num_heads", num_heads)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} not divisible by num_heads {num_heads}")
        if update_steps < 1:
            raise ValueError(f"update_steps must be >= 1, got {update_steps}")
        self.num_heads, self.update_steps, self.update_tol = num_heads, update_steps, update_tol
        head = hidden_size // num_heads
        beta = 1.0 / math.sqrt(head) if beta is None else beta
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)), requires_grad=trainable_beta)
        norm = nn.LayerNorm if normalize else (lambda size: nn.Identity())
        self.norm_state, self.norm_stored, self.norm_value = (
            norm(state_size), norm(stored_size), norm(value_size),
        )  # fmt: skip
        self.w_q = nn.Linear(state_size, hidden_size)
        self.w_k = nn.Linear(stored_size, hidden_size)
        self.w_v = nn.Linear(value_size, hidden_size)
        self.w_o = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout)

    @property
    def beta(self) -> Tensor:
        return self.log_beta.exp()

    def _heads(self, t: Tensor) -> Tensor:  # (B, L, hidden) -> (B, heads, L, head)
        return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(
        self,
        stored: Tensor,
        state: Tensor,
        values: Tensor | None = None,
        *,
        stored_mask: Tensor | None = None,
        association_mask: Tensor | None = None,
        return_association: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Retrieve for every state pattern.

        Args:
            stored: Y (B, P, D_y). state: R (B, S, D_q). values: Y_v (B, P, D_v), default Y.
            stored_mask: (B, P) bool, False for padding patterns.
            association_mask: (S, P) or (B, S, P) bool, True where state s may associate with
                pattern p. Every state must keep at least one pattern.
            return_association: also return the association weights of the last step.
        Returns:
            Z (B, S, H), and with return_association the weights (B, heads, S, P).
        """
        if stored.dim() != 3 or state.dim() != 3 or stored.shape[0] != state.shape[0]:
            raise ValueError(
                f"stored must be (B, P, D) and state (B, S, D) with the same B, got "
                f"{tuple(stored.shape)} and {tuple(state.shape)}"
            )
        values = stored if values is None else values
        q = self._heads(self.w_q(self.norm_state(state)))
        k = self._heads(self.w_k(self.norm_stored(stored)))
        v = self._heads(self.w_v(self.norm_value(values)))
        allowed = None
        if stored_mask is not None:
            allowed = stored_mask[:, None, None, :]
        if association_mask is not None:
            am = association_mask if association_mask.dim() == 2 else association_mask[:, None]
            allowed = am if allowed is None else allowed & am
        beta = self.beta
        for _ in range(self.update_steps - 1):
            new = self._associate(q, k, beta, allowed) @ k
            moved = (new - q).detach().abs().amax()
            q = new
            if float(moved) <= self.update_tol:
                break
        assoc = self.dropout(self._associate(q, k, beta, allowed))
        z = self.w_o((assoc @ v).transpose(1, 2).flatten(-2))
        return (z, assoc) if return_association else z

    @staticmethod
    def _associate(q: Tensor, k: Tensor, beta: float | Tensor, allowed: Tensor | None) -> Tensor:
        scores = beta * q @ k.mT
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        return torch.softmax(scores, dim=-1)


class HopfieldPooling(nn.Module):
    """Pool a set (B, P, D) into S learned state patterns: Z = Hopfield(stored=set, state=Q)
    with Q (S, D) learned (the reference package's HopfieldPooling; with S = 1 this is the
    attention pooling used for multiple-instance learning in Ramsauer et al. 2020).

    Args:
        input_size: D.
        output_size: H (default D).
        num_queries: S.
        **kwargs: the other keywords go to `Hopfield`.
    Returns (forward): (B, S, H), and the association (B, heads, S, P) if asked.
    """

    def __init__(
        self, input_size: int, output_size: int | None = None, num_queries: int = 1,
        **kwargs: Any
    ) -> None:
        super().__init__()
        if num_queries < 1:
            raise ValueError(f"num_queries must be >= 1, got {num_queries}")
        self.queries = nn.Parameter(torch.randn(num_queries, input_size) / math.sqrt(input_size))
        self.hopfield = Hopfield(input_size, input_size, output_size=output_size, **kwargs)

    def forward(
        self, stored: Tensor, *, stored_mask: Tensor | None = None, return_association=False
    ) -> Tensor | tuple[Tensor, Tensor]:
        state = self.queries.expand(stored.shape[0], *self.queries.shape)
        return self.hopfield(
            stored, state, stored_mask=stored_mask, return_association=return_association
        )


class HopfieldLayer(nn.Module):
    """A lookup over P learned memories: Z = Hopfield(stored=M, state=R, values=V) with the
    stored patterns M (P, D) and their values V (P, D) learned (the reference package's
    HopfieldLayer with separate lookup weights); a learned associative memory for R (B, S, D).

    Args:
        input_size: D.
        num_memories: P.
        output_size: H (default D).
        **kwargs: the other keywords go to `Hopfield`.
    Returns (forward): (B, S, H), and the association (B, heads, S, P) if asked.
    """

    def __init__(
        self, input_size: int, num_memories: int, output_size: int | None = None,
        **kwargs: Any
    ) -> None:
        super().__init__()
        if num_memories < 1:
            raise ValueError(f"num_memories must be >= 1, got {num_memories}")
        scale = 1 / math.sqrt(input_size)
        self.memories = nn.Parameter(torch.randn(num_memories, input_size) * scale)
        self.values = nn.Parameter(torch.randn(num_memories, input_size) * scale)
        self.hopfield = Hopfield(input_size, input_size, output_size=output_size, **kwargs)

    def forward(self, state: Tensor, *, return_association=False) -> Tensor | tuple[Tensor, Tensor]:
        b = state.shape[0]
        stored = self.memories.expand(b, *self.memories.shape)
        values = self.values.expand(b, *self.values.shape)
        return self.hopfield(stored, state, values, return_association=return_association)
