"""The training loop of the small fixed-seed learning tests (not the library's ``Trainer``:
these tests train one model for a few hundred steps and then score it)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def train_steps(model: nn.Module, task: Any, optimizer: torch.optim.Optimizer, steps: int, *,
                batch_size: int = 32, clip_norm: float | None = None, seed: int = 0) -> None:
    """``steps`` updates of ``model`` on fresh batches of ``task`` drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = task.sample(batch_size, generator)
        loss = task.loss(model(batch.inputs), batch)
        optimizer.zero_grad()
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
