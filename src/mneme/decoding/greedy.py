"""Greedy decoding: the most probable token at every step.

Generic over a step function ``step_fn(tokens (B,), state) -> (log_probs (B, V), state)``, batched
over B; ``mneme.decoding.sampling`` shares the loop with another choice of token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mneme.decoding.state import StepFn
from mneme.errors import UserError

__all__ = ["Decoded", "decode_loop", "greedy"]


@dataclass(frozen=True)
class Decoded:
    """Sequences produced by a decoder.

    Attributes:
        tokens: ``(B, L)`` long, the generated tokens (the start token not included), L at most
            ``max_length``; after a row's ``eos`` the row is padded with ``eos``.
        lengths: ``(B,)`` tokens generated per row, its ``eos`` included.
        scores: ``(B,)`` summed model log-probability (nats) of each row's generated tokens.
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor

    def sequence(self, row: int) -> list[int]:
        """The generated tokens of ``row`` as a list (its ``eos`` included)."""
        return self.tokens[row, : int(self.lengths[row])].tolist()


def check_common(start: Tensor, max_length: int) -> None:
    """Raise ``UserError`` for a start that is not ``(B,)`` or a max_length below 1."""
    if start.dim() != 1:
        raise UserError(f"start tokens must have shape (B,), got {tuple(start.shape)}")
    if max_length < 1:
        raise UserError(f"max_length must be >= 1 (got {max_length})")


@torch.no_grad()
def decode_loop(
    step_fn: StepFn,
    state: Any,
    start: Tensor,
    max_length: int,
    choose: Callable[[Tensor], Tensor],
    eos: int | None = None,
) -> Decoded:
    """Feed ``start``, then each chosen token, until ``max_length`` tokens or every row's ``eos``.

    Args:
        step_fn: ``(tokens (B,), state) -> (log_probs (B, V), state)``.
        state: the state before ``start`` is read (e.g. warmed on a prompt), or None.
        start: ``(B,)`` the first token fed.
        max_length: the most tokens generated per row.
        choose: ``log_probs (B, V) -> tokens (B,)``.
        eos: the end token; a row that emits it is finished. None: always ``max_length`` tokens.
    """
    check_common(start, max_length)
    tokens = start.long()
    batch = tokens.shape[0]
    done = torch.zeros(batch, dtype=torch.bool, device=tokens.device)
    lengths = torch.zeros(batch, dtype=torch.long, device=tokens.device)
    scores = torch.zeros(batch, dtype=torch.float64, device=tokens.device)
    out: list[Tensor] = []
    for _ in range(max_length):
        log_probs, state = step_fn(tokens, state)
        chosen = choose(log_probs).long()
        if eos is not None:
            chosen = torch.where(done, torch.full_like(chosen, eos), chosen)
        picked = log_probs.gather(1, chosen[:, None])[:, 0].double()
        scores = scores + torch.where(done, torch.zeros_like(picked), picked)
        lengths = lengths + (~done).long()
        out.append(chosen)
        tokens = chosen
        if eos is not None:
            done = done | (chosen == eos)
            if bool(done.all()):
                break
    return Decoded(torch.stack(out, 1), lengths, scores)


def greedy(
    step_fn: StepFn,
    state: Any,
    start_tokens: Tensor,
    max_length: int,
    eos: int | None = None,
) -> Decoded:
    """Greedy decoding: the arg-max token at every step, ties to the lowest id.

    Args:
        step_fn: ``(tokens (B,), state) -> (log_probs (B, V), state)``.
        state: the state before ``start_tokens`` (None: the model's initial state).
        start_tokens: ``(B,)`` the token each row starts from.
        max_length: most tokens generated per row.
        eos: end-of-sequence token, or None.

    Raises:
        UserError: ``start_tokens`` not ``(B,)``, ``max_length`` < 1.
    """
    return decode_loop(step_fn, state, start_tokens, max_length, lambda lp: lp.argmax(-1), eos)
