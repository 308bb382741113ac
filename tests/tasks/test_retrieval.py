"""The associative retrieval task (Ba et al. 2016, section 4.1)."""

from __future__ import annotations

import re

import pytest
import torch

from mneme.errors import UserError
from mneme.tasks.base import DatasetTask, GeneratedTask
from mneme.tasks.retrieval import (
    VOCAB,
    RetrievalConfig,
    RetrievalStreamTask,
    RetrievalTask,
    build_retrieval_task,
    decode,
    encode,
    generate,
)


def test_vocabulary_has_37_symbols():
    assert len(VOCAB) == 37 and len(set(VOCAB)) == 37
    assert decode(encode("c9k8j3f1??c")) == "c9k8j3f1??c"


@pytest.mark.parametrize("k", [1, 2, 4, 8, 26])
def test_format_keys_values_query(k):
    batch = generate(500, k, torch.Generator().manual_seed(k))
    seq = batch.inputs
    assert seq.shape == (500, 2 * k + 3)
    for row, target, which in zip(seq.tolist(), batch.targets.tolist(),
                                  batch.meta["query_pair"].tolist()):
        text = decode(torch.tensor(row))
        keys, values = text[0 : 2 * k : 2], text[1 : 2 * k : 2]
        assert all(c.isalpha() for c in keys) and all(c.isdigit() for c in values)
        assert len(set(keys)) == k  # keys drawn without replacement
        assert text[2 * k : 2 * k + 2] == "??"
        query = text[-1]
        assert query == keys[which]
        assert VOCAB[target] == values[keys.index(query)]


def test_every_pair_gets_queried_and_values_cover_digits():
    batch = generate(4000, 4, torch.Generator().manual_seed(0))
    assert set(batch.meta["query_pair"].tolist()) == {0, 1, 2, 3}
    assert {VOCAB[t] for t in batch.targets.tolist()} == set("0123456789")


def test_generation_is_deterministic_given_the_generator():
    a = generate(64, 4, torch.Generator().manual_seed(7))
    b = generate(64, 4, torch.Generator().manual_seed(7))
    c = generate(64, 4, torch.Generator().manual_seed(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)


def test_fixed_splits_sizes_determinism_and_independence():
    cfg = RetrievalConfig(train_size=300, valid_size=200, test_size=100)
    task, again = RetrievalTask(cfg), RetrievalTask(cfg)
    assert task.num_train == 300
    valid = list(task.eval_batches("valid", 64))
    assert [b.size for b in valid] == [64, 64, 64, 8]
    test = torch.cat([b.inputs for b in task.eval_batches("test", 1000)])
    assert torch.equal(test, torch.cat([b.inputs for b in again.eval_batches("test", 1000)]))
    # a split's content does not depend on the size of another split
    bigger = RetrievalTask(RetrievalConfig(train_size=900, valid_size=200, test_size=100))
    assert torch.equal(test, next(bigger.eval_batches("test", 1000)).inputs)
    train = next(task.eval_batches("train", 1000)).inputs
    # no test sequence among the training ones
    assert not (test[:, None, :] == train[None, :, :]).all(-1).any()
    picked = task.train_batch(torch.tensor([5, 0]), torch.Generator())
    assert torch.equal(picked.inputs, train[[5, 0]])
    seeded = RetrievalTask(RetrievalConfig(train_size=300, valid_size=200, test_size=100,
                                           split_seed=2))
    assert not torch.equal(test, next(seeded.eval_batches("test", 1000)).inputs)


def test_stream_task_is_generated_not_dataset():
    cfg = RetrievalConfig(valid_size=10, test_size=10, stream=True)
    task = build_retrieval_task(cfg)
    assert isinstance(task, RetrievalStreamTask)
    assert isinstance(task, GeneratedTask) and not isinstance(task, DatasetTask)
    fixed = build_retrieval_task(RetrievalConfig(train_size=10, valid_size=10, test_size=10))
    assert isinstance(fixed, DatasetTask)
    assert task.sample(5, torch.Generator().manual_seed(0)).inputs.shape == (5, 11)
    with pytest.raises(UserError, match="unknown split 'train'"):
        next(task.eval_batches("train", 4))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("num_pairs", 0, "num_pairs must be in [1, 26] (got 0)"),
    ("num_pairs", 27, "num_pairs must be in [1, 26] (got 27)"),
    ("valid_size", 0, "valid_size must be >= 1 (got 0)"),
])
def test_bad_config_names_the_field(field, value, message):
    with pytest.raises(UserError, match="^" + re.escape(f"RetrievalConfig.{message}") + "$"):
        RetrievalTask(RetrievalConfig(**{field: value}))


def test_encode_rejects_unknown_symbol():
    with pytest.raises(UserError, match="'A'"):
        encode("A1??A")
