"""The DNC suites: one protocol for DNC, NTM and LSTM; the bAbI cell; tiny runs of both kinds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mneme.bench import runner
from mneme.bench.dnc_cells import BABI_CPU_MODEL, DNC_CORES, dnc_babi_cells, dnc_cells
from mneme.bench.suites import SUITES, Suite
from mneme.models.recipes import DNC_BABI_SIZES, recipe, recipe_source

from ..babi_fake import write_fake_babi


def test_dnc_suite_is_one_protocol_for_every_core() -> None:
    cells = SUITES["dnc"].build(None)
    assert len(cells) == 4 * len(DNC_CORES)
    assert {c.task_name for c in cells} == {"copy", "repeat-copy", "associative-recall",
                                            "priority-sort"}
    for task in {c.task_name for c in cells}:
        trains = {c.train for c in cells if c.task_name == task}
        assert len(trains) == 1, task  # same optimiser, budget, stop for DNC, NTM and LSTM
    train = cells[0].train
    assert (train.optimizer, train.early_stop, train.repeats) == ("adam", 0.1, 3)
    copy = next(c for c in cells if c.key == "dnc--copy")
    assert copy.model.controller_size == 64 and copy.task.max_length == 10
    assert copy.task.test_lengths == (20, 40)


def test_dnc_recipes() -> None:
    _, train = recipe("copy", "dnc", None, SUITES["dnc"].build(None)[0].model)
    assert (train.optimizer, train.batch_size, train.clip_norm) == ("rmsprop", 16, 50.0)
    assert "DeepMind" in recipe_source("copy", "dnc")
    (cell,) = dnc_babi_cells(None)
    assert cell.task.joint and cell.task.size == "1k" and cell.train.device == "cpu"
    assert {k: getattr(cell.model, k) for k in BABI_CPU_MODEL} == BABI_CPU_MODEL
    full, full_train = recipe("babi", "dnc", cell.task, dataclasses.replace(cell.model))
    assert {k: getattr(full, k) for k in DNC_BABI_SIZES} == DNC_BABI_SIZES
    assert full_train.epochs == 100 and full.embedding_dim == 50


def test_tiny_dnc_cells_run_and_report(tmp_path: Path) -> None:
    """A DNC matrix cell on copy and the DNC bAbI cell, a few steps each, through the runner."""
    data = write_fake_babi(tmp_path / "data", stories=40)
    fast = {"epochs": 1, "epoch_steps": 3, "eval_batch_size": 50, "tensorboard": False}
    copy = next(c for c in dnc_cells() if c.key == "dnc--copy")
    copy = dataclasses.replace(copy, train=dataclasses.replace(copy.train, repeats=1, **fast),
                               task=dataclasses.replace(copy.task, valid_size=20, test_size=20,
                                                        generalisation_size=4))
    (babi,) = dnc_babi_cells(str(data))
    babi = dataclasses.replace(
        babi, task=dataclasses.replace(babi.task, tasks=(1,)),  # the fake data has task 1
        train=dataclasses.replace(babi.train, epochs=1, tensorboard=False),
        model=dataclasses.replace(babi.model, memory_size=8, word_size=4, controller_size=8))
    suite = Suite("tiny-dnc", "tiny", lambda _: [copy, babi], report="matrix")
    assert runner.run_suite(suite, tmp_path / "out", data_dir=None, jobs=1) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["model"] for r in rows} == {"dnc"} and len(rows) == 2
    text = (tmp_path / "out" / "results.md").read_text()
    assert "| dnc |" in text
