"""The command line: end to end on a small synthetic bAbI task, and every user mistake."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mneme.cli import main

from .babi_fake import write_fake_babi

FAST = ["--train.epochs", "3", "--train.no-progress", "--train.no-tensorboard"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_fake_babi(tmp_path / "data")


@pytest.fixture
def run(tmp_path: Path, data: Path) -> Path:
    out = tmp_path / "run"
    code = main(
        ["train", "--task", "babi", "--task.task-id", "1", "--model", "memn2n",
         "--data-dir", str(data), "--out", str(out), *FAST]
    )
    assert code == 0
    return out


def error_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_train_writes_a_run_directory(run: Path) -> None:
    config = json.loads((run / "config.json").read_text())
    assert config["task"]["name"] == "babi" and config["model"]["name"] == "memn2n"
    assert config["train"]["loss_reduction"] == "sum"  # the paper recipe is the default
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["test"]["error"] <= 1.0


def test_eval_json(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((run / "summary.json").read_text())
    assert result["test_error"] == pytest.approx(summary["test"]["error"])


def test_resume_of_a_finished_run_changes_nothing(run: Path) -> None:
    before = (run / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(run)]) == 0
    assert (run / "metrics.jsonl").read_text() == before


def test_ask_prints_answer_and_attention(run: Path, monkeypatch, capsys) -> None:
    story = "Mary moved to the bathroom.\nJohn went to the hallway.\nWhere is Mary?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(story))
    capsys.readouterr()
    assert main(["ask", str(run)]) == 0
    out = capsys.readouterr().out
    assert "A: " in out and "hop 3" in out and "John went to the hallway." in out


def test_ask_shows_attention_as_a_distribution_during_linear_start(run: Path, monkeypatch,
                                                                   capsys) -> None:
    # 3 epochs into a 20-epoch linear start: the model reads raw scores, a person sees weights.
    story = "Mary moved to the bathroom.\nJohn went to the hallway.\nWhere is Mary?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(story))
    capsys.readouterr()
    assert main(["ask", str(run)]) == 0
    out = capsys.readouterr().out
    assert "linear start" in out
    rows = [line.split()[:3] for line in out.splitlines()
            if line[:1].isdigit() and line.count(".") >= 3]
    weights = [[float(v) for v in row] for row in rows]
    assert len(weights) == 2  # two sentences (the null memory joins with the softmax)
    assert all(0.0 <= w <= 1.0 for row in weights for w in row)
    for hop in range(3):
        assert sum(row[hop] for row in weights) == pytest.approx(1.0, abs=2e-3)


def test_ask_unknown_word(run: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Zorg flew to the moon.\nWhere is Zorg?\n"))
    err = error_of(capsys, ["ask", str(run)])
    assert "zorg" in err.lower()


def test_plot_writes_pngs(run: Path, capsys) -> None:
    assert main(["plot", str(run), "--examples", "2"]) == 0
    assert (run / "plots" / "curves.png").stat().st_size > 0
    assert (run / "plots" / "attention-1.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--task", "nope", "--model", "memn2n"], "unknown task 'nope'"),
        (["train", "--task", "babi", "--model", "nope"], "unknown model 'nope'"),
        (["train", "--task", "babi", "--model", "memn2n", "--train.batch-size", "-1"],
         "TrainConfig.batch_size must be >= 1 (got -1)"),
        (["train", "--task", "babi", "--model", "memn2n", "--task.memory-size", "0"],
         "BabiConfig.memory_size must be >= 1 (got 0)"),
        (["train", "--task", "babi", "--model", "memn2n", "--model.hops", "0"],
         "MemN2NConfig.hops must be >= 1 (got 0)"),
        (["train", "--task", "babi"], "--model"),
        (["eval", "/no/such/run"], "no such run directory"),
        (["plot", "/no/such/run"], "no such run directory"),
        (["bench", "--suite", "nope"], "unknown suite 'nope'"),
        (["frobnicate"], "unknown command"),
    ],
)
def test_user_mistakes_exit_2(capsys, argv: list[str], needle: str) -> None:
    assert needle in error_of(capsys, argv)


def test_unknown_config_field_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--task", "babi", "--model", "memn2n", "--model.bogus-field", "3"])
    assert exc.value.code == 2
    assert "bogus-field" in capsys.readouterr().err


def test_missing_data_is_explained(tmp_path: Path, capsys) -> None:
    err = error_of(
        capsys,
        ["train", "--task", "babi", "--model", "memn2n", "--data-dir", str(tmp_path), *FAST],
    )
    assert str(tmp_path) in err and "tasks_1-20_v1-2.tar.gz" in err


def test_existing_run_is_not_overwritten(run: Path, data: Path, capsys) -> None:
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    err = error_of(
        capsys,
        ["train", "--task", "babi", "--model", "memn2n", "--data-dir", str(data),
         "--out", str(run), *FAST],
    )
    assert "already holds a run" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_corrupt_checkpoint(run: Path, capsys) -> None:
    (run / "checkpoints" / "best.pt").write_bytes(b"\x00garbage")
    assert "best.pt" in error_of(capsys, ["eval", str(run)])


def test_corrupt_config(run: Path, capsys) -> None:
    (run / "config.json").write_text("{not json")
    assert "config.json" in error_of(capsys, ["eval", str(run)])


def test_data_babi_installs_an_official_style_archive(data_root: str, tmp_path: Path) -> None:
    import tarfile

    source = Path(data_root) / "babi" / "en"
    archive = tmp_path / "tasks_1-20_v1-2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            name = f"qa1_single-supporting-fact_{split}.txt"
            tar.add(source / name, arcname=f"tasks_1-20_v1-2/en/{name}")
    target = tmp_path / "mydata"
    assert main(["data", "babi", "--from", str(archive), "--data-dir", str(target)]) == 0
    installed = target / "babi" / "en" / "qa1_single-supporting-fact_train.txt"
    assert installed.read_bytes() == (source / installed.name).read_bytes()


def test_data_babi_rejects_a_non_archive(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    err = error_of(capsys, ["data", "babi", "--from", str(bogus), "--data-dir", str(tmp_path)])
    assert "notes.txt" in err
    assert not (tmp_path / "babi").exists()
