"""The training configuration shared by every model and task (layer 1: models write recipes in
it, the training loop reads it)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mneme.errors import UserError


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, schedule, clipping, evaluation, budget and repeats.

    Budgets are counted in epochs. A dataset task's epoch is one pass over its training split
    (``num_train // batch_size`` steps, a fresh permutation each epoch); a generated task's epoch is
    ``epoch_steps`` steps of fresh samples.
    """

    seed: int = 0
    """Seed of the run (repeat ``i`` of best-of-N uses ``seed + i``)."""
    epochs: int = 100
    """Training budget in epochs."""
    epoch_steps: int = 1000
    """Steps per epoch for generated tasks (dataset tasks derive it from their size)."""
    batch_size: int = 32
    optimizer: Literal["sgd", "adam", "rmsprop"] = "sgd"
    lr: float = 0.01
    """Initial learning rate."""
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: Literal["step", "constant", "cosine"] = "step"
    """``step``: times ``lr_decay`` every ``lr_decay_every`` epochs (MemN2N: halve every 25)."""
    lr_decay: float = 0.5
    lr_decay_every: int = 25
    lr_decay_start: int | None = None
    """With ``step``: the first (0-based) epoch whose rate is decayed; from there the rate is
    multiplied by ``lr_decay`` every ``lr_decay_every`` epochs (Zaremba et al. 2014: 4, halving
    every epoch). None: decay at multiples of ``lr_decay_every``."""
    loss_reduction: Literal["mean", "sum"] = "mean"
    """Optimise the batch mean or the batch sum of the task loss (MemN2N's reference sums)."""
    clip_norm: float | None = 40.0
    """Rescale the gradient when its global L2 norm exceeds this (None: off)."""
    clip_value: float | None = None
    """Clamp each gradient element to [-v, v] (None: off)."""
    eval_every: int = 1
    """Evaluate on the validation split every this many epochs (and at the end)."""
    eval_batch_size: int = 512
    early_stop: float | None = None
    """Stop once the validation selection metric is at or below this value (None: never)."""
    repeats: int = 1
    """Best-of-N: train N runs with seeds ``seed..seed+N-1``; keep the best on validation."""
    threads: int = 1
    """torch intra-op threads; 1 is fastest for small recurrent models on shared cores."""
    device: str = "cpu"
    progress: bool = True
    """Show a tqdm progress bar."""
    tensorboard: bool = True
    """Write TensorBoard event files when the ``tensorboard`` extra is installed."""
    checkpoint_every: int = 1
    """Write ``checkpoints/last.pt`` every this many epochs (and on interrupt)."""

    def validate(self) -> None:
        """Raise ``UserError`` naming the first invalid field."""
        positive = {
            "epochs": self.epochs,
            "epoch_steps": self.epoch_steps,
            "batch_size": self.batch_size,
            "lr_decay_every": self.lr_decay_every,
            "eval_every": self.eval_every,
            "eval_batch_size": self.eval_batch_size,
            "repeats": self.repeats,
            "threads": self.threads,
            "checkpoint_every": self.checkpoint_every,
        }
        for name, value in positive.items():
            if value < 1:
                raise UserError(f"train.{name} must be >= 1 (got {value})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"train.lr must be a positive number (got {self.lr})")
        if self.lr_decay_start is not None and self.lr_decay_start < 0:
            raise UserError(f"train.lr_decay_start must be >= 0 (got {self.lr_decay_start})")
        if not 0 < self.lr_decay <= 1:
            raise UserError(f"train.lr_decay must be in (0, 1] (got {self.lr_decay})")
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"train.{name} must be > 0 or None (got {value})")
        if self.momentum < 0 or self.weight_decay < 0:
            raise UserError("train.momentum and train.weight_decay must be >= 0")
