"""The 15 tasks of "Neural Networks and the Chomsky Hierarchy" (Delétang et al. 2023, ICLR,
arXiv 2207.02098), each registered as ``chomsky-<name>``: ``mneme train --task
chomsky-parity-check --model lstm``. ``base`` holds the layout, protocol and score; ``regular``,
``dcf``, ``cs_strings`` and ``cs_binary`` the generators by level (importing this package
registers them all).
"""

from mneme.tasks.chomsky import cs_binary, cs_strings, dcf, regular
from mneme.tasks.chomsky.base import TEST_LENGTHS, ChomskyConfig, ChomskyTask

__all__ = ["LEVELS", "TASKS", "TEST_LENGTHS", "ChomskyConfig", "ChomskyTask"]

TASKS: dict[str, type[ChomskyTask]] = {
    cls.name: cls for cls in (
        regular.EvenPairs, regular.ModularArithmetic, regular.ParityCheck,
        regular.CycleNavigation, dcf.StackManipulation, dcf.ReverseString,
        dcf.ModularArithmeticBrackets, dcf.SolveEquation, cs_strings.DuplicateString,
        cs_strings.MissingDuplicate, cs_strings.OddsFirst, cs_binary.BinaryAddition,
        cs_binary.BinaryMultiplication, cs_binary.ComputeSqrt, cs_strings.BucketSort)
}
"""The tasks by short name, in the paper's Table 2 order (registered as ``chomsky-<name>``)."""
LEVELS = {"regular": "R", "dcf": "DCF", "cs": "CS"}
"""The paper's level names."""
