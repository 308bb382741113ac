"""The seq2seq suite and its report: cells, BLEU and exact-match tables, plots, the claims."""

from __future__ import annotations

import dataclasses
import itertools
import json

from mneme.bench.report_seq2seq import _length_buckets, seq2seq_section
from mneme.bench.runner import run_cell
from mneme.bench.suites import get_suite
from mneme.models.translate import ATTRIBUTION
from mneme.tasks.reversal import ReversalConfig
from mneme.tasks.translation import TranslationConfig

PAIRS = [(f"I am number {i}.", f"Je suis le numéro {i}.") for i in range(40)] + [
    ("He is tall.", "Il est grand."), ("She is here.", "Elle est ici."),
    ("We are ready to go home now.", "Nous sommes prêts à rentrer maintenant."),
]


def test_suite_pairs_attention_with_the_bottleneck_on_both_tasks():
    cells = get_suite("seq2seq").build("/data")
    assert sorted(c.key for c in cells) == [
        "seq2seq-additive-reversal", "seq2seq-additive-translation",
        "seq2seq-none-reversal", "seq2seq-none-translation"]
    for cell in cells:
        assert cell.model_name == "seq2seq" and cell.train.batch_size == 64
        assert cell.train.clip_norm == 5.0 and cell.train.optimizer == "adam"
        assert cell.model.attention == cell.group.removeprefix("seq2seq-")
        if cell.task_name == "translation":
            assert cell.task.data_dir == "/data" and cell.task.subset == "prefixes"
    sizes = {(c.task_name, c.model.hidden_size, c.model.embedding_dim) for c in cells}
    assert len(sizes) == 2  # the same sizes with and without attention, per task


def test_length_buckets_cover_every_length():
    buckets = _length_buckets([3, 4, 4, 5, 6, 6, 7, 9, 12])
    assert buckets[0][0] == 3 and buckets[-1][1] == 12
    assert all(hi >= lo for lo, hi in buckets)
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(buckets))
    assert _length_buckets([4, 4, 4]) == [(4, 4)]


def test_tiny_cells_are_reported(tmp_path):
    data = tmp_path / "data"
    (data / "eng-fra").mkdir(parents=True)
    (data / "eng-fra" / "fra.txt").write_text("".join(f"{e}\t{f}\n" for e, f in PAIRS),
                                              encoding="utf-8")
    out = tmp_path / "out"
    finished = []
    for cell in get_suite("seq2seq").build(str(data)):
        task = (TranslationConfig(data_dir=str(data), valid_fraction=0.1, test_fraction=0.2)
                if cell.task_name == "translation" else
                ReversalConfig(max_length=4, test_lengths=(2, 5), valid_size=10, test_size=3))
        cell = dataclasses.replace(
            cell, task=task,
            model=dataclasses.replace(cell.model, hidden_size=8, embedding_dim=4),
            train=dataclasses.replace(cell.train, epochs=1, epoch_steps=3, batch_size=8,
                                      tensorboard=False))
        _key, summary, problem = run_cell(cell, str(out))
        assert problem is None and summary is not None
        finished.append((cell, summary))
    text, table = seq2seq_section(finished, out)
    assert "| attention (additive) |" in table and "| no attention (fixed vector) |" in table
    assert "| 5 |" in table  # the reversal row of length 5
    assert "Bahdanau" in text and "figure 2" in text and ATTRIBUTION in text
    for name in ("seq2seq-bleu-by-length.png", "seq2seq-reversal.png"):
        assert (out / "plots" / name).stat().st_size > 0
    cached = json.loads((out / "cells" / "seq2seq-none-reversal" / "decoding.json").read_text())
    assert set(cached) == {"test-greedy", "test-beam5", "hyps-greedy", "hyps-beam5"}
    assert cached["test-greedy"]["n_len5"] == 3
    again, _ = seq2seq_section(finished, out)  # from the cache
    assert again == text
