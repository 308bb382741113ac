"""Malformed dataset files: each is one line ``mneme: error: FILE:LINE: ...`` and exit 2 from
``mneme train``, before the run directory exists (nothing is written); an unseen test answer is a
counted warning. Tiny bAbI, PTB and fra.txt files are written into ``tmp_path``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mneme.cli import main
from mneme.tasks.babi import MAX_STORY_LINES, BabiConfig, BabiDataWarning, BabiTask, babi_file

from ..babi_fake import story_lines, write_fake_babi


def train_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> str:
    """Run ``mneme train ARGV --out RUN``; assert exit 2, one line, no RUN; return the line."""
    out = tmp_path / "run"
    code = main(["train", *argv, "--train.epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    return err.strip()


def babi_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> str:
    return train_fails(capsys, tmp_path, "--task", "babi", "--task.task-id", "1", "--model",
                       "memn2n", "--data-dir", str(tmp_path / "data"), *extra)


@pytest.fixture
def babi_train(tmp_path: Path) -> Path:
    """A fake bAbI task 1 (about 100 questions); returns its training file."""
    write_fake_babi(tmp_path / "data", stories=40)
    return babi_file(tmp_path / "data" / "babi", "1k", 1, "train")


def first_question(path: Path) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "\t" in line)


def replace_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("separator", [" ", ""], ids=["tabs-as-spaces", "tabs-missing"])
def test_babi_question_without_tabs(babi_train: Path, tmp_path: Path, capsys, separator: str
                                    ) -> None:
    line = first_question(babi_train)
    text = babi_train.read_text().splitlines()[line - 1]
    replace_line(babi_train, line, text.replace("\t", separator))
    err = babi_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {babi_train}:{line}: a question without tabs")


def test_babi_file_truncated_mid_line(babi_train: Path, tmp_path: Path, capsys) -> None:
    data = babi_train.read_bytes()
    cut = data.rindex(b"\n", 0, len(data) // 2) + 8  # 8 bytes into a line
    babi_train.write_bytes(data[:cut])
    err = babi_fails(capsys, tmp_path)
    line = data[:cut].count(b"\n") + 1
    assert err.startswith(f"mneme: error: {babi_train}:{line}: the last line has no newline")


def test_babi_story_ids_that_never_restart(babi_train: Path, tmp_path: Path, capsys) -> None:
    # 600 statements in one story, then a question: one story past the limit.
    lines = [f"{i} Mary went to the garden." for i in range(1, 601)]
    lines.append("601 Where is Mary? \tgarden\t600")
    babi_train.write_text(babi_train.read_text() + "\n".join(lines) + "\n")
    start = len(babi_train.read_text().splitlines()) - 601
    err = babi_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {babi_train}:{start + MAX_STORY_LINES + 1}: a story "
                          f"of more than {MAX_STORY_LINES} lines")


def test_babi_nul_byte_inside_a_word(babi_train: Path, tmp_path: Path, capsys) -> None:
    replace_line(babi_train, 1, babi_train.read_text().splitlines()[0].replace("the", "t\0he"))
    err = babi_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {babi_train}:1: control character U+0000")


def test_babi_stray_tab_is_blamed_on_its_line(tmp_path: Path, capsys) -> None:
    write_fake_babi(tmp_path / "data", stories=40)
    path = babi_file(tmp_path / "data" / "babi", "1k", 1, "train")
    # Line 1 is a statement that line 2 or later cites as a supporting fact.
    lines = path.read_text().splitlines()
    assert not lines[0].count("\t")
    replace_line(path, 1, "1 " + lines[0][2:].replace(" ", "\t", 1))  # "1 Mary\tmoved to..."
    err = babi_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {path}:1: a tab in a statement")


def test_babi_too_few_questions_for_validation(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "data" / "babi" / "en"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    for split in ("train", "test"):
        lines: list[str] = []
        while sum("\t" in line for line in lines) < 5:
            lines += story_lines(rng, 2)
        questions = [i for i, line in enumerate(lines) if "\t" in line]
        lines = lines[: questions[4] + 1]  # exactly 5 questions: round(5 * 0.1) = 0 held out
        babi_file(folder.parent, "1k", 1, split).write_text("\n".join(lines) + "\n")
    path = babi_file(folder.parent, "1k", 1, "train")
    err = babi_fails(capsys, tmp_path)
    assert err == (f"mneme: error: {path}: 5 questions leave none for validation at "
                   "valid_fraction 0.1; use more questions or a larger --task.valid-fraction")


def test_babi_valid_fraction_zero(babi_train: Path, tmp_path: Path, capsys) -> None:
    err = babi_fails(capsys, tmp_path, "--task.valid-fraction", "0")
    assert err == ("mneme: error: babi: the valid split is empty; a run needs both validation "
                   "and test examples (raise --task.valid-fraction)")


def test_babi_test_answer_unseen_in_training_is_a_counted_warning(babi_train: Path,
                                                                  tmp_path: Path) -> None:
    test = babi_file(tmp_path / "data" / "babi", "1k", 1, "test")
    lines = test.read_text().splitlines()
    asked = [i for i, line in enumerate(lines, 1) if "\t" in line][1:3]
    for lineno in asked:  # two answers no training question has
        question, _, support = lines[lineno - 1].split("\t")
        lines[lineno - 1] = f"{question}\tattic\t{support}"
    test.write_text("\n".join(lines) + "\n")
    with pytest.warns(BabiDataWarning) as caught:
        BabiTask(BabiConfig(task_id=1, data_dir=str(tmp_path / "data")))
    (warning,) = caught
    assert str(warning.message) == (f"{test}: 2 test answer(s) never seen in training, always "
                                    f"counted wrong (first: line {asked[0]}, 'attic')")


# ---------------------------------------------------------------- Penn Treebank and fra.txt


def write_ptb(root: Path) -> Path:
    folder = root / "ptb"
    folder.mkdir(parents=True)
    rng = random.Random(0)
    words = ["the", "market", "fell", "rose", "<unk>", "shares", "of", "n"]
    for split in ("train", "valid", "test"):
        lines = [" ".join(rng.choice(words) for _ in range(10)) for _ in range(80)]
        (folder / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def ptb_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    return train_fails(capsys, tmp_path, "--task", "ptb", "--model", "rnn-lm", "--data-dir",
                       str(tmp_path / "data"), "--train.batch-size", "4",
                       "--train.eval-batch-size", "4")


def test_ptb_byte_order_mark(tmp_path: Path, capsys) -> None:
    folder = write_ptb(tmp_path / "data")
    train = folder / "ptb.train.txt"
    train.write_bytes(b"\xef\xbb\xbf" + train.read_bytes())
    err = ptb_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {train}:1: starts with a byte order mark")


def test_ptb_split_too_short_fails_at_load_time(tmp_path: Path, capsys) -> None:
    folder = write_ptb(tmp_path / "data")
    (folder / "ptb.valid.txt").write_text("the market\n")  # 3 tokens: not 2 a row at batch 4
    err = ptb_fails(capsys, tmp_path)
    assert err.startswith(f"mneme: error: {folder / 'ptb.valid.txt'}: the valid split: a "
                          "stream of 3 tokens is too short for batch size 4")


def test_fra_txt_with_a_non_utf8_byte(tmp_path: Path, capsys) -> None:
    path = tmp_path / "data" / "eng-fra" / "fra.txt"
    path.parent.mkdir(parents=True)
    lines = [f"I see {i}.\tJe vois {i}." for i in range(30)]
    lines[6] = "Go.\tVa\xe9 !"
    path.write_bytes("\n".join(lines).encode("utf-8").replace("\xe9".encode(), b"\xe9") + b"\n")
    err = train_fails(capsys, tmp_path, "--task", "translation", "--model", "seq2seq",
                      "--data-dir", str(tmp_path / "data"))
    assert err.startswith(f"mneme: error: {path}:7: invalid UTF-8 at byte")
