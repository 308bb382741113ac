"""The adding problem: sum the two marked numbers of a long sequence.

Hochreiter & Schmidhuber 1997, "Long Short-Term Memory" (Neural Computation 9(8)), Experiment 4,
in the form of Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks of
Rectified Linear Units" (arXiv 1504.00941), section 4.1. Every step has two input channels::

    channel 0   value   0.31 0.87 0.02 0.55 ... 0.64 0.19      uniform in [0, 1]
    channel 1   marker  0    1    0    0    ... 1    0         exactly two 1s
                                                        -> target 0.87 + 0.64 = 1.51

The model reads all T steps and predicts the sum of the two marked values (a real number in
[0, 2]) after the last one; the loss is the squared error. With ``marker_placement="halves"`` the
first marker is uniform in the first half (steps ``0 .. T//2 - 1``) and the second uniform in
the second half (steps ``T//2 .. T-1``), so the first marked value must be held for at least
``T - T//2`` steps (the placement of Arjovsky, Shah & Bengio 2016, section 4.2, now the common one);
``"anywhere"`` draws two distinct steps uniformly from the whole sequence.

Baseline: always predicting 1 (the mean of the target) has an expected squared error equal to the
target's variance, 2 * 1/12 = 1/6 ~ 0.167 (``BASELINE_MSE``); a model that has learned nothing
about the markers cannot do better. Hochreiter & Schmidhuber count a sequence as processed
correctly when the absolute error is below 0.04; their target was ``0.5 + (X1 + X2) / 4`` on
values in [-1, 1], i.e. in [0, 1], while this target spans [0, 2], so the same 0.04 is twice as
strict here (``error_threshold``; 0.08 would match their criterion's relative size).

Metrics (sums, see ``reduce_metrics``): ``mse`` squared error, ``error`` fraction of sequences
with ``|prediction - target| > error_threshold``, ``count``; generalisation lengths
(``test_lengths``) add ``mse_len{T}``, ``error_len{T}`` and ``n_len{T}`` to the test split.
``selection_metric`` is ``mse``.

Legend: B batch, T time steps, D = 2 input channels.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, each, greater_than, one_of

__all__ = ["BASELINE_MSE", "AddingConfig", "AddingSpec", "AddingTask", "adding_batch"]

BASELINE_MSE = 1.0 / 6.0
"""Expected squared error of always predicting 1: the variance of the sum of two U(0, 1)."""


@dataclass(frozen=True)
class AddingConfig(Validated):
    """Adding problem settings.

    Attributes:
        seq_len: T, steps per sequence (Le et al. 2015: 150, 200, 300, 400; Hochreiter &
            Schmidhuber 1997: about 100, 500, 1000).
        marker_placement: ``"halves"`` (one marker in each half) or ``"anywhere"`` (two distinct
            uniform steps).
        error_threshold: a prediction counts as an error when it is off by more than this
            (Hochreiter & Schmidhuber 1997: 0.04).
        test_lengths: extra test sets at these lengths (generalisation), reported as
            ``mse_len{T}``; empty by default (evaluating long sequences costs time).
        generalisation_size: sequences per generalisation length.
        valid_size: fixed validation sequences.
        test_size: fixed test sequences.
        split_seed: seeds the fixed sets (independent of the training seed).
    """

    seq_len: int = field(default=100, metadata=at_least(2))  # two markers
    marker_placement: Literal["halves", "anywhere"] = field(default="halves", metadata=one_of())
    error_threshold: float = field(default=0.04, metadata=greater_than(0.0))
    test_lengths: tuple[int, ...] = field(default=(), metadata=each(at_least(2)))
    generalisation_size: int = field(default=1000, metadata=at_least(1))
    valid_size: int = field(default=2000, metadata=at_least(1))
    test_size: int = field(default=10_000, metadata=at_least(1))
    split_seed: int = 1997


@dataclass(frozen=True)
class AddingSpec:
    """What a model needs: D input channels, outputs, T, and the target's mean (1.0)."""

    input_size: int
    output_size: int
    seq_len: int
    target_mean: float


def adding_batch(batch_size: int, seq_len: int, generator: torch.Generator,
                 marker_placement: str = "halves") -> Batch:
    """``batch_size`` fresh sequences drawn with ``generator`` (vectorised).

    Returns:
        ``Batch(inputs (B, T, 2) float32, targets (B,) float32)``; ``meta["markers"]`` ``(B, 2)``
        holds the two marked steps, first < second.

    Raises:
        UserError: ``seq_len < 2`` or an unknown ``marker_placement``.
    """
    b, t = batch_size, seq_len
    if t < 2:
        raise UserError(f"adding: seq_len must be >= 2, got {t}")
    values = torch.rand(b, t, generator=generator)
    if marker_placement == "halves":
        half = t // 2
        first = torch.randint(0, half, (b,), generator=generator)
        second = torch.randint(half, t, (b,), generator=generator)
    elif marker_placement == "anywhere":
        a = torch.randint(0, t, (b,), generator=generator)
        c = torch.randint(0, t - 1, (b,), generator=generator)
        c = c + (c >= a).long()  # uniform over the t - 1 steps other than a
        first, second = torch.minimum(a, c), torch.maximum(a, c)
    else:
        raise UserError(f"adding: marker_placement must be 'halves' or 'anywhere', got "
                        f"{marker_placement!r}")
    markers = torch.stack([first, second], dim=1)
    marks = torch.zeros(b, t).scatter_(1, markers, 1.0)
    targets = values.gather(1, markers).sum(1)
    return Batch(torch.stack([values, marks], dim=-1), targets, None, {"markers": markers})


@register_task("adding", config=AddingConfig, family="adding",
               summary="sum the two marked numbers of a length-T sequence",
               source="Hochreiter & Schmidhuber 1997; Le et al. 2015, section 4.1")
class AddingTask:
    """The adding problem as a ``GeneratedTask``: fresh training sequences every step, fixed
    validation and test sets (and generalisation sets at ``test_lengths``).

    Raises:
        UserError: a bad config field, an unknown split or a batch size < 1.
    """

    name = "adding"
    selection_metric = "mse"

    def __init__(self, config: AddingConfig) -> None:
        config.validate()
        self.config = config
        self.spec = AddingSpec(input_size=2, output_size=1, seq_len=config.seq_len,
                               target_mean=1.0)
        self.info = TaskInfo(
            kind="generated", inputs="features", input_size=2, outputs="real", output_size=1,
            readout="last_step", metric="mse", unit="MSE", selection_metric="mse",
            solved_below=0.01, family="adding", output_bias=1.0,
            source="Hochreiter & Schmidhuber 1997; Le et al. 2015, section 4.1",
            generalisation=tuple(f"len{n}" for n in config.test_lengths))
        self._cache: dict[tuple[str, int], Batch] = {}

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` fresh training sequences of length T drawn with ``generator``."""
        return adding_batch(batch_size, self.config.seq_len, generator,
                            self.config.marker_placement)

    def _fixed(self, split: str, length: int, size: int) -> Batch:
        key = (split, length)
        if key not in self._cache:
            # one generator per (split, length): resizing one set leaves the others unchanged
            tag = f"adding/{split}/{length}".encode()
            seed = (self.config.split_seed * 1_000_003 + zlib.crc32(tag)) % (2**63)
            self._cache[key] = adding_batch(size, length, torch.Generator().manual_seed(seed),
                                            self.config.marker_placement)
        return self._cache[key]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Fixed batches of ``"valid"`` or ``"test"`` (test: then each generalisation length, in
        batches of its own, ``meta["group"]`` = ``len{T}``)."""
        c = self.config
        if split == "valid":
            sets = [(None, c.seq_len, c.valid_size)]
        elif split == "test":
            sets = [(None, c.seq_len, c.test_size)]
            sets += [(f"len{n}", n, c.generalisation_size) for n in c.test_lengths]
        else:
            raise UserError(f"adding: unknown split {split!r}; choose test, valid")
        if batch_size < 1:
            raise UserError(f"adding: batch_size must be >= 1, got {batch_size}")
        for group, length, size in sets:
            data = self._fixed(split if group is None else group, length, size)
            for first in range(0, data.size, batch_size):
                sl = slice(first, first + batch_size)
                yield Batch(data.inputs[sl], data.targets[sl], None,  # type: ignore[index]
                            {"group": group, "markers": data.meta["markers"][sl]})

    @staticmethod
    def _prediction(output: ModelOutput) -> torch.Tensor:
        pred = output.logits
        if pred.dim() == 2 and pred.shape[-1] == 1:
            pred = pred.squeeze(-1)
        if pred.dim() != 1:
            raise ValueError(f"adding: the prediction must be (B,) or (B, 1), got "
                             f"{tuple(output.logits.shape)}")
        return pred

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean squared error over the batch, plus the model's aux loss."""
        pred = self._prediction(output)
        loss = F.mse_loss(pred, batch.targets.to(device=pred.device, dtype=pred.dtype))
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch: ``mse``, ``error`` and ``count`` (grouped when
        ``meta["group"]`` is set)."""
        pred = self._prediction(output).detach().double()
        diff = pred - batch.targets.to(device=pred.device, dtype=pred.dtype)
        group = batch.meta.get("group")
        suffix = f"_{group}" if group else ""
        return {
            f"mse{suffix}": float(diff.square().sum()),
            f"error{suffix}": float((diff.abs() > self.config.error_threshold).sum()),
            (f"n_{group}" if group else "count"): float(batch.size),
        }
