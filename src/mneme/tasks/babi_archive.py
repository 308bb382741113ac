"""Install the official bAbI v1.2 archive ``tasks_1-20_v1-2.tar.gz`` (Weston et al. 2015).

Only the English files are taken: ``*/en/qa*_*.txt`` (1k questions per task) and
``*/en-10k/qa*_*.txt`` (10k training questions per task) land in ``dest/en/`` and
``dest/en-10k/``. Every file is parsed with the reader before anything is written, so a damaged
archive leaves ``dest`` as it was; each file is written to a temporary name and renamed.
"""

from __future__ import annotations

import os
import re
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks.babi import SIZE_DIRS, TASK_NAMES, parse_babi_bytes

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:")  # a Windows absolute path
# file name -> task id, for the 40 names each of en/ and en-10k/ must hold
_NAMES = {f"qa{t}_{name}_{split}.txt": t
          for t, name in TASK_NAMES.items() for split in ("train", "test")}


def expected_questions(size_dir: str, file_name: str) -> int:
    """Questions in an official v1.2 file: 10,000 for ``en-10k`` training, else 1,000."""
    return 10_000 if size_dir == "en-10k" and file_name.endswith("_train.txt") else 1_000


def babi_files_status(babi_dir: Path) -> tuple[list[Path], list[Path]]:
    """The 80 files of ``en/`` and ``en-10k/`` split into (present, missing)."""
    present, missing = [], []
    for sub in SIZE_DIRS.values():
        for name in _NAMES:
            path = Path(babi_dir) / sub / name
            (present if path.is_file() else missing).append(path)
    return present, missing


def _fetch(source: str, tmp: Path, progress: bool) -> Path:
    """A local path to the archive, downloading ``source`` first when it is a URL."""
    if not _URL.match(source):
        path = Path(source).expanduser()
        if not path.is_file():
            raise MissingDataError(f"bAbI archive not found: {path}")
        return path
    target = tmp / "tasks_1-20_v1-2.tar.gz"
    try:
        with urllib.request.urlopen(source, timeout=60) as response, target.open("wb") as out:
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                      desc=target.name, disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise UserError(f"cannot download the bAbI archive from {source}: {exc}") from None
    return target


def _read_members(archive: Path, label: str) -> dict[tuple[str, str], tuple[str, bytes]]:
    """(size dir, file name) -> (member name, bytes) of the English bAbI members.

    Raises ``UserError`` for a non-tar file, an absolute or ``..`` member anywhere in the
    archive, a bAbI member that is not a regular file, or two members for the same file.
    """
    found: dict[tuple[str, str], tuple[str, bytes]] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or _DRIVE.match(
                        member.name):
                    raise UserError(f"{label}: refusing unsafe member path {member.name!r}")
                if len(parts) < 2 or parts[-2] not in SIZE_DIRS.values() or parts[-1] not in _NAMES:
                    continue
                if not member.isfile():
                    raise UserError(f"{label}: bAbI member {member.name!r} is not a regular file")
                key = (parts[-2], parts[-1])
                if key in found:
                    raise UserError(f"{label}: both {found[key][0]!r} and {member.name!r} "
                                    f"would install {key[0]}/{key[1]}")
                handle = tar.extractfile(member)
                found[key] = (member.name, handle.read() if handle else b"")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise UserError(f"{label} is not a readable tar archive (expected "
                        f"tasks_1-20_v1-2.tar.gz): {exc}") from None
    if not found:
        raise UserError(f"{label} holds no bAbI files (expected members like "
                        "tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt)")
    return found


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_babi_archive(source: str, dest: Path, *, progress: bool = True,
                         strict: bool = True) -> list[Path]:
    """Extract, check and install the English bAbI files of ``source`` into ``dest``.

    Args:
        source: a local path to ``tasks_1-20_v1-2.tar.gz`` or a URL (downloaded with urllib).
        dest: the ``babi`` data folder; files go to ``dest/en/`` and ``dest/en-10k/``.
        progress: show a download bar and print a present/missing report to stderr.
        strict: also require the official question counts (1,000 per file, 10,000 per
            ``en-10k`` training file). ``False`` only requires every file to parse, which is what
            small hand-made archives (tests, partial mirrors) need.

    Returns:
        The installed paths, sorted.

    Raises:
        UserError: ``source`` is not a tar archive, holds no bAbI files or has an unsafe member
            path, or the download failed. MissingDataError: a local ``source`` does not exist.
        DataFormatError: a member does not parse, or (``strict``) has the wrong question count;
            nothing is written then.
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        archive = _fetch(source, Path(tmp), progress)
        members = _read_members(archive, source)
    for (sub, name), (member, data) in members.items():
        where = Path(source) / member  # names the member in errors: archive/member:line
        examples = parse_babi_bytes(data, where, _NAMES[name])
        want = expected_questions(sub, name)
        if strict and len(examples) != want:
            raise DataFormatError(where, None, f"{len(examples)} questions, the official v1.2 "
                                  f"file has {want} (strict=False accepts other counts)")
    written = []
    for (sub, name), (_, data) in sorted(members.items()):
        _write_atomic(dest / sub / name, data)
        written.append(dest / sub / name)
    if progress:
        print(install_report(dest, written), file=sys.stderr)
    return written


def install_report(dest: Path, written: list[Path]) -> str:
    """A few lines: how many files were installed, which of the 80 expected are missing."""
    present, missing = babi_files_status(dest)
    lines = [f"installed {len(written)} bAbI files into {dest}; "
             f"{len(present)} of {len(present) + len(missing)} expected files present"]
    for sub in SIZE_DIRS.values():
        gone = [p.name for p in missing if p.parent.name == sub]
        if gone:
            shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
            lines.append(f"  missing in {sub}/ ({len(gone)}): {shown}")
    return "\n".join(lines)

