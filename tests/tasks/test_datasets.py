"""``mneme data``: PTB, tiny-shakespeare and eng-fra installed from their releases (archives built
here, no network), checksums, atomic installs and one-line errors (issue 14, item 8)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks import checksums
from mneme.tasks.archives import check_digest, digest_of
from mneme.tasks.babi import TASK_NAMES
from mneme.tasks.babi_archive import known_digest
from mneme.tasks.datasets import install_dataset
from mneme.tasks.text import PTBConfig, PTBTask
from mneme.tasks.translation import read_pairs

SRC = Path(__file__).parents[2] / "src"
CORPUS = " the cat sat on the mat \n a dog ran home \n"
PAIRS = "".join(f"I am number {i}.\tJe suis le numéro {i}.\n" for i in range(30))


def mneme(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mneme", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def simple_examples(path: Path, splits: tuple[str, ...] = ("train", "valid", "test"),
                    texts: dict[str, bytes] | None = None) -> Path:
    """A ``simple-examples.tgz`` as Mikolov's: ``./simple-examples/data/ptb.*.txt`` among others."""
    texts = texts or {s: CORPUS.encode() * (20 if s == "train" else 2) for s in splits}
    members = {"./simple-examples/data/ptb.char.train.txt": b"a b c\n",
               "./simple-examples/rnnlm-0.2b/README": b"readme\n"}
    members |= {f"./simple-examples/data/ptb.{s}.txt": texts[s] for s in splits}
    return tgz(path, members)


def fra_eng_zip(path: Path, fra: str = PAIRS, *, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("fra.txt", fra)
        zipped.writestr("_about.txt", "Tatoeba, CC-BY 2.0 FR\n")
        for name, text in (extra or {}).items():
            zipped.writestr(name, text)
    return path


def test_ptb_installs_from_simple_examples_with_its_checksum_through_the_cli(
        tmp_path: Path) -> None:
    archive = simple_examples(tmp_path / "simple-examples.tgz")
    data = tmp_path / "data"
    done = mneme(["data", "ptb", "--from", str(archive), "--data-dir", str(data),
                  "--sha256", sha(archive)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (data / "ptb").iterdir()) == [
        "ptb.test.txt", "ptb.train.txt", "ptb.valid.txt"]
    task = PTBTask(PTBConfig(str(data), seq_len=4))
    assert task.num_tokens("train") == 20 * 12 and "mat" in task.vocab
    assert [p.name for p in data.iterdir()] == ["ptb"]  # no temporary folder left
    # the official digests are checked by default: these hand-made files are not the release
    refused = mneme(["data", "ptb", "--from", str(archive), "--data-dir", str(tmp_path / "d2")],
                    tmp_path)
    assert refused.returncode == 2
    line, = refused.stderr.strip().splitlines()
    assert "wrong checksum" in line and "data/ptb.train.txt" in line and "--sha256" in line
    assert not (tmp_path / "d2").exists() or not any((tmp_path / "d2").iterdir())


def test_known_digests_are_checked_per_file(tmp_path: Path) -> None:
    texts = {s: CORPUS.encode() for s in ("train", "valid", "test")}
    archive = simple_examples(tmp_path / "simple-examples.tgz", texts=texts)
    digest = digest_of(CORPUS.encode())
    assert digest == "sha256:" + hashlib.sha256(CORPUS.encode()).hexdigest()
    check_digest(CORPUS.encode(), digest, "x")
    check_digest(CORPUS.encode(), digest.removeprefix("sha256:").upper(), "x")  # bare hex
    with pytest.raises(UserError, match="wrong checksum"):
        check_digest(CORPUS.encode() + b"\n", digest, "x")
    with pytest.raises(UserError, match="wrong checksum"):
        install_dataset("ptb", str(archive), tmp_path / "data", sha256="0" * 64, progress=False)
    assert not (tmp_path / "data" / "ptb").exists()


@pytest.mark.parametrize(("build", "message"), [
    (lambda p: simple_examples(p / "simple-examples.tgz", splits=("train", "valid")),
     "no member data/ptb.test.txt"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt",
     "is not a tar or zip archive (expected simple-examples.tgz)"),
    (lambda p: (p / "simple-examples.tgz").write_bytes(b"\x1f\x8b broken") and
     p / "simple-examples.tgz", "is not a readable tar or zip archive"),
    (lambda p: tgz(p / "simple-examples.tgz", {"../data/ptb.train.txt": b"x\n"}),
     "unsafe member path"),
])
def test_ptb_errors_install_nothing(tmp_path: Path, build, message: str) -> None:
    source = build(tmp_path)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        install_dataset("ptb", str(source), tmp_path / "data", sha256=sha(source),
                        progress=False)
    assert not (tmp_path / "data" / "ptb").exists()
    with pytest.raises(MissingDataError, match="not found"):
        install_dataset("ptb", str(tmp_path / "nope.tgz"), tmp_path / "data", progress=False)
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        install_dataset("nope", str(source), tmp_path / "data")


def test_ptb_file_the_reader_refuses_names_the_archive_member(tmp_path: Path) -> None:
    texts = {"train": CORPUS.encode() * 4, "valid": b" the zebra \n", "test": CORPUS.encode()}
    archive = simple_examples(tmp_path / "simple-examples.tgz", texts=texts)
    with pytest.raises(DataFormatError, match=r"simple-examples\.tgz/ptb\.valid\.txt:1: word "
                                              r"'zebra'"):
        install_dataset("ptb", str(archive), tmp_path / "data", sha256=sha(archive),
                        progress=False)
    assert not (tmp_path / "data" / "ptb").exists()
    assert not list((tmp_path / "data").iterdir())  # the temporary folder is gone too


def test_eng_fra_installs_from_the_zip_and_keeps_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "eng-fra"
    folder.mkdir(parents=True)
    (folder / "fra.txt").write_text("old\tvieux\n")
    (folder / "NOTES.md").write_text("mine\n")
    archive = fra_eng_zip(tmp_path / "fra-eng.zip", extra={"other/readme.txt": "x"})
    written = install_dataset("eng-fra", archive.as_uri(), tmp_path / "data",
                              sha256=sha(archive), progress=False)
    assert written == [folder / "_about.txt", folder / "fra.txt"]
    assert read_pairs(folder / "fra.txt")[3] == ("I am number 3.", "Je suis le numéro 3.")
    assert (folder / "NOTES.md").read_text() == "mine\n" and not (folder / "other").exists()
    bad = fra_eng_zip(tmp_path / "bad.zip", "I am here.\tJe suis ici.\nno tab here\n")
    with pytest.raises(DataFormatError, match=r"bad\.zip/fra\.txt:2: expected English<TAB>"):
        install_dataset("eng-fra", str(bad), tmp_path / "data", sha256=sha(bad), progress=False)
    assert read_pairs(folder / "fra.txt")[3][0] == "I am number 3."  # as it was


def test_tinyshakespeare_installs_a_plain_file_from_a_url(tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    source.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    written = install_dataset("tinyshakespeare", source.as_uri(), tmp_path / "data",
                              sha256=f"sha256:{sha(source)}", progress=False)
    assert written == [tmp_path / "data" / "tinyshakespeare" / "input.txt"]
    assert written[0].read_bytes() == source.read_bytes()
    with pytest.raises(UserError, match=r"wrong checksum.*not the official input\.txt"):
        install_dataset("tinyshakespeare", str(source), tmp_path / "d2", progress=False)


def test_babi_known_digests_name_every_official_file() -> None:
    assert len(checksums.BABI) == 80
    assert known_digest("en-10k/qa3_three-supporting-facts_train.txt") == (
        "md5:639cbebe6f1ce51b3b5d2f32148ed352")  # ParlAI's, the one file without a SHA-256
    for task_id, name in TASK_NAMES.items():
        assert known_digest(f"en/qa{task_id}_{name}_test.txt") == checksums.BABI[
            f"en/qa{task_id}_test"]


def test_known_digests_match_the_official_files(data_root: str, tmp_path: Path) -> None:
    """The table against real copies (skips without them): every bAbI file present, and the
    other releases rebuilt as archives and installed with the default checks."""
    root = Path(data_root)
    for key, digest in checksums.BABI.items():
        sub, rest = key.split("/")
        task, split = rest.removeprefix("qa").split("_")
        path = root / "babi" / sub / f"qa{task}_{TASK_NAMES[int(task)]}_{split}.txt"
        if path.is_file():
            check_digest(path, digest, str(path))
    ptb = {s: (root / "ptb" / f"ptb.{s}.txt").read_bytes() for s in ("train", "valid", "test")}
    archive = simple_examples(tmp_path / "simple-examples.tgz", texts=ptb)
    assert len(install_dataset("ptb", str(archive), tmp_path / "data", progress=False)) == 3
    shakespeare = root / "tinyshakespeare" / "input.txt"
    install_dataset("tinyshakespeare", str(shakespeare), tmp_path / "data", progress=False)
    with zipfile.ZipFile(tmp_path / "fra-eng.zip", "w") as zipped:
        for name in ("fra.txt", "_about.txt"):
            zipped.write(root / "eng-fra" / name, name)
    install_dataset("eng-fra", str(tmp_path / "fra-eng.zip"), tmp_path / "data", progress=False)
    assert sha(tmp_path / "data" / "eng-fra" / "fra.txt") == sha(root / "eng-fra" / "fra.txt")
