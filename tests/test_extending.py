"""Adding a core or a task is one new file: a toy core and a toy task, defined in a temporary
plugin module, are trained, evaluated and reported through the public API and ``mneme train``
with no other edit (``$MNEME_PLUGINS`` names the module)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from mneme import registry
from mneme.cli import main

PLUGIN = '''
"""A toy core (a running mean of its inputs, projected) and a toy task (the majority bit)."""

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mneme.registry import register_core, register_task
from mneme.types import Batch, ModelOutput, TaskInfo, register_state


@register_state
@dataclass(frozen=True)
class MeanState:
    total: torch.Tensor
    count: torch.Tensor


class MeanCore(nn.Module):
    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size
        self.proj = nn.Linear(input_size, hidden_size)

    def initial_state(self, batch_size, device=None, dtype=None):
        return MeanState(torch.zeros(batch_size, self.proj.in_features, device=device),
                         torch.zeros(batch_size, 1, device=device))

    def forward(self, x, state=None, *, trace=False):
        state = state or self.initial_state(x.shape[0], x.device)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device).view(1, -1, 1)
        total = state.total.unsqueeze(1) + x.cumsum(1)
        count = state.count.unsqueeze(1) + steps
        y = torch.tanh(self.proj(total / count))
        new = MeanState(total[:, -1], count[:, -1])
        return (y, new, None) if trace else (y, new)

    def step(self, x_t, state):
        y, state = self.forward(x_t.unsqueeze(1), state)
        return y[:, 0], state


@dataclass(frozen=True)
class MeanConfig:
    hidden_size: int = 16


@register_core("toy-mean", config=MeanConfig, summary="running mean of the inputs")
def build_mean(config: MeanConfig, input_size: int) -> MeanCore:
    return MeanCore(input_size, config.hidden_size)


@dataclass(frozen=True)
class FirstConfig:
    length: int = 5
    symbols: int = 2


@register_task("toy-first", config=FirstConfig, summary="say which of two symbols is the majority")
class FirstTask:
    name = "toy-first"

    def __init__(self, config: FirstConfig) -> None:
        self.config = config
        self.info = TaskInfo(kind="generated", inputs="tokens", input_size=config.symbols,
                             outputs="classes", output_size=config.symbols,
                             readout="last_step", metric="error", unit="%", percent=True,
                             selection_metric="error", solved_below=0.05)

    def sample(self, batch_size, generator):
        tokens = torch.randint(0, self.config.symbols, (batch_size, self.config.length),
                               generator=generator)
        return Batch(tokens, (tokens.sum(1) > self.config.length // 2).long())

    def eval_batches(self, split, batch_size) -> Iterator[Batch]:
        seed = {"valid": 1, "test": 2}[split]
        yield self.sample(256, torch.Generator().manual_seed(seed))

    def loss(self, output: ModelOutput, batch: Batch):
        return F.cross_entropy(output.logits, batch.targets)

    def metrics(self, output, batch):
        wrong = (output.logits.argmax(-1) != batch.targets).sum()
        return {"count": float(batch.size), "error": float(wrong)}
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "toy_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_plugin")
    yield "toy_plugin"
    for table, name in ((registry.CORES, "toy-mean"), (registry.TASKS, "toy-first")):
        table.pop(name, None)
    sys.modules.pop("toy_plugin", None)


def test_a_plugin_core_and_task_train_evaluate_and_report(
        plugin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["train", "--task", "toy-first", "--model", "toy-mean", "--out", str(out),
                 "--train.epochs", "3", "--train.epoch-steps", "100", "--train.lr", "0.01",
                 "--train.no-progress", "--train.no-tensorboard"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["plugins"] == [plugin]
    assert config["train"]["optimizer"] == "adam"  # no row for the pair: the default recipe
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["error"] < 0.05, summary  # a running mean tells the majority
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test_error"] == summary["test"]["error"]

    # the matrix and its report take the new core and task with no edit either
    from mneme.bench.matrix import Column, matrix_cell
    from mneme.bench.report_matrix import matrix_section
    from mneme.bench.suites import Cell

    toy = registry.task_entry("toy-first").config()
    cell = matrix_cell("toy-mean", Column("toy", "toy-first", toy, epochs=1), seeds=1)
    assert isinstance(cell, Cell) and cell.model.hidden_size == 64
    finished = [(cell, {"repeats": [{"test": summary["test"], "steps": 300,
                                     "seconds": 1.0}]})]
    text, table = matrix_section(finished, tmp_path / "bench")
    assert "toy-mean" in table and "**" in table  # solved, so bold
    assert "toy: toy-mean" in text.replace("**", "")
    assert (tmp_path / "bench" / "plots" / "matrix.png").is_file()


def test_a_plugin_module_that_is_missing_is_a_user_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(registry.PLUGINS_ENV, "no_such_mneme_plugin")
    assert main(["train", "--task", "copy", "--model", "lstm", "--help"]) == 2
    err = capsys.readouterr().err
    assert "no_such_mneme_plugin" in err and "Traceback" not in err
