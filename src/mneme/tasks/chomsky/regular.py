"""The regular tasks of the Chomsky hierarchy benchmark (Delétang et al. 2023, section 3 and the
appendix's task descriptions; DeepMind's ``tasks/regular/*.py``): Even Pairs, Modular Arithmetic
(simple), Parity Check and Cycle Navigation. One output token each (a class); a finite-state
automaton solves every one of them.

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
from mneme.validation import at_least

__all__ = ["CycleNavigation", "CycleNavigationConfig", "EvenPairs", "ModularArithmetic",
           "ModularArithmeticConfig", "ParityCheck", "modular_value"]

PLUS, MINUS, TIMES, BLANK = range(4)
"""Operator ids after the digits (id = modulus + op), the code's ``OP_BY_CHARACTER``."""


def _bits(n: int, batch_size: int, generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, (batch_size, n), generator=generator)


@register_task("chomsky-even-pairs", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, regular: is the number of 01 and 10 pairs even?",
               source=f"{SOURCE}regular/even_pairs.py")
class EvenPairs(ChomskyTask):
    """Even Pairs: a binary string; class 0 when the number of unequal neighbours (``01`` and
    ``10`` pairs) is even, else 1 (equivalently: 0 iff the first and last symbols agree).

    Code and paper agree (``001110`` -> class 0; ``0101001`` -> class 1).
    """

    name, level = "even-pairs", "regular"
    input_vocab, output_vocab = 2, 2

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        return _bits(n, batch_size, generator)

    def solve(self, inputs: Tensor) -> Tensor:
        return ((inputs[:, 1:] != inputs[:, :-1]).sum(1) % 2)[:, None]


@register_task("chomsky-parity-check", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, regular: is the number of 1s even?",
               source=f"{SOURCE}regular/parity_check.py")
class ParityCheck(ChomskyTask):
    """Parity Check: a binary string; class 0 when its number of 1s is even, else 1.

    Code (followed): class 0 = even (``01111`` -> 0, ``1010100`` -> 1). The paper's description
    assigns the classes otherwise (issue 17 lists the class ids among the code-vs-paper
    differences); the code's ids are used.
    """

    name, level = "parity-check", "regular"
    input_vocab, output_vocab = 2, 2

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        return _bits(n, batch_size, generator)

    def solve(self, inputs: Tensor) -> Tensor:
        return (inputs.sum(1) % 2)[:, None]


@dataclass(frozen=True)
class CycleNavigationConfig(ChomskyConfig):
    """Chomsky config plus the cycle's length."""

    cycle_length: int = field(default=5, metadata=at_least(1))
    """States on the cycle (the paper: 5)."""


@register_task("chomsky-cycle-navigation", config=CycleNavigationConfig, family="chomsky",
               summary="Chomsky hierarchy, regular: the final position of a walk on a 5-cycle",
               source=f"{SOURCE}regular/cycle_navigation.py")
class CycleNavigation(ChomskyTask):
    """Cycle Navigation: a string of moves on a cycle of 5 states from state 0; the class is
    the final state.

    Code (followed): move ids 0 = -1 (left), 1 = stay, 2 = +1 (right), the final state
    ``sum(id - 1) mod 5``. The paper numbers the actions otherwise (STAY, +1, -1; issue 17 lists
    the ids among the code-vs-paper differences); the code's docstring examples name moves by
    value, not id: ``1 -1 0 -1 -1`` -> class 3, ``1 1 1 -1`` -> class 2.
    """

    name, level = "cycle-navigation", "regular"
    input_vocab = 3

    def __init__(self, config: CycleNavigationConfig) -> None:
        self.output_vocab = config.cycle_length
        super().__init__(config)

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, 3, (batch_size, n), generator=generator)

    def solve(self, inputs: Tensor) -> Tensor:
        return ((inputs - 1).sum(1) % self.output_vocab)[:, None]


@dataclass(frozen=True)
class ModularArithmeticConfig(ChomskyConfig):
    """Chomsky config plus the modulus."""

    modulus: int = field(default=5, metadata=at_least(2))
    """The modulus (the paper: 5); digits are 0..modulus - 1."""


def modular_value(expressions: Tensor, modulus: int) -> Tensor:
    """``(B,)`` the values of ``(B, n)`` expressions ``d op d op ... d`` (n odd; digits
    ``0..modulus - 1``, operators ``modulus + PLUS / MINUS / TIMES``) under the usual precedence
    (``*`` before ``+`` and ``-``), reduced modulo ``modulus``: one pass, left to right, over
    the whole batch."""
    total = torch.zeros_like(expressions[:, 0])
    term = expressions[:, 0].clone()
    for i in range(1, expressions.shape[1], 2):
        op, digit = expressions[:, i] - modulus, expressions[:, i + 1]
        times = op == TIMES
        total = torch.where(times, total, total + term)
        term = torch.where(times, term * digit, torch.where(op == MINUS, -digit, digit)) % modulus
    return (total + term) % modulus


@register_task("chomsky-modular-arithmetic", config=ModularArithmeticConfig, family="chomsky",
               summary="Chomsky hierarchy, regular: an expression of digits, +, -, * mod 5",
               source=f"{SOURCE}regular/modular_arithmetic.py")
class ModularArithmetic(ChomskyTask):
    """Modular Arithmetic (simple): ``d op d op ... d`` with digits 0..4 and operators drawn
    uniformly from {+, -, *}, evaluated with ``*`` first, modulo 5; the class is the value.

    Code (followed): an even length n becomes n - 1 (the expression must have odd length; a
    test at length 50 reads 49 symbols); the input alphabet has 9 symbols, the digits, ``+ - *``
    and an unused blank ``_``. Examples: ``1 + 2 * 3`` -> 2, ``1 - 1 - 1`` -> 4, ``0 * 1 + 4 * 3
    - 2`` -> 0. The paper describes the same expressions without the length rule.
    """

    name, level = "modular-arithmetic", "regular"

    def __init__(self, config: ModularArithmeticConfig) -> None:
        self.modulus = config.modulus
        self.input_vocab, self.output_vocab = config.modulus + 4, config.modulus
        super().__init__(config)

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        n = n if n % 2 else n - 1
        m = self.modulus
        digits = torch.randint(0, m, (batch_size, n // 2 + 1), generator=generator)
        ops = torch.tensor([PLUS, TIMES, MINUS])[
            torch.randint(0, 3, (batch_size, n // 2), generator=generator)] + m
        expressions = torch.empty(batch_size, n, dtype=torch.long)
        expressions[:, ::2], expressions[:, 1::2] = digits, ops
        return expressions

    def solve(self, inputs: Tensor) -> Tensor:
        return modular_value(inputs, self.modulus)[:, None]
