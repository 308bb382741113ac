"""The algorithmic tasks of the Neural Turing Machine paper: copy, repeat copy, associative recall,
priority sort.

Graves, Wayne & Danihelka 2014, "Neural Turing Machines" (arXiv 1410.5401), section 4. Every task
is sequence to sequence with binary targets: the model reads ``inputs`` ``(B, T, D_in)`` one step at
a time and emits sigmoid logits ``(B, T, D_out)``; only the steps marked by ``mask`` ``(B, T)``
count. Sequences of one batch have different lengths and are padded at the end (zero inputs, zero
targets, mask False) to the batch's longest. Layouts, ``W`` the vector width, ``L`` the length::

    copy           x_1..x_L | delim | (nothing)                      -> targets x_1..x_L
    repeat copy    x_1..x_L | delim | count | (nothing)              -> R copies, then end marker
    assoc. recall  [delim i_1] .. [delim i_K] | query q | query      -> the item after q
    priority sort  (x_1,p_1)..(x_N,p_N) | delim | (nothing)          -> the M highest x by p

Units (the paper's): ``bits`` is the number of wrong bits per sequence (sigmoid thresholded at 0.5);
``cost`` is the cross-entropy per sequence in bits (nats / ln 2), what the paper's learning curves
plot as "cost per sequence (bits)". Generalisation sets (copy at lengths 10..120 after training on
1..20, associative recall with up to 20 items) are reported under grouped keys such as
``bits_len120`` with their own count ``n_len120`` (``reduce_metrics``).

Legend: B batch, T time steps, W vector width, L sequence length, R repeats, K items, N inputs,
M outputs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.tasks.reinforce import reinforce_loss
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, each, ordered

__all__ = [
    "AlgorithmicSpec",
    "AssociativeRecallConfig",
    "AssociativeRecallTask",
    "CopyConfig",
    "CopyTask",
    "Example",
    "PrioritySortConfig",
    "PrioritySortTask",
    "RepeatCopyConfig",
    "RepeatCopyTask",
    "associative_recall_batch",
    "copy_batch",
    "decode_example",
    "priority_sort_batch",
    "repeat_copy_batch",
    "repeat_normalisation",
]

_LN2 = math.log(2.0)


# -- configs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CopyConfig(Validated):
    """Copy (section 4.1): random ``width``-bit vectors, length ``U{min_length..max_length}``.

    Attributes:
        width: W, bits per vector (the paper: 8).
        min_length, max_length: training lengths (the paper: 1..20).
        test_lengths: generalisation lengths, reported as ``bits_len{L}`` (the paper's Figures 4
            and 5: 10, 20, 30, 50, 120).
        generalisation_size: sequences per generalisation setting.
        valid_size, test_size: fixed sequences at the training distribution.
        split_seed: seeds the fixed validation and test sets (independent of the training seed).
    """

    width: int = field(default=8, metadata=at_least(1))
    min_length: int = field(default=1, metadata=at_least(1))
    max_length: int = 20
    test_lengths: tuple[int, ...] = field(default=(10, 20, 30, 40, 50, 80, 120),
                                          metadata=each(at_least(1)))
    generalisation_size: int = field(default=100, metadata=at_least(1))
    valid_size: int = field(default=1000, metadata=at_least(1))
    test_size: int = field(default=1000, metadata=at_least(1))
    split_seed: int = 1410

    def check(self) -> None:
        ordered(self, "min_length", "max_length")


@dataclass(frozen=True)
class RepeatCopyConfig(Validated):
    """Repeat copy (section 4.2): length ``U{min_length..max_length}``, repeats
    ``U{min_repeats..max_repeats}`` (the paper: both 1..10).

    The repeat count R arrives as ``(R - mean) / std`` on its own input channel, mean and standard
    deviation those of the discrete uniform training distribution of R (the paper normalises it to
    mean 0, variance 1): for 1..10, mean 5.5 and std sqrt(99 / 12) = 2.87. The same constants are
    used at test time, so 20 repeats read as 5.05.

    Attributes:
        width: W, bits per vector (the paper: 8).
        min_length, max_length: training lengths.
        min_repeats, max_repeats: training repeat counts.
        test_lengths: longer sequences at ``max_repeats`` repeats, reported as ``bits_len{L}``
            (the paper's Figure 8: length 20, 10 repeats).
        test_repeats: more repeats at length ``max_length``, reported as ``bits_rep{R}`` (Figure 8:
            length 10, 20 repeats).
        generalisation_size: sequences per generalisation setting.
        valid_size, test_size: fixed sequences at the training distribution.
        split_seed: seeds the fixed sets.
    """

    width: int = field(default=8, metadata=at_least(1))
    min_length: int = field(default=1, metadata=at_least(1))
    max_length: int = 10
    min_repeats: int = field(default=1, metadata=at_least(1))
    max_repeats: int = 10
    test_lengths: tuple[int, ...] = field(default=(15, 20), metadata=each(at_least(1)))
    test_repeats: tuple[int, ...] = field(default=(15, 20), metadata=each(at_least(1)))
    generalisation_size: int = field(default=100, metadata=at_least(1))
    valid_size: int = field(default=1000, metadata=at_least(1))
    test_size: int = field(default=1000, metadata=at_least(1))
    split_seed: int = 1410

    def check(self) -> None:
        ordered(self, "min_length", "max_length")
        ordered(self, "min_repeats", "max_repeats")


@dataclass(frozen=True)
class AssociativeRecallConfig(Validated):
    """Associative recall (section 4.3): items of ``item_length`` ``width``-bit vectors.

    Attributes:
        width: W, bits per vector (the paper: 6).
        item_length: vectors per item (the paper: 3).
        min_items, max_items: items per training sequence (the paper: 2..6).
        test_items: generalisation item counts, reported as ``bits_items{K}`` (the paper's
            Figure 11 runs 6..20).
        generalisation_size: sequences per generalisation setting.
        valid_size, test_size: fixed sequences at the training distribution.
        split_seed: seeds the fixed sets.
    """

    width: int = field(default=6, metadata=at_least(1))
    item_length: int = field(default=3, metadata=at_least(1))
    min_items: int = field(default=2, metadata=at_least(2))  # a query needs an item after it
    max_items: int = 6
    test_items: tuple[int, ...] = field(default=(6, 10, 12, 15, 20), metadata=each(at_least(2)))
    generalisation_size: int = field(default=100, metadata=at_least(1))
    valid_size: int = field(default=1000, metadata=at_least(1))
    test_size: int = field(default=1000, metadata=at_least(1))
    split_seed: int = 1410

    def check(self) -> None:
        ordered(self, "min_items", "max_items")


@dataclass(frozen=True)
class PrioritySortConfig(Validated):
    """Priority sort (section 4.5): ``num_inputs`` vectors with priorities ``U[-1, 1]``.

    Attributes:
        width: W, bits per vector (8; the paper does not state it).
        num_inputs: N, vectors per sequence (the paper: 20).
        num_outputs: M, the highest-priority vectors to emit, sorted (the paper: 16).
        valid_size, test_size: fixed sequences (the test set is at the training distribution).
        split_seed: seeds the fixed sets.
    """

    width: int = field(default=8, metadata=at_least(1))
    num_inputs: int = field(default=20, metadata=at_least(1))
    num_outputs: int = field(default=16, metadata=at_least(1))
    valid_size: int = field(default=1000, metadata=at_least(1))
    test_size: int = field(default=1000, metadata=at_least(1))
    split_seed: int = 1410

    def check(self) -> None:
        ordered(self, "num_outputs", "num_inputs")


# -- generators ---------------------------------------------------------------------------------
def _take(x: Tensor, index: Tensor) -> Tensor:
    """``x`` ``(B, N, W)`` rows picked by ``index`` ``(B, T)`` or ``(1, T)`` -> ``(B, T, W)``."""
    return x.gather(1, index.expand(x.shape[0], -1).unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _bits(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, shape, generator=generator).to(torch.float32)


def copy_batch(lengths: Tensor, width: int, generator: torch.Generator) -> Batch:
    """Copy sequences of the given ``lengths`` ``(B,)``.

    Layout of a length-L sequence, T = 2L + 1 steps: steps 0..L-1 carry the vectors on channels
    0..W-1, step L the delimiter on channel W, steps L+1..2L no input and the targets (the
    vectors again, mask True).

    Returns:
        ``Batch(inputs (B, T, W + 1), targets (B, T, W), mask (B, T))``, T = 2 max(L) + 1;
        ``meta["steps"]`` ``(B,)`` each sequence's own T.
    """
    b, lmax = lengths.numel(), int(lengths.max())
    bits = _bits((b, lmax, width), generator)
    t = torch.arange(2 * lmax + 1)[None, :]
    length = lengths[:, None]
    inputs = torch.zeros(b, t.shape[1], width + 1)
    inputs[..., :width] = _take(bits, t.clamp(max=lmax - 1)) * (t < length)[..., None]
    inputs[..., width] = (t == length).float()
    mask = (t > length) & (t <= 2 * length)
    targets = _take(bits, (t - length - 1).clamp(0, lmax - 1)) * mask[..., None]
    return Batch(inputs, targets, mask, {"steps": 2 * lengths + 1})


def repeat_normalisation(min_repeats: int, max_repeats: int) -> tuple[float, float]:
    """Mean and standard deviation of R ~ U{min_repeats..max_repeats}; std 1 when constant."""
    n = max_repeats - min_repeats + 1
    mean = (min_repeats + max_repeats) / 2
    std = math.sqrt((n * n - 1) / 12)
    return mean, std if std > 0 else 1.0


def repeat_copy_batch(lengths: Tensor, repeats: Tensor, width: int, mean: float, std: float,
                      generator: torch.Generator) -> Batch:
    """Repeat-copy sequences of ``lengths`` ``(B,)`` and ``repeats`` ``(B,)``.

    Layout, T = L + 2 + R L + 1: steps 0..L-1 the vectors (channels 0..W-1), step L the delimiter
    (channel W), step L+1 the normalised count ``(R - mean) / std`` (channel W+1), then no input
    while the targets are R copies of the sequence (channels 0..W-1, end marker 0) followed by one
    step with the end marker (output channel W) and zero bits. All output steps are masked in.

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W + 1), mask (B, T))``, ``meta["steps"]``.
    """
    b, lmax = lengths.numel(), int(lengths.max())
    bits = _bits((b, lmax, width), generator)
    steps = lengths * (repeats + 1) + 3
    t = torch.arange(int(steps.max()))[None, :]
    length, start = lengths[:, None], lengths[:, None] + 2
    end = start + repeats[:, None] * length  # the end-marker step
    inputs = torch.zeros(b, t.shape[1], width + 2)
    inputs[..., :width] = _take(bits, t.clamp(max=lmax - 1)) * (t < length)[..., None]
    inputs[..., width] = (t == length).float()
    count = ((repeats[:, None] - mean) / std).float().expand(b, t.shape[1])
    inputs[..., width + 1] = torch.where(t == length + 1, count, torch.zeros(()))
    copying = (t >= start) & (t < end)
    targets = torch.zeros(b, t.shape[1], width + 1)
    index = (t - start).clamp(min=0) % length
    targets[..., :width] = _take(bits, index) * copying[..., None]
    targets[..., width] = (t == end).float()
    mask = (t >= start) & (t <= end)
    return Batch(inputs, targets, mask, {"steps": steps, "repeats": repeats})


def associative_recall_batch(num_items: Tensor, item_length: int, width: int,
                             generator: torch.Generator) -> Batch:
    """Associative-recall sequences with ``num_items`` ``(B,)`` items each.

    Layout with n = ``item_length``, T = K (n + 1) + 2n + 2: each item is an item delimiter
    (channel W) then n vectors (channels 0..W-1); then a query delimiter (channel W+1), the query
    item (one of items 1..K-1, uniformly), a second query delimiter (the item is "bounded on the
    left and right by delimiter symbols", section 4.3), and n steps without input whose targets
    are the item that followed the query. Items are not forced distinct (a repeat of the query
    among 2^(nW) = 2^18 items is rare enough to ignore).

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W), mask (B, T))``; ``meta["steps"]``,
        ``meta["query"]`` ``(B,)`` the 0-based index of the query item.
    """
    b, kmax, n = num_items.numel(), int(num_items.max()), item_length
    items = _bits((b, kmax * n, width), generator)  # item k is rows k*n .. k*n + n - 1
    query = (torch.rand(b, generator=generator) * (num_items - 1)).long()
    span = n + 1
    steps = num_items * span + 2 * n + 2
    t = torch.arange(int(steps.max()))[None, :]
    k = num_items[:, None]
    in_items = t < k * span
    offset = t % span
    inputs = torch.zeros(b, t.shape[1], width + 2)
    inputs[..., width] = (in_items & (offset == 0)).float()
    item_row = ((t // span) * n + offset - 1).clamp(0, kmax * n - 1)
    inputs[..., :width] = _take(items, item_row) * (in_items & (offset > 0))[..., None]
    rel = t - k * span  # 0: query delimiter, 1..n: query, n+1: delimiter, n+2..2n+1: answer
    inputs[..., width + 1] = ((rel == 0) | (rel == n + 1)).float()
    q = query[:, None]
    shown = (rel >= 1) & (rel <= n)
    inputs[..., :width] += _take(items, (q * n + rel - 1).clamp(0, kmax * n - 1)) * shown[..., None]
    mask = (rel >= n + 2) & (rel <= 2 * n + 1)
    answer_row = ((q + 1) * n + rel - n - 2).clamp(0, kmax * n - 1)
    targets = _take(items, answer_row) * mask[..., None]
    return Batch(inputs, targets, mask, {"steps": steps, "query": query})


def priority_sort_batch(batch_size: int, num_inputs: int, num_outputs: int, width: int,
                        generator: torch.Generator) -> Batch:
    """Priority-sort sequences.

    Layout, T = N + 1 + M: steps 0..N-1 a vector (channels 0..W-1) and its priority ``U[-1, 1]``
    (channel W), step N a delimiter (channel W+1), then M steps without input whose targets are
    the M highest-priority vectors in descending order of priority.

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W), mask (B, T))``; ``meta["steps"]``,
        ``meta["order"]`` ``(B, M)`` the input index of each output step's vector.
    """
    b, n, m = batch_size, num_inputs, num_outputs
    vectors = _bits((b, n, width), generator)
    priority = torch.rand(b, n, generator=generator) * 2 - 1
    inputs = torch.zeros(b, n + 1 + m, width + 2)
    inputs[:, :n, :width] = vectors
    inputs[:, :n, width] = priority
    inputs[:, n, width + 1] = 1.0
    order = priority.argsort(dim=1, descending=True)[:, :m]
    targets = torch.zeros(b, n + 1 + m, width)
    targets[:, n + 1 :] = _take(vectors, order)
    mask = torch.zeros(b, n + 1 + m, dtype=torch.bool)
    mask[:, n + 1 :] = True
    return Batch(inputs, targets, mask, {"steps": torch.full((b,), n + 1 + m), "order": order})


# -- tasks --------------------------------------------------------------------------------------
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

    # subclasses: the training draw, the evaluation sets and how to draw one
    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` fresh training sequences drawn with ``generator``."""
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
                self._cache[key] = self.sample(spec.size, torch.Generator().manual_seed(seed))
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
        wrong = (((logits > 0) != (targets > 0.5)) & mask[..., None]).sum((1, 2))
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


def _bit_names(width: int) -> tuple[str, ...]:
    return tuple(f"bit {i}" for i in range(width))


@register_task("copy", config=CopyConfig, family="algorithmic",
               summary="copy random 8-bit vectors, lengths 1-20",
               source="Graves et al. 2014, section 4.1")
class CopyTask(_Algorithmic):
    """Copy (section 4.1), ``copy_batch`` layout; generalisation groups ``len{L}``."""

    name = "copy"
    source = "Graves et al. 2014, section 4.1"

    def __init__(self, config: CopyConfig) -> None:
        self.input_channels = (*_bit_names(config.width), "delimiter")
        self.output_channels = _bit_names(config.width)
        super().__init__(config)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        c = self.config
        lengths = torch.randint(c.min_length, c.max_length + 1, (batch_size,), generator=generator)
        return copy_batch(lengths, c.width, generator)

    def _generalisation(self) -> list[_EvalSet]:
        size = self.config.generalisation_size
        return [_EvalSet(f"len{n}", size, (n,)) for n in self.config.test_lengths]

    def _draw(self, size: int, args: tuple[Any, ...], generator: torch.Generator) -> Batch:
        return copy_batch(torch.full((size,), args[0]), self.config.width, generator)


@register_task("repeat-copy", config=RepeatCopyConfig, family="algorithmic",
               summary="copy a sequence R times, then an end marker",
               source="Graves et al. 2014, section 4.2")
class RepeatCopyTask(_Algorithmic):
    """Repeat copy (section 4.2), ``repeat_copy_batch`` layout; generalisation groups ``len{L}``
    (length L at ``max_repeats`` repeats) and ``rep{R}`` (R repeats at length ``max_length``)."""

    name = "repeat-copy"
    source = "Graves et al. 2014, section 4.2"

    def __init__(self, config: RepeatCopyConfig) -> None:
        self.input_channels = (*_bit_names(config.width), "delimiter", "repeats (normalised)")
        self.output_channels = (*_bit_names(config.width), "end marker")
        super().__init__(config)
        self.repeat_mean, self.repeat_std = repeat_normalisation(config.min_repeats,
                                                                 config.max_repeats)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        c = self.config
        lengths = torch.randint(c.min_length, c.max_length + 1, (batch_size,), generator=generator)
        repeats = torch.randint(c.min_repeats, c.max_repeats + 1, (batch_size,),
                                generator=generator)
        return repeat_copy_batch(lengths, repeats, c.width, self.repeat_mean, self.repeat_std,
                                 generator)

    def _generalisation(self) -> list[_EvalSet]:
        c, size = self.config, self.config.generalisation_size
        return ([_EvalSet(f"len{n}", size, (n, c.max_repeats)) for n in c.test_lengths]
                + [_EvalSet(f"rep{r}", size, (c.max_length, r)) for r in c.test_repeats])

    def _draw(self, size: int, args: tuple[Any, ...], generator: torch.Generator) -> Batch:
        length, repeats = args
        return repeat_copy_batch(torch.full((size,), length), torch.full((size,), repeats),
                                 self.config.width, self.repeat_mean, self.repeat_std, generator)


@register_task("associative-recall", config=AssociativeRecallConfig, family="algorithmic",
               summary="given an item, recall the next one",
               source="Graves et al. 2014, section 4.3")
class AssociativeRecallTask(_Algorithmic):
    """Associative recall (section 4.3), ``associative_recall_batch`` layout; generalisation
    groups ``items{K}``."""

    name = "associative-recall"
    source = "Graves et al. 2014, section 4.3"

    def __init__(self, config: AssociativeRecallConfig) -> None:
        self.input_channels = (*_bit_names(config.width), "item delimiter", "query delimiter")
        self.output_channels = _bit_names(config.width)
        super().__init__(config)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        c = self.config
        items = torch.randint(c.min_items, c.max_items + 1, (batch_size,), generator=generator)
        return associative_recall_batch(items, c.item_length, c.width, generator)

    def _generalisation(self) -> list[_EvalSet]:
        size = self.config.generalisation_size
        return [_EvalSet(f"items{k}", size, (k,)) for k in self.config.test_items]

    def _draw(self, size: int, args: tuple[Any, ...], generator: torch.Generator) -> Batch:
        c = self.config
        return associative_recall_batch(torch.full((size,), args[0]), c.item_length, c.width,
                                        generator)


@register_task("priority-sort", config=PrioritySortConfig, family="algorithmic",
               summary="emit the 16 of 20 vectors with the highest priorities, sorted",
               source="Graves et al. 2014, section 4.5")
class PrioritySortTask(_Algorithmic):
    """Priority sort (section 4.5), ``priority_sort_batch`` layout; the test set is at the
    training distribution (no generalisation groups)."""

    name = "priority-sort"
    source = "Graves et al. 2014, section 4.5"

    def __init__(self, config: PrioritySortConfig) -> None:
        self.input_channels = (*_bit_names(config.width), "priority", "delimiter")
        self.output_channels = _bit_names(config.width)
        super().__init__(config)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        c = self.config
        return priority_sort_batch(batch_size, c.num_inputs, c.num_outputs, c.width, generator)


# -- plots --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """One sequence of a batch, trimmed to its own length, ready to draw as channel x time images.

    Attributes:
        inputs: ``(T, D_in)``; ``input_channels`` names the rows when drawn transposed.
        targets: ``(T, D_out)``, zero outside the masked steps.
        mask: ``(T,)`` the steps whose targets count.
        outputs: ``(T, D_out)`` sigmoid of the model's logits, or None.
        input_channels, output_channels: channel names (``bit 0``.., ``delimiter``, ...).
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor
    outputs: Tensor | None
    input_channels: tuple[str, ...]
    output_channels: tuple[str, ...]


def decode_example(task: _Algorithmic, batch: Batch, index: int,
                   logits: Tensor | None = None) -> Example:
    """Sequence ``index`` of ``batch`` (and of ``logits`` ``(B, T, D_out)``), without padding."""
    steps = int(batch.meta["steps"][index])
    assert isinstance(batch.inputs, Tensor) and batch.mask is not None
    outputs = None if logits is None else torch.sigmoid(logits[index, :steps].detach().float())
    return Example(batch.inputs[index, :steps], batch.targets[index, :steps],
                   batch.mask[index, :steps], outputs, task.input_channels, task.output_channels)
