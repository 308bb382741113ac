"""``mneme hopfield capacity|recall``: outputs written, and every user mistake a one-line error."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from mneme.cli import main


def error_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("mneme: error: ")
    return err


def test_capacity_tiny_sweep_writes_png_csv_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cap"
    argv = ["hopfield", "capacity", "--n", "40", "60", "--rule", "hebb", "pinv", "modern",
            "--trials", "3", "--loads", "0.05", "0.3", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "breakdown" in printed and "torch thread" in printed
    assert (out / "capacity.png").stat().st_size > 10_000
    result = json.loads((out / "capacity.json").read_text())
    rows = result["rows"]
    assert len(rows) == 3 * 2 * 2
    with open(out / "capacity.csv") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    by_key = {(r["rule"], r["n"], r["load"]): r for r in rows}
    assert by_key[("hebb", 60, 0.05)]["recall"] == 1.0  # 3 patterns in 60 units
    assert by_key[("hebb", 60, 0.3)]["recall"] < 0.5  # far above 0.138
    assert by_key[("pinv", 60, 0.3)]["fixed"] == 1.0
    assert by_key[("modern", 60, 0.3)]["recall"] == 1.0
    assert {s["rule"] for s in result["summary"]} == {"hebb", "pinv", "modern"}
    assert result["theory"]["hebb"]["60"][0][0] == 0.138


def test_capacity_sync_updates(tmp_path: Path) -> None:
    argv = ["hopfield", "capacity", "--n", "30", "--rule", "storkey", "--trials", "2", "--loads",
            "0.1", "--update", "sync", "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((tmp_path / "capacity.json").read_text())["rows"][0]["recall"] == 1.0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rule", "hebb", "oja"], "--rule"),
        (["--n", "0"], "--n"),
        (["--loads", "0.1", "-1"], "--loads"),
        (["--noise", "0.9"], "--noise"),
        (["--update", "parallel"], "--update"),
        (["--trials", "0"], "--trials"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_capacity_user_mistakes(tmp_path: Path, capsys, args: list[str], named: str) -> None:
    out = tmp_path / "never"
    err = error_of(capsys, ["hopfield", "capacity", *args, "--out", str(out), "--no-progress"])
    assert named in err
    assert not out.exists()


def test_hopfield_needs_a_subcommand(capsys) -> None:
    assert "capacity or recall" in error_of(capsys, ["hopfield"])
    assert "capacity or recall" in error_of(capsys, ["hopfield", "sweep"])


def test_recall_random_patterns_writes_png(tmp_path: Path, capsys) -> None:
    png = tmp_path / "random.png"
    argv = ["hopfield", "recall", "--patterns", "random", "--rule", "hebb", "--count", "2",
            "--n", "64", "--noise", "0.15", "--columns", "2", "--out", str(png)]  # fmt: skip
    assert main(argv) == 0
    assert "2/2 recalled exactly" in capsys.readouterr().out
    assert png.stat().st_size > 10_000
    png2 = tmp_path / "modern.png"
    argv = ["hopfield", "recall", "--patterns", "random", "--rule", "modern", "--count", "2",
            "--n", "36", "--columns", "1", "--out", str(png2)]  # fmt: skip
    assert main(argv) == 0 and png2.exists()
    png3 = tmp_path / "sync.png"
    argv = ["hopfield", "recall", "--patterns", "random", "--rule", "storkey", "--count", "2",
            "--update", "sync", "--columns", "1", "--out", str(png3)]  # fmt: skip
    assert main(argv) == 0 and png3.exists()


def test_recall_digits_writes_png(tmp_path: Path, capsys) -> None:
    pytest.importorskip("sklearn")
    png = tmp_path / "digits.png"
    argv = ["hopfield", "recall", "--patterns", "digits", "--count", "3", "--columns", "2",
            "--out", str(png)]  # fmt: skip
    assert main(argv) == 0
    assert "3/3 recalled exactly" in capsys.readouterr().out
    assert png.stat().st_size > 10_000
    assert "--count" in error_of(capsys, ["hopfield", "recall", "--count", "11"])


def test_recall_digits_without_sklearn_says_how_to_install(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    err = error_of(capsys, ["hopfield", "recall", "--patterns", "digits"])
    assert "pip install" in err and "scikit-learn" in err


def test_recall_user_mistakes(capsys) -> None:
    assert "--patterns" in error_of(capsys, ["hopfield", "recall", "--patterns", "faces"])
    assert "--rule" in error_of(capsys, ["hopfield", "recall", "--rule", "oja"])


@pytest.mark.parametrize("values", [["100", "x"], ["100,200"]])
def test_capacity_lists_are_space_separated(tmp_path: Path, capsys, values: list[str]) -> None:
    # One list syntax for every command (tyro's): --n 100 200, not --n 100,200.
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exited:  # tyro's parse error
        main(["hopfield", "capacity", "--n", *values, "--out", str(out)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--n" in err and "Traceback" not in err
    assert not out.exists()
