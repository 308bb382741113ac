"""What every task provides: batches, a loss, and metrics in its paper's unit.

Two kinds of task share one interface. A *generated* task (copy, associative recall) draws fresh
examples with ``sample(batch_size, generator)``. A *dataset* task (bAbI, Penn Treebank) holds fixed
splits: the training loop walks ``num_train`` examples epoch by epoch and asks for
``train_batch(indices, generator)``; evaluation goes through ``eval_batches(split, batch_size)``.
Randomness comes only from the generator the loop passes in, which is what makes a resumed run
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


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


@runtime_checkable
class Task(Protocol):
    """The interface the training loop, evaluation and benchmark read."""

    name: str

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """The scalar training loss (mean over the batch) in the paper's unit."""
        ...

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Per-batch metrics as *sums* over examples, with ``count``; see ``reduce_metrics``."""
        ...

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Deterministic batches of an evaluation split (``"valid"`` or ``"test"``)."""
        ...


@runtime_checkable
class DatasetTask(Task, Protocol):
    """A task over a fixed training set, walked in epochs by the loop."""

    @property
    def num_train(self) -> int:
        """Number of training examples (after the validation hold-out)."""
        ...

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training examples ``indices`` ``(B,)``; ``generator`` drives training-time noise."""
        ...


@runtime_checkable
class GeneratedTask(Task, Protocol):
    """A task that draws fresh examples every step."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """A new batch of ``batch_size`` examples drawn with ``generator``."""
        ...


_GROUPED = re.compile(r"^(?P<metric>.+)_(?P<group>[a-z]+\d+)$")


def reduce_metrics(totals: Mapping[str, float]) -> dict[str, float]:
    """Turn summed metrics into means.

    ``count`` and keys starting with ``n_`` stay sums. A grouped key ``{metric}_{group}{N}`` (e.g.
    ``error_task3``, ``bits_len40``) is divided by ``n_{group}{N}`` when that count is present
    (per-task means in joint training, per-length means in generalisation tests); every other key
    by ``count``.
    """
    count = max(float(totals.get("count", 0.0)), 1.0)
    out: dict[str, float] = {}
    for key, value in totals.items():
        if key == "count" or key.startswith("n_"):
            out[key] = float(value)
            continue
        grouped = _GROUPED.match(key)
        if grouped and f"n_{grouped['group']}" in totals:
            out[key] = float(value) / max(float(totals[f"n_{grouped['group']}"]), 1.0)
        else:
            out[key] = float(value) / count
    return out
