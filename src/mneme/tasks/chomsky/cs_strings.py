"""The context-sensitive string tasks of the Chomsky hierarchy benchmark (Delétang et al. 2023, the
appendix's task descriptions; DeepMind's ``tasks/cs/*.py``): Duplicate String, Missing
Duplicate, Odds First and Bucket Sort. A linear bounded automaton (a bounded tape) solves each.
The binary-number tasks are in ``mneme.tasks.chomsky.cs_binary``.

Where the paper's text and the released code differ, the code is followed (the paper's numbers
come from it) and both versions are given in the class's docstring.

Legend: B batch, n input length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from mneme.registry import register_task
from mneme.tasks.chomsky.base import SOURCE, ChomskyConfig, ChomskyTask
from mneme.tasks.chomsky.dcf import StringConfig
from mneme.validation import at_least

__all__ = ["BucketSort", "BucketSortConfig", "DuplicateString", "MissingDuplicate", "OddsFirst"]

HIDDEN, PAD = 2, 3
"""Missing Duplicate's placeholder for the hidden symbol, and its odd-length padding."""


class _StringTask(ChomskyTask):
    """A string over ``vocab_size`` symbols in, a rearrangement of it out."""

    def __init__(self, config: StringConfig) -> None:
        self.input_vocab = self.output_vocab = config.vocab_size
        super().__init__(config)

    def output_length(self, n: int) -> int:
        return n

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.input_vocab, (batch_size, n), generator=generator)


@register_task("chomsky-duplicate-string", config=StringConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: output the input string twice",
               source=f"{SOURCE}cs/duplicate_string.py")
class DuplicateString(_StringTask):
    """Duplicate String: a binary string s; output ``s s`` (2n slots).

    Code and paper agree (``101`` -> ``101101``).
    """

    name, level = "duplicate-string", "cs"

    def output_length(self, n: int) -> int:
        return 2 * n

    def solve(self, s: Tensor) -> Tensor:
        return torch.cat([s, s], 1)


@register_task("chomsky-odds-first", config=StringConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: the symbols at odd positions, then the even ones",
               source=f"{SOURCE}cs/odds_first.py")
class OddsFirst(_StringTask):
    """Odds First: a binary string; output the symbols at odd positions, then those at even
    positions (n slots).

    Code (followed): the 0-based odd positions first, ``s[1::2]`` then ``s[0::2]``, i.e.
    s_2 s_4 ... s_1 s_3 ... in 1-based terms: ``00110101`` -> ``0111 0100``. The paper and the
    code's docstring: s_1 s_3 s_5 ... s_2 s_4 ... (``00110101`` -> ``0100 0111``).
    """

    name, level = "odds-first", "cs"

    def solve(self, s: Tensor) -> Tensor:
        return torch.cat([s[:, 1::2], s[:, 0::2]], 1)


@dataclass(frozen=True)
class BucketSortConfig(ChomskyConfig):
    """Chomsky config plus the alphabet's size."""

    vocab_size: int = field(default=5, metadata=at_least(2))
    """Symbols to sort (the paper: 5)."""


@register_task("chomsky-bucket-sort", config=BucketSortConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: sort a string of 5 symbols",
               source=f"{SOURCE}cs/bucket_sort.py")
class BucketSort(_StringTask):
    """Bucket Sort: a string over 5 symbols; output it sorted in increasing order (n slots).

    Code and paper agree (``10204112`` -> ``00111224``).
    """

    name, level = "bucket-sort", "cs"

    def solve(self, s: Tensor) -> Tensor:
        return s.sort(1).values


@register_task("chomsky-missing-duplicate", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: the hidden symbol of a duplicated string",
               source=f"{SOURCE}cs/missing_duplicate_string.py")
class MissingDuplicate(ChomskyTask):
    """Missing Duplicate: a binary string w of length n // 2 written twice, ``ww``, with one
    symbol replaced by the placeholder 2; the class is the hidden symbol.

    Code (followed): the hidden position is uniform over the 2 (n // 2) symbols of ``ww``; an
    odd n ends with the padding symbol 3; at n = 1 the input is ``1`` and the class 1 (4 input
    symbols). Examples: ``01100210`` -> 1, ``1011213`` -> 0.
    """

    name, level = "missing-duplicate", "cs"
    input_vocab, output_vocab = 4, 2

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        if n == 1:
            return torch.ones(batch_size, 1, dtype=torch.long)
        half = torch.randint(0, 2, (batch_size, n // 2), generator=generator)
        doubled = torch.cat([half, half], 1)
        hidden = torch.randint(0, doubled.shape[1], (batch_size, 1), generator=generator)
        pad = torch.full((batch_size, n % 2), PAD, dtype=torch.long)
        return torch.cat([doubled.scatter(1, hidden, HIDDEN), pad], 1)

    def solve(self, inputs: Tensor) -> Tensor:
        """The symbol half a string away from the placeholder (1 at n = 1)."""
        n = inputs.shape[1]
        if n == 1:
            return torch.ones_like(inputs)
        half = n // 2
        hidden = (inputs == HIDDEN).long().argmax(1, keepdim=True)
        return inputs.gather(1, (hidden + half) % (2 * half))
