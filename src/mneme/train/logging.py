"""``metrics.jsonl`` (one JSON line per evaluation) and optional TensorBoard event files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON object per line to ``RUN/metrics.jsonl``.

    On resume the file is cut back to ``truncate_to`` lines (the count the checkpoint saw), so a run
    that crashed after logging but before checkpointing never repeats a line.
    """

    def __init__(self, run_dir: Path, *, truncate_to: int, enabled: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled  # False on the non-zero ranks of a distributed run: count only
        self._writer: Any = None
        if not enabled:
            self.lines = truncate_to
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[str] = []
        if self.path.exists() and truncate_to > 0:
            kept = self.path.read_text(encoding="utf-8").splitlines()[:truncate_to]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self.lines = len(kept)

    def open_tensorboard(self, *, enabled: bool) -> None:
        """Start writing TensorBoard events under ``RUN/tb`` if enabled and installed."""
        if not enabled or not self.enabled or self._writer is not None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # the optional extra is not installed
            return
        self._writer = SummaryWriter(log_dir=str(self.path.parent / "tb"))

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (flushed and fsynced) and mirror its numbers to TensorBoard."""
        if not self.enabled:
            self.lines += 1
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.lines += 1
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


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``RUN/metrics.jsonl`` (an empty list when there is none)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
