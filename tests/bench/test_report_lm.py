"""The language-model report and suites: perplexity / bpc beside the papers, tokens per second,
curves; a tiny suite of LM cells run end to end through the bench runner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mneme.bench.report_lm import lm_rows, lm_section
from mneme.bench.runner import run_suite
from mneme.bench.suites import Cell, Suite, get_suite, recipe_cell
from mneme.config import TrainConfig
from mneme.models.lm import LMConfig, NGramConfig
from mneme.tasks.text import CharsConfig, PTBConfig


def _finished(out: Path, key: str, group: str, task_name: str, task: object, model: object,
              valid: dict[str, float], test: dict[str, float], curve: list[float],
              metric: str) -> tuple[Cell, dict]:
    d = out / "cells" / key
    d.mkdir(parents=True)
    lines = [json.dumps({"epoch": e + 1, "step": 10 * (e + 1), f"valid_{metric}": v})
             for e, v in enumerate(curve)]
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    train = TrainConfig(epochs=len(curve), batch_size=20)
    cell = Cell(key, group, task_name, task, "lstm", model, train)
    summary = {"selected": ".", "valid": valid, "test": test, "best_epoch": len(curve),
               "seconds": 40.0, "repeats": [{"dir": ".", "seed": 0, "steps": 100,
                                             "seconds": 40.0}]}
    return cell, summary


def test_table_units_anchors_speed_and_plot(tmp_path: Path) -> None:
    finished = [
        _finished(tmp_path, "ptb-lstm-small", "lstm-small", "ptb", PTBConfig(seq_len=20),
                  LMConfig(), {"perplexity": 125.04, "nll": 4.8}, {"perplexity": 119.96},
                  [300.0, 160.0, 125.04], "perplexity"),
        _finished(tmp_path, "chars-lstm", "chars-lstm", "chars", CharsConfig(seq_len=100),
                  NGramConfig(), {"bpc": 1.61234}, {"bpc": 1.65}, [2.5, 1.61234], "bpc"),
    ]
    rows = lm_rows(finished, tmp_path)
    # 100 steps x batch 20 x T in 40 s
    assert rows[0]["tokens_per_second"] == 100 * 20 * 20 / 40
    assert rows[1]["tokens_per_second"] == 100 * 20 * 100 / 40
    assert rows[0]["curve"] == [(1, 300.0), (2, 160.0), (3, 125.04)]
    text, table = lm_section(finished, tmp_path)
    small = next(line for line in table.splitlines() if "Zaremba small" in line)
    assert "**125.0**" in small and "**120.0**" in small and "120.7" in small
    assert "114.5" in small and "3/3" in small and "1000" in small
    chars = next(line for line in table.splitlines() if "char LSTM" in line)
    assert "**1.612**" in chars and "bpc" in chars
    assert "Zaremba, Sutskever & Vinyals 2014" in text and "141.2" in text  # KN5 context
    assert (tmp_path / "plots" / "lm-curves.png").stat().st_size > 10_000


def test_lm_suites_cells() -> None:
    ptb = get_suite("ptb").build("/data")
    assert [c.key for c in ptb] == ["ptb-lstm-small", "ptb-ngram", "chars-lstm"]
    small = ptb[0]
    assert (small.train.epochs, small.train.lr, small.train.lr_decay_start) == (13, 1.0, 4)
    assert small.task.data_dir == "/data" and not small.train.progress
    (medium,) = get_suite("ptb-medium").build(None)
    assert medium.task.seq_len == 35 and medium.model.hidden_size == 650
    assert medium.train.epochs == 39 and medium.model.dropout == 0.5


def test_tiny_lm_suite_runs_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "ptb"
    folder.mkdir(parents=True)
    for split, repeats in (("train", 40), ("valid", 4), ("test", 4)):
        (folder / f"ptb.{split}.txt").write_text(" a b c <unk>\n d e\n" * repeats)
    (tmp_path / "data" / "tinyshakespeare").mkdir()
    (tmp_path / "data" / "tinyshakespeare" / "input.txt").write_text("To be, or not.\n" * 60)
    tiny = {"epochs": 2, "batch_size": 4, "eval_batch_size": 2, "tensorboard": False}

    def shrink(cell: Cell, **model: object) -> Cell:
        # the recipes size the models; the test shrinks them afterwards
        return dataclasses.replace(cell, model=dataclasses.replace(cell.model, **model))

    def build(data_dir: str | None) -> list[Cell]:
        ptb = PTBConfig(data_dir=data_dir, seq_len=5)
        chars = CharsConfig(data_dir=data_dir, seq_len=8)
        return [
            shrink(recipe_cell("ptb-lstm-small", "lstm-small", "ptb", ptb, "lstm",
                               train_overrides=tiny), hidden_size=8, num_layers=1),
            shrink(recipe_cell("ptb-ngram", "ngram", "ptb", ptb, "ngram", train_overrides=tiny),
                   hidden_size=8, embedding_dim=4),
            shrink(recipe_cell("chars-lstm", "chars-lstm", "chars", chars, "lstm",
                               train_overrides=tiny), hidden_size=8, num_layers=1,
                   embedding_dim=4),
        ]

    suite = Suite("tiny-lm", "tiny LM suite", build, report="lm")
    assert run_suite(suite, tmp_path / "out", data_dir=str(tmp_path / "data"), jobs=1) == 0
    report = (tmp_path / "out" / "results.md").read_text()
    assert "## Language models" in report and report.count("| ptb |") == 2
    assert "| chars | bpc |" in report
    assert (tmp_path / "out" / "plots" / "lm-curves.png").is_file()
