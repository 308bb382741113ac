"""The aligned sequence wrapper and the NTM paper's LSTM baseline on the algorithmic tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from mneme import registry
from mneme.cli import main
from mneme.errors import UserError
from mneme.models.aligned import (
    PAPER_LSTM_SIZES,
    AlgorithmicLSTMConfig,
    AlignedModel,
    algorithmic_recipe,
    build_algorithmic_lstm,
)
from mneme.tasks.algorithmic import CopyConfig, CopyTask, PrioritySortConfig, PrioritySortTask
from mneme.train.loop import evaluate


@dataclass(frozen=True)
class FakeState:
    log_prob: Tensor | None


class FakeCore(nn.Module):
    """y = x W (B, T, 5); state carries a log-probability; trace returns the inputs."""

    def __init__(self, d: int, sampled: bool) -> None:
        super().__init__()
        self.proj = nn.Linear(d, 5)
        self.sampled = sampled

    def forward(self, x: Tensor, state: object = None, *, trace: bool = False):
        y = self.proj(x)
        log_prob = y.sum((1, 2)) if self.sampled else None
        return (y, FakeState(log_prob), {"seen": x}) if trace else (y, FakeState(log_prob))


def test_wrapper_shapes_log_prob_baseline_and_trace():
    x = torch.randn(3, 7, 4)
    model = AlignedModel(FakeCore(4, sampled=True), 5, 2, baseline=True)
    out = model(x)
    assert out.logits.shape == (3, 7, 2)
    assert torch.allclose(out.logits, model.head(model.core.proj(x)))
    assert out.log_prob is not None and out.log_prob.shape == (3,)
    assert torch.allclose(out.log_prob, model.core.proj(x).sum((1, 2)))
    expected = model.baseline(model.core.proj(x).mean(1)).squeeze(-1)
    assert out.baseline.shape == (3,) and torch.allclose(out.baseline, expected)
    assert out.trace is None
    # the baseline reads a detached core output: its loss trains only its own layer
    out.baseline.sum().backward()
    assert model.core.proj.weight.grad is None and model.baseline.weight.grad is not None
    traced = model(x, trace=True)
    assert traced.trace["seen"] is x and torch.allclose(traced.logits, out.logits)
    plain = AlignedModel(FakeCore(4, sampled=False), 5, 2)
    out = plain(x)
    assert out.log_prob is None and out.baseline is None and plain.baseline is None


def test_wrapper_over_an_lstm_core():
    task = CopyTask(CopyConfig())
    model = build_algorithmic_lstm(AlgorithmicLSTMConfig(hidden_size=8, num_layers=2), task.spec)
    batch = task.sample(4, torch.Generator().manual_seed(0))
    out = model(batch.inputs)
    assert out.logits.shape == batch.targets.shape and out.trace is None
    traced = model(batch.inputs, trace=True)  # the core's gates, same logits
    assert traced.trace is not None and torch.allclose(traced.logits, out.logits, atol=1e-5)
    # causal: a step's output does not depend on later inputs (padding cannot leak backwards)
    changed = batch.inputs.clone()
    changed[:, -1] += 1.0
    assert torch.allclose(model(changed).logits[:, :-1], out.logits[:, :-1])


def test_paper_sizes_and_parameter_counts():
    copy = build_algorithmic_lstm(AlgorithmicLSTMConfig(), CopyTask(CopyConfig()).spec)
    lstm = copy.core.lstm
    assert (lstm.hidden_size, lstm.num_layers, lstm.input_size) == (256, 3, 9)
    # Table 3 lists 1,352,969 parameters for copy; ours lacks the paper's learned initial state
    # and its output connections from every layer, so it is within 2% below
    n = sum(p.numel() for p in copy.parameters())
    assert 0.98 * 1_352_969 < n < 1_352_969
    sort = build_algorithmic_lstm(AlgorithmicLSTMConfig(), PrioritySortTask(PrioritySortConfig()))
    assert sort.core.lstm.hidden_size == PAPER_LSTM_SIZES["priority-sort"] == 128
    with pytest.raises(UserError, match="hidden_size"):
        AlgorithmicLSTMConfig(hidden_size=0).validate()
    with pytest.raises(UserError, match="no paper size"):
        build_algorithmic_lstm(AlgorithmicLSTMConfig(), CopyTask(CopyConfig()).spec.__class__(
            9, 8, "unknown"))


def test_registry_and_recipe():
    for name in ("copy", "repeat-copy", "associative-recall", "priority-sort"):
        entry = registry.model_entry("lstm", name)
        assert entry.config_class() is AlgorithmicLSTMConfig
        task = registry.task_entry(name).build(registry.task_entry(name).config_class()())
        model = entry.build(AlgorithmicLSTMConfig(hidden_size=4, num_layers=1), task.spec)
        batch = task.sample(2, torch.Generator().manual_seed(0))
        assert model(batch.inputs).logits.shape == batch.targets.shape
        _, train = registry.recipe(name, "lstm", None, AlgorithmicLSTMConfig())
        assert train.optimizer == "rmsprop" and train.momentum == 0.9
        assert train.clip_value == 10.0 and train.clip_norm is None
        assert train.epoch_steps * train.batch_size * train.epochs <= 1_000_000
    # ten times the paper's batch-1 rates (Tables 1-3) at batch 16
    assert algorithmic_recipe("priority-sort", "ntm").lr == pytest.approx(3e-4)
    assert algorithmic_recipe("copy", "ntm").lr == pytest.approx(1e-3)
    assert algorithmic_recipe("copy", "lstm").lr == pytest.approx(3e-4)
    assert algorithmic_recipe("associative-recall", "lstm").lr == pytest.approx(1e-3)


def test_lstm_learns_copy_of_short_sequences():
    torch.manual_seed(0)
    task = CopyTask(CopyConfig(min_length=1, max_length=3, test_lengths=(), valid_size=200))
    model = build_algorithmic_lstm(AlgorithmicLSTMConfig(hidden_size=64, num_layers=1), task.spec)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    before = evaluate(model, task, "valid", 200)
    for _ in range(250):
        model.train()
        batch = task.sample(32, generator)
        loss = task.loss(model(batch.inputs), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluate(model, task, "valid", 200)
    # chance is 8 bits per sequence (16 bits on average, half guessed right)
    assert before["bits"] > 6.0
    assert after["bits"] < 2.0 and after["cost"] < 6.0


def test_cli_trains_and_evaluates_copy_with_the_lstm(tmp_path: Path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "copy", "--model", "lstm", "--model.hidden-size", "8",
                 "--task.max-length", "3", "--task.test-lengths", "2", "6",
                 "--task.valid-size", "20", "--task.test-size", "10",
                 "--task.generalisation-size", "4", "--train.epochs", "1",
                 "--train.epoch-steps", "3", "--train.no-progress", "--train.no-tensorboard",
                 "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["optimizer"] == "rmsprop" and config["train"]["clip_value"] == 10.0
    assert config["model"]["config"]["num_layers"] == 3
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert record["step"] == 3 and "valid_bits" in record and "valid_cost" in record
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["n_len6"] == 4 and "bits_len6" in summary["test"]
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_bits_len2"] == pytest.approx(summary["test"]["bits_len2"])
    assert result["test_count"] == 10
