"""Run directories move (issue 14, item 2): a copied run answers ``ask``, ``generate`` and
``translate`` from its ``vocab.json`` alone, and ``eval`` finds its data through ``$MNEME_DATA``
after the data moved; through the CLI in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.babi_fake import write_fake_babi

from mneme.cli import main
from mneme.config import TrainConfig
from mneme.errors import MissingDataError, UserError
from mneme.memory.memn2n import MemN2NConfig
from mneme.tasks.babi import BabiConfig, BabiTask
from mneme.train.portable import read_vocab
from mneme.train.run import RunConfig, load_run, train_run

SRC = Path(__file__).parents[2] / "src"
QUIET = ["--train.no-progress", "--train.no-tensorboard"]


def mneme(args: list[str], cwd: Path, *, data: Path | None = None,
          stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m mneme ARGS`` in ``cwd``, with ``$MNEME_DATA`` set to ``data`` only."""
    env = {k: v for k, v in os.environ.items() if k != "MNEME_DATA"}
    env |= {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    if data is not None:
        env["MNEME_DATA"] = str(data)
    return subprocess.run([sys.executable, "-m", "mneme", *args], input=stdin, cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def moved_run(tmp_path: Path, data: Path, train_args: list[str]) -> tuple[Path, Path]:
    """Train into ``tmp_path/here/run`` from ``data``, then copy the run to ``tmp_path/there``
    and move the data to ``tmp_path/elsewhere``: (the copy, the moved data)."""
    run = tmp_path / "here" / "run"
    assert main(["train", *train_args, "--data-dir", str(data), "--out", str(run), *QUIET]) == 0
    copy = tmp_path / "there" / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(tmp_path / "here")
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(str(data), moved)
    return copy, moved


BABI = ["--task", "babi", "--task.task-id", "1", "--model", "memn2n", "--train.epochs", "3"]


@pytest.fixture
def babi_copy(tmp_path: Path) -> tuple[Path, Path]:
    return moved_run(tmp_path, write_fake_babi(tmp_path / "data"), BABI)


def test_a_copied_babi_run_answers_without_data_and_evals_where_the_data_moved(
        babi_copy: tuple[Path, Path], tmp_path: Path) -> None:
    copy, moved = babi_copy
    stored = json.loads((copy / "vocab.json").read_text())
    assert stored["task"] == "babi" and stored["vocab"][:2] == ["<nil>", "<unk>"]
    assert {"mary", "garden", "where"} <= set(stored["vocab"])
    asked = mneme(["ask", str(copy)], tmp_path, stdin="Mary went to the garden.\nWhere is Mary?\n")
    assert asked.returncode == 0, asked.stderr
    assert "A: " in asked.stdout and "Mary went to the garden." in asked.stdout
    evaluated = mneme(["eval", str(copy), "--json"], tmp_path, data=moved)
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads((copy / "summary.json").read_text())
    assert json.loads(evaluated.stdout)["test_error"] == pytest.approx(summary["test"]["error"])
    nowhere = mneme(["eval", str(copy)], tmp_path)
    assert nowhere.returncode == 2
    lines = nowhere.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in nowhere.stderr
    assert "recorded when trained" in lines[0] and "MNEME_DATA" in lines[0]


def test_eval_data_dir_wins_over_the_environment_and_a_wrong_one_is_named(
        babi_copy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy, moved = babi_copy
    monkeypatch.setenv("MNEME_DATA", str(tmp_path / "not-here"))
    assert main(["eval", str(copy), "--data-dir", str(moved), "--json"]) == 0
    with pytest.raises(MissingDataError, match="not-here"):
        load_run(copy, data_dirs=[str(tmp_path / "not-here")])
    with pytest.raises(MissingDataError, match="no bAbI data in"):
        load_run(copy, overrides={"data_dir": str(tmp_path)})  # --data-dir: only there


def test_a_run_without_vocab_json_loads_from_its_data_as_before(
        babi_copy: tuple[Path, Path], tmp_path: Path) -> None:
    copy, moved = babi_copy
    _, with_file, _ = load_run(copy, need_data=False)
    (copy / "vocab.json").unlink()
    with pytest.raises(MissingDataError):
        load_run(copy, need_data=False)  # the data is no longer where it was recorded
    _, rebuilt, _ = load_run(copy, data_dirs=[str(moved)], need_data=False)
    assert rebuilt.vocab.to_list() == with_file.vocab.to_list()
    assert rebuilt.sentence_size == with_file.sentence_size


def test_data_that_differs_from_the_trained_vocabulary_is_refused(
        babi_copy: tuple[Path, Path]) -> None:
    copy, moved = babi_copy
    train = moved / "babi" / "en" / "qa1_single-supporting-fact_train.txt"
    train.write_text(train.read_text() + "1 Bill went to the attic.\n2 Where is Bill?\tattic\t1\n")
    with pytest.raises(UserError, match="differs from the data the run was trained on"):
        load_run(copy, data_dirs=[str(moved)])
    with pytest.raises(UserError, match="differs from the data"):
        load_run(copy, overrides={"data_dir": str(moved)})


def test_another_copy_in_mneme_data_is_passed_over_for_the_recorded_one(tmp_path: Path) -> None:
    data = write_fake_babi(tmp_path / "data")
    other = write_fake_babi(tmp_path / "other", seed=1)
    train = other / "babi" / "en" / "qa1_single-supporting-fact_train.txt"
    train.write_text(train.read_text() + "1 Bill went to the attic.\n2 Where is Bill?\tattic\t1\n")
    run = tmp_path / "run"
    assert main(["train", *BABI, "--data-dir", str(data), "--out", str(run), *QUIET]) == 0
    _, task, _ = load_run(run, data_dirs=[str(other)])
    assert task.babi_dir == data / "babi"


def test_resuming_a_run_from_before_vocab_json_writes_it(tmp_path: Path) -> None:
    data = write_fake_babi(tmp_path / "data", stories=40)
    task = BabiConfig(task_id=1, data_dir=str(data))
    train = TrainConfig(epochs=2, batch_size=8, progress=False, tensorboard=False)
    config = RunConfig("babi", task, "memn2n", MemN2NConfig(), train)
    run = tmp_path / "run"

    def ctrl_c(trainer) -> None:
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the real handler: finish the step, save, stop

    assert train_run(config, run, progress=False, callbacks=[ctrl_c])["interrupted"]
    (run / "vocab.json").unlink()  # as a run of an older mneme
    assert "interrupted" not in train_run(config, run, resume=True, progress=False)
    assert read_vocab(run) == {"task": "babi", **BabiTask(task).vocab_json()}


CORPUS = " the cat sat on the mat\n a dog ran home\n"


def same_without_vocab_json(copy: Path, moved: Path, command: list[str], shown: str,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """``command`` prints ``shown`` again when the run loads from its moved data instead."""
    (copy / "vocab.json").unlink()
    monkeypatch.setenv("MNEME_DATA", str(moved))
    capsys.readouterr()
    assert main(command) == 0
    assert capsys.readouterr().out == shown


def test_a_copied_language_model_run_generates_without_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "ptb").mkdir(parents=True)
    for split, repeats in (("train", 40), ("valid", 4), ("test", 4)):
        (data / "ptb" / f"ptb.{split}.txt").write_text(CORPUS * repeats)
    copy, moved = moved_run(tmp_path, data, [
        "--task", "ptb", "--task.seq-len", "8", "--model", "rnn-lm", "--model.hidden-size", "8",
        "--model.num-layers", "1", "--train.epochs", "1", "--train.batch-size", "4",
        "--train.eval-batch-size", "2"])
    assert json.loads((copy / "vocab.json").read_text())["unk"] is None
    command = ["generate", str(copy), "--prompt", "the cat", "--strategy", "greedy",
               "--max-tokens", "3"]
    out = mneme(command, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("the cat")
    assert set(out.stdout.split()) <= set(CORPUS.split())
    same_without_vocab_json(copy, moved, command, out.stdout, monkeypatch, capsys)


PAIRS = "".join(f"I am number {i}.\tJe suis le numéro {i}.\n" for i in range(40))


def test_a_copied_translation_run_translates_without_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "eng-fra").mkdir(parents=True)
    (data / "eng-fra" / "fra.txt").write_text(PAIRS, encoding="utf-8")
    copy, moved = moved_run(tmp_path, data, [
        "--task", "translation", "--model", "seq2seq", "--model.hidden-size", "8",
        "--model.embedding-dim", "4", "--train.epochs", "1", "--train.batch-size", "8"])
    stored = json.loads((copy / "vocab.json").read_text())
    assert "numéro" in stored["source"] and "number" in stored["target"]
    command = ["translate", str(copy), "je suis le numéro 3 ."]
    out = mneme(command, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    same_without_vocab_json(copy, moved, command, out.stdout, monkeypatch, capsys)
