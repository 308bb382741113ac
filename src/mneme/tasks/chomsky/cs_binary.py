"""The context-sensitive binary-number tasks of the Chomsky hierarchy benchmark (Delétang et al.
2023, the appendix's task descriptions; DeepMind's ``tasks/cs/binary_addition.py``,
``binary_multiplication.py``, ``compute_sqrt.py``): Binary Addition, Binary Multiplication and
Compute Sqrt.

Numbers are Python integers (they reach 2^500) drawn from a ``random.Random`` seeded by the
passed generator (``base.python_random``), as the code draws them with Python's ``random``.
Addition and multiplication are little-endian (least significant bit first) in the code, Compute
Sqrt big-endian (issue 17 lists the order among the code-vs-paper differences); the code's is
followed. Results end with the termination
token 2 and are padded with 0; accuracy counts the slots up to the termination token.

Legend: B batch, n input length.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mneme.registry import register_task
from mneme.tasks.chomsky.base import SOURCE, ChomskyConfig, ChomskyTask, python_random

__all__ = ["BinaryAddition", "BinaryMultiplication", "ComputeSqrt", "from_binary", "to_binary"]

SEPARATOR = TERMINATION = 2
"""The input's ``+`` / ``*`` between the two numbers, and the output's end token."""


def to_binary(number: int, width: int = 0, *, little_endian: bool = True) -> list[int]:
    """The bits of ``number``, zero-padded to ``width`` (at least one bit: 0 is ``[0]``)."""
    bits = [int(c) for c in f"{number:b}".zfill(width)]
    return bits[::-1] if little_endian else bits


def from_binary(bits: list[int], *, little_endian: bool = True) -> int:
    """The number written by ``bits``."""
    return int("".join(map(str, bits[::-1] if little_endian else bits)) or "0", 2)


class _BinaryOperation(ChomskyTask):
    """``a_bits SEPARATOR b_bits`` in, ``result TERMINATION 0 ...`` out (little-endian)."""

    input_vocab, output_vocab, termination = 3, 3, TERMINATION

    def combine(self, a: int, b: int) -> int:
        raise NotImplementedError

    def short(self, bits: list[int]) -> list[int]:
        """The unterminated result of an input of n <= 2 bits (no room for two numbers)."""
        raise NotImplementedError

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        rng = python_random(generator)
        if n <= 2:  # one number in 0..2^n - 2
            return torch.tensor([to_binary(rng.randrange(2**n - 1), n) for _ in range(batch_size)])
        rows = []
        for _ in range(batch_size):  # the two numbers share the n - 1 symbols beside the separator
            width_a = rng.randrange(1, n - 1)
            width_b = n - 1 - width_a
            a, b = rng.randint(1, 2**width_a - 1), rng.randint(1, 2**width_b - 1)
            rows.append([*to_binary(a, width_a), SEPARATOR, *to_binary(b, width_b)])
        return torch.tensor(rows)

    def solve(self, inputs: Tensor) -> Tensor:
        n = inputs.shape[1]
        m = self.output_length(n)
        targets = []
        for row in inputs.tolist():
            if SEPARATOR in row:
                cut = row.index(SEPARATOR)
                result = to_binary(self.combine(from_binary(row[:cut]),
                                                from_binary(row[cut + 1:])))
            else:
                result = self.short(row)
            targets.append([*result, TERMINATION] + [0] * (m - len(result) - 1))
        return torch.tensor(targets)


@register_task("chomsky-binary-addition", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: add two binary numbers (little-endian)",
               source=f"{SOURCE}cs/binary_addition.py")
class BinaryAddition(_BinaryOperation):
    """Binary Addition: ``a + b`` in little-endian binary; output the sum (n + 1 slots).

    Code (followed): a's width is uniform in 1..n-2, b's is n - 1 - that, each number uniform in
    1..2^width - 1 (leading zeros allowed); the sum has no trailing (leading) zeros; at n <= 2 the
    input is one number in 0..2^n - 2 and the output that number. Examples: ``001+01101`` ->
    ``01011 2 0000`` (4 + 22 = 26), ``1001+000001`` -> ``100101 2 00000`` (9 + 32 = 41); the
    code's docstring shows one 0 fewer in both.
    """

    name, level = "binary-addition", "cs"

    def output_length(self, n: int) -> int:
        return n + 1

    def combine(self, a: int, b: int) -> int:
        return a + b

    def short(self, bits: list[int]) -> list[int]:
        return to_binary(from_binary(bits))


@register_task("chomsky-binary-multiplication", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: multiply two binary numbers (little-endian)",
               source=f"{SOURCE}cs/binary_multiplication.py")
class BinaryMultiplication(_BinaryOperation):
    """Binary Multiplication: ``a * b`` in little-endian binary; output the product (n slots).

    Code (followed): the numbers are drawn as Binary Addition's; at n <= 2 the input is n random
    bits and the output is fixed (``2`` at n = 1, ``0 2`` at n = 2). Examples: ``001*01101`` ->
    ``0001101 2 0`` (4 * 22 = 88), ``1001*000001`` -> ``000001001 2 0`` (9 * 32 = 288).
    """

    name, level = "binary-multiplication", "cs"

    def output_length(self, n: int) -> int:
        return n

    def combine(self, a: int, b: int) -> int:
        return a * b

    def short(self, bits: list[int]) -> list[int]:
        return [0] * (len(bits) - 1)


@register_task("chomsky-compute-sqrt", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, CS: the floor of the square root (big-endian binary)",
               source=f"{SOURCE}cs/compute_sqrt.py")
class ComputeSqrt(ChomskyTask):
    """Compute Sqrt: a number in big-endian binary (n bits, uniform in 1..2^n - 1, leading
    zeros allowed); output floor(sqrt) in big-endian binary, zero-padded to ceil(n / 2) slots.

    Code (followed); no termination token. Examples: ``100101`` (37) -> ``110`` (6; the code's
    docstring writes ``101``), ``111`` (7) -> ``10`` (2).
    """

    name, level = "compute-sqrt", "cs"
    input_vocab, output_vocab = 2, 2

    def output_length(self, n: int) -> int:
        return math.ceil(n / 2)

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        rng = python_random(generator)
        return torch.tensor([to_binary(rng.randint(1, 2**n - 1), n, little_endian=False)
                             for _ in range(batch_size)])

    def solve(self, inputs: Tensor) -> Tensor:
        width = self.output_length(inputs.shape[1])
        return torch.tensor([
            to_binary(math.isqrt(from_binary(row, little_endian=False)), width,
                      little_endian=False) for row in inputs.tolist()])
