"""The training configuration shared by every model and task (the bottom layer: recipes in
``mneme.models`` and the loop in ``mneme.train`` both read it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from mneme.validation import Validated, at_least, greater_than, in_range, satisfies

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"
"""The device names ``TrainConfig.device`` and the commands' ``--device`` accept."""


def is_device_name(name: str) -> bool:
    """``name`` is spelled as one of ``DEVICE_CHOICES`` (whether the machine has it is checked
    by ``mneme.train.device.resolve_device``)."""
    return name in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", name) is not None


@dataclass(frozen=True)
class TrainConfig(Validated):
    """How to train: optimiser, schedule, clipping, evaluation, budget and repeats.

    Budgets are counted in epochs. A dataset task's epoch is one pass over its training split
    (``num_train // batch_size`` steps, a fresh permutation each epoch); a generated task's epoch is
    ``epoch_steps`` steps of fresh samples.
    """

    seed: int = 0
    """Seed of the run (repeat ``i`` of best-of-N uses ``seed + i``)."""
    epochs: int = field(default=100, metadata=at_least(1))
    """Training budget in epochs."""
    epoch_steps: int = field(default=1000, metadata=at_least(1))
    """Steps per epoch for generated tasks (dataset tasks derive it from their size)."""
    batch_size: int = field(default=32, metadata=at_least(1))
    optimizer: Literal["sgd", "adam", "rmsprop", "rmsprop-graves"] = "sgd"
    """``rmsprop``: PyTorch's defaults (decay 0.99, eps 1e-8); ``rmsprop-graves``: the RMSProp of
    Graves (2013, eqs. 38-41) that the NTM paper trains with (section 4.6): centred, decay 0.95
    and an eps of 1e-4 under the square root, here 1e-2 outside it (the same floor on the
    denominator), so a parameter whose gradients were tiny cannot take a huge step."""
    lr: float = field(default=0.01, metadata=in_range(0.0, 1e3, closed="right"))
    """Initial learning rate; above 1e3 it is taken for a typo (the recipes use 1e-3 to 1, and
    rates near float32's limit overflow inside the optimisers)."""
    momentum: float = field(default=0.0, metadata=at_least(0.0))
    weight_decay: float = field(default=0.0, metadata=at_least(0.0))
    lr_schedule: Literal["step", "constant", "cosine"] = "step"
    """``step``: times ``lr_decay`` every ``lr_decay_every`` epochs (MemN2N: halve every 25)."""
    lr_decay: float = field(default=0.5, metadata=in_range(0.0, 1.0, closed="right"))
    lr_decay_every: int = field(default=25, metadata=at_least(1))
    lr_decay_start: int | None = field(default=None, metadata=at_least(0))
    """With ``step``: the first (0-based) epoch whose rate is decayed; from there the rate is
    multiplied by ``lr_decay`` every ``lr_decay_every`` epochs (Zaremba et al. 2014: 4, halving
    every epoch). None: decay at multiples of ``lr_decay_every``."""
    loss_reduction: Literal["mean", "sum"] = "mean"
    """Optimise the batch mean or the batch sum of the task loss (MemN2N's reference sums)."""
    clip_norm: float | None = field(default=40.0, metadata=greater_than(0.0))
    """Rescale the gradient when its global L2 norm exceeds this (None: off)."""
    clip_value: float | None = field(default=None, metadata=greater_than(0.0))
    """Clamp each gradient element to [-v, v] (None: off)."""
    eval_every: int = field(default=1, metadata=at_least(1))
    """Evaluate on the validation split every this many epochs (and at the end)."""
    eval_batch_size: int = field(default=512, metadata=at_least(1))
    early_stop: float | None = None
    """Stop once the validation selection metric is at or below this value (None: never)."""
    repeats: int = field(default=1, metadata=at_least(1))
    """Best-of-N: train N runs with seeds ``seed..seed+N-1``; keep the best on validation."""
    threads: int = field(default=1, metadata=at_least(1))
    """torch intra-op threads; 1 is fastest for small recurrent models on shared cores."""
    device: str = field(default="cpu", metadata=satisfies(DEVICE_CHOICES, is_device_name))
    """``cpu``, ``cuda``, ``cuda:N``, ``mps``, or ``auto`` (CUDA if available, else MPS, else the
    CPU); under torchrun each rank uses ``cuda:LOCAL_RANK``. Checked before anything is written;
    ``metrics.jsonl`` records the device each epoch ran on."""
    compile: bool = False
    """Train the core's steps through ``torch.compile`` where the core has a compiled path (the
    NTM: ``NTM.compile_steps``); evaluation stays eager. The first steps of each batch size
    compile for 10-60 s; a C++ compiler must be installed."""
    progress: bool = True
    """Show a tqdm progress bar."""
    tensorboard: bool = True
    """Write TensorBoard event files when the ``tensorboard`` extra is installed."""
    max_steps: int | None = field(default=None, metadata=at_least(1))
    """Stop after this many optimiser steps in all (None: no limit), ending the run as the epoch
    budget would: checkpoint, test of the best checkpoint, summary. For smoke tests; a resume
    with a larger budget continues as if never stopped."""
    max_seconds: float | None = field(default=None, metadata=greater_than(0.0))
    """Stop once training (not evaluation) has taken this many seconds in all, as ``max_steps``
    does (None: no limit)."""
    checkpoint_every: int = field(default=1, metadata=at_least(1))
    """Write ``checkpoints/last.pt`` every this many epochs (and on interrupt)."""
