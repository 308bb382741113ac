"""What the training loop keeps between steps: the epoch's loss on the device, the step and time
budget, the progress bar's postfix.

Kept apart from ``mneme.train.loop`` so that the loop reads as a loop. The loss is summed where it
is computed, so a step never waits for the device; the loop reads it (``EpochLoss.check``,
``EpochLoss.mean``) once per ``SYNC_EVERY`` steps, at the end of an epoch and before every
checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from mneme.config import TrainConfig
from mneme.types import TaskInfo

__all__ = ["SYNC_EVERY", "EpochLoss", "budget_spent", "valid_postfix"]

SYNC_EVERY = 20
"""Steps between reads of the loss from the device (the progress bar's refresh)."""


class EpochLoss:
    """The training loss of the current epoch, summed over its rows on ``device``.

    On the CPU each step's loss is read at once (it costs nothing) and a NaN or infinite loss is
    reported by ``add`` at its step, before its gradient is applied. On an accelerator ``add``
    only records, on the device, the first non-finite loss and its step; ``check`` reads them at
    the next sync point. Either way the step named is the one whose loss first went non-finite,
    and no checkpoint is written after it (the loop checks before it saves).

    The sum is in float64 (float32 on MPS, which has no float64), in the same order as a Python
    float sum, so ``state()`` and ``mean()`` do not depend on the device's sync points.
    """

    def __init__(self, device: torch.device, state: dict[str, float] | None = None, *,
                 deferred: bool | None = None) -> None:
        self.device = device
        self.deferred = device.type != "cpu" if deferred is None else deferred
        """Read the loss only at sync points (None: everywhere but on the CPU)."""
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        state = state or {}
        self.loss: Any = float(state.get("loss", 0.0))  # a tensor on the device after a step
        self.count = float(state.get("count", 0.0))
        self._bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self._bad_value = torch.zeros((), dtype=self.dtype, device=device)

    def add(self, loss: torch.Tensor, rows: int, step: int) -> float | None:
        """Add a step's mean ``loss`` over ``rows`` rows; ``step`` counts from 1.

        Returns the loss when it is not finite and known at once (on the CPU), else None.
        """
        value = loss.detach().to(self.dtype)
        if not self.deferred:
            number = float(value)
            if not math.isfinite(number):
                return number
            self.loss += number * rows
        else:
            fresh = ~torch.isfinite(value) & (self._bad_step < 0)
            self._bad_step.masked_fill_(fresh, step)
            self._bad_value = torch.where(fresh, value, self._bad_value)
            self.loss = self.loss + value * rows
        self.count += rows
        return None

    def check(self) -> tuple[float, int] | None:
        """The first non-finite loss since the epoch began and its step (None: all finite);
        a sync point on an accelerator."""
        if not self.deferred:
            return None
        step = int(self._bad_step)
        return None if step < 0 else (float(self._bad_value), step)

    def mean(self) -> float:
        """The mean loss per row so far (a sync point)."""
        return float(self.loss) / max(self.count, 1.0)

    def state(self) -> dict[str, float]:
        """The sums as plain numbers, for ``last.pt``."""
        return {"loss": float(self.loss), "count": self.count} if self.count else {}


def budget_spent(config: TrainConfig, step: int, seconds: float) -> str | None:
    """``max_steps`` or ``max_seconds`` once that budget is used up (None: train on)."""
    if config.max_steps is not None and step >= config.max_steps:
        return "max_steps"
    if config.max_seconds is not None and seconds >= config.max_seconds:
        return "max_seconds"
    return None


def valid_postfix(info: TaskInfo, valid: dict[str, float]) -> dict[str, str]:
    """The progress bar's validation entry: the task's headline metric in its unit, as the
    summary prints it (``valid_error=12.30%``, ``valid_bits=0.81``)."""
    name = info.metric if info.metric in valid else info.selection_metric
    value = valid[name]
    shown = f"{100 * value:.2f}%" if info.percent else f"{value:.4g}"
    return {f"valid_{name}": shown}
