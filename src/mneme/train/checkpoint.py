"""Checkpoints: only tensors and plain Python values, written atomically, loaded safely.

A checkpoint is a dict ``{"model", "optimizer", "schedule", "hooks", "step", "epoch", "config",
"rng", ...}``. It is written to a temporary file in the same directory and ``os.replace``d over the
old one, so a crash mid-write never leaves a truncated checkpoint; its SHA-256 is kept beside it
(``last.pt.sha256``) and checked on load, so a damaged file is named, never loaded; it is read with
``torch.load(weights_only=True)``, so loading never runs code from the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import secrets
import tempfile
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
    """Write ``data`` to ``path`` through a temp file (``.NAME.*.tmp``, fsynced) and
    ``os.replace``: readers see the old content or the new, never a part.

    Raises:
        UserError: the write failed (a full disk, no permission); ``path`` is as it was.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        os.chmod(tmp, _default_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UserError(
                f"{path}: cannot write ({exc.strerror or exc}); the previous version is intact"
            ) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def checksum_path(path: Path) -> Path:
    """The SHA-256 sidecar of a checkpoint: ``last.pt`` -> ``last.pt.sha256``."""
    return path.with_name(path.name + ".sha256")


def previous_path(path: Path) -> Path:
    """Where ``save_checkpoint(keep_previous=True)`` keeps the one before: ``last.pt`` ->
    ``prev.pt``."""
    return path.with_name("prev" + path.suffix)


def _digests(path: Path) -> set[str]:
    """The SHA-256 digests a sidecar accepts (one; two while a save is between its renames)."""
    sidecar = checksum_path(path)
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError):
        raise UserError(f"{sidecar}: unreadable checksum file") from None
    found = {line.split()[0] for line in text.splitlines() if line.split()}
    if not found or any(len(d) != 64 or set(d) - set("0123456789abcdef") for d in found):
        raise UserError(f"{sidecar}: corrupt checksum file")
    return found


def _write_digests(path: Path, digests: set[str]) -> None:
    atomic_write_text(checksum_path(path), "".join(f"{d}  {path.name}\n" for d in sorted(digests)))


def _accepted(path: Path) -> set[str]:
    """``_digests`` of a file about to be replaced: none when its sidecar is damaged."""
    try:
        return _digests(path) if path.is_file() else set()
    except UserError:
        return set()


def _keep_previous(path: Path) -> None:
    """Make ``prev.pt`` (and its sidecar) a copy of ``path`` by a hard link, else by copying.

    Each step is one rename, and the sidecar lists both digests while the file changes, so at
    every moment ``prev.pt`` matches its sidecar. A ``path`` that fails its own check (resume fell
    back from it) is not kept."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    own = _accepted(path)
    if (own and digest not in own) or (not own and checksum_path(path).exists()):
        return
    prev = previous_path(path)
    _write_digests(prev, _accepted(prev) | {digest})
    tmp = prev.with_name(f".{prev.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        os.link(path, tmp)
        os.replace(tmp, prev)
    except OSError:  # no hard links here (or a failed rename): copy instead
        Path(tmp).unlink(missing_ok=True)
        atomic_write_bytes(prev, path.read_bytes())
    Path(tmp).unlink(missing_ok=True)  # left when prev.pt already was path: rename did nothing
    _write_digests(prev, {digest})


def save_checkpoint(path: Path, payload: dict[str, Any], *, keep_previous: bool = False) -> None:
    """Save ``payload`` with ``torch.save`` atomically, with its SHA-256 in ``path.sha256``.

    With ``keep_previous`` the checkpoint being replaced is kept as ``prev.pt`` first (resume falls
    back to it when ``last.pt`` is damaged).

    Raises:
        UserError: the write failed (a full disk); the previous checkpoint is intact.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if keep_previous and path.is_file():
        _keep_previous(path)
    # The sidecar accepts the old and the new file while the new one is renamed into place.
    _write_digests(path, _accepted(path) | {digest})
    atomic_write_bytes(path, data)
    _write_digests(path, {digest})


def load_checkpoint(path: Path, *, require: tuple[str, ...] = ("model",)) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``, verifying its SHA-256 sidecar (when it
    has one: older runs have none) and that it holds the keys ``require``.

    Raises:
        UserError: the file is missing, truncated, corrupt or not a mneme checkpoint.
    """
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    digests = _digests(path)
    if digests and hashlib.sha256(data).hexdigest() not in digests:
        raise UserError(f"{path}: corrupt checkpoint (its SHA-256 differs from "
                        f"{checksum_path(path).name})")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure to read a damaged file is the file's fault
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else ""
        raise UserError(f"{path}: not a readable checkpoint ({first or type(exc).__name__})"
                        ) from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise UserError(f"{path}: not a mneme checkpoint (no model state)")
    missing = [key for key in require if key not in payload]
    if missing:
        raise UserError(f"{path}: incomplete checkpoint (no {missing[0]!r})")
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
