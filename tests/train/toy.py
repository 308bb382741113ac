"""A tiny dataset task and model for testing the training engine without real data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from mneme.types import Batch, ModelOutput, TaskInfo


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
        self.info = TaskInfo(kind="dataset", inputs="features", input_size=features,
                             outputs="classes", output_size=classes, readout="none",
                             metric="error", unit="%", percent=True,
                             selection_metric="error")
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


class ToyStreamTask:
    """A token stream (a noisy repeating pattern) walked in contiguous chunks, like PTB."""

    name = "toy-stream"

    def __init__(self, seq_len: int = 5, vocab: int = 6, length: int = 2000) -> None:
        g = torch.Generator().manual_seed(99)
        pattern = torch.tensor([0, 1, 2, 3, 4, 5, 4, 3, 2, 1]) % vocab
        stream = pattern.repeat(length // len(pattern) + 1)[:length]
        noise = torch.rand(length, generator=g) < 0.1
        stream = torch.where(noise, torch.randint(0, vocab, (length,), generator=g), stream)
        self.vocab, self.seq_len = vocab, seq_len
        self.info = TaskInfo(kind="stream", inputs="tokens", input_size=vocab,
                             outputs="classes", output_size=vocab, readout="every_step",
                             metric="nll", unit="nats", selection_metric="nll")
        self.splits = {"train": stream, "valid": stream[:400], "test": stream[400:800]}

    def _rows(self, split: str, batch_size: int) -> torch.Tensor:
        data = self.splits[split]
        width = len(data) // batch_size
        return data[: width * batch_size].view(batch_size, width)

    def num_train_batches(self, batch_size: int) -> int:
        return (self._rows("train", batch_size).shape[1] - 1) // self.seq_len

    def _chunk(self, rows: torch.Tensor, index: int) -> Batch:
        start = index * self.seq_len
        return Batch(rows[:, start : start + self.seq_len],
                     rows[:, start + 1 : start + 1 + self.seq_len])

    def train_batch_at(self, index: int, batch_size: int, generator: torch.Generator) -> Batch:
        return self._chunk(self._rows("train", batch_size), index)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        rows = self._rows(split, batch_size)
        for index in range((rows.shape[1] - 1) // self.seq_len):
            yield self._chunk(rows, index)

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(output.logits.flatten(0, 1), batch.targets.flatten())

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        nll = nn.functional.cross_entropy(
            output.logits.flatten(0, 1), batch.targets.flatten(), reduction="sum"
        )
        return {"count": batch.targets.numel(), "nll": float(nll)}

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        import math

        return {**metrics, "perplexity": math.exp(metrics["nll"])}


class ToyLM(nn.Module):
    """Embedding, an LSTM and a softmax layer; records the states it was handed (for tests)."""

    def __init__(self, vocab: int = 6, hidden: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        self.seen: list = []

    def forward(self, inputs: torch.Tensor, state=None) -> ModelOutput:
        self.seen.append(state)
        y, (h, c) = self.rnn(self.embed(inputs), state)
        return ModelOutput(self.out(y), state=(h, c))
