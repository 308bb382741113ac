"""``mneme train``: train a model on a task, or resume a run.

    mneme train --task babi --task.task-id 1 --model memn2n [--train.epochs 20] [--out RUN]
    mneme train --resume RUN [--train.lr 0.001] [--train.epochs 40]

The options depend on the pair: ``--task.*`` are the task's config fields, ``--model.*`` the
model's, so ``TrainArgs`` is generic in the two config types and ``parse_train`` reads argv in
two steps (see there). An interrupted training exits with 130 after saving a checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mneme.commands.parsing import HELP, default_data_dir, parse
from mneme.config import TrainConfig
from mneme.errors import UserError

TaskT = TypeVar("TaskT")
ModelT = TypeVar("ModelT")


@dataclass(frozen=True)
class TrainArgs(Generic[TaskT, ModelT]):
    """The options of ``mneme train --task TASK --model MODEL``."""

    task: TaskT
    """The task's config (``--task.FIELD``)."""
    model: ModelT
    """The model's config (``--model.FIELD``); defaults from the recipe for the pair."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """The training loop's config; defaults from the recipe for the pair."""
    out: str | None = None
    """Run directory (default: runs/TASK-MODEL-TIME)."""
    data_dir: str | None = None
    """Dataset root holding babi/, ptb/, ...; None: $MNEME_DATA."""


@dataclass(frozen=True)
class NoOptions:
    """No options until --task NAME and --model NAME are given."""


@functools.cache
def train_args_type(task_config: type, model_config: type) -> Any:
    """``TrainArgs`` for one (task config, model config) pair of types, built once."""
    return TrainArgs[task_config, model_config]  # type: ignore[valid-type]


@dataclass(frozen=True)
class TrainCommand:
    """What ``mneme train`` was asked: a new run of (``task``, ``model``), or ``resume`` one."""

    task: str = ""
    model: str = ""
    args: TrainArgs | None = None
    resume: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    """With ``resume``: the ``--train.*`` fields given (``RESUME_OVERRIDES``)."""


RESUME_OVERRIDES = ("epochs", "max_steps", "max_seconds", "lr", "lr_schedule", "lr_decay",
                    "lr_decay_every", "lr_decay_start", "clip_norm", "clip_value", "early_stop",
                    "progress", "tensorboard", "threads", "device")
"""The ``--train.*`` fields ``--resume`` may change: the schedule and budget (a diverged run goes
on at a smaller rate; a plateaued one is annealed, e.g. ``--train.lr-schedule step
--train.lr-decay-start N`` from its epoch N, which equals a run trained so from the start; a run
stopped by ``max_steps`` goes on with a larger one), clipping, the device, and how it shows
progress."""


@dataclass(frozen=True)
class ResumeArgs:
    """The options of ``mneme train --resume RUN``."""

    train: TrainConfig
    """The run's training config; only the schedule, budget and clipping may change."""


def parse_train(argv: Sequence[str]) -> TrainCommand:
    """Read ``mneme train``'s argv in two steps.

    1. ``--task NAME --model NAME`` (or ``--resume RUN``, which takes nothing else) are read
       first: they pick the config types, hence the ``TrainArgs`` type (``train_args_type``).
    2. tyro parses the rest into that type. The recipe's defaults depend on the task and model
       fields given (``--task.joint``, ``--model.controller``, ...), so tyro reads them once with
       the configs' own defaults, and once more with the recipe's defaults for those fields,
       which every explicit flag overrides.

    Raises:
        UserError: ``--resume`` with other options, no task or model, or unknown names.
    """
    from mneme import registry
    from mneme.models.build import model_entry
    from mneme.models.recipes import recipe

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in ("--task", "--model", "--resume"):
        pre.add_argument(name)
    known, rest = pre.parse_known_args(list(argv))
    if known.resume:
        if known.task or known.model:
            raise UserError(
                "train --resume RUN takes no --task or --model (the run's config.json is used)"
            )
        return TrainCommand(resume=Path(known.resume), overrides=_resume_overrides(
            Path(known.resume), rest))
    if not known.task or not known.model:
        if any(a in HELP for a in rest):
            blank = train_args_type(NoOptions, NoOptions)
            parse(blank, ["--help"], "mneme train --task NAME --model NAME | --resume RUN",
                  names_help())  # prints the names and the options, exits 0
        missing = " and ".join(f"--{n} NAME" for n in ("task", "model")
                               if not getattr(known, n))
        raise UserError(f"train needs {missing} (mneme train --help lists the names; e.g. "
                        "mneme train --task babi --task.task-id 1 --model memn2n)")
    task_entry = registry.task_entry(known.task)
    entry = model_entry(known.model, known.task)
    args_type = train_args_type(task_entry.config, entry.config)
    prog = f"mneme train --task {known.task} --model {known.model}"
    description = f"Train {entry.summary} on {task_entry.summary}."
    given = parse(args_type, [a for a in rest if a not in HELP], prog, description,
                  default=args_type(task=task_entry.config(), model=entry.config()))
    model_cfg, train_cfg = recipe(known.task, known.model, given.task, given.model)
    defaults = args_type(task=given.task, model=model_cfg, train=train_cfg)
    args = parse(args_type, rest, prog, description, default=defaults)
    return TrainCommand(known.task, known.model, args)


def names_help(width: int = 78) -> str:
    """The ``--help`` text of ``train`` without a task: the registered names, wrapped."""
    import textwrap

    from mneme import registry

    registry.load()
    groups = (("tasks", registry.TASKS), ("task-facing models", registry.MODELS),
              ("cores (run on every sequence task)", registry.CORES))
    lines = ["Train a model on a task. Name both; then --help lists every option."]
    for label, table in groups:
        lines.append(textwrap.fill(", ".join(sorted(table)), width, initial_indent=f"{label}: ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    lines.append("e.g. mneme train --task babi --task.task-id 1 --model memn2n")
    return "\n\n".join(lines)


def _resume_overrides(run_dir: Path, argv: Sequence[str]) -> dict[str, Any]:
    """The ``--train.*`` fields of ``argv`` that differ from the run's.

    Raises:
        UserError: a field ``--resume`` may not change (the others would break the run).
    """
    if not argv:
        return {}
    from mneme.train.run import read_config

    stored = read_config(run_dir).train
    description = ("Resume a run where its last checkpoint left it. Of --train.*, these may "
                   f"change: {', '.join(RESUME_OVERRIDES)}.")
    given = parse(ResumeArgs, argv, "mneme train --resume RUN", description,
                  default=ResumeArgs(stored)).train
    changed = {f.name: getattr(given, f.name) for f in dataclasses.fields(given)
               if getattr(given, f.name) != getattr(stored, f.name)}
    fixed = sorted(set(changed) - set(RESUME_OVERRIDES))
    if fixed:
        raise UserError(f"--train.{fixed[0].replace('_', '-')} cannot change on --resume (it "
                        f"would break the run); these can: {', '.join(RESUME_OVERRIDES)}")
    return changed


def run(command: TrainCommand) -> int:
    """Train (or resume) and print the headline metric; 130 when interrupted."""
    from mneme.train.run import RunConfig, read_config, train_run

    if command.resume is not None:
        config = read_config(command.resume)
        if command.overrides:
            train = dataclasses.replace(config.train, **command.overrides)
            if _finished(command.resume, train):
                raise UserError(f"{command.resume}: the run is finished and these --train.* "
                                "options train it no further (a larger --train.epochs, "
                                "--train.max-steps or --train.max-seconds does)")
            config = dataclasses.replace(config, train=train)
            config.validate()
        dist = _distributed(config.train.device)
        summary = train_run(config, command.resume, resume=True, distributed=dist)
        return _report_training(summary, command.resume, dist)
    args = command.args
    assert args is not None
    task_cfg = _with_data_dir(args.task, args.data_dir)
    config = RunConfig(command.task, task_cfg, command.model, args.model, args.train)
    config.validate()
    run_dir = Path(args.out) if args.out else _default_run_dir(command.task, task_cfg,
                                                               command.model)
    dist = _distributed(config.train.device)
    if dist.world_size > 1 and not args.out:
        raise UserError("with torchrun, pass --out RUN_DIR so that every rank uses the same run")
    summary = train_run(config, run_dir, distributed=dist)
    return _report_training(summary, run_dir, dist)


def main(argv: Sequence[str]) -> int:
    """``mneme train ARGV``."""
    return run(parse_train(argv))


def _with_data_dir(task_cfg: Any, data_dir: str | None) -> Any:
    names = {f.name for f in dataclasses.fields(task_cfg)}
    if "data_dir" in names and task_cfg.data_dir is None:
        return dataclasses.replace(task_cfg, data_dir=default_data_dir(data_dir))
    return task_cfg


def _finished(run_dir: Path, train: Any) -> bool:
    """The run has ended and ``train`` (its ``TrainConfig`` with the new options) trains none
    of its repeats further (``mneme.train.resume.finished``: a larger budget would)."""
    from mneme.train.resume import finished

    results = [p.parent for p in [run_dir / "final.json", *run_dir.glob("repeat-*/final.json")]
               if p.is_file()]
    if not results and not (run_dir / "summary.json").exists():
        return False
    return all(finished(d, train) is not None for d in results)


def _distributed(device: str) -> Any:
    """This process's rank under ``torchrun`` (read from the environment), else one process."""
    from mneme.train.distributed import from_environment

    return from_environment(os.environ, device)


def _default_run_dir(task_name: str, task_cfg: Any, model_name: str) -> Path:
    tag = task_name
    if getattr(task_cfg, "joint", False):
        tag += "-joint"
    elif hasattr(task_cfg, "task_id"):
        tag += str(task_cfg.task_id)
    return Path("runs") / f"{tag}-{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"


_HEADLINE = ("perplexity", "bpc", "bits", "mse", "error", "unsolved")
"""The metric ``train`` prints, the first a run has: each task's paper unit."""


def _report_training(summary: dict[str, Any], run_dir: Path, dist: Any = None) -> int:
    if dist is not None and not dist.is_main:
        return 130 if summary.get("interrupted") else 0
    if summary.get("interrupted"):
        print(f"interrupted; checkpoint saved. Resume with: mneme train --resume {run_dir}")
        return 130
    test, valid = summary["test"], summary["valid"]
    name = next((m for m in _HEADLINE if m in valid), "error")

    def show(value: float) -> str:
        return f"{100 * value:.2f}%" if name in ("error", "unsolved") else f"{value:.4g}"

    print(
        f"{run_dir}: valid {name} {show(valid.get(name, float('nan')))}, "
        f"test {name} {show(test.get(name, float('nan')))} "
        f"(best epoch {summary['best_epoch']}, {summary['steps']} steps, "
        f"{summary['seconds']:.1f} s{_stopped(summary)})"
    )
    return 0


def _stopped(summary: dict[str, Any]) -> str:
    """``", stopped by --train.max-steps"`` when a budget ended a repeat's training."""
    budgets = sorted({r["stopped"] for r in summary.get("repeats", ()) if r.get("stopped")})
    return "".join(f", stopped by --train.{b.replace('_', '-')}" for b in budgets)
