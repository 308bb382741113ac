"""bAbI training speed: MemN2N and the LSTM baseline, side by side in one run.

    python benchmarks/babi_speed.py                 # examples/s table (about a minute)
    python benchmarks/babi_speed.py --suite-time    # also time the whole 1k suite (minutes)

Prints training examples per second (forward, backward, SGD step, clipping: the real training step
of ``mneme.train.loop``) at batch 32 for 1 and 2 intra-op threads, and the ratio of each row to
MemN2N with 1 thread. ``--suite-time`` runs ``mneme bench --suite babi-1k-memn2n`` (20 tasks,
single-task, one repeat, the paper's 120 epochs) with 2 worker processes of 1 thread each into a
temporary directory and reports its wall time. Needs the bAbI data (``--data-dir`` or $MNEME_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mneme.config import TrainConfig
from mneme.models.build import build_model, model_entry
from mneme.models.recipes import recipe
from mneme.tasks.babi import BabiConfig, BabiTask
from mneme.train.loop import Trainer


def examples_per_second(model_name: str, task: BabiTask, threads: int, seconds: float) -> float:
    """Training examples per second of the real training step, measured for ``seconds``."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model_cfg, train_cfg = recipe(
        "babi", model_name, task.config, model_entry(model_name, "babi").config()
    )
    model = build_model(model_name, model_cfg, task)
    cfg = TrainConfig(**{**train_cfg.__dict__, "progress": False, "tensorboard": False})
    trainer = Trainer(task, model, cfg, Path(tempfile.mkdtemp()))
    order = torch.randperm(task.num_train)
    steps_per_epoch = task.num_train // cfg.batch_size
    model.train()

    def run(n: int) -> None:
        for i in range(n):
            batch = trainer._train_batch(order, i % steps_per_epoch)
            trainer._train_step(batch)

    run(10)  # warm-up
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run(10)
        steps += 10
    return steps * cfg.batch_size / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNEME_DATA"))
    parser.add_argument("--task-id", type=int, default=2, help="bAbI task (2: long stories)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per row")
    parser.add_argument("--suite-time", action="store_true", help="also time the 1k suite")
    parser.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = parser.parse_args()
    task = BabiTask(BabiConfig(task_id=args.task_id, data_dir=args.data_dir))
    rows = []
    for model_name in ("memn2n", "lstm"):
        for threads in (1, 2):
            rate = examples_per_second(model_name, task, threads, args.seconds)
            rows.append({"model": model_name, "threads": threads, "examples_per_s": rate})
    base = rows[0]["examples_per_s"]
    print(f"bAbI task {args.task_id} (1k), batch 32, training step incl. clipping and SGD\n")
    print(f"{'model':<8} {'threads':>7} {'examples/s':>11} {'ratio':>7}")
    for row in rows:
        ratio = row["examples_per_s"] / base
        print(f"{row['model']:<8} {row['threads']:>7} {row['examples_per_s']:>11.0f} {ratio:>7.2f}")
    result: dict[str, object] = {"rows": rows}
    if args.suite_time:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "mneme", "bench", "--suite", "babi-1k-memn2n",
                 "--out", out, "--jobs", "2", "--data-dir", str(args.data_dir)],
                check=True,
            )
            wall = time.perf_counter() - start
        print(f"\nwhole bAbI 1k suite (20 tasks, single-task, 1 repeat, 2 jobs): {wall:.0f} s")
        result["suite_seconds"] = wall
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
