"""Ancestral sampling with a temperature and top-k truncation.

At each step the next token is drawn from ``softmax(log_probs / temperature)`` restricted to the
``top_k`` most probable tokens (top-k sampling: Fan, Lewis & Dauphin 2018, "Hierarchical Neural
Story Generation", arXiv 1805.04833). A temperature near 0 approaches greedy decoding
(``temperature=0`` is exactly greedy); ``top_k=1`` is greedy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from mneme.decoding.greedy import Decoded, decode_loop
from mneme.decoding.state import StepFn
from mneme.errors import UserError

__all__ = ["sample", "truncate_top_k"]


def truncate_top_k(log_probs: Tensor, top_k: int | None) -> Tensor:
    """``log_probs`` ``(B, V)`` with all but the ``top_k`` largest of each row set to -inf.

    ``top_k`` None or 0 (or >= V) keeps everything. Ties at the k-th value are all kept.
    """
    if not top_k or top_k >= log_probs.shape[-1]:
        return log_probs
    kth = log_probs.topk(top_k, dim=-1).values[:, -1:]
    return log_probs.masked_fill(log_probs < kth, float("-inf"))


def sample(
    step_fn: StepFn,
    state: Any,
    start: Tensor,
    max_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos: int | None = None,
    generator: torch.Generator | None = None,
) -> Decoded:
    """Draw sequences token by token.

    Args:
        step_fn: ``(tokens (B,), state) -> (log_probs (B, V), state)``.
        state: the state before ``start`` (None: the model's initial state).
        start: ``(B,)`` the token each row starts from.
        max_length: most tokens generated per row.
        temperature: divides the log-probabilities; 1 samples the model, below 1 sharpens,
            0 is greedy.
        top_k: sample among the k most probable tokens only (None or 0: all).
        eos: end-of-sequence token, or None.
        generator: the random source (a fixed seed gives the same sequences).

    Returns:
        ``Decoded``; its ``scores`` are under the model's own (untempered) distribution.

    Raises:
        UserError: a negative temperature or top_k, or as ``greedy``.
    """
    if not temperature >= 0:
        raise UserError(f"temperature must be >= 0 (got {temperature})")
    if top_k is not None and top_k < 0:
        raise UserError(f"top_k must be >= 0 (got {top_k})")

    def choose(log_probs: Tensor) -> Tensor:
        if temperature == 0:
            return log_probs.argmax(-1)
        logits = truncate_top_k(log_probs.float() / temperature, top_k)
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]

    return decode_loop(step_fn, state, start, max_length, choose, eos)
