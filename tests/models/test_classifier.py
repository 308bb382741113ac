"""Sequence classifiers on associative retrieval: registry, shapes, and fast weights learning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mneme import registry
from mneme.cli import main
from mneme.config import TrainConfig
from mneme.models.classifier import LSTMClassifierConfig, SequenceClassifier
from mneme.models.qa import LSTMQAConfig
from mneme.tasks.retrieval import RetrievalConfig, build_retrieval_task
from mneme.train.run import RunConfig, train_run

SMALL = RetrievalConfig(train_size=256, valid_size=64, test_size=64)


@pytest.mark.parametrize("name", ["fast-weights", "delta-fw", "irnn", "lstm", "alstm"])
def test_every_core_builds_and_classifies(name):
    task = build_retrieval_task(SMALL)
    entry = registry.model_entry(name, "retrieval")
    model = entry.build(entry.config_class()(hidden_size=8), task.spec)
    batch = next(task.eval_batches("valid", 16))
    out = model(batch.inputs)
    assert out.logits.shape == (16, 37)
    task.loss(out, batch).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_lstm_name_depends_on_the_task():
    assert registry.model_entry("lstm", "retrieval").config_class() is LSTMClassifierConfig
    assert registry.model_entry("lstm", "babi").config_class() is LSTMQAConfig
    assert registry.model_entry("lstm").config_class() is LSTMQAConfig


def test_fast_weights_trace_through_the_classifier():
    task = build_retrieval_task(SMALL)
    entry = registry.model_entry("fast-weights")
    model = entry.build(entry.config_class()(hidden_size=8), task.spec)
    batch = next(task.eval_batches("valid", 4))
    out = model(batch.inputs, trace=True)
    assert out.trace.attention.shape == (4, 11, 11)
    assert model(batch.inputs).trace is None


def test_fast_weights_learn_two_pair_retrieval(tmp_path: Path):
    """K = 2 retrieval learned in a CI budget: 1,500 steps of 64 fresh sequences."""
    torch.manual_seed(0)
    entry = registry.model_entry("fast-weights")
    config = RunConfig(
        "retrieval",
        RetrievalConfig(num_pairs=2, stream=True, valid_size=1000, test_size=2000),
        "fast-weights",
        entry.config_class()(hidden_size=20),
        TrainConfig(seed=0, epochs=6, epoch_steps=250, batch_size=64, optimizer="adam", lr=3e-3,
                    lr_schedule="constant", clip_norm=5.0, progress=False, tensorboard=False,
                    eval_batch_size=1000),
    )
    summary = train_run(config, tmp_path / "run", progress=False)
    # chance is 1 - 1/2 when the model knows the answer is one of the two values, 0.9 otherwise
    assert summary["test"]["error"] < 0.10, summary["test"]


def test_cli_trains_plots_and_evaluates_a_retrieval_run(tmp_path: Path, capsys):
    run = tmp_path / "fw"
    code = main(["train", "--task", "retrieval", "--model", "fast-weights",
                 "--task.train-size", "512", "--task.valid-size", "128", "--task.test-size",
                 "128", "--model.hidden-size", "8", "--train.epochs", "1", "--out", str(run),
                 "--train.no-tensorboard", "--train.no-progress"])
    assert code == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["batch_size"] == 128 and saved["train"]["optimizer"] == "adam"
    assert main(["plot", str(run)]) == 0
    assert (run / "plots" / "curves.png").is_file()
    assert (run / "plots" / "fast-weights-0.png").is_file()
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["test_error"] <= 1.0


def test_classifier_rejects_bad_sizes():
    from mneme.errors import UserError
    from mneme.models.classifier import AssociativeLSTMClassifierConfig

    with pytest.raises(UserError, match="hidden_size"):
        SequenceClassifier(AssociativeLSTMClassifierConfig(hidden_size=7), 37, 37)
    with pytest.raises(UserError, match="head_size"):
        SequenceClassifier(LSTMClassifierConfig(head_size=0), 37, 37)


def test_model_for_another_task_is_a_user_error(capsys):
    assert main(["train", "--task", "babi", "--model", "fast-weights"]) == 2
    err = capsys.readouterr().err
    assert "built for task(s) retrieval" in err and "models for babi: lstm, memn2n" in err
    assert main(["train", "--task", "retrieval", "--model", "memn2n"]) == 2
