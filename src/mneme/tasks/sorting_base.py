"""What the pointer tasks share: their common config fields, ``PointerSpec``, a split's data,
and ``PointerTask``, the base class (fixed splits, the teacher-forced loss, metrics over valid
predictions).

The tasks, their batch layout and their metrics are described in ``mneme.tasks.sorting``, which
holds the three tasks and re-exports these names.

Legend: B batch, N points (padded), D coordinates, T target length, K = N (+ 1 END) positions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from mneme.errors import UserError
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, invalid, ordered

__all__ = [
    "PointerSpec",
    "PointerTask",
]


@dataclass(frozen=True)
class _PointerConfig(Validated):
    """Pointer task settings (shared fields).

    Attributes:
        n: points per example (the fewest, with ``n_max``).
        n_max: None for a fixed n; else each example draws n uniformly from ``n..n_max``.
        train_size: fixed training examples (the paper: 1M).
        valid_size: validation examples (evaluated every epoch, with decoding).
        test_size: test examples.
        split_seed: seed of the fixed splits.
    """

    n: int = 5
    n_max: int | None = None
    train_size: int = field(default=100_000, metadata=at_least(1))
    valid_size: int = field(default=1_000, metadata=at_least(1))
    test_size: int = field(default=10_000, metadata=at_least(1))
    split_seed: int = 1506

    min_n: ClassVar[int] = 2
    max_n: ClassVar[int | None] = None
    label: ClassVar[str] = "pointer"

    @property
    def largest(self) -> int:
        """N, the most points of an example."""
        return self.n if self.n_max is None else self.n_max

    def check(self) -> None:
        if self.n < self.min_n:
            raise invalid(self, "n", f"must be >= {self.min_n} for {self.label}")
        ordered(self, "n", "n_max")
        if self.max_n is not None and self.largest > self.max_n:
            raise invalid(self, "n_max" if self.n_max is not None else "n",
                          f"must be <= {self.max_n} for {self.label}, the exact solver's limit")


@dataclass(frozen=True)
class PointerSpec:
    """What a pointer model needs.

    Attributes:
        input_dim: D, coordinates per point.
        max_points: N, the padded number of points; END's position when ``end_token``.
        end_token: the output ends with END (the hull), else after exactly n pointers.
        max_output: T, the longest target.
    """

    input_dim: int
    max_points: int
    end_token: bool
    max_output: int


@dataclass(frozen=True)
class PointerData:
    """A whole split: points ``(S, N, D)``, point_mask ``(S, N)``, targets and target_mask
    ``(S, T)``."""

    points: torch.Tensor
    point_mask: torch.Tensor
    targets: torch.Tensor
    target_mask: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    def batch(self, index: torch.Tensor | slice) -> Batch:
        """The examples ``index`` as a ``Batch`` (see the module docstring)."""
        targets = self.targets[index]
        inputs = {"points": self.points[index], "point_mask": self.point_mask[index],
                  "targets": targets}
        return Batch(inputs, targets, self.target_mask[index])


class PointerTask:
    """A pointer task over fixed splits (a ``DatasetTask``); subclasses give the solver.

    Raises:
        UserError: a bad config field, or an unknown split in ``eval_batches``.
    """

    name: ClassVar[str] = "pointer"
    selection_metric: ClassVar[str] = "error"
    input_dim: ClassVar[int] = 2
    end_token: ClassVar[bool] = False
    _VALID_ONLY: ClassVar[tuple[str, ...]] = ()
    """Metrics averaged over valid predictions only (``finalize_metrics``)."""

    def __init__(self, config: _PointerConfig) -> None:
        config.validate()
        self.config = config
        n_max = config.largest
        self.spec = PointerSpec(self.input_dim, n_max, self.end_token,
                                n_max + int(self.end_token))
        self.info = TaskInfo(
            kind="dataset", inputs="structured", input_size=self.input_dim,
            outputs="structured", output_size=n_max + int(self.end_token), readout="none",
            metric=self.selection_metric, unit="" if self.selection_metric != "error" else "%",
            percent=self.selection_metric == "error", selection_metric=self.selection_metric,
            family="pointer", source="Vinyals et al. 2015")
        self._splits: dict[str, PointerData] = {}
        self._sizes = {"train": config.train_size, "valid": config.valid_size,
                       "test": config.test_size}

    # -- data ----------------------------------------------------------------------------------
    def solve(self, points: np.ndarray) -> list[list[int]]:
        """Target position sequences for ``points`` ``(S, n, D)`` of one n (END included)."""
        raise NotImplementedError

    def generate(self, size: int, rng: np.random.Generator) -> PointerData:
        """``size`` examples drawn with ``rng`` and solved exactly."""
        cfg = self.config
        n_max, t_max = self.spec.max_points, self.spec.max_output
        counts = (np.full(size, cfg.n) if cfg.n_max is None
                  else rng.integers(cfg.n, cfg.n_max + 1, size=size))
        points = rng.random((size, n_max, self.input_dim))
        point_mask = np.arange(n_max)[None, :] < counts[:, None]
        points[~point_mask] = 0.0
        targets = np.zeros((size, t_max), dtype=np.int64)
        target_mask = np.zeros((size, t_max), dtype=bool)
        for n in np.unique(counts):
            rows = np.flatnonzero(counts == n)
            for row, seq in zip(rows, self.solve(points[rows, :n]), strict=True):
                targets[row, : len(seq)] = seq
                target_mask[row, : len(seq)] = True
        if self.end_token:  # END is position N whatever the example's own n
            targets[targets == _END_PLACEHOLDER] = n_max
        return PointerData(torch.from_numpy(points).float(), torch.from_numpy(point_mask),
                           torch.from_numpy(targets), torch.from_numpy(target_mask))

    def split(self, name: str) -> PointerData:
        """The fixed split ``train``, ``valid`` or ``test`` (generated on first use)."""
        if name not in self._sizes:
            raise UserError(f"{self.name}: unknown split {name!r}; choose test, train or valid")
        if name not in self._splits:
            which = ("train", "valid", "test").index(name)
            # one generator per split: changing a split's size leaves the others unchanged
            rng = np.random.default_rng([self.config.split_seed, which])
            self._splits[name] = self.generate(self._sizes[name], rng)
        return self._splits[name]

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return self.config.train_size

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training examples ``indices`` ``(B,)``; ``generator`` is unused."""
        return self.split("train").batch(indices.to(dtype=torch.long))

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Batches of ``split`` in order."""
        if batch_size < 1:
            raise UserError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        data = self.split(split)
        for first in range(0, data.size, batch_size):
            yield data.batch(slice(first, first + batch_size))

    # -- loss and metrics ----------------------------------------------------------------------
    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean over sequences of the teacher-forced NLL (nats) of the target positions.

        ``output.logits`` ``(B, T, K)`` are log-probabilities over the K positions.
        """
        nll = _sequence_nll(output.logits, batch)
        loss = nll.mean()
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch (``count``, ``loss``, ``error`` and the task's own).

        Raises:
            ValueError: the output carries no decoded sequences (``output.trace.tokens``).
        """
        tokens = getattr(output.trace, "tokens", None)
        if tokens is None:
            raise ValueError(f"{self.name}: metrics need the model's decoded positions in "
                             "output.trace.tokens (a pointer model decodes in eval mode)")
        nll = _sequence_nll(output.logits.detach().float(), batch)
        sums = {"count": float(batch.size), "loss": float(nll.sum())}
        assert isinstance(batch.inputs, dict)
        sums.update(self.score(tokens.cpu(), batch.inputs["points"].cpu(),
                               batch.inputs["point_mask"].cpu(), batch.targets.cpu(),
                               batch.mask.cpu() if batch.mask is not None else None))
        return sums

    def score(self, tokens: torch.Tensor, points: torch.Tensor, point_mask: torch.Tensor,
              targets: torch.Tensor, target_mask: torch.Tensor | None) -> dict[str, float]:
        """Task metrics (sums) of decoded ``tokens`` ``(B, L)`` (-1 after the end)."""
        raise NotImplementedError

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Turn the valid-only sums (divided by ``count`` by ``reduce_metrics``) into means over
        the ``n_valid`` valid predictions (NaN when there is none)."""
        out = dict(metrics)
        valid = out.get("n_valid")
        for key in self._VALID_ONLY:
            if key in out and valid is not None:
                out[key] = out[key] * out.get("count", 0.0) / valid if valid else math.nan
        return out


_END_PLACEHOLDER = -7  # END before the padded N is known; replaced in ``generate``


def _sequence_nll(log_probs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-sequence NLL ``(B,)`` of ``batch.targets`` under ``log_probs`` ``(B, T, K)``."""
    targets = batch.targets.to(log_probs.device)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = batch.mask.to(log_probs.device) if batch.mask is not None else torch.ones_like(
        targets, dtype=torch.bool)
    # where, not a product: a masked step's log-probability may be hugely negative
    return -torch.where(mask, picked, picked.new_zeros(())).sum(-1)


def _sequences(tokens: torch.Tensor) -> list[list[int]]:
    """Decoded rows ``(B, L)`` as lists, each up to its first -1."""
    out = []
    for row in tokens.tolist():
        seq = []
        for t in row:
            if t < 0:
                break
            seq.append(t)
        out.append(seq)
    return out
