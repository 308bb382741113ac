"""The types every layer shares: a batch of examples, and what a task-facing model returns.

Layer 1 (DESIGN.md, "Layers"): the mechanisms (``mneme.memory``, ``mneme.attention``) return a
``ModelOutput`` and the tasks build ``Batch``es, so both live below either; ``mneme.tasks.base``
re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Batch", "ModelOutput"]


@dataclass(frozen=True)
class Batch:
    """One batch of examples.

    Attributes:
        inputs: a tensor ``(B, T, D)`` or ``(B, ...)``, or a mapping of named tensors (bAbI:
            ``story`` ``(B, N, J)`` word ids, ``query`` ``(B, J)`` word ids).
        targets: what the model must produce, ``(B,)`` class ids or ``(B, T, D)``.
        mask: which targets count, broadcastable to ``targets``; None means all.
        meta: plain Python extras (example ids, task ids) that metrics may read.
    """

    inputs: torch.Tensor | Mapping[str, torch.Tensor]
    targets: torch.Tensor
    mask: torch.Tensor | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The batch size B."""
        return int(self.targets.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor moved to ``device``."""
        if isinstance(self.inputs, torch.Tensor):
            inputs: Any = self.inputs.to(device)
        else:
            inputs = {k: v.to(device) for k, v in self.inputs.items()}
        mask = None if self.mask is None else self.mask.to(device)
        return Batch(inputs, self.targets.to(device), mask, self.meta)


@dataclass(frozen=True)
class ModelOutput:
    """What a task-facing model returns.

    Attributes:
        logits: unnormalised scores, ``(B, V)`` for classification or ``(B, T, V)`` per step.
        trace: the model's ``Trace`` when asked with ``trace=True`` (weightings, attention).
        aux_loss: an extra loss term the model adds to the task's (margins), or None.
        state: the recurrent state after the batch, for tasks that carry it across batches
            (language models under truncated BPTT); a tensor or a tuple of tensors.
        log_prob: ``(B,)`` summed log-probability of the model's sampled discrete decisions
            (stochastic hard addressing or hard attention), for REINFORCE; None when soft.
        baseline: ``(B,)`` the learned baseline's prediction of each example's cost (REINFORCE).
    """

    logits: torch.Tensor
    trace: Any = None
    aux_loss: torch.Tensor | None = None
    state: Any = None
    log_prob: torch.Tensor | None = None
    baseline: torch.Tensor | None = None
