"""Parsing argv into a command's arguments dataclass, shared by the command modules.

Every command declares its options as one frozen dataclass with a docstring on each field (tyro
shows them in ``--help``) and a ``run(args) -> int`` beside it; its ``main(argv)`` calls ``parse``
(or ``subcommand`` for a command with subcommands) and then ``run``. ``train`` and ``eval``, whose
``--task.*`` / ``--model.*`` fields depend on the task and model, build their dataclass type first
(``mneme.commands.train.parse_train``, ``mneme.commands.eval.parse_eval``).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import tyro

from mneme.errors import UserError

DATA_ENV = "MNEME_DATA"
HELP = ("-h", "--help")

A = TypeVar("A")

RunDir = Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
"""The type of a command's first argument, a run directory."""


def default_data_dir(given: str | None) -> str | None:
    """``--data-dir`` if given, else ``$MNEME_DATA``, else None."""
    return given if given is not None else os.environ.get(DATA_ENV) or None


def env_data_dirs() -> tuple[str, ...]:
    """``$MNEME_DATA`` when set: where a command that reads a run looks for its data before the
    directory the run recorded (``--data-dir``, when given, is the only place looked)."""
    value = os.environ.get(DATA_ENV)
    return (value,) if value else ()


def parse(cls: type[A], argv: Sequence[str], prog: str, description: str | None = None,
          default: A | None = None) -> A:
    """``argv`` parsed into ``cls`` by tyro (``--help`` prints its options and exits 0)."""
    with plain_help(argv):
        return tyro.cli(cls, args=list(argv), default=default, prog=prog,
                        description=description or cls.__doc__)


def plain_text(help_text: str) -> str:
    """``--help`` without the docstrings' reST markup: ````x```` is shown as 'x', with each
    boxed line padded back to its width."""
    lines = []
    for line in help_text.split("\n"):
        marks = line.count("``")
        line = line.replace("``", "'").replace("'\"", '"').replace("\"'", '"')
        if marks and line.rstrip().endswith("│"):
            end = line.rstrip()
            line = end[:-1] + " " * marks + "│"
        lines.append(line)
    return "\n".join(lines)


@contextlib.contextmanager
def plain_help(argv: Sequence[str]) -> Iterator[None]:
    """Around a tyro call: when ``argv`` asks for help, print it through ``plain_text``."""
    if not any(a in HELP for a in argv):
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        sys.stdout.write(plain_text(buffer.getvalue()))


def subcommand(argv: Sequence[str], commands: Mapping[str, type], prog: str, example: str
               ) -> Any:
    """``argv`` (a subcommand name, then its options) parsed as tyro subcommands: an instance of
    the chosen subcommand's dataclass. ``example`` is the subcommand the error message shows.

    Raises:
        UserError: no subcommand, or an unknown one (``--help`` lists them instead).
    """
    if not argv or (argv[0] not in commands and argv[0] not in HELP):
        names = " or ".join(commands)
        raise UserError(f"{prog.removeprefix('mneme ')} needs a subcommand: {names} "
                        f"({prog} {example})")
    with plain_help(argv):
        return tyro.extras.subcommand_cli_from_dict(dict(commands), args=list(argv), prog=prog)


def check_run_given(argv: Sequence[str], command: str) -> None:
    """The run directory must come first (``--help`` alone is fine: it shows the options).

    Raises:
        UserError: no run directory.
    """
    if argv and argv[0] in HELP:
        return
    if not argv or argv[0].startswith("-"):
        raise UserError(f"{command} needs a run directory: mneme {command} RUN_DIR")
