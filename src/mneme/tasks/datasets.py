"""``mneme data NAME --from PATH_OR_URL``: every dataset mneme reads, installed from its release.

- ``babi``: ``tasks_1-20_v1-2.tar.gz`` into ``babi/en/``, ``babi/en-10k/``
  (``mneme.tasks.babi_archive``);
- ``ptb``: Mikolov's ``simple-examples.tgz``, its ``data/ptb.{train,valid,test}.txt`` into ``ptb/``;
- ``tinyshakespeare``: char-rnn's ``input.txt`` (a plain file) into ``tinyshakespeare/``;
- ``eng-fra``: manythings.org's ``fra-eng.zip``, its ``fra.txt`` and ``_about.txt`` into
  ``eng-fra/``.

Each installed file is checked against the known digest of the official release
(``mneme.tasks.checksums``); ``sha256`` checks the downloaded archive or file instead (another
release or a mirror). The files are then read with the task's own reader in a temporary folder
and renamed into place (``mneme.tasks.archives.install_files``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mneme.errors import UserError
from mneme.tasks import checksums
from mneme.tasks.archives import check_digest, fetch, install_files, is_archive, read_members

__all__ = ["DATASETS", "Dataset", "install_dataset"]


@dataclass(frozen=True)
class Dataset:
    """One installable dataset.

    Attributes:
        name: the name ``mneme data`` takes; also the folder under the data directory.
        release: the official archive's (or file's) name, shown in messages.
        members: installed file name -> the member path's ending in the archive
            (``data/ptb.train.txt``); a plain-file release is its one member.
        optional: installed names that may be absent from the archive.
        digests: installed file name -> known digest of the official release.
        check: reads the installed folder with the task's reader (raises on a bad file).
    """

    name: str
    release: str
    members: dict[str, str]
    digests: dict[str, str]
    check: Callable[[Path], None]
    optional: tuple[str, ...] = ()

    def pick(self, path: PurePosixPath) -> str | None:
        """The installed name of an archive member, or None for a member not installed."""
        text = path.as_posix()
        for name, ending in self.members.items():
            if text == ending or text.endswith("/" + ending):
                return name
        return None


def _check_ptb(folder: Path) -> None:
    from mneme.tasks.text import PTBConfig, PTBTask

    PTBTask(PTBConfig(data_dir=str(folder), seq_len=1))


def _check_chars(folder: Path) -> None:
    from mneme.tasks.text import read_chars

    read_chars(folder / "input.txt")


def _check_pairs(folder: Path) -> None:
    from mneme.tasks.translation import read_pairs

    read_pairs(folder / "fra.txt")


DATASETS: dict[str, Dataset] = {
    "ptb": Dataset("ptb", "simple-examples.tgz",
                   {f"ptb.{s}.txt": f"data/ptb.{s}.txt" for s in ("train", "valid", "test")},
                   checksums.PTB, _check_ptb),
    "tinyshakespeare": Dataset("tinyshakespeare", "input.txt", {"input.txt": "input.txt"},
                               checksums.TINYSHAKESPEARE, _check_chars),
    "eng-fra": Dataset("eng-fra", "fra-eng.zip",
                       {"fra.txt": "fra.txt", "_about.txt": "_about.txt"}, checksums.ENG_FRA,
                       _check_pairs, optional=("_about.txt",)),
}
"""The datasets installed here; bAbI has its own installer (``babi_archive``)."""


def _files(dataset: Dataset, path: Path, source: str) -> dict[str, tuple[str, bytes]]:
    """Installed name -> (member, bytes) of the release at ``path``."""
    if not is_archive(path):
        if len(dataset.members) == 1:  # a plain-file release
            (name,) = dataset.members
            return {name: (Path(source).name, path.read_bytes())}
        raise UserError(f"{source} is not a tar or zip archive (expected {dataset.release})")
    found = read_members(path, source, dataset.pick, dataset.release)
    missing = [n for n in dataset.members if n not in found and n not in dataset.optional]
    if missing:
        raise UserError(f"{source}: no member {dataset.members[missing[0]]} (expected "
                        f"{dataset.release}, holding {', '.join(dataset.members.values())})")
    return found


def install_dataset(name: str, source: str, root: Path, *, sha256: str | None = None,
                    progress: bool = True) -> list[Path]:
    """Install dataset ``name`` from ``source`` (a path or a URL) into ``root/name``.

    Args:
        name: ``babi``, or a key of ``DATASETS``.
        source: the release archive or file, a local path or a URL.
        root: the data directory.
        sha256: the SHA-256 the archive or file must have (``"sha256:HEX"`` or bare hex),
            checked instead of the known digests of the official release's files.
        progress: show a download bar (and bAbI's present/missing report).

    Returns:
        The installed paths, sorted.

    Raises:
        UserError: an unknown name, a download that failed, not an archive, a missing member,
            a wrong checksum, an unsafe member path, or a file the task's reader refuses
            (``DataFormatError``); nothing is installed then. MissingDataError: a local
            ``source`` that does not exist.
    """
    root = Path(root).expanduser()
    if name == "babi":
        from mneme.tasks.babi_archive import install_babi_archive

        return install_babi_archive(source, root / "babi", progress=progress, sha256=sha256)
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose babi, {', '.join(DATASETS)}")
    dataset = DATASETS[name]
    with tempfile.TemporaryDirectory() as tmp:
        path = fetch(source, Path(tmp), dataset.release, f"{name} release", progress)
        if sha256 is not None:
            check_digest(path, sha256, source)
        found = _files(dataset, path, source)
    for installed, (member, data) in found.items():
        if sha256 is None:
            check_digest(data, dataset.digests[installed], f"{source}: {member}",
                         f"not the official {dataset.release} (pass --sha256 of the file you "
                         "have to install another release)")
    return install_files({k: data for k, (_, data) in found.items()}, root / dataset.name,
                         dataset.check, label=source)
