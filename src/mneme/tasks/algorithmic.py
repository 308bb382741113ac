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

Where it lives: the generators (``copy_batch``, ...) in ``mneme.tasks.algorithmic_generators``;
``AlgorithmicSpec`` and what the tasks share (evaluation sets, loss, metrics) in
``mneme.tasks.algorithmic_base``; the configurations, the tasks and ``decode_example`` here. Every
public name is importable from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from mneme.registry import register_task
from mneme.tasks.algorithmic_base import SOLVED_BITS as SOLVED_BITS
from mneme.tasks.algorithmic_base import AlgorithmicSpec, _Algorithmic, _EvalSet
from mneme.tasks.algorithmic_generators import (
    associative_recall_batch,
    copy_batch,
    priority_sort_batch,
    repeat_copy_batch,
    repeat_normalisation,
)
from mneme.types import Batch
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
        same_length_batches: every training batch draws one length for all its sequences (each
            sequence's length is still U{min_length..max_length}), so no step is padding: at
            batch 64 and lengths 1-20 a batch runs T = 2 L + 1 = 22 steps on average instead of
            ~41 (``benchmarks/ntm_speed.py``). With batch 1, the paper's, the two are the same.
            Validation and test sets mix lengths either way.
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
    same_length_batches: bool = False

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
        same_length_batches: every training batch draws one length and one repeat count for all
            its sequences (as ``CopyConfig.same_length_batches``).
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
    same_length_batches: bool = False

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
        same_length_batches: every training batch draws one item count for all its sequences
            (as ``CopyConfig.same_length_batches``).
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
    same_length_batches: bool = False

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


# -- tasks --------------------------------------------------------------------------------------
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

    def _sample(self, batch_size: int, generator: torch.Generator, same_length: bool) -> Batch:
        c = self.config
        lengths = self._sizes(c.min_length, c.max_length, batch_size, generator, same_length)
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

    def _sample(self, batch_size: int, generator: torch.Generator, same_length: bool) -> Batch:
        c = self.config
        lengths = self._sizes(c.min_length, c.max_length, batch_size, generator, same_length)
        repeats = self._sizes(c.min_repeats, c.max_repeats, batch_size, generator, same_length)
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

    def _sample(self, batch_size: int, generator: torch.Generator, same_length: bool) -> Batch:
        c = self.config
        items = self._sizes(c.min_items, c.max_items, batch_size, generator, same_length)
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

    def _sample(self, batch_size: int, generator: torch.Generator, same_length: bool) -> Batch:
        c = self.config  # every sequence has num_inputs vectors: nothing to pad
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
