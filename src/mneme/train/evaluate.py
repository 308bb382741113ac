"""Evaluation, its results (``FitResult``: what ``final.json`` holds) and the epoch order.

``evaluate`` runs a model over a split and reduces the tasks' summed metrics to means (plus the
task's derived metrics, ``finalize_metrics``); a stream task's state is carried across the split's
batches from zeros. ``epoch_permutation`` is the training order of a dataset task's epoch, seeded
by ``(seed, epoch)`` so that a resumed run draws the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mneme.tasks.base import Task, reduce_metrics, task_info

__all__ = ["FitResult", "epoch_permutation", "evaluate", "finalize", "is_stream"]


@dataclass
class FitResult:
    """What ``Trainer.fit`` returns; ``final.json`` holds the same."""

    run_dir: Path
    valid: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    steps: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped: str | None = None
    """``max_steps`` or ``max_seconds`` when that budget ended training (a resume with a larger
    one trains on); None at the end of the epoch budget or an early stop."""
    epochs: int | None = None
    """Epochs trained; None in a ``final.json`` from before mneme recorded it."""
    early_stopped: bool | None = None
    """True when ``train.early_stop`` ended training (no larger budget extends the run)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "test": self.test,
            "best_epoch": self.best_epoch,
            "steps": self.steps,
            "seconds": self.seconds,
            **({"stopped": self.stopped} if self.stopped else {}),
            **({"epochs": self.epochs} if self.epochs is not None else {}),
            **({"early_stopped": self.early_stopped} if self.early_stopped is not None else {}),
        }


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The training order of epoch ``epoch``: a permutation of ``n`` seeded by ``(seed, epoch)``."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919) % (2**63))
    return torch.randperm(n, generator=generator)


def is_stream(task: Task) -> bool:
    """True for a task whose batches are consecutive chunks of one stream (``info.kind ==
    "stream"``, language models): the loop walks its chunks in order and carries the model's
    recurrent state from one batch to the next (truncated BPTT)."""
    return task_info(task).kind == "stream"


@torch.no_grad()
def evaluate(
    model: nn.Module, task: Task, split: str, batch_size: int,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Mean metrics of ``model`` on ``split`` of ``task`` (the model is left in eval mode).

    A stream task's state is carried across the split's batches, starting from zeros. A task's
    optional ``finalize_metrics`` adds derived metrics (perplexity, bits per character). The
    sums stay on ``device`` until the end (float64, in the order a Python float sum takes; float32
    on MPS, which has no float64): one sync per evaluation, not per batch.
    """
    model.eval()
    device = torch.device(device)
    dtype = torch.float32 if device.type == "mps" else torch.float64
    totals: dict[str, Any] = {}
    stream = is_stream(task)
    state = None
    for batch in task.eval_batches(split, batch_size):
        batch = batch.to(device)
        if stream:
            output = model(batch.inputs, state=state)
            state = output.state
        else:
            output = model(batch.inputs)
        for key, value in task.metrics(output, batch).items():
            if isinstance(value, torch.Tensor) and device.type != "cpu":
                value = value.detach().to(dtype)
            else:
                value = float(value)
            totals[key] = totals.get(key, 0.0) + value
    return finalize(task, reduce_metrics({k: float(v) for k, v in totals.items()}))


def finalize(task: Task, metrics: dict[str, float]) -> dict[str, float]:
    """``metrics`` with the task's derived metrics added (``finalize_metrics``), if it has any."""
    extra = getattr(task, "finalize_metrics", None)
    return extra(metrics) if callable(extra) else metrics
