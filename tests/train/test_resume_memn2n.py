"""Ctrl-C during MemN2N training on bAbI-format data, then resume: bit-identical to no stop.

This exercises what the toy-task test does not: the real SIGINT handler, random noise drawn from
the global RNG, the linear-start hook's state and the LR schedule restart.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import pytest
import torch

from mneme.memory.memn2n import MemN2NConfig
from mneme.models.recipes import recipe
from mneme.tasks.babi import BabiConfig, BabiTask
from mneme.train.checkpoint import load_checkpoint
from mneme.train.logging import read_metrics
from mneme.train.run import RunConfig, train_run

from ..babi_fake import write_fake_babi


def config(data: Path) -> RunConfig:
    task = BabiConfig(task_id=1, data_dir=str(data))
    model = dataclasses.replace(MemN2NConfig(), linear_start_epochs=2)
    model, train = recipe("babi", "memn2n", task, model)
    train = dataclasses.replace(
        train, epochs=5, lr_decay_every=2, progress=False, tensorboard=False
    )
    return RunConfig("babi", task, "memn2n", model, train)


@pytest.mark.parametrize("stop_at", [3, 20])  # inside linear start, and after the switch
def test_sigint_then_resume_is_bit_identical(tmp_path: Path, stop_at: int) -> None:
    data = write_fake_babi(tmp_path / "data", stories=80)
    cfg = config(data)
    task = BabiTask(cfg.task)
    full = train_run(cfg, tmp_path / "full", task=task, progress=False)

    def ctrl_c(trainer) -> None:
        if trainer.step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)  # the real handler: finish the step, save, stop

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under nohup or in a background job
    cut = train_run(cfg, tmp_path / "cut", task=task, progress=False, callbacks=[ctrl_c])
    assert cut == {"interrupted": True, "run_dir": str(tmp_path / "cut")}
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["step"] == stop_at
    assert signal.getsignal(signal.SIGINT) is before  # handler restored
    resumed = train_run(cfg, tmp_path / "cut", task=task, resume=True, progress=False)
    assert resumed["test"] == full["test"] and resumed["steps"] == full["steps"]

    def strip(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert strip(read_metrics(tmp_path / "cut")) == strip(read_metrics(tmp_path / "full"))
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "cut/checkpoints/last.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["hooks"] == b["hooks"] and a["hooks"][0]["switched_at"] == 2
    summary = json.loads((tmp_path / "cut/summary.json").read_text())
    assert summary["test"] == full["test"]
