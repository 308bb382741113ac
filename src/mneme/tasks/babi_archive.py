"""Install the official bAbI v1.2 archive ``tasks_1-20_v1-2.tar.gz`` (Weston et al. 2015).

Only the English files are taken: ``*/en/qa*_*.txt`` (1k questions per task) and
``*/en-10k/qa*_*.txt`` (10k training questions per task) land in ``dest/en/`` and
``dest/en-10k/``. Every file is parsed with the reader before anything is written, so a damaged
archive leaves ``dest`` as it was; the files are written to a temporary folder and renamed into
place (``mneme.tasks.archives``). Each file is checked against the official release's digest.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path, PurePosixPath

from mneme.errors import DataFormatError, UserError
from mneme.tasks.archives import check_digest, fetch, install_files, read_members
from mneme.tasks.babi import SIZE_DIRS, TASK_NAMES, parse_babi_bytes
from mneme.tasks.checksums import BABI

ARCHIVE = "tasks_1-20_v1-2.tar.gz"
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


def _pick(path: PurePosixPath) -> str | None:
    """``en/NAME`` or ``en-10k/NAME`` for an English bAbI member, else None."""
    parts = path.parts
    if len(parts) < 2 or parts[-2] not in SIZE_DIRS.values() or parts[-1] not in _NAMES:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def known_digest(key: str) -> str:
    """The official digest of ``en/NAME`` or ``en-10k/NAME`` (``mneme.tasks.checksums.BABI``)."""
    sub, name = key.split("/")
    return BABI[f"{sub}/qa{_NAMES[name]}_{name.rsplit('_', 1)[1].removesuffix('.txt')}"]


def install_babi_archive(source: str, dest: Path, *, progress: bool = True,
                         strict: bool = True, sha256: str | None = None) -> list[Path]:
    """Extract, check and install the English bAbI files of ``source`` into ``dest``.

    Args:
        source: a local path to ``tasks_1-20_v1-2.tar.gz`` or a URL (downloaded with urllib).
        dest: the ``babi`` data folder; files go to ``dest/en/`` and ``dest/en-10k/``.
        progress: show a download bar and print a present/missing report to stderr.
        strict: also require the official question counts (1,000 per file, 10,000 per
            ``en-10k`` training file) and, without ``sha256``, each file's official digest
            (``mneme.tasks.checksums.BABI``). ``False`` only requires every file to parse, which
            is what small hand-made archives (tests, partial mirrors) need.
        sha256: the archive's own SHA-256 (``"sha256:HEX"`` or the bare hex), checked instead of
            the files' digests: for a copy other than the official one.

    Returns:
        The installed paths, sorted.

    Raises:
        UserError: ``source`` is not a tar or zip archive, holds no bAbI files or has an unsafe
            member path, the download failed, or a checksum differs. MissingDataError: a local
            ``source`` does not exist. DataFormatError: a member does not parse, or (``strict``)
            has the wrong question count; nothing is written then.
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        archive = fetch(source, Path(tmp), ARCHIVE, "bAbI archive", progress)
        if sha256 is not None:
            check_digest(archive, sha256, source)
        members = read_members(archive, source, _pick, ARCHIVE)
    if not members:
        raise UserError(f"{source} holds no bAbI files (expected members like "
                        "tasks_1-20_v1-2/en/qa1_single-supporting-fact_train.txt)")
    for key, (member, data) in members.items():
        where = Path(source) / member  # names the member in errors: archive/member:line
        sub, name = key.split("/")
        examples = parse_babi_bytes(data, where, _NAMES[name])
        want = expected_questions(sub, name)
        if strict and len(examples) != want:
            raise DataFormatError(where, None, f"{len(examples)} questions, the official v1.2 "
                                  f"file has {want} (strict=False accepts other counts)")
        if strict and sha256 is None:
            check_digest(data, known_digest(key), str(where), "not the official v1.2 file (pass "
                         "the archive's --sha256 to install another copy)")
    written = install_files({key: data for key, (_, data) in members.items()}, dest)
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

