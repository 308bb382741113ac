"""Strict readers of the files a bench keeps per cell: ``config.json``, ``summary.json``,
``final.json`` and ``metrics.jsonl``.

Every problem (not UTF-8, not JSON, not the expected shape) is a ``DataFormatError`` naming the
file and, where there is one, the line; the runner decides whether that skips the cell or stops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mneme.errors import DataFormatError, UserError

__all__ = ["check_cell_files", "read_json", "read_jsonl", "read_summary"]

SUMMARY_KEYS = ("selected", "test", "seconds", "repeats")
REPEAT_KEYS = ("dir", "seed", "steps", "seconds", "best_epoch", "valid", "test")


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, line, f"invalid UTF-8 at byte {exc.start}") from None


def read_json(path: Path) -> Any:
    """The JSON value held by ``path``.

    Raises:
        DataFormatError: invalid UTF-8 or invalid JSON (the line of the problem).
        UserError: the file cannot be read.
    """
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, exc.lineno, f"corrupt JSON ({exc.msg})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file (``metrics.jsonl``), blank lines skipped.

    Raises:
        DataFormatError: a line that is not a JSON object, or invalid UTF-8.
    """
    records = []
    for lineno, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, lineno, f"corrupt JSON line ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataFormatError(path, lineno, "expected a JSON object")
        records.append(record)
    return records


def read_summary(path: Path) -> dict[str, Any]:
    """A cell's ``summary.json``, checked to hold what the reports read.

    Raises:
        DataFormatError: unreadable, or a key of ``SUMMARY_KEYS`` / ``REPEAT_KEYS`` missing.
    """
    summary = read_json(path)
    if not isinstance(summary, dict):
        raise DataFormatError(path, None, "not a cell summary (expected a JSON object)")
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    repeats = summary.get("repeats")
    if not missing and (not isinstance(repeats, list) or not repeats):
        missing = ["repeats"]
    for rep in repeats if not missing else ():
        missing += [k for k in REPEAT_KEYS if not isinstance(rep, dict) or k not in rep][:1]
    if missing:
        raise DataFormatError(path, None, f"not a cell summary (no {missing[0]!r})")
    return summary


def check_cell_files(cell_dir: Path, pattern: str) -> None:
    """Read every file matching ``pattern`` (``metrics.jsonl``, ``final.json``) in the cell and
    its repeats (``repeat-*/``).

    Raises:
        DataFormatError: the first unreadable one.
    """
    for path in sorted([cell_dir / pattern, *cell_dir.glob(f"repeat-*/{pattern}")]):
        if path.is_file():
            read_jsonl(path) if path.suffix == ".jsonl" else read_json(path)
