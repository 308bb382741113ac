"""What the four NTM paper's tasks share: ``AlgorithmicSpec``, the fixed evaluation sets, the
loss and the metrics (``_Algorithmic``, the tasks' base class), and ``SOLVED_BITS``.

The units and the metric keys are described in ``mneme.tasks.algorithmic``, which holds the tasks
and re-exports these names.

Legend: B batch, T time steps, D_out output channels.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mneme.errors import UserError
from mneme.tasks.reinforce import reinforce_loss
from mneme.types import Batch, ModelOutput, TaskInfo

__all__ = [
    "AlgorithmicSpec",
    "wrong_bits",
]

_LN2 = math.log(2.0)


def wrong_bits(logits: Tensor, targets: Tensor) -> Tensor:
    """Wrong bits of each step, ``(B, T)``: the sigmoid of ``logits`` ``(B, T, D_out)``
    thresholded at 0.5 against the 0/1 ``targets`` of the same shape (the NTM paper's bits,
    Graves et al. 2014, section 4)."""
    return ((logits > 0) != (targets > 0.5)).sum(-1)


@dataclass(frozen=True)
class AlgorithmicSpec:
    """What a model needs: ``input_size`` D_in and ``output_size`` D_out channels, and the task."""

    input_size: int
    output_size: int
    task_name: str


@dataclass(frozen=True)
class _EvalSet:
    group: str | None  # None: the training distribution (keys without suffix, ``count``)
    size: int
    args: tuple[Any, ...]  # what ``_draw`` needs beyond size and generator


SOLVED_BITS = 1.0
"""A model solves an algorithmic task at under one wrong bit per sequence on average (the
matrix's threshold; the paper's curves go to about 0)."""


class _Algorithmic:
    """What the four tasks share: fixed evaluation sets, loss and metrics.

    Metrics (sums over sequences; ``reduce_metrics`` turns them into means): ``bits`` wrong bits
    per sequence, ``cost`` cross-entropy per sequence in bits, ``error`` the fraction of sequences
    with any wrong bit, ``bit_error`` the fraction of a sequence's masked bits that are wrong
    (averaged over sequences), with ``count``; generalisation sets add the same keys suffixed
    ``_{group}`` with ``n_{group}``. ``selection_metric`` is ``bits``.

    Raises:
        UserError: a bad config field, an unknown split or a batch size < 1.
    """

    name = ""
    source = ""
    selection_metric = "bits"
    input_channels: tuple[str, ...] = ()
    output_channels: tuple[str, ...] = ()

    def __init__(self, config: Any) -> None:
        config.validate()
        self.config = config
        self.spec = AlgorithmicSpec(len(self.input_channels), len(self.output_channels),
                                    self.name)
        self.info = TaskInfo(
            kind="generated", inputs="features", input_size=self.spec.input_size,
            outputs="bits", output_size=self.spec.output_size, readout="every_step",
            metric="bits", unit="bits per sequence", selection_metric=self.selection_metric,
            solved_below=SOLVED_BITS, family="algorithmic", source=self.source,
            generalisation=tuple(s.group for s in self._generalisation() if s.group))
        self._cache: dict[tuple[str, str | None], Batch] = {}

    @property
    def input_size(self) -> int:
        """D_in, input channels."""
        return self.spec.input_size

    @property
    def output_size(self) -> int:
        """D_out, output channels."""
        return self.spec.output_size

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` fresh training sequences drawn with ``generator``; with the config's
        ``same_length_batches`` every sequence of the batch has one drawn size (no padding)."""
        return self._sample(batch_size, generator,
                            bool(getattr(self.config, "same_length_batches", False)))

    @staticmethod
    def _sizes(low: int, high: int, count: int, generator: torch.Generator,
               same: bool) -> Tensor:
        """``(count,)`` sizes from U{low..high}: one per sequence, or one for all when ``same``
        (each sequence's size is still U{low..high}; only the batch's padding changes)."""
        if same:
            return torch.randint(low, high + 1, (1,), generator=generator).expand(count)
        return torch.randint(low, high + 1, (count,), generator=generator)

    # subclasses: the training draw, the evaluation sets and how to draw one
    def _sample(self, batch_size: int, generator: torch.Generator, same_length: bool) -> Batch:
        raise NotImplementedError

    def _generalisation(self) -> list[_EvalSet]:
        return []

    def _draw(self, size: int, args: tuple[Any, ...], generator: torch.Generator) -> Batch:
        raise NotImplementedError

    def _sets(self, split: str) -> list[_EvalSet]:
        if split == "valid":
            return [_EvalSet(None, self.config.valid_size, ())]
        if split == "test":
            return [_EvalSet(None, self.config.test_size, ()), *self._generalisation()]
        raise UserError(f"{self.name}: unknown split {split!r}; choose test, valid")

    def _fixed(self, split: str, spec: _EvalSet) -> Batch:
        key = (split, spec.group)
        if key not in self._cache:
            # one generator per (split, group): resizing one set leaves the others unchanged
            tag = f"{self.name}/{split}/{spec.group}".encode()
            seed = (self.config.split_seed * 1_000_003 + zlib.crc32(tag)) % (2**63)
            if spec.group is None:
                # fixed sets always mix sizes, whatever the training batches do
                self._cache[key] = self._sample(spec.size, torch.Generator().manual_seed(seed),
                                                False)
            else:
                self._cache[key] = self._draw(spec.size, spec.args,
                                              torch.Generator().manual_seed(seed))
        return self._cache[key]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Fixed batches of ``"valid"`` or ``"test"`` (test: then each generalisation set, in
        batches of its own, ``meta["group"]`` naming it), each trimmed to its longest sequence."""
        if batch_size < 1:
            raise UserError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        for spec in self._sets(split):
            data = self._fixed(split, spec)
            for first in range(0, data.size, batch_size):
                sl = slice(first, first + batch_size)
                steps = data.meta["steps"][sl]
                t = int(steps.max())
                mask = data.mask[sl, :t]  # type: ignore[index]
                meta = {"steps": steps, "group": spec.group}
                yield Batch(data.inputs[sl, :t], data.targets[sl, :t], mask, meta)  # type: ignore[index]

    def _per_sequence(self, logits: Tensor, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Cross-entropy (nats), wrong bits and masked bits, each ``(B,)``."""
        targets = batch.targets.to(device=logits.device, dtype=logits.dtype)
        assert batch.mask is not None
        mask = batch.mask.to(logits.device)
        if logits.shape != targets.shape:
            raise ValueError(f"{self.name}: logits {tuple(logits.shape)} must match targets "
                             f"{tuple(targets.shape)} (B, T, D_out)")
        ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
        ce = (ce * mask).sum(1)
        wrong = (wrong_bits(logits, targets) * mask).sum(1)
        return ce, wrong, mask.sum(1) * targets.shape[-1]

    def loss(self, output: ModelOutput, batch: Batch) -> Tensor:
        """Cross-entropy summed over bits and masked steps, mean over sequences (nats); plus
        REINFORCE when the model sampled (``output.log_prob``) and the model's aux loss."""
        ce, _, _ = self._per_sequence(output.logits, batch)
        loss = ce.mean()
        if output.log_prob is not None:
            loss = loss + reinforce_loss(ce.detach(), output.log_prob, output.baseline)
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch (see the class docstring); grouped when ``meta["group"]`` is set."""
        ce, wrong, n_bits = self._per_sequence(output.logits.detach().float(), batch)
        group = batch.meta.get("group")
        suffix = f"_{group}" if group else ""
        return {
            f"bits{suffix}": float(wrong.sum()),
            f"cost{suffix}": float(ce.sum()) / _LN2,
            f"error{suffix}": float((wrong > 0).sum()),
            f"bit_error{suffix}": float((wrong / n_bits.clamp(min=1)).sum()),
            (f"n_{group}" if group else "count"): float(batch.size),
        }
