"""Checkpoints: only tensors and plain Python values, written atomically, loaded safely.

A checkpoint is a dict ``{"model", "optimizer", "schedule", "hooks", "step", "epoch", "config",
"rng", ...}``. It is written to a temporary file in the same directory and ``os.replace``d over the
old one, so a crash mid-write never leaves a truncated checkpoint; it is read with
``torch.load(weights_only=True)``, so loading never runs code from the file.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mneme.errors import UserError


def _default_mode() -> int:
    """The mode ``open()`` would give a new file (mkstemp's temp files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, _default_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Save ``payload`` with ``torch.save`` to a temp file, then ``os.replace`` it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _default_mode())
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``.

    Raises:
        UserError: the file is missing, truncated, or not a mneme checkpoint.
    """
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable checkpoint ({first})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise UserError(f"{path}: not a mneme checkpoint (no model state)")
    return payload


def capture_rng(task_generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every RNG state a run depends on, as tensors and plain values (``weights_only``-safe)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": _to_plain(random.getstate()),
        "numpy": [
            str(np_state[0]),
            torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if task_generator is not None:
        state["task"] = task_generator.get_state()
    return state


def restore_rng(state: dict[str, Any], task_generator: torch.Generator | None = None) -> None:
    """Restore what ``capture_rng`` captured."""
    torch.set_rng_state(state["torch"])
    random.setstate(_to_tuple(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if task_generator is not None and "task" in state:
        task_generator.set_state(state["task"])


def _to_plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


def _to_tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value
