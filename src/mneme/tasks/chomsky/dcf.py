"""The deterministic context-free tasks of the Chomsky hierarchy benchmark (Delétang et al. 2023,
the appendix's task descriptions; DeepMind's ``tasks/dcf/*.py``): Stack Manipulation, Reverse
String, Modular Arithmetic (with brackets) and Solve Equation. A deterministic pushdown
automaton solves each.

Where the paper's text and the released code differ, the code is followed (the paper's numbers
come from it) and both versions are given in the class's docstring. The two grammar tasks draw
from a ``random.Random`` seeded by the passed generator (``base.python_random``).

Legend: B batch, n input length.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mneme.registry import register_task
from mneme.tasks.chomsky.base import SOURCE, ChomskyConfig, ChomskyTask, python_random
from mneme.validation import at_least

__all__ = ["BracketsConfig", "ModularArithmeticBrackets", "ReverseString", "SolveEquation",
           "SolveEquationConfig", "StackManipulation", "bracket_expression",
           "stack_manipulation_result"]

POP, PUSH_0, PUSH_1 = 2, 3, 4
"""Stack Manipulation's action ids (after the stack symbols 0 and 1)."""


def stack_manipulation_result(inputs: Tensor) -> Tensor:
    """``(B, n + 1)``: the final stack of each ``(B, n)`` input (initial stack bits 0/1 bottom to
    top, then actions POP / PUSH_0 / PUSH_1), top to bottom, then the termination token 2, then
    zeros. A POP on an empty stack does nothing. One pass over the steps for the whole batch
    (the initial stack's bits are pushes)."""
    b, n = inputs.shape
    stack = torch.zeros(b, n, dtype=torch.long)
    top = torch.zeros(b, dtype=torch.long)  # cells in use
    rows = torch.arange(b)
    for t in range(n):
        x = inputs[:, t]
        push = x != POP
        value = torch.where(x >= PUSH_0, x - PUSH_0, x)
        stack[rows[push], top[push]] = value[push]
        top = torch.where(push, top + 1, (top - 1).clamp(min=0))
    j = torch.arange(n + 1)
    below = (top[:, None] - 1 - j).clamp(min=0)  # (B, n + 1) stack index read at slot j
    out = stack.gather(1, below.clamp(max=n - 1))
    out = torch.where(j < top[:, None], out, torch.zeros_like(out))
    return torch.where(j == top[:, None], torch.full_like(out, 2), out)


@register_task("chomsky-stack-manipulation", config=ChomskyConfig, family="chomsky",
               summary="Chomsky hierarchy, DCF: run PUSH/POP actions on a stack, output it",
               source=f"{SOURCE}dcf/stack_manipulation.py")
class StackManipulation(ChomskyTask):
    """Stack Manipulation: a binary stack (bottom to top), then actions POP (2), PUSH 0 (3),
    PUSH 1 (4); output the final stack top to bottom, then the termination token 2, padded with
    0 to n + 1 slots. Accuracy counts the slots up to the termination token; the loss all.

    Code (followed): the initial stack's size is uniform in 1..n-1, its bits uniform, the n -
    size actions uniform over the three; at n = 1 the input is one bit, output ``bit 2``. Examples:
    ``0 1 1 0 PUSH1 POP POP`` -> ``1 1 0 2 0 0 0 0``; ``1 1 0 POP POP POP`` -> ``2 0 0 0 0 0 0``
    (n + 1 = 7 slots; the code's docstring shows 8).
    """

    name, level = "stack-manipulation", "dcf"
    input_vocab, output_vocab, termination = 5, 3, 2

    def output_length(self, n: int) -> int:
        return n + 1

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        size = (torch.randint(1, max(n, 2), (batch_size, 1), generator=generator) if n > 1
                else torch.ones(batch_size, 1, dtype=torch.long))
        bits = torch.randint(0, 2, (batch_size, n), generator=generator)
        actions = torch.randint(POP, PUSH_1 + 1, (batch_size, n), generator=generator)
        return torch.where(torch.arange(n) < size, bits, actions)

    def solve(self, inputs: Tensor) -> Tensor:
        return stack_manipulation_result(inputs)


@dataclass(frozen=True)
class StringConfig(ChomskyConfig):
    """Chomsky config plus the alphabet's size."""

    vocab_size: int = field(default=2, metadata=at_least(2))
    """Symbols of the strings (the paper: binary)."""


@register_task("chomsky-reverse-string", config=StringConfig, family="chomsky",
               summary="Chomsky hierarchy, DCF: output the input string reversed",
               source=f"{SOURCE}dcf/reverse_string.py")
class ReverseString(ChomskyTask):
    """Reverse String: a binary string s_1 .. s_n; output s_n .. s_1 (n slots).

    Code and paper agree (``011010`` -> ``010110``).
    """

    name, level = "reverse-string", "dcf"

    def __init__(self, config: StringConfig) -> None:
        self.input_vocab = self.output_vocab = config.vocab_size
        super().__init__(config)

    def output_length(self, n: int) -> int:
        return n

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.input_vocab, (batch_size, n), generator=generator)

    def solve(self, inputs: Tensor) -> Tensor:
        return inputs.flip(1)


def bracket_expression(rng: random.Random, modulus: int, length: int, mult: bool
                       ) -> tuple[str, int]:
    """An expression of exactly ``length`` characters and its value modulo ``modulus``, drawn
    as the code's ``generate_one_expression_and_result``: lengths 1-4 are ``d``, ``-d``,
    ``(d)``, ``(-d)``; longer ones ``(left op right)`` with the left part's length uniform in
    1..length-4 and ``op`` uniform over ``+ -`` (and ``*`` when ``mult``).

    Raises:
        ValueError: ``length`` < 1.
    """
    if length < 1:
        raise ValueError(f"expressions have length >= 1, got {length}")
    if length <= 4:
        d = rng.randrange(modulus)
        return {1: (f"{d}", d), 2: (f"-{d}", -d % modulus), 3: (f"({d})", d),
                4: (f"(-{d})", -d % modulus)}[length]
    left_length = rng.randrange(1, length - 3)
    left, a = bracket_expression(rng, modulus, left_length, mult)
    right, b = bracket_expression(rng, modulus, length - left_length - 3, mult)
    op = rng.randrange(3 if mult else 2)
    value = (a + b, a - b, a * b)[op] % modulus
    return f"({left}{'+-*'[op]}{right})", value


@dataclass(frozen=True)
class BracketsConfig(ChomskyConfig):
    """Chomsky config plus the modulus and the operators."""

    modulus: int = field(default=5, metadata=at_least(2))
    mult: bool = True
    """Include ``*`` (the code's experiments: ``mult=True``; the class's default is False)."""


@register_task("chomsky-modular-arithmetic-brackets", config=BracketsConfig, family="chomsky",
               summary="Chomsky hierarchy, DCF: a bracketed expression of digits, +, -, * mod 5",
               source=f"{SOURCE}dcf/modular_arithmetic_brackets.py")
class ModularArithmeticBrackets(ChomskyTask):
    """Modular Arithmetic (brackets): a fully bracketed expression of digits 0..4 with unary
    minus and ``+ - *``, exactly n symbols long; the class is its value modulo 5.

    Code (followed): the grammar of ``bracket_expression``; symbols ``0-4 + - * ( ) x`` (11
    ids; ``x`` unused); ``mult=True`` as the code's ``TASK_BUILDERS`` build it (the task
    class's own default is ``mult=False``).
    """

    name, level = "modular-arithmetic-brackets", "dcf"

    def __init__(self, config: BracketsConfig) -> None:
        self.modulus, self.mult = config.modulus, config.mult
        self.input_vocab, self.output_vocab = config.modulus + 6, config.modulus
        self.ids = {**{str(d): d for d in range(config.modulus)},
                    **{c: config.modulus + i for i, c in enumerate("+-*()x=")}}
        super().__init__(config)

    def generate(self, n: int, batch_size: int, generator: torch.Generator
                 ) -> tuple[Tensor, Tensor]:
        rng = python_random(generator)
        rows = [bracket_expression(rng, self.modulus, n, self.mult) for _ in range(batch_size)]
        inputs = torch.tensor([[self.ids[c] for c in text] for text, _ in rows])
        return inputs, torch.tensor([[value] for _, value in rows])


@dataclass(frozen=True)
class SolveEquationConfig(ChomskyConfig):
    """Chomsky config plus the modulus."""

    modulus: int = field(default=5, metadata=at_least(2))


@register_task("chomsky-solve-equation", config=SolveEquationConfig, family="chomsky",
               summary="Chomsky hierarchy, DCF: the digit x that solves a bracketed equation",
               source=f"{SOURCE}dcf/solve_equation.py")
class SolveEquation(ChomskyTask):
    """Solve Equation: a bracketed expression with one digit replaced by ``x``, then ``=`` and
    its value; the class is the hidden digit.

    Code (followed): the expression (n - 2 symbols) is ``bracket_expression`` without ``*`` (so
    the solution is unique), the hidden digit is the first digit at or after a position uniform
    in the expression (cyclically); symbols ``0-4 + - ( ) x =`` (11 ids); below n = 3 the input
    is all ``0`` and the class 0. The paper's description includes ``*`` (issue 17 lists this
    among the code-vs-paper differences); the code has none.
    """

    name, level = "solve-equation", "dcf"

    def __init__(self, config: SolveEquationConfig) -> None:
        self.modulus = config.modulus
        self.input_vocab, self.output_vocab = config.modulus + 6, config.modulus
        self.ids = {**{str(d): d for d in range(config.modulus)},
                    **{c: config.modulus + i for i, c in enumerate("+-()x=")}}
        super().__init__(config)

    def generate(self, n: int, batch_size: int, generator: torch.Generator
                 ) -> tuple[Tensor, Tensor]:
        if n < 3:
            return (torch.zeros(batch_size, n, dtype=torch.long),
                    torch.zeros(batch_size, 1, dtype=torch.long))
        rng = python_random(generator)
        inputs, solutions = [], []
        for _ in range(batch_size):
            text, value = bracket_expression(rng, self.modulus, n - 2, mult=False)
            i = rng.randrange(len(text))
            while not text[i].isdigit():
                i = (i + 1) % len(text)
            solutions.append([int(text[i])])
            inputs.append([self.ids[c] for c in f"{text[:i]}x{text[i + 1:]}={value}"])
        return torch.tensor(inputs), torch.tensor(solutions)
