"""Language-model stream tasks: PTB and characters (readers, batchify layout, loss, metrics).

The real-data tests read ``$MNEME_DATA`` (skipped without it); the rest use small files in
``tmp_path``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks.base import Batch, ModelOutput, reduce_metrics
from mneme.tasks.text import (
    EOS,
    UNK,
    CharsConfig,
    CharsTask,
    PTBConfig,
    PTBTask,
    TextVocabulary,
    batchify,
    read_ptb,
)

# ---------------------------------------------------------------- helpers


def write_ptb(root: Path, train: str, valid: str = "a b\n", test: str = "b a\n") -> Path:
    folder = root / "ptb"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"ptb.{name}.txt").write_text(text)
    return root


def small_ptb(tmp_path: Path, seq_len: int = 3) -> PTBTask:
    lines = " a b c <unk> \n b c d \n a a \n" * 7
    return PTBTask(PTBConfig(str(write_ptb(tmp_path, lines, " a b <unk>\n d c\n",
                                           " c c\n a\n")), seq_len=seq_len))


# ---------------------------------------------------------------- real data


def test_ptb_real_counts(data_root: str) -> None:
    task = PTBTask(PTBConfig(data_root))
    assert len(task.vocab) == 10_000
    assert EOS in task.vocab and UNK in task.vocab and "N" in task.vocab
    # Mikolov's split with one <eos> per sentence: the usual 929k / 73k / 82k
    assert task.num_tokens("train") == 929_589
    assert task.num_tokens("valid") == 73_760
    assert task.num_tokens("test") == 82_430
    assert task.spec.vocab_size == 10_000 and task.vocab.decode([task.spec.boundary_id]) == [EOS]
    assert task.num_train_batches(20) == 2323  # Zaremba et al.'s small-model epoch size
    first = (Path(data_root) / "ptb" / "ptb.train.txt").read_text().split("\n", 1)[0].split()
    batch = task.train_batch_at(0, 1)
    assert task.vocab.decode(batch.inputs[0, : len(first)]) == first[:20]


def test_chars_real_split(data_root: str) -> None:
    task = CharsTask(CharsConfig(data_root))
    text = (Path(data_root) / "tinyshakespeare" / "input.txt").read_text()
    assert len(task.vocab) == 65 == len(set(text))
    sizes = [task.num_tokens(s) for s in ("train", "valid", "test")]
    assert sum(sizes) == len(text) == 1_115_394
    assert sizes[1] == sizes[2] == round(0.05 * len(text))
    tail = "".join(task.vocab.decode(task._streams["test"][-20:]))
    assert tail == text[-20:]
    assert task.vocab.decode([task.spec.boundary_id]) == ["\n"] and task.spec.level == "char"


# ---------------------------------------------------------------- readers and errors


def test_read_ptb_appends_eos_per_line(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text(" a b \n\n c\n")
    assert read_ptb(path) == [["a", "b", EOS], [EOS], ["c", EOS]]
    path.write_text(" a b")  # no final newline: the last line still ends a sentence
    assert read_ptb(path) == [["a", "b", EOS]]


def test_vocabulary_by_frequency_and_codec() -> None:
    vocab = TextVocabulary.by_frequency(["b", "a", "c", "a", "b", "a"], unk=None)
    assert vocab.to_list() == ["a", "b", "c"]
    assert vocab.encode(["c", "a"]) == [2, 0] and vocab.decode(torch.tensor([1, 2])) == ["b", "c"]
    with pytest.raises(KeyError):
        vocab.id("zzz")
    with_unk = TextVocabulary(["x", UNK], unk=UNK)
    assert with_unk.encode(["x", "never"]) == [0, 1]
    with pytest.raises(UserError):
        TextVocabulary(["x", "x"])
    with pytest.raises(UserError):
        TextVocabulary(["x"], unk=UNK)


def test_unknown_word_in_valid_names_file_and_line(tmp_path: Path) -> None:
    root = write_ptb(tmp_path, " a b\n b a\n", valid=" a b\n a zebra b\n")
    with pytest.raises(DataFormatError) as info:
        PTBTask(PTBConfig(str(root)))
    assert info.value.line == 2 and info.value.path.name == "ptb.valid.txt"
    assert "zebra" in str(info.value) and "ptb.valid.txt:2" in str(info.value)


def test_empty_file_and_missing_data(tmp_path: Path) -> None:
    root = write_ptb(tmp_path, " a b\n", test="\n  \n")
    with pytest.raises(DataFormatError, match=r"ptb\.test\.txt: empty file"):
        PTBTask(PTBConfig(str(root)))
    with pytest.raises(MissingDataError, match="simple-examples"):
        PTBTask(PTBConfig(str(tmp_path / "nowhere")))
    with pytest.raises(MissingDataError, match="MNEME_DATA"):
        PTBTask(PTBConfig(None))
    (root / "ptb" / "ptb.test.txt").unlink()
    with pytest.raises(MissingDataError, match=r"ptb\.test\.txt"):
        PTBTask(PTBConfig(str(root)))
    with pytest.raises(MissingDataError, match="tinyshakespeare"):
        CharsTask(CharsConfig(str(tmp_path / "nowhere")))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:2: invalid UTF-8"):
        CharsTask(CharsConfig(file=str(bad)))


def test_config_validation() -> None:
    with pytest.raises(UserError, match=r"^PTBConfig\.seq_len must be >= 1 \(got 0\)$"):
        PTBConfig(seq_len=0).validate()
    with pytest.raises(UserError, match=r"^CharsConfig\.valid_fraction must be in \(0, 0\.5\) "
                                        r"\(got 0\.0\)$"):
        CharsConfig(valid_fraction=0.0).validate()
    with pytest.raises(UserError, match=r"^CharsConfig\.valid_fraction \+ test_fraction must be "
                                        r"< 0\.5 \(got 0\.3 \+ 0\.3\)$"):
        CharsConfig(valid_fraction=0.3, test_fraction=0.3).validate()


# ---------------------------------------------------------------- stream layout


def test_batchify_rows_are_contiguous_slices() -> None:
    rows = batchify(torch.arange(23), 4)
    assert rows.shape == (4, 5)
    assert torch.equal(rows[2], torch.arange(10, 15))  # row r = tokens r*5 .. r*5+4
    with pytest.raises(UserError, match="too short"):
        batchify(torch.arange(5), 4)


def test_train_chunks_walk_columns_and_targets_shift(tmp_path: Path) -> None:
    task = small_ptb(tmp_path, seq_len=3)
    stream = task._streams["train"]
    b = 4
    width = stream.numel() // b
    assert task.num_train_batches(b) == (width - 1) // 3
    for index in range(task.num_train_batches(b)):
        batch = task.train_batch_at(index, b, torch.Generator())
        assert batch.inputs.shape == batch.targets.shape == (b, 3) and batch.mask is None
        for r in range(b):
            start = r * width + index * 3
            assert torch.equal(batch.inputs[r], stream[start : start + 3])
            assert torch.equal(batch.targets[r], stream[start + 1 : start + 4])
    with pytest.raises(IndexError):
        task.train_batch_at(task.num_train_batches(b), b)


def test_eval_batches_predict_every_token_once_in_order(tmp_path: Path) -> None:
    task = small_ptb(tmp_path, seq_len=4)
    for b in (1, 3):
        rows = batchify(task._streams["train"], b)
        chunks = list(task.eval_batches("train", b))
        inputs = torch.cat([c.inputs for c in chunks], 1)
        targets = torch.cat([c.targets for c in chunks], 1)
        assert torch.equal(inputs, rows[:, :-1]) and torch.equal(targets, rows[:, 1:])
        assert all(c.inputs.shape[1] <= 4 for c in chunks)
    with pytest.raises(UserError, match="unknown split"):
        next(task.eval_batches("dev", 1))


def test_chars_task_on_any_file(tmp_path: Path) -> None:
    text = "hello world\n" * 50
    path = tmp_path / "t.txt"
    path.write_text(text)
    task = CharsTask(CharsConfig(file=str(path), seq_len=7, valid_fraction=0.1,
                                 test_fraction=0.1))
    assert task.vocab.to_list() == sorted(set(text))
    assert [task.num_tokens(s) for s in ("train", "valid", "test")] == [480, 60, 60]
    joined = torch.cat([task._streams[s] for s in ("train", "valid", "test")])
    assert "".join(task.vocab.decode(joined)) == text


# ---------------------------------------------------------------- loss and metrics


def test_loss_is_sum_over_time_mean_over_rows(tmp_path: Path) -> None:
    task = small_ptb(tmp_path)
    batch = task.train_batch_at(0, 2)
    logits = torch.randn(2, 3, len(task.vocab), generator=torch.Generator().manual_seed(0))
    loss = task.loss(ModelOutput(logits), batch)
    manual = sum(-torch.log_softmax(logits[r, t], -1)[batch.targets[r, t]]
                 for r in range(2) for t in range(3)) / 2
    assert torch.allclose(loss, manual)


def test_perplexity_is_exp_mean_nll_counting_eos(tmp_path: Path) -> None:
    task = small_ptb(tmp_path)
    v = len(task.vocab)
    totals: dict[str, float] = {}
    nlls = []
    gen = torch.Generator().manual_seed(1)
    for batch in task.eval_batches("valid", 2):
        logits = torch.randn(*batch.inputs.shape, v, generator=gen)
        nlls.append(F.cross_entropy(logits.reshape(-1, v), batch.targets.reshape(-1),
                                    reduction="none"))
        for key, value in task.metrics(ModelOutput(logits), batch).items():
            totals[key] = totals.get(key, 0.0) + value
    final = task.finalize_metrics(reduce_metrics(totals))
    every = torch.cat(nlls)
    # valid is " a b <unk>\n d c\n": 7 tokens with the two <eos>; batch 2 predicts 2 * (3 - 1)
    assert totals["count"] == every.numel() == 4
    assert math.isclose(final["perplexity"], math.exp(float(every.mean())), rel_tol=1e-6)
    # a uniform model has perplexity V
    batch = Batch(torch.zeros(1, 5, dtype=torch.long), torch.tensor([[task.spec.boundary_id] * 5]))
    uniform = task.metrics(ModelOutput(torch.zeros(1, 5, v)), batch)
    assert math.isclose(task.finalize_metrics(reduce_metrics(uniform))["perplexity"], v,
                        rel_tol=1e-6)


def test_chars_bits_per_character(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("abcd" * 40)
    task = CharsTask(CharsConfig(file=str(path), seq_len=5))
    batch = next(task.eval_batches("valid", 1))
    uniform = task.metrics(ModelOutput(torch.zeros(*batch.inputs.shape, 4)), batch)
    final = task.finalize_metrics(reduce_metrics(uniform))
    assert math.isclose(final["bpc"], 2.0, rel_tol=1e-6)  # log2(4) bits for 4 symbols


def test_task_protocol_dispatch(tmp_path: Path) -> None:
    task = small_ptb(tmp_path)
    # the trainer dispatches on these: a stream task must not look like a dataset/generated one
    assert task.info.kind == "stream" and task.selection_metric == "nll"
    for attr in ("num_train", "train_batch", "sample"):
        assert not hasattr(task, attr)
