"""``metrics.jsonl`` (one JSON line per evaluation) and optional TensorBoard event files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mneme.errors import DataFormatError, UserError
from mneme.train.checkpoint import atomic_write_bytes


class MetricsLog:
    """Appends one JSON object per line to ``RUN/metrics.jsonl``.

    Each record is one ``write`` of a whole line, fsynced. On resume (``MetricsLog.resume``) the
    file is cut back to the records the checkpoint saw, through a temp file and ``os.replace``, so
    a run that crashed after logging but before checkpointing never repeats a line and a crash
    during the cut loses nothing. TensorBoard's writer opens at the first record: every run or
    resume that logs one adds an events file to ``RUN/tb``.
    """

    def __init__(self, run_dir: Path, *, lines: int = 0, enabled: bool = True,
                 tensorboard: bool = False) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled  # False on the non-zero ranks of a distributed run: count only
        self.lines = lines
        self._tensorboard = tensorboard and enabled
        self._writer: Any = None

    @classmethod
    def start(cls, run_dir: Path, *, enabled: bool = True, tensorboard: bool = False
              ) -> MetricsLog:
        """A new, empty log."""
        log = cls(run_dir, enabled=enabled, tensorboard=tensorboard)
        if enabled:
            atomic_write_bytes(log.path, b"")
        return log

    @classmethod
    def resume(cls, run_dir: Path, *, lines: int, epoch: int, source: Path, enabled: bool = True,
               tensorboard: bool = False) -> MetricsLog:
        """The log cut back to its first ``lines`` records, which must end at ``epoch`` (the
        checkpoint ``source``'s).

        Raises:
            UserError: the file is missing, holds fewer records, a malformed one, or records that
                do not end at ``epoch``; nothing is changed then.
        """
        log = cls(run_dir, lines=lines, enabled=enabled, tensorboard=tensorboard)
        if not enabled:
            return log
        path = log.path
        if not path.exists():
            if lines:
                raise UserError(f"{path}: missing, though {source} was saved after {lines} "
                                "records; the run's history is lost: restore the file")
            atomic_write_bytes(path, b"")
            return log
        data = path.read_bytes()
        kept = data.split(b"\n")[:lines]
        complete = len(kept) == lines and (lines == 0 or len(data) > len(b"\n".join(kept)))
        if not complete:
            raise UserError(f"{path}: holds fewer records than the {lines} that {source} was "
                            "saved after; the run's history is incomplete: restore the file")
        records = [_parse(path, i + 1, raw) for i, raw in enumerate(kept)]
        last = records[-1]["epoch"] if records else 0
        if last != epoch:
            raise UserError(f"{path}: its record {lines} is of epoch {last}, but {source} was "
                            f"saved after epoch {epoch}; the history does not match the checkpoint")
        size = sum(len(raw) + 1 for raw in kept)
        if size != len(data):
            atomic_write_bytes(path, data[:size])
        return log

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (one write, fsynced) and mirror its numbers to TensorBoard.

        Raises:
            UserError: the write failed (a full disk); the records before are intact.
        """
        if not self.enabled:
            self.lines += 1
            return
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(28, "No space left on device")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot append a record ({exc.strerror or exc}); "
                            "the records before are intact") from None
        self.lines += 1
        if self._tensorboard and self._writer is None:
            self._writer = _open_tensorboard(self.path.parent / "tb")
            self._tensorboard = self._writer is not None  # said once: the extra is missing
        if self._writer is not None:
            step = int(record.get("step", self.lines))
            for key, value in record.items():
                if key not in ("step", "epoch") and isinstance(value, int | float):
                    self._writer.add_scalar(key.replace("_", "/", 1), value, step)
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _open_tensorboard(log_dir: Path) -> Any:
    """A ``SummaryWriter`` on ``log_dir``; None, said in one line on stderr, without the
    ``tensorboard`` extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is not installed
        missing_extra("tensorboard", "no TensorBoard event files are written",
                      "--train.no-tensorboard")
        return None
    return SummaryWriter(log_dir=str(log_dir))


def missing_extra(extra: str, consequence: str, silence: str | None = None) -> None:
    """Say in one line on stderr that the optional ``extra`` is not installed and what is lost."""
    hint = f"; or {silence} to turn it off" if silence else ""
    print(f"mneme: note: {consequence}: the {extra} extra is not installed (pip install "
          f"'torch-mneme[{extra}]'{hint})", file=sys.stderr)


def _parse(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    """Line ``number`` of ``metrics.jsonl``: a JSON object with an integer ``epoch``."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataFormatError(path, number, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, number, f"not a JSON record ({exc.msg})") from None
    if not isinstance(record, dict) or type(record.get("epoch")) is not int:
        raise DataFormatError(path, number, "not a metrics record (no integer 'epoch')")
    return record


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``RUN/metrics.jsonl`` (an empty list when there is none).

    Raises:
        DataFormatError: a line that is not a UTF-8 JSON record (names the file and line).
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return [_parse(path, i + 1, raw) for i, raw in enumerate(lines) if raw.strip()]
