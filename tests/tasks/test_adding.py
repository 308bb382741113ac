"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015, section 4.1)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch

from mneme.errors import UserError
from mneme.tasks.adding import BASELINE_MSE, AddingConfig, AddingTask, adding_batch
from mneme.tasks.base import GeneratedTask, ModelOutput, reduce_metrics


@pytest.mark.parametrize("t", [2, 3, 10, 101])
def test_layout_two_markers_one_per_half_and_target_is_their_sum(t):
    batch = adding_batch(400, t, torch.Generator().manual_seed(t))
    x = batch.inputs
    assert isinstance(x, torch.Tensor)
    assert x.shape == (400, t, 2) and x.dtype == torch.float32
    assert batch.targets.shape == (400,)
    values, marks = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(marks.unique().tolist()) <= {0.0, 1.0}
    assert (marks.sum(1) == 2).all()
    half = t // 2
    for row_marks, row_values, target, markers in zip(marks, values, batch.targets,
                                                      batch.meta["markers"], strict=True):
        first, second = row_marks.nonzero().flatten().tolist()
        assert [first, second] == markers.tolist()
        assert 0 <= first < half <= second < t
        assert target == pytest.approx(float(row_values[first] + row_values[second]), abs=1e-6)


def test_markers_cover_each_half_uniformly():
    t = 10
    markers = adding_batch(20_000, t, torch.Generator().manual_seed(0)).meta["markers"]
    first = torch.bincount(markers[:, 0], minlength=t)
    second = torch.bincount(markers[:, 1], minlength=t)
    assert (first[:5] > 0).all() and (first[5:] == 0).all()
    assert (second[:5] == 0).all() and (second[5:] > 0).all()
    # 4000 expected per step; 5 standard deviations is ~ 300
    assert (first[:5] - 4000).abs().max() < 300 and (second[5:] - 4000).abs().max() < 300


def test_anywhere_placement_draws_two_distinct_steps_from_the_whole_sequence():
    batch = adding_batch(5000, 6, torch.Generator().manual_seed(1), "anywhere")
    markers = batch.meta["markers"]
    assert (markers[:, 0] < markers[:, 1]).all()
    assert (batch.inputs[..., 1].sum(1) == 2).all()  # type: ignore[index]
    pairs = {tuple(m) for m in markers.tolist()}
    assert len(pairs) == 15  # all 6 choose 2 pairs occur, both markers in one half included
    with pytest.raises(UserError, match="marker_placement"):
        adding_batch(2, 6, torch.Generator(), "middle")


def test_generation_is_deterministic_given_the_generator():
    a = adding_batch(64, 30, torch.Generator().manual_seed(7))
    b = adding_batch(64, 30, torch.Generator().manual_seed(7))
    c = adding_batch(64, 30, torch.Generator().manual_seed(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)  # type: ignore[arg-type]
    assert not torch.equal(a.inputs, c.inputs)  # type: ignore[arg-type]


def test_predicting_one_scores_the_baseline_mse_of_one_sixth():
    task = AddingTask(AddingConfig(seq_len=20))
    batch = task.sample(200_000, torch.Generator().manual_seed(3))
    totals = task.metrics(ModelOutput(torch.ones(batch.size)), batch)
    metrics = reduce_metrics(totals)
    assert pytest.approx(1 / 6) == BASELINE_MSE
    # standard error of the mean squared error: sqrt(Var((S-1)^2) / n) ~ 0.0004
    assert metrics["mse"] == pytest.approx(BASELINE_MSE, abs=0.002)
    assert task.loss(ModelOutput(torch.ones(batch.size)), batch) == pytest.approx(
        metrics["mse"], rel=1e-5)
    # P(|S - 1| <= 0.04) = 1 - (0.96)^2 = 0.0784 for S the sum of two U(0, 1)
    assert metrics["error"] == pytest.approx(1 - 0.0784, abs=0.003)


def test_error_counts_predictions_off_by_more_than_the_threshold():
    task = AddingTask(AddingConfig(seq_len=8, error_threshold=0.04))
    batch = task.sample(10, torch.Generator().manual_seed(0))
    offsets = torch.tensor([0.0, 0.01, -0.03, 0.039, -0.0399, 0.041, -0.05, 0.5, -1.0, 0.2])
    totals = task.metrics(ModelOutput((batch.targets + offsets).unsqueeze(-1)), batch)
    assert totals["count"] == 10 and totals["error"] == 5
    assert totals["mse"] == pytest.approx(float(offsets.double().square().sum()), rel=1e-5)


def test_fixed_splits_are_deterministic_distinct_and_batched():
    cfg = AddingConfig(seq_len=12, valid_size=130, test_size=70)
    task, again = AddingTask(cfg), AddingTask(cfg)
    assert isinstance(task, GeneratedTask)
    valid = list(task.eval_batches("valid", 50))
    assert [b.size for b in valid] == [50, 50, 30]
    test = torch.cat([b.inputs for b in task.eval_batches("test", 1000)])  # type: ignore[misc]
    assert torch.equal(test, torch.cat([b.inputs for b in again.eval_batches("test", 1000)]))  # type: ignore[misc]
    valid_x = torch.cat([b.inputs for b in valid])  # type: ignore[misc]
    assert not torch.equal(valid_x[:70], test)
    bigger = AddingTask(AddingConfig(seq_len=12, valid_size=500, test_size=70))
    assert torch.equal(test, next(bigger.eval_batches("test", 1000)).inputs)  # type: ignore[arg-type]
    other_seed = AddingTask(AddingConfig(seq_len=12, valid_size=130, test_size=70, split_seed=5))
    assert not torch.equal(test, next(other_seed.eval_batches("test", 1000)).inputs)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="unknown split"):
        next(task.eval_batches("train", 10))


def test_generalisation_lengths_are_grouped_in_the_test_split():
    task = AddingTask(AddingConfig(seq_len=10, test_size=30, test_lengths=(25,),
                                   generalisation_size=20))
    totals: dict[str, float] = {}
    lengths = set()
    for batch in task.eval_batches("test", 16):
        lengths.add((batch.meta["group"], batch.inputs.shape[1]))  # type: ignore[union-attr]
        for k, v in task.metrics(ModelOutput(torch.ones(batch.size)), batch).items():
            totals[k] = totals.get(k, 0.0) + v
    assert lengths == {(None, 10), ("len25", 25)}
    assert totals["count"] == 30 and totals["n_len25"] == 20
    metrics = reduce_metrics(totals)
    assert 0.03 < metrics["mse_len25"] < 0.5 and 0.03 < metrics["mse"] < 0.5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("seq_len", 1, "seq_len must be >= 2 (got 1)"),
     ("error_threshold", 0.0, "error_threshold must be > 0 (got 0.0)"),
     ("valid_size", 0, "valid_size must be >= 1 (got 0)"),
     ("test_lengths", (5, 1), "test_lengths must all be >= 2 (got 1)"),
     ("marker_placement", "middle",
      "marker_placement must be one of 'halves', 'anywhere' (got 'middle')")],
)
def test_validate_names_the_bad_field(field, value, message):
    with pytest.raises(UserError, match="^" + re.escape(f"AddingConfig.{message}") + "$"):
        AddingTask(AddingConfig(**{field: value}))


def test_lstm_regressor_learns_short_adding_problem(tmp_path: Path):
    """T = 12: an LSTM gets far below the predict-1 baseline within a few hundred steps."""
    from mneme.config import TrainConfig
    from mneme.models.build import model_entry
    from mneme.models.recipes import recipe
    from mneme.train.run import RunConfig, train_run

    task_cfg = AddingConfig(seq_len=12, valid_size=500, test_size=1000)
    model_cls = model_entry("lstm", "adding").config_class()
    model_cfg, recipe = recipe("adding", "lstm", task_cfg, model_cls(hidden_size=32))
    assert model_cfg.hidden_size == 32 and recipe.optimizer == "adam"
    train = TrainConfig(seed=0, epochs=4, epoch_steps=150, batch_size=32, optimizer="adam",
                        lr=1e-2, lr_schedule="constant", clip_norm=1.0, eval_batch_size=1000,
                        progress=False, tensorboard=False)
    config = RunConfig("adding", task_cfg, "lstm", model_cfg, train)
    summary = train_run(config, tmp_path / "run", progress=False)
    assert summary["test"]["mse"] < 0.1 * BASELINE_MSE, summary["test"]
    assert summary["test"]["error"] < 0.9
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == {"name": "lstm", "config": dataclasses.asdict(model_cfg)}
