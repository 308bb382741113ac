"""Errors mneme raises.

``UserError`` is a mistake in what the user asked for or gave us (an unknown task, a malformed data
file, a missing run directory). The CLI prints its one-line message and exits with code 2, without a
traceback. Anything else is a bug in mneme and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class MnemeError(ValueError):
    """Base class of mneme's own errors; a ``ValueError``, so library users can catch either."""


class UserError(MnemeError):
    """A user mistake: bad input, unknown name, missing file. The CLI exits with code 2."""


class ConfigError(UserError):
    """An invalid config value; the message names the class and the field, e.g.
    ``NTMConfig.memory_size must be >= 1 (got 0)``. Raised by ``mneme.validation``."""


class DataFormatError(UserError):
    """A malformed line in a dataset file; the message names the file and the line number.

    Args:
        path: the file.
        line: 1-based line number, or None for a whole-file problem (empty file, bad encoding).
        message: what is wrong.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        super().__init__(f"{where}: {message}")


class MissingDataError(UserError, FileNotFoundError):
    """A dataset is not where it was looked for; the message says where and how to get it."""


class NonFiniteLossError(MnemeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept."""
