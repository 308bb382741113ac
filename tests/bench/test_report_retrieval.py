"""The associative retrieval report: medians over every seed, the paper beside, curves."""

from __future__ import annotations

import json
from pathlib import Path

from mneme.bench.report_retrieval import retrieval_section
from mneme.bench.suites import Cell
from mneme.config import TrainConfig
from mneme.models.classifier import FastWeightsClassifierConfig, LSTMClassifierConfig
from mneme.tasks.retrieval import RetrievalConfig


def _cell(out: Path, key: str, group: str, model: object, tests: list[float],
          curves: list[list[float]]) -> tuple[Cell, dict]:
    repeats = []
    for i, (test, curve) in enumerate(zip(tests, curves)):
        d = out / "cells" / key / f"repeat-{i}"
        d.mkdir(parents=True)
        lines = [json.dumps({"epoch": e + 1, "step": 100 * (e + 1), "valid_error": v})
                 for e, v in enumerate(curve)]
        (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        repeats.append({"dir": f"repeat-{i}", "seed": i, "test": {"error": test},
                        "steps": 100 * len(curve)})
    cell = Cell(key, group, "retrieval", RetrievalConfig(), group, model, TrainConfig())
    return cell, {"repeats": repeats, "seconds": 1.0}


def test_table_medians_steps_and_plot(tmp_path: Path):
    finished = [
        _cell(tmp_path, "fast-weights-r20", "fast-weights", FastWeightsClassifierConfig(),
              [0.01, 0.03, 0.02], [[0.5, 0.04, 0.01], [0.5, 0.2, 0.03], [0.3, 0.05, 0.02]]),
        _cell(tmp_path, "lstm-r20", "lstm", LSTMClassifierConfig(), [0.6], [[0.7, 0.6, 0.6]]),
    ]
    text, table = retrieval_section(finished, tmp_path)
    fw = next(line for line in table.splitlines() if line.startswith("| Fast weights"))
    assert "**2.00** [1.00-3.00] (n=3)" in fw and "1.81" in fw  # median 2%, paper 1.81%
    lstm = next(line for line in table.splitlines() if line.startswith("| LSTM"))
    assert "**60.00** (n=1)" in lstm and "60.81" in lstm
    # steps to reach 5% validation error: 200, never (3% only at step 300 -> 300), 200
    steps = next(line for line in text.splitlines()
                 if line.startswith("| Fast weights") and "k" in line and "**" not in line)
    assert "0.2k/0.3k/0.2k" in steps
    assert "never (in 0k)" in text
    assert (tmp_path / "plots" / "retrieval-curves.png").stat().st_size > 10_000
