"""Decoder state plumbing shared by the search strategies: select and repeat batch rows.

A decoding step function has the signature ``step_fn(tokens (B,), state) -> (log_probs (B, V),
state)``. The state is whatever the model uses: a tensor, a tuple or list of them, a NamedTuple, a
(frozen) dataclass, a dict, or None, nested freely. Beam search needs the rows of a state picked
and repeated; ``reorder_state`` does that on every tensor, on the dimension that holds the batch
(``batch_dim``: 0 for batch-first states, 1 for ``torch.nn`` RNN states ``(L, B, H)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from mneme import types

__all__ = ["ReorderFn", "StepFn", "map_state", "reorder_state"]

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]
"""``step_fn(tokens (B,), state) -> (log_probs (B, V), state)``."""
ReorderFn = Callable[[Any, Tensor], Any]
"""``reorder_state(state, index (B',)) -> state`` holding rows ``index`` of ``state``."""


def map_state(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """Apply ``fn`` to every tensor of a nested state, keeping its structure
    (``mneme.types.map_state`` with the arguments in this module's order)."""
    return types.map_state(fn, state)


def reorder_state(state: Any, index: Tensor, batch_dim: int = 0) -> Any:
    """Rows ``index`` ``(B',)`` of every tensor of ``state``, along ``batch_dim``.

    Args:
        state: a nested decoder state (see the module docstring).
        index: ``(B',)`` long row indices; may repeat rows (beam expansion) and reorder them.
        batch_dim: the dimension holding the batch in every tensor (1 for ``(L, B, H)``).

    Returns:
        The same structure with each tensor's batch dimension of size B'.
    """
    index = index.long()

    def pick(t: Tensor) -> Tensor:
        return t.index_select(batch_dim, index.to(t.device))

    return map_state(state, pick)


def expand_rows(state: Any, copies: int, batch_size: int, reorder: ReorderFn) -> Any:
    """Repeat each of the ``batch_size`` rows ``copies`` times (row b becomes rows
    ``b*copies .. b*copies + copies - 1``), through ``reorder``."""
    index = torch.arange(batch_size).repeat_interleave(copies)
    return reorder(state, index)
