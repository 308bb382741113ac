"""A bench's files under faults: corrupt cell files, a second bench on one --out, a locked cell.

``--report-only`` skips a cell whose files are unreadable, with one counted warning naming the
file, and reports the others; a training bench stops with one line and exit 2 on a cell it cannot
resume (corrupt ``config.json`` or ``final.json``), writing nothing, and rebuilds a corrupt
``summary.json`` from its repeats without training again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mneme.bench import runner, suites, workers
from mneme.cli import main
from mneme.errors import UserError

from .bench_driver import tiny_suite

KEYS = ("rnn-copy-0", "rnn-copy-1", "rnn-copy-2")


@pytest.fixture
def finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``OUT`` of the tiny suite (three cells, two epochs each), every cell finished."""
    monkeypatch.setitem(suites.SUITES, "faults", tiny_suite(2))
    out = tmp_path / "out"
    assert runner.run_suite(suites.SUITES["faults"], out, data_dir=None, jobs=1) == 0
    return out


def bench(out: Path, *extra: str) -> int:
    return main(["bench", "--suite", "faults", "--out", str(out), "--jobs", "1", *extra])


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def test_report_only_skips_unreadable_cells_with_a_counted_warning(finished: Path,
                                                                   capsys) -> None:
    summary = finished / "cells" / KEYS[0] / "summary.json"
    summary.write_bytes(summary.read_bytes()[:40])  # cut short
    metrics = finished / "cells" / KEYS[1] / "metrics.jsonl"
    good = metrics.read_bytes()  # two epochs: two lines
    metrics.write_bytes(good + b"\xff garbage\n")
    cells_before = {k: v for k, v in snapshot(finished).items() if k.startswith("cells")}
    capsys.readouterr()
    assert bench(finished, "--report-only") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"mneme: warning: skipped 1/2, unreadable: cell {KEYS[0]}: "
                             f"{summary}:3: corrupt JSON (Unterminated string")
    assert err[1] == (f"mneme: warning: skipped 2/2, unreadable: cell {KEYS[1]}: {metrics}:3: "
                      f"invalid UTF-8 at byte {len(good)} (delete the cell to train it again)")
    rows = json.loads((finished / "results.json").read_text())
    assert {r["cell"] for r in rows} == {KEYS[2]}
    assert {k: v for k, v in snapshot(finished).items() if k.startswith("cells")} == cells_before
    # Training: the summary is rebuilt (nothing to train), the other cell still skipped.
    assert bench(finished) == 0
    err = capsys.readouterr().err
    assert f"mneme: warning: {summary}:3: corrupt JSON (Unterminated string" in err
    assert f"mneme: warning: skipped 1/1, unreadable: cell {KEYS[1]}: {metrics}:3" in err
    assert len(json.loads((finished / "results.json").read_text())) == 2


def test_summary_that_is_not_a_summary(finished: Path, capsys) -> None:
    summary = finished / "cells" / KEYS[2] / "summary.json"
    summary.write_text('{"selected": "."}\n')  # valid JSON, not a summary
    capsys.readouterr()
    assert bench(finished, "--report-only") == 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"mneme: warning: skipped 1/1, unreadable: cell {KEYS[2]}: "
                           f"{summary}: not a cell summary (no 'test')")


def test_a_corrupt_summary_is_rebuilt_without_training(finished: Path, capsys) -> None:
    summary = finished / "cells" / KEYS[1] / "summary.json"
    original = json.loads(summary.read_text())
    summary.write_text("{")
    before = snapshot(finished / "cells" / KEYS[1])
    capsys.readouterr()
    assert bench(finished) == 0
    assert f"mneme: warning: {summary}:1: corrupt JSON" in capsys.readouterr().err
    assert json.loads(summary.read_text()) == original
    after = snapshot(finished / "cells" / KEYS[1])
    assert {k: v for k, v in after.items() if k != "summary.json"} == {
        k: v for k, v in before.items() if k != "summary.json"}  # nothing trained again


@pytest.mark.parametrize("name", ["config.json", "final.json"])
def test_training_stops_on_a_cell_it_cannot_resume(finished: Path, capsys, name: str) -> None:
    cell = finished / "cells" / KEYS[1]
    (cell / "summary.json").unlink()  # unfinished: the bench must read the cell back
    (cell / name).write_bytes(b"\x00\x00")
    before = snapshot(finished)
    capsys.readouterr()
    assert bench(finished) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"mneme: error: {cell / name}:1: corrupt JSON")
    assert line.endswith(f"delete {cell} to train the cell again")
    assert snapshot(finished) == before


def test_one_bench_per_out_directory(finished: Path, capsys) -> None:
    before = snapshot(finished)
    capsys.readouterr()
    with workers.bench_lock(finished):  # as if another bench were running in it
        assert bench(finished) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"mneme: error: {finished}: another mneme bench is running in this directory"]
        assert snapshot(finished) == before
        assert bench(finished, "--report-only") == 0  # reading is never locked out


def test_a_locked_cell_is_not_trained_twice(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "LOCK_WAIT_SECONDS", 0.3)
    cell = tiny_suite(2).build(None)[0]
    with (workers.cell_lock(tmp_path, cell.key),
          pytest.raises(UserError, match="being trained by another process")):
        workers.run_cell(cell, str(tmp_path))
    assert not (tmp_path / "cells" / cell.key).exists()
    _, summary, _ = workers.run_cell(cell, str(tmp_path))  # the lock is gone with its holder
    assert summary is not None and summary["steps"] == 20


def test_a_stopped_cell_resumes_to_the_end(tmp_path: Path) -> None:
    suite = tiny_suite(5)
    cell = suite.build(None)[0]
    steps = iter(range(1000))
    _, summary, _ = workers.run_cell(cell, str(tmp_path), lambda: next(steps) == 24)
    assert summary == {"interrupted": True, "run_dir": str(tmp_path / "cells" / cell.key)}
    stopped = (tmp_path / "cells" / cell.key / "metrics.jsonl").read_text().splitlines()
    assert len(stopped) == 2  # stopped at step 25, in epoch 3
    assert runner.run_suite(suite, tmp_path, data_dir=None, jobs=1) == 0
    lines = (tmp_path / "cells" / cell.key / "metrics.jsonl").read_text().splitlines()
    assert lines[:2] == stopped and [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4, 5]
    assert json.loads((tmp_path / "cells" / cell.key / "summary.json").read_text())["steps"] == 50
