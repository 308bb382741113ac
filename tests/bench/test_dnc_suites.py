"""The DNC suites: DNC, NTM and LSTM with their recipes at one budget; the bAbI cell; tiny runs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mneme.bench import runner
from mneme.bench.dnc_cells import BABI_CPU_MODEL, DNC_PLAN, dnc_babi_cells, dnc_cells
from mneme.bench.suites import SUITES, Suite
from mneme.models.recipes import DNC_BABI_SIZES, recipe, recipe_source, sort_training

from ..babi_fake import write_fake_babi


def test_dnc_suite_gives_dnc_ntm_and_lstm_their_recipes_at_one_budget() -> None:
    cells = SUITES["dnc"].build(None)
    assert len(cells) == len(DNC_PLAN)
    assert {c.task_name for c in cells} == {"copy", "repeat-copy", "associative-recall",
                                            "priority-sort"}
    by_key = {c.key: c for c in cells}
    dnc, ntm, lstm = by_key["dnc-copy"], by_key["ntm-lstm-copy"], by_key["lstm-copy"]
    assert dnc.model_name == "dnc" and ntm.model_name == "ntm" and lstm.model_name == "lstm"
    for cell in (dnc, ntm, lstm):  # the same budget in sequences, the same stop, batch 16
        assert (cell.train.epochs, cell.train.epoch_steps, cell.train.batch_size) == (60, 100, 16)
        assert cell.train.early_stop == 0.01 and cell.train.optimizer == "rmsprop"
    assert dnc.train.repeats == ntm.train.repeats == 3
    budgets = {by_key[f"{g}-priority-sort"].train.epochs for g in ("dnc", "lstm")}
    assert budgets == {40}  # one budget a task, but for the NTM's recipe on priority sort
    sort = by_key["ntm-lstm-priority-sort"]
    assert sort.train == dataclasses.replace(sort_training(), repeats=3, progress=False)
    assert sort.train.epochs * sort.train.epoch_steps * sort.train.batch_size == 640_000
    assert sort.model.memory_init == "learned"
    repeat = {g: by_key[f"{g}-repeat-copy"].train for g in ("dnc", "ntm-lstm", "lstm")}
    assert {repeat[g].epochs * repeat[g].epoch_steps * 16 for g in ("dnc", "lstm")} == {64_000}
    assert (repeat["ntm-lstm"].batch_size, repeat["ntm-lstm"].repeats) == (1, 3)  # the paper's
    assert repeat["ntm-lstm"].epochs * repeat["ntm-lstm"].epoch_steps == 100_000
    recall = [by_key[f"{g}-associative-recall"].train for g in ("dnc", "lstm")]
    assert {t.epochs * t.epoch_steps * t.batch_size for t in recall} == {400_000}
    assert by_key["dnc-associative-recall"].train.epochs == 250
    recall_ff = by_key["ntm-ff-associative-recall"]
    assert recall_ff.train.repeats == 3
    # both NTMs train as the paper (batch 1, Graves's RMSProp): 100k updates, 4x the others' 25k
    for ntm_recall in (recall_ff.train, by_key["ntm-lstm-associative-recall"].train):
        assert (ntm_recall.batch_size, ntm_recall.optimizer) == (1, "rmsprop-graves")
        assert ntm_recall.epochs * ntm_recall.epoch_steps == 100_000
    assert recall[0].epochs * recall[0].epoch_steps == 25_000
    assert recall_ff.model.clip_weighting_grad == 10.0  # its recipe's, the LSTM NTM's is None
    assert by_key["ntm-lstm-associative-recall"].model.clip_weighting_grad is None
    assert dnc.task.max_length == 20  # the NTM paper's copy: lengths 1-20
    assert (dnc.train.clip_norm, ntm.train.clip_value) == (50.0, 10.0)  # each its recipe


def test_same_length_repeat_copy_cells_beside_the_mixed_ones() -> None:
    from mneme.bench.algorithmic_cells import algorithmic_cells
    from mneme.bench.report_family_entries import column_name, task_info
    from mneme.errors import UserError

    cells = {c.key: c for c in SUITES["dnc"].build(None)}
    assert "ntm-lstm-repeat-copy-same-length" not in cells  # at batch 1 the two are one
    for group in ("lstm", "dnc"):
        same, mixed = cells[f"{group}-repeat-copy-same-length"], cells[f"{group}-repeat-copy"]
        assert same.task.same_length_batches and not mixed.task.same_length_batches
        assert same.task_name == mixed.task_name == "repeat-copy"
        assert (same.model, same.train) == (mixed.model, mixed.train)  # only the batches differ
        siblings = [same, mixed]
        names = {column_name(c, task_info(c), siblings) for c in siblings}
        assert names == {"repeat-copy same_length_batches=True",
                         "repeat-copy same_length_batches=False"}
    # one setting, one row: the NTM's only repeat-copy cell is named as the others' mixed ones
    ntm = cells["ntm-lstm-repeat-copy"]
    assert column_name(ntm, task_info(ntm), list(cells.values())) == (
        "repeat-copy same_length_batches=False")
    assert column_name(ntm, task_info(ntm), [ntm]) == "repeat-copy"
    with pytest.raises(UserError, match="no variant 'same-length'"):
        algorithmic_cells([("priority-sort/same-length", "lstm", 1, 1)])
    with pytest.raises(UserError, match="no variant 'sorted'"):
        algorithmic_cells([("copy/sorted", "lstm", 1, 1)])


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
    copy = next(c for c in dnc_cells() if c.key == "dnc-copy")
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
    assert "| DNC |" in text
