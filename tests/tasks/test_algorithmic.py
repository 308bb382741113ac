"""The NTM algorithmic tasks (Graves et al. 2014, section 4): layouts, splits, loss and metrics."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from mneme.errors import UserError
from mneme.tasks.algorithmic import (
    AssociativeRecallConfig,
    AssociativeRecallTask,
    CopyConfig,
    CopyTask,
    PrioritySortConfig,
    PrioritySortTask,
    RepeatCopyConfig,
    RepeatCopyTask,
    associative_recall_batch,
    copy_batch,
    decode_example,
    priority_sort_batch,
    repeat_copy_batch,
    repeat_normalisation,
)
from mneme.tasks.algorithmic_base import wrong_bits
from mneme.tasks.base import Batch, GeneratedTask, ModelOutput, reduce_metrics


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


SMALL = {
    "copy": lambda: CopyTask(CopyConfig(test_lengths=(30, 4), generalisation_size=7,
                                        valid_size=50, test_size=40)),
    "repeat-copy": lambda: RepeatCopyTask(RepeatCopyConfig(test_lengths=(12,), test_repeats=(13,),
                                                           generalisation_size=5, valid_size=30,
                                                           test_size=20)),
    "associative-recall": lambda: AssociativeRecallTask(AssociativeRecallConfig(
        test_items=(9,), generalisation_size=6, valid_size=30, test_size=20)),
    "priority-sort": lambda: PrioritySortTask(PrioritySortConfig(valid_size=30, test_size=20)),
}


def test_copy_layout_by_hand():
    # lengths 2 and 1, width 3: T = 2 * 2 + 1 = 5; the second row is padded after its 3 steps
    batch = copy_batch(torch.tensor([2, 1]), 3, gen(0))
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (2, 5, 4) and y.shape == (2, 5, 3) and m.shape == (2, 5)
    v0, v1, u0 = x[0, 0, :3], x[0, 1, :3], x[1, 0, :3]
    assert x[0, :, 3].tolist() == [0, 0, 1, 0, 0]  # delimiter right after the sequence
    assert x[1, :, 3].tolist() == [0, 1, 0, 0, 0]
    assert x[0, 2:, :3].abs().sum() == 0 and x[1, 1:, :3].abs().sum() == 0  # no input after it
    assert m.tolist() == [[False, False, False, True, True], [False, False, True, False, False]]
    assert torch.equal(y[0, 3], v0) and torch.equal(y[0, 4], v1) and torch.equal(y[1, 2], u0)
    assert y[0, :3].abs().sum() == 0 and y[1, [0, 1, 3, 4]].abs().sum() == 0
    assert batch.meta["steps"].tolist() == [5, 3]


def test_repeat_copy_layout_by_hand():
    mean, std = repeat_normalisation(1, 10)
    batch = repeat_copy_batch(torch.tensor([2, 1]), torch.tensor([2, 3]), 2, mean, std, gen(1))
    x, y, m = batch.inputs, batch.targets, batch.mask
    # row 0: L=2, R=2: T = 2 + 2 + 4 + 1 = 9; row 1: L=1, R=3: T = 1 + 2 + 3 + 1 = 7
    assert x.shape == (2, 9, 4) and y.shape == (2, 9, 3)
    assert batch.meta["steps"].tolist() == [9, 7]
    assert x[0, :, 2].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert x[0, 3, 3].item() == pytest.approx((2 - 5.5) / math.sqrt(99 / 12))
    assert x[1, 2, 3].item() == pytest.approx((3 - 5.5) / math.sqrt(99 / 12))
    assert (x[0, :, 3] != 0).sum() == 1 and (x[1, :, 3] != 0).sum() == 1
    seq = x[0, :2, :2]
    assert torch.equal(y[0, 4:8, :2], torch.cat([seq, seq]))
    assert y[0, :, 2].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 1]  # end marker after the copies
    assert m[0].tolist() == [False] * 4 + [True] * 5
    assert torch.equal(y[1, 3:6, :2], x[1, 0, :2].expand(3, 2))
    assert y[1, :, 2].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert m[1].tolist() == [False] * 3 + [True] * 4 + [False] * 2


def test_repeat_count_normalisation_is_mean_0_variance_1_over_training_repeats():
    mean, std = repeat_normalisation(1, 10)
    values = torch.tensor([(r - mean) / std for r in range(1, 11)], dtype=torch.float64)
    assert values.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert values.var(unbiased=False).item() == pytest.approx(1.0)
    assert repeat_normalisation(4, 4) == (4.0, 1.0)  # one value: no scaling
    task = RepeatCopyTask(RepeatCopyConfig(min_repeats=2, max_repeats=4))
    batch = task.sample(200, gen(2))
    counts = batch.inputs[..., -1].sum(1)  # the one non-zero step of the count channel
    expected = (batch.meta["repeats"].double() - 3.0) / math.sqrt(2 / 3)
    assert torch.allclose(counts.double(), expected, atol=1e-6)


def test_associative_recall_layout_by_hand():
    batch = associative_recall_batch(torch.tensor([3, 2]), 3, 6, gen(3))
    x, y, m = batch.inputs, batch.targets, batch.mask
    # K=3: 3 * 4 + 2 * 3 + 2 = 20 steps; K=2: 16
    assert x.shape == (2, 20, 8) and y.shape == (2, 20, 6)
    assert batch.meta["steps"].tolist() == [20, 16]
    for row, k in ((0, 3), (1, 2)):
        item_delims = [t for t in range(20) if x[row, t, 6] == 1]
        query_delims = [t for t in range(20) if x[row, t, 7] == 1]
        assert item_delims == [4 * i for i in range(k)]
        assert query_delims == [4 * k, 4 * k + 4]
        items = [x[row, 4 * i + 1 : 4 * i + 4, :6] for i in range(k)]
        q = int(batch.meta["query"][row])
        assert 0 <= q < k - 1  # never the last item
        assert torch.equal(x[row, 4 * k + 1 : 4 * k + 4, :6], items[q])
        answer = slice(4 * k + 5, 4 * k + 8)
        assert torch.equal(y[row, answer], items[q + 1])
        assert m[row].nonzero().flatten().tolist() == list(range(4 * k + 5, 4 * k + 8))
        assert x[row, answer].abs().sum() == 0


def test_associative_recall_queries_every_item_but_the_last():
    batch = associative_recall_batch(torch.full((3000,), 4), 3, 6, gen(4))
    assert set(batch.meta["query"].tolist()) == {0, 1, 2}


def test_priority_sort_targets_match_a_direct_sort():
    batch = priority_sort_batch(16, 20, 16, 8, gen(5))
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (16, 37, 10) and y.shape == (16, 37, 8)
    assert m.sum(1).tolist() == [16] * 16 and m[:, 21:].all()
    assert x[:, 20, 9].eq(1).all() and x[:, :20, 9].eq(0).all()
    assert (x[:, :20, 8].abs() <= 1).all() and x[:, 21:].abs().sum() == 0
    for b in range(16):
        pairs = [(float(x[b, i, 8]), x[b, i, :8].tolist()) for i in range(20)]
        top = sorted(pairs, key=lambda p: -p[0])[:16]
        assert y[b, 21:].tolist() == [v for _, v in top]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_sample_shapes_mixed_lengths_and_determinism(name):
    task = SMALL[name]()
    assert isinstance(task, GeneratedTask)
    a, b, c = task.sample(64, gen(7)), task.sample(64, gen(7)), task.sample(64, gen(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs) or not torch.equal(a.targets, c.targets)
    x, y, m = a.inputs, a.targets, a.mask
    t = x.shape[1]
    assert x.dtype == y.dtype == torch.float32 and m.dtype == torch.bool
    assert x.shape == (64, t, task.input_size) and y.shape == (64, t, task.output_size)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    steps = a.meta["steps"]
    assert int(steps.max()) == t
    pad = torch.arange(t)[None, :] >= steps[:, None]
    assert x[pad].abs().sum() == 0 and y[pad].abs().sum() == 0 and not m[pad].any()
    assert (y * ~m[..., None]).abs().sum() == 0  # no target outside the mask
    if name != "priority-sort":
        assert len(set(steps.tolist())) > 1  # mixed lengths in one batch
    assert len(task.input_channels) == task.input_size == task.spec.input_size
    assert task.spec.task_name == name and task.selection_metric == "bits"


def test_copy_training_lengths_cover_the_range():
    batch = CopyTask(CopyConfig()).sample(2000, gen(9))
    lengths = batch.mask.sum(1)
    assert set(lengths.tolist()) == set(range(1, 21))


@pytest.mark.parametrize("name", ["copy", "repeat-copy", "associative-recall"])
def test_same_length_batches_have_no_padding_and_the_same_size_distribution(name):
    mixed = SMALL[name]()
    config = dataclasses.replace(mixed.config, same_length_batches=True)
    task = type(mixed)(config)
    g = gen(3)
    sizes = []
    for _ in range(300):
        batch = task.sample(8, g)
        steps = batch.meta["steps"]
        assert (steps == steps[0]).all() and int(steps[0]) == batch.inputs.shape[1]
        sizes.append(int(steps[0]))
    mixed_sizes = mixed.sample(2400, gen(4)).meta["steps"].tolist()
    assert set(sizes) <= set(mixed_sizes)  # the same sizes, most of them drawn
    assert len(set(sizes)) >= 0.6 * len(set(mixed_sizes))

    def top(values: list[int]) -> float:
        return max(values.count(v) for v in set(values)) / len(values)

    assert top(sizes) < 3 * top(mixed_sizes)  # no size drawn far more often than when mixed
    for split in ("valid", "test"):  # the fixed sets do not depend on the training batches
        for a, b in zip(task.eval_batches(split, 64), mixed.eval_batches(split, 64), strict=True):
            assert torch.equal(a.inputs, b.inputs) and torch.equal(a.mask, b.mask)


def _perfect(batch: Batch) -> ModelOutput:
    return ModelOutput(torch.where(batch.targets > 0.5, 20.0, -20.0))


def test_metrics_count_bits_exactly_on_hand_made_logits():
    task = CopyTask(CopyConfig(width=3))
    batch = copy_batch(torch.tensor([2, 1]), 3, gen(0))
    logits = torch.where(batch.targets > 0.5, 3.0, -3.0)
    logits[0, 3, 0] *= -1  # one wrong bit in a masked step of sequence 0
    logits[0, 4, :] *= -1  # three more
    logits[1, 0, :] = -logits[1, 0, :]  # unmasked step: does not count
    logits[1, 4, 1] = 9.0  # padding: does not count
    out = task.metrics(ModelOutput(logits), batch)
    assert out["count"] == 2 and out["bits"] == 4 and out["error"] == 1
    per_step = wrong_bits(logits, batch.targets)  # every step, masked or not
    assert (per_step[0, 3], per_step[0, 4], per_step[1, 0], per_step[1, 4]) == (1, 3, 3, 1)
    assert int(per_step.sum()) == 8
    assert out["bit_error"] == pytest.approx(4 / 6 + 0 / 3)
    # cross-entropy in bits: 4 wrong at margin 3, 5 right at margin 3, over 9 masked bits
    wrong, right = math.log1p(math.exp(3.0)), math.log1p(math.exp(-3.0))
    assert out["cost"] == pytest.approx((4 * wrong + 5 * right) / math.log(2), rel=1e-5)
    # at exactly 0.5 (logit 0) the prediction is 0
    zero = task.metrics(ModelOutput(torch.zeros_like(logits)), batch)
    assert zero["bits"] == float(batch.targets.sum())
    assert zero["cost"] == pytest.approx(9.0, rel=1e-6)  # 1 bit per masked bit


def test_loss_is_the_masked_per_sequence_sum_averaged_with_reinforce_and_aux():
    task = SMALL["associative-recall"]()
    batch = task.sample(5, gen(11))
    logits = torch.randn(batch.targets.shape, generator=gen(12), requires_grad=True)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.targets,
                                                              reduction="none")
    manual = (ce.sum(-1) * batch.mask).sum(1)
    loss = task.loss(ModelOutput(logits), batch)
    assert loss.item() == pytest.approx(manual.mean().item(), rel=1e-6)
    loss.backward()
    assert logits.grad[~batch.mask].abs().sum() == 0  # padding and input steps get no gradient
    log_prob = torch.randn(5, requires_grad=True)
    baseline = torch.randn(5)
    aux = torch.tensor(0.25)
    total = task.loss(ModelOutput(logits, log_prob=log_prob, baseline=baseline, aux_loss=aux),
                      batch)
    cost = manual.detach()
    expected = (manual.mean() + ((cost - baseline) * log_prob).mean()
                + ((baseline - cost) ** 2).mean() + aux)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    total.backward()
    assert torch.allclose(log_prob.grad, (cost - baseline) / 5)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_eval_splits_are_fixed_grouped_and_reduce(name):
    task, again = SMALL[name](), SMALL[name]()
    for split in ("valid", "test"):
        first = list(task.eval_batches(split, 8))
        second = list(again.eval_batches(split, 8))
        assert all(torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
                   for a, b in zip(first, second))
        assert len(first) == len(second)
    test = list(task.eval_batches("test", 1000))
    groups = [b.meta["group"] for b in test]
    assert groups[0] is None and test[0].size == task.config.test_size
    expected = {"copy": ["len30", "len4"], "repeat-copy": ["len12", "rep13"],
                "associative-recall": ["items9"], "priority-sort": []}[name]
    assert groups[1:] == expected
    totals: dict[str, float] = {}
    for batch in test:
        for key, value in task.metrics(_perfect(batch), batch).items():
            totals[key] = totals.get(key, 0.0) + value
    reduced = reduce_metrics(totals)
    assert reduced["count"] == task.config.test_size and reduced["bits"] == 0.0
    for group in expected:
        assert reduced[f"n_{group}"] == task.config.generalisation_size
        assert reduced[f"bits_{group}"] == 0.0 and reduced[f"error_{group}"] == 0.0
        assert reduced[f"bit_error_{group}"] == 0.0 and reduced[f"cost_{group}"] < 1e-3
    with pytest.raises(UserError, match="unknown split"):
        next(task.eval_batches("train", 8))


def test_generalisation_sets_have_their_setting_and_reduce_per_group():
    task = SMALL["repeat-copy"]()
    test = {b.meta["group"]: b for b in task.eval_batches("test", 1000)}
    # len12: length 12 at max_repeats = 10 -> 12 * 11 + 3 steps; rep13: length 10, 13 repeats
    assert test["len12"].meta["steps"].tolist() == [12 * 11 + 3] * 5
    assert test["rep13"].meta["steps"].tolist() == [10 * 14 + 3] * 5
    assert test["rep13"].mask.sum(1).tolist() == [131] * 5
    copy = {b.meta["group"]: b for b in SMALL["copy"]().eval_batches("test", 1000)}
    assert copy["len30"].inputs.shape[1] == 61 and copy["len30"].mask.sum(1).eq(30).all()
    # all wrong on len4, all right elsewhere: bits_len4 = 4 * 8 per sequence, others 0
    totals: dict[str, float] = {}
    for group, batch in copy.items():
        out = _perfect(batch)
        if group == "len4":
            out = ModelOutput(-out.logits)
        for key, value in CopyTask(CopyConfig()).metrics(out, batch).items():
            totals[key] = totals.get(key, 0.0) + value
    reduced = reduce_metrics(totals)
    assert reduced["bits_len4"] == 32.0 and reduced["error_len4"] == 1.0
    assert reduced["bits_len30"] == 0.0 and reduced["bits"] == 0.0


def test_eval_batches_are_trimmed_and_independent_of_batch_size():
    task = SMALL["copy"]()
    small = list(task.eval_batches("valid", 7))
    whole = next(task.eval_batches("valid", 1000))
    for batch in small:
        assert batch.inputs.shape[1] == int(batch.meta["steps"].max())
    i = 0
    for batch in small:
        t = batch.inputs.shape[1]
        assert torch.equal(batch.inputs, whole.inputs[i : i + batch.size, :t])
        i += batch.size
    assert i == 50


def test_splits_are_independent_of_training_and_of_each_other():
    task = SMALL["copy"]()
    valid = next(task.eval_batches("valid", 1000))
    test = next(task.eval_batches("test", 1000))
    assert not torch.equal(valid.inputs[:40, :5], test.inputs[:40, :5])
    for seed in (0, 1, task.config.split_seed):  # no training seed reproduces a fixed set
        drawn = task.sample(50, gen(seed))
        assert not torch.equal(drawn.inputs, valid.inputs)
    resized = CopyTask(CopyConfig(test_lengths=(30, 4), generalisation_size=7, valid_size=50,
                                  test_size=99))
    assert torch.equal(next(resized.eval_batches("valid", 1000)).inputs, valid.inputs)
    other_seed = CopyTask(CopyConfig(valid_size=50, split_seed=7))
    assert not torch.equal(next(other_seed.eval_batches("valid", 1000)).inputs, valid.inputs)


def test_decode_example_trims_and_names_channels():
    task = SMALL["repeat-copy"]()
    batch = task.sample(4, gen(13))
    logits = torch.zeros(batch.targets.shape)
    ex = decode_example(task, batch, 1, logits)
    steps = int(batch.meta["steps"][1])
    assert ex.inputs.shape == (steps, 10) and ex.targets.shape == (steps, 9)
    assert ex.outputs is not None and torch.allclose(ex.outputs, torch.full((steps, 9), 0.5))
    assert ex.input_channels[-2:] == ("delimiter", "repeats (normalised)")
    assert ex.output_channels[-1] == "end marker" and ex.mask.shape == (steps,)
    assert decode_example(task, batch, 0).outputs is None


@pytest.mark.parametrize(("cls", "cfg", "message"), [
    (CopyTask, CopyConfig(min_length=0), "CopyConfig.min_length must be >= 1 (got 0)"),
    (CopyTask, CopyConfig(min_length=5, max_length=4),
     "CopyConfig.max_length must be >= min_length = 5 (got 4)"),
    (CopyTask, CopyConfig(test_lengths=(0,)), "CopyConfig.test_lengths must all be >= 1 (got 0)"),
    (RepeatCopyTask, RepeatCopyConfig(min_repeats=3, max_repeats=2),
     "RepeatCopyConfig.max_repeats must be >= min_repeats = 3 (got 2)"),
    (RepeatCopyTask, RepeatCopyConfig(test_repeats=(4, 0)),
     "RepeatCopyConfig.test_repeats must all be >= 1 (got 0)"),
    (AssociativeRecallTask, AssociativeRecallConfig(min_items=1),
     "AssociativeRecallConfig.min_items must be >= 2 (got 1)"),
    (AssociativeRecallTask, AssociativeRecallConfig(test_items=(1,)),
     "AssociativeRecallConfig.test_items must all be >= 2 (got 1)"),
    (PrioritySortTask, PrioritySortConfig(num_outputs=21),
     "PrioritySortConfig.num_inputs must be >= num_outputs = 21 (got 20)"),
    (PrioritySortTask, PrioritySortConfig(valid_size=0),
     "PrioritySortConfig.valid_size must be >= 1 (got 0)"),
])
def test_bad_config_names_the_field(cls, cfg, message):
    with pytest.raises(UserError, match="^" + re.escape(message) + "$"):
        cls(cfg)
