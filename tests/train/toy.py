"""A tiny dataset task and model for testing the training engine without real data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from mneme.tasks.base import Batch, ModelOutput


@dataclass(frozen=True)
class ToySpec:
    features: int
    classes: int


class ToyTask:
    """Classify noisy points by which of ``classes`` random centres they lie nearest."""

    name = "toy"

    def __init__(self, n_train: int = 256, features: int = 8, classes: int = 4) -> None:
        g = torch.Generator().manual_seed(1234)
        self.centres = torch.randn(classes, features, generator=g) * 2
        self.spec = ToySpec(features, classes)
        self.splits = {
            "train": self._make(n_train, g),
            "valid": self._make(64, g),
            "test": self._make(64, g),
        }

    def _make(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, self.spec.classes, (n,), generator=g)
        x = self.centres[y] + torch.randn(n, self.spec.features, generator=g)
        return x, y

    @property
    def num_train(self) -> int:
        return len(self.splits["train"][1])

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        x, y = self.splits["train"]
        # Training-time input noise from the loop's generator: resume must restore it exactly.
        noise = 0.1 * torch.randn(len(indices), x.shape[1], generator=generator)
        return Batch(x[indices] + noise, y[indices])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        x, y = self.splits[split]
        for i in range(0, len(y), batch_size):
            yield Batch(x[i : i + batch_size], y[i : i + batch_size])

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(output.logits, batch.targets)

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        wrong = (output.logits.argmax(-1) != batch.targets).sum()
        loss = nn.functional.cross_entropy(output.logits, batch.targets, reduction="sum")
        return {"count": batch.size, "error": float(wrong), "loss": float(loss)}


class ToyModel(nn.Module):
    """An MLP with dropout (so the global torch RNG matters for exact resume)."""

    def __init__(self, spec: ToySpec, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(spec.features, hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, spec.classes),
        )
        self.register_buffer("linear", torch.tensor(False))

    def set_linear(self, value: bool) -> None:
        self.linear.fill_(value)

    def forward(self, inputs: torch.Tensor, *, trace: bool = False) -> ModelOutput:
        return ModelOutput(self.net(inputs))
