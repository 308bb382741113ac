"""Multi-query associative recall (``mneme.tasks.mqar``): the layout of Zoology's generator,
the power-law query placement, masks, metrics, determinism, and a short learning test."""

from __future__ import annotations

import math

import pytest
import torch
from tests.learning import train_steps

from mneme.errors import ConfigError, UserError
from mneme.models.build import build_model, model_entry
from mneme.tasks.base import reduce_metrics
from mneme.tasks.mqar import (
    IGNORE,
    MQARConfig,
    MQARStreamTask,
    MQARTask,
    build_mqar_task,
    generate,
    power_law,
)
from mneme.types import Batch, ModelOutput


def _draw(n: int = 500, seed: int = 0, **fields) -> tuple[MQARConfig, Batch]:
    config = MQARConfig(**{"seq_len": 64, "num_pairs": 4, **fields})
    return config, generate(config, n, torch.Generator().manual_seed(seed))


def test_keys_and_values_are_disjoint_halves_of_the_vocabulary():
    config, batch = _draw(vocab_size=64, seq_len=32)
    d, half = config.num_pairs, config.vocab_size // 2
    keys, values = batch.inputs[:, 0 : 2 * d : 2], batch.inputs[:, 1 : 2 * d : 2]
    assert ((keys >= 1) & (keys < half)).all()
    assert ((values >= half) & (values < config.vocab_size)).all()
    for row_keys, row_values in zip(keys.tolist(), values.tolist()):
        assert len(set(row_keys)) == d and len(set(row_values)) == d  # distinct within a row


@pytest.mark.parametrize("noise", [False, True])
def test_every_key_is_queried_once_after_the_pairs_with_its_value_as_target(noise):
    config, batch = _draw(random_non_queries=noise, vocab_size=128)
    d = config.num_pairs
    for seq, target, mask in zip(batch.inputs.tolist(), batch.targets.tolist(),
                                 batch.mask.tolist()):
        pairs = dict(zip(seq[0 : 2 * d : 2], seq[1 : 2 * d : 2]))
        where = [t for t, y in enumerate(target) if y != IGNORE]
        assert [t for t, m in enumerate(mask) if m] == where  # the mask is the query positions
        assert len(where) == d and all(t >= 2 * d and t % 2 == 0 for t in where)
        assert sorted(seq[t] for t in where) == sorted(pairs)  # every key asked exactly once
        assert all(target[t] == pairs[seq[t]] for t in where)
        if not noise:  # the filler: everything else after the pairs is 0
            assert all(seq[t] == 0 for t in range(2 * d, len(seq)) if t not in where)


def test_noise_fills_the_non_query_positions_with_tokens_of_the_whole_vocabulary():
    config, batch = _draw(2000, random_non_queries=True, vocab_size=128)
    rest = batch.inputs[:, 2 * config.num_pairs :][~batch.mask[:, 2 * config.num_pairs :]]
    assert rest.min() >= 0 and rest.max() < 128
    assert (rest >= 64).float().mean() == pytest.approx(0.5, abs=0.02)  # values too, not only 0


def test_power_law_is_zoologys_normalised_gap_distribution():
    p = power_law(3, 0.5)
    raw = torch.tensor([1.0, 2 ** -0.5, 3 ** -0.5], dtype=torch.float64)
    torch.testing.assert_close(p, raw / raw.sum())
    torch.testing.assert_close(power_law(5, 1.0), torch.full((5,), 0.2, dtype=torch.float64))


def test_one_query_lands_on_each_gap_with_the_power_law_probability():
    """D = 1: the query's gap g has probability p(g) exactly (no draws without replacement)."""
    _, batch = _draw(20000, num_pairs=1, seq_len=16, power_a=0.3)
    gaps = (batch.mask.float().argmax(1) - 2) // 2
    counts = torch.bincount(gaps, minlength=7).double() / 20000
    torch.testing.assert_close(counts, power_law(7, 0.3), atol=0.012, rtol=0)


def test_queries_crowd_towards_the_pairs_and_spread_uniformly_when_a_is_one():
    config, biased = _draw(2000, power_a=0.01)
    _, flat = _draw(2000, power_a=1.0)
    uniform_mean = 2 * config.num_pairs + (config.seq_len - 2 * config.num_pairs - 2) / 2  # 35
    position = torch.arange(config.seq_len).expand_as(biased.mask)
    assert position[biased.mask].float().mean() < uniform_mean - 8
    assert position[flat.mask].float().mean() == pytest.approx(uniform_mean, abs=0.5)


def test_same_seed_same_sequences_and_fixed_sets_do_not_depend_on_the_training_size():
    _, a = _draw(seed=3, random_non_queries=True)
    _, b = _draw(seed=3, random_non_queries=True)
    _, c = _draw(seed=4, random_non_queries=True)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)
    small = MQARConfig(train_size=10, valid_size=30, test_size=40)
    big = MQARConfig(train_size=20, valid_size=30, test_size=40)
    for split in ("valid", "test"):
        first = next(MQARTask(small).eval_batches(split, 100))
        assert torch.equal(first.inputs, next(MQARTask(big).eval_batches(split, 100)).inputs)


def test_the_fixed_training_set_is_walked_by_index_and_stream_mode_samples():
    task = build_mqar_task(MQARConfig(train_size=50, valid_size=10, test_size=10))
    assert isinstance(task, MQARTask) and task.num_train == 50 and task.info.kind == "dataset"
    every = next(task.eval_batches("train", 50))
    picked = task.train_batch(torch.tensor([7, 3]), torch.Generator())
    assert torch.equal(picked.inputs, every.inputs[[7, 3]])
    assert picked.inputs.dtype == torch.long and picked.mask.sum() == 2 * 4
    stream = build_mqar_task(MQARConfig(stream=True, valid_size=10, test_size=10))
    assert isinstance(stream, MQARStreamTask) and stream.info.kind == "generated"
    assert stream.sample(3, torch.Generator().manual_seed(0)).inputs.shape == (3, 64)
    with pytest.raises(UserError, match="unknown split"):
        next(stream.eval_batches("train", 4))


@pytest.mark.parametrize("fields", [{"seq_len": 63}, {"num_pairs": 17}, {"vocab_size": 64},
                                    {"power_a": 0.0}])
def test_config_keeps_zoologys_assertions(fields):
    with pytest.raises(ConfigError):
        MQARConfig(**fields).validate()


def test_loss_and_metrics_count_the_query_positions_only():
    """Hand-worked: two queries, one answered right; the other positions' logits are ignored."""
    task = build_mqar_task(MQARConfig(seq_len=8, num_pairs=2, vocab_size=10, stream=True,
                                      valid_size=1, test_size=1))
    targets = torch.full((1, 8), IGNORE)
    targets[0, 4], targets[0, 6] = 5, 7
    batch = Batch(torch.zeros(1, 8, dtype=torch.long), targets, targets != IGNORE)
    logits = torch.zeros(1, 8, 10)
    logits[0, 4, 5] = 2.0  # right
    logits[0, 6, 9] = 1.0  # wrong: 9, not 7
    logits[0, 0, 3] = 50.0  # not a query: must not count
    out = ModelOutput(logits)
    ce4 = math.log(9 + math.e ** 2) - 2.0
    ce6 = math.log(9 + math.e)
    assert float(task.loss(out, batch)) == pytest.approx((ce4 + ce6) / 2)
    sums = task.metrics(out, batch)
    assert sums["count"] == 2 and sums["error"] == 1 and sums["accuracy"] == 1
    assert reduce_metrics(sums)["loss"] == pytest.approx((ce4 + ce6) / 2)


def test_delta_rule_learns_small_mqar():
    """The delta-rule fast weight programmer answers D = 2 queries at T = 16 from a vocabulary of
    32 (chance: 1/32; guessing one of the two stored values: 50%)."""
    torch.manual_seed(0)
    task = build_mqar_task(MQARConfig(seq_len=16, num_pairs=2, vocab_size=32, stream=True,
                                      valid_size=256, test_size=1))
    model = build_model("delta-rule", model_entry("delta-rule", "mqar").config(hidden_size=32),
                        task)
    train_steps(model, task, torch.optim.Adam(model.parameters(), lr=3e-3), 100)
    model.eval()
    with torch.no_grad():
        batch = next(task.eval_batches("valid", 256))
        accuracy = reduce_metrics(task.metrics(model(batch.inputs), batch))["accuracy"]
    assert accuracy > 0.9
