"""The sequence reversal task: batch layout, fixed evaluation sets, metrics by length."""

from __future__ import annotations

import re

import pytest
import torch

from mneme import registry
from mneme.errors import UserError
from mneme.tasks.base import GeneratedTask, ModelOutput, reduce_metrics
from mneme.tasks.reversal import ReversalConfig, ReversalTask, symbol_names


def _task(**kw) -> ReversalTask:
    defaults = {"symbols": 5, "min_length": 2, "max_length": 6, "test_lengths": (3, 8),
                "valid_size": 20, "test_size": 4}
    return ReversalTask(ReversalConfig(**{**defaults, **kw}))


def test_batch_layout_is_the_translation_layout_with_the_reversed_source():
    task = _task()
    batch = task.batch([[4, 5, 6], [8]])
    source, lengths = batch.inputs["source"], batch.inputs["source_length"]
    assert source.tolist() == [[4, 5, 6, 3], [8, 3, 0, 0]]  # </s> last, padding 0
    assert lengths.tolist() == [4, 2]
    assert batch.inputs["target_in"].tolist() == [[2, 6, 5, 4], [2, 8, 0, 0]]  # <s> first
    assert batch.targets.tolist() == [[6, 5, 4, 3], [8, 3, 0, 0]]  # </s> last
    assert batch.mask.tolist() == [[True] * 4, [True, True, False, False]]
    spec = task.spec
    assert (spec.pad_id, spec.bos_id, spec.eos_id) == (0, 2, 3)
    assert spec.source_size == spec.target_size == 4 + 5
    assert spec.source_vocab.decode([4, 5, 8, 3, 7]) == ["a", "b", "e"]
    assert symbol_names(28)[-3:] == ["z", "s26", "s27"]


def test_samples_are_reversals_in_the_length_range_and_reproducible():
    task = _task()
    assert isinstance(task, GeneratedTask)
    batch = task.sample(64, torch.Generator().manual_seed(3))
    again = task.sample(64, torch.Generator().manual_seed(3))
    assert torch.equal(batch.inputs["source"], again.inputs["source"])
    lengths = batch.inputs["source_length"] - 1
    assert int(lengths.min()) >= 2 and int(lengths.max()) <= 6
    assert set(lengths.tolist()) == set(range(2, 7))  # every length drawn in 64 samples
    for row, n in enumerate(lengths.tolist()):
        symbols = batch.inputs["source"][row, :n]
        assert int(symbols.min()) >= 4 and int(symbols.max()) < 9
        assert torch.equal(batch.targets[row, :n], symbols.flip(0))


def test_evaluation_sets_are_fixed_by_the_seed_and_test_sets_by_length():
    a, b, c = _task(), _task(), _task(seed=7)
    assert a.sources == b.sources and a.sources != c.sources
    assert len(a.sources["valid"]) == 20
    assert [len(s) for s in a.sources["test"]] == [3] * 4 + [8] * 4
    assert all(2 <= len(s) <= 6 for s in a.sources["valid"])
    for source, refs in zip(a.sources["test"], a.references["test"], strict=True):
        assert refs == [tuple(reversed(source))]
    batches = list(a.eval_batches("test", 5))
    assert [x.size for x in batches] == [5, 3]
    ids, lengths = a.encode_sources([("a", "c")])
    assert ids.tolist() == [[4, 6, 3]] and lengths.tolist() == [3]
    with pytest.raises(UserError, match="split"):
        next(a.eval_batches("train", 5))


def test_metrics_sum_per_token_and_group_test_lengths():
    task = _task()
    batch = next(task.eval_batches("test", 8))
    perfect = torch.nn.functional.one_hot(batch.targets, task.spec.target_size).float() * 50
    wrong = perfect.clone()
    wrong[0, 0] = 0.0  # the first length-3 sequence: one token wrong (a uniform row)
    totals = task.metrics(ModelOutput(wrong), batch)
    assert totals["count"] == 4 * 4 + 4 * 9
    assert totals["error"] == 1.0
    assert totals["n_len3"] == 16 and totals["n_len8"] == 36
    means = reduce_metrics(totals)
    assert means["error_len3"] == pytest.approx(1 / 16)
    assert means["error_len8"] == 0.0
    assert task.loss(ModelOutput(perfect), batch) < 1e-6
    valid = next(task.eval_batches("valid", 8))
    assert not any(k.startswith("error_len") for k in task.metrics(ModelOutput(
        torch.zeros(*valid.targets.shape, 9)), valid))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("symbols", 1, "symbols must be >= 2 (got 1)"),
    ("min_length", 0, "min_length must be >= 1 (got 0)"),
    ("max_length", 1, "max_length must be >= min_length = 2 (got 1)"),
    ("test_lengths", (), "test_lengths must not be empty (got ())"),
    ("test_lengths", (3, 0), "test_lengths must all be >= 1 (got 0)"),
    ("valid_size", 0, "valid_size must be >= 1 (got 0)"),
])
def test_config_validation_names_the_field(field, value, message):
    with pytest.raises(UserError, match="^" + re.escape(f"ReversalConfig.{message}") + "$"):
        _task(**{field: value})


def test_registered_and_built_from_the_registry():
    entry = registry.task_entry("reversal")
    task = entry.build(entry.config_class()(valid_size=3, test_size=2))
    assert task.name == "reversal" and task.spec.max_length == 41
    assert len(task.sources["test"]) == 2 * 7


def test_sequence_view_reads_the_source_then_one_output_slot_per_target_token():
    task = _task()
    assert task.info.composable and task.info.generalisation == ("len8",)
    batch = task.batch([[4, 5, 6], [8]])
    tokens, lengths = task.info.to_sequence(batch.inputs)
    assert tokens.tolist() == [[4, 5, 6, 3, 2, 2, 2, 2], [8, 3, 2, 2, 0, 0, 0, 0]]
    assert lengths.tolist() == [8, 4]
    # a composed model's logits (B, 2 T_s, V): the prediction of target j is read at step n + 1 + j
    logits = torch.zeros(2, 8, 9)
    logits[0, 4:8] = torch.nn.functional.one_hot(batch.targets[0], 9) * 50.0
    logits[1, 2:4] = torch.nn.functional.one_hot(batch.targets[1, :2], 9) * 50.0
    logits[1, 0:2] = torch.nn.functional.one_hot(torch.tensor([5, 5]), 9) * 50.0  # unread
    totals = task.metrics(ModelOutput(logits), batch)
    assert totals["error"] == 0.0 and totals["count"] == 6
    assert task.loss(ModelOutput(logits), batch) < 1e-6
    logits[0, 5] = 0.0  # the second output slot of the first row: a uniform row, wrong
    assert task.metrics(ModelOutput(logits), batch)["error"] == 1.0


def test_a_composed_encoder_learns_short_reversals():
    """The self-attention encoder (RoPE) on lengths 2-4 of 5 symbols, 250 Adam steps: token
    error under 3% (guessing: 80%)."""
    from mneme.models.build import build_model, model_entry

    torch.manual_seed(0)
    torch.set_num_threads(1)
    task = _task(max_length=4, test_lengths=(4,), valid_size=100)
    config = model_entry("self-attention", "reversal").config(
        hidden_size=32, num_layers=2, num_heads=4, position="rope", causal=False)
    model = build_model("self-attention", config, task)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        batch = task.sample(32, g)
        loss = task.loss(model(batch.inputs), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        batch = next(task.eval_batches("valid", 100))
        totals = task.metrics(model(batch.inputs), batch)
    assert totals["error"] / totals["count"] <= 0.03, totals
