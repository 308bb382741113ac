"""Installing a dataset from an archive or a file: fetch, check digests, extract safely, install.

``mneme data`` (``mneme.tasks.datasets``, ``mneme.tasks.babi_archive``) goes through these steps:

1. ``fetch``: a local path, or a URL downloaded with urllib into a temporary folder;
2. ``check_digest``: the file (or each extracted member) against a known ``"sha256:HEX"``;
3. ``read_members``: the wanted members of a tar (any compression) or zip archive, read into
   memory, refusing absolute or ``..`` paths and links anywhere in the archive;
4. ``install_files``: written to a temporary folder beside the destination, checked there with the
   task's own reader, then renamed into place: a failure at any step leaves the destination as it
   was.

Every failure is a ``UserError`` of one line (the CLI exits with code 2).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from mneme.errors import DataFormatError, MissingDataError, UserError

__all__ = ["check_digest", "digest_of", "fetch", "install_files", "is_archive", "is_url",
           "read_members"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")  # a Windows absolute path


def is_url(source: str) -> bool:
    """True when ``source`` is a URL (``https://``, ``file://``, ...) rather than a path."""
    return bool(_URL.match(source))


def fetch(source: str, tmp: Path, name: str, what: str, progress: bool = True) -> Path:
    """A local path to ``source``, downloading it into ``tmp/name`` first when it is a URL.

    Raises:
        MissingDataError: a local ``source`` that does not exist. UserError: the download failed.
    """
    if not is_url(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise MissingDataError(f"{what} not found: {path}")
        return path
    target = tmp / name
    try:
        with urllib.request.urlopen(source, timeout=60) as response, target.open("wb") as out:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=target.name, disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise UserError(f"cannot download the {what} from {source}: {exc}") from None
    return target


def digest_of(data: bytes | Path, algorithm: str = "sha256") -> str:
    """``"ALGORITHM:HEX"`` of bytes or of a file's content (read in chunks)."""
    hasher = hashlib.new(algorithm)
    if isinstance(data, bytes):
        hasher.update(data)
    else:
        with Path(data).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def check_digest(data: bytes | Path, expected: str, label: str, hint: str = "") -> None:
    """Raise unless ``data`` has the digest ``expected`` (``"sha256:HEX"``, or a bare SHA-256).

    Raises:
        UserError: a different digest (the message gives both), or an unknown algorithm.
    """
    algorithm, _, value = expected.rpartition(":")
    algorithm = algorithm or "sha256"
    if algorithm not in hashlib.algorithms_available:
        raise UserError(f"unknown checksum algorithm {algorithm!r} in {expected!r}")
    got = digest_of(data, algorithm)
    if got != f"{algorithm}:{value.lower()}":
        raise UserError(f"{label}: wrong checksum, {got} where {algorithm}:{value.lower()} was "
                        f"expected{'; ' + hint if hint else ''}")


_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # zip, gz, bz2, xz


def is_archive(path: Path) -> bool:
    """True for what looks like a zip, a compressed file or a tar, judged by its first bytes (a
    damaged archive included: ``read_members`` then says it is unreadable)."""
    with Path(path).open("rb") as handle:
        head = handle.read(265)
    return head.startswith(_MAGIC) or head[257:262] == b"ustar"


def _safe(name: str, label: str) -> PurePosixPath:
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or _DRIVE.match(name):
        raise UserError(f"{label}: refusing unsafe member path {name!r}")
    return PurePosixPath(name)


def read_members(archive: Path, label: str, pick: Callable[[PurePosixPath], str | None],
                 expected: str) -> dict[str, tuple[str, bytes]]:
    """The members ``pick`` names, read from a tar or zip archive: key -> (member name, bytes).

    ``pick(member path)`` returns the key a member installs as, or None to skip it.

    Raises:
        UserError: not a tar or zip archive (``expected`` names the right one), an unsafe member
            path anywhere in the archive, a picked member that is not a regular file, or two
            members for one key.
    """
    found: dict[str, tuple[str, bytes]] = {}

    def add(name: str, is_file: bool, read: Callable[[], bytes]) -> None:
        key = pick(_safe(name, label))
        if key is None:
            return
        if not is_file:
            raise UserError(f"{label}: member {name!r} is not a regular file")
        if key in found:
            raise UserError(f"{label}: both {found[key][0]!r} and {name!r} would install {key}")
        found[key] = (name, read())

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    link = (info.external_attr >> 16) & 0o170000 == 0o120000
                    add(info.filename, not info.is_dir() and not link,
                        lambda info=info: zipped.read(info))
        else:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    add(member.name, member.isfile(),
                        lambda member=member: tar.extractfile(member).read())  # type: ignore[union-attr]
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(":")
        raise UserError(f"{label} is not a readable tar or zip archive (expected {expected}): "
                        f"{first}") from None
    return found


def install_files(files: dict[str, bytes], dest: Path,
                  check: Callable[[Path], None] | None = None, label: str = "") -> list[Path]:
    """Write ``files`` (relative path -> bytes) into ``dest`` atomically.

    They are written to a temporary folder beside ``dest``, ``check(folder)`` reads them there
    (the task's reader: raises on a malformed file), and only then are they renamed into place:
    ``dest`` itself when it does not exist yet, else file by file (each rename atomic), so that
    other files already in ``dest`` stay. A failure before the renames leaves ``dest`` as it was;
    ``check``'s errors name the files as ``label/NAME`` (the archive they came from).

    Returns:
        The installed paths, sorted.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    except OSError as exc:
        raise UserError(f"{dest}: cannot write ({exc.strerror or exc})") from None
    try:
        for relative, data in files.items():
            path = tmp / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if check is not None:
            try:
                check(tmp)
            except UserError as exc:
                raise _renamed(exc, tmp, label or str(dest)) from None
        if not dest.exists():
            os.replace(tmp, dest)
        else:
            for relative in files:
                (dest / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / relative, dest / relative)
    except OSError as exc:
        raise UserError(f"{dest}: cannot install ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(dest / relative for relative in files)


def _renamed(exc: UserError, tmp: Path, label: str) -> UserError:
    """``exc`` with the temporary folder's path in its message replaced by ``label``."""
    if isinstance(exc, DataFormatError):
        where = f"{exc.path}:{exc.line}" if exc.line is not None else str(exc.path)
        path = str(exc.path).replace(str(tmp), label)
        return DataFormatError(path, exc.line, str(exc).removeprefix(f"{where}: "))
    return UserError(str(exc).replace(str(tmp), label))
