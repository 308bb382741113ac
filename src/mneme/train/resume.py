"""The trainer's state in and out of ``last.pt``: a fresh start, a checked resume, divergence.

Kept apart from ``mneme.train.loop`` so that the loop reads as a loop. ``start`` and ``resume``
run while the trainer owns its run directory (``mneme.train.rundir.own_run``); ``resume`` checks
everything (the checkpoint's checksum and fit, the history against it, the new schedule) before it
writes anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mneme.errors import NonFiniteLossError, UserError
from mneme.train.checkpoint import atomic_write_text, capture_rng, load_checkpoint, restore_rng
from mneme.train.evaluate import FitResult
from mneme.train.logging import MetricsLog, read_metrics
from mneme.train.portable import read_vocab, write_vocab
from mneme.train.rundir import (
    archive_final,
    load_resume_point,
    read_final,
    remove_stale_temp,
)
from mneme.train.tracking import EpochLoss, budget_spent
from mneme.types import pack_state, unpack_state

if TYPE_CHECKING:
    from mneme.train.loop import Trainer

__all__ = ["check_finite", "diverged", "finished", "payload", "restore", "resume", "start",
           "trained_epochs"]


def payload(trainer: Trainer) -> dict[str, Any]:
    """What ``last.pt`` holds: every state the run depends on, as tensors and plain values."""
    return {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "schedule": dict(trainer.schedule),
        "hooks": [hook.state_dict() for hook in trainer.hooks],
        "step": trainer.step,
        "epoch": trainer.epoch,
        "seconds": trainer.seconds,
        "best": dict(trainer.best),
        "early_stopped": trainer.early_stopped,
        "epoch_sums": trainer._epoch_sums.state(),
        "metrics_lines": trainer._log.lines if trainer._log else 0,
        "config": trainer.full_config,
        "rng": capture_rng(trainer.task_generator),
        # Distributed: each rank's carried state is in its own file (see Trainer.save()).
        "carry": pack_state(trainer._carry) if trainer.dist.world_size == 1 else None,
        "carry_per_rank": trainer.dist.world_size > 1,
    }


def restore(trainer: Trainer, state: dict[str, Any], source: Path) -> None:
    """Load ``state`` (read from ``source``) into ``trainer``.

    Raises:
        UserError: the checkpoint is of another model, optimiser or recipe (names ``source``).
    """
    try:
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        for hook, hook_state in zip(trainer.hooks, state["hooks"], strict=True):
            hook.load_state_dict(hook_state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{source}: does not fit this run's model ({first})") from None
    trainer.schedule = dict(state["schedule"])
    trainer.step = int(state["step"])
    trainer.epoch = int(state["epoch"])
    trainer.seconds = float(state["seconds"])
    trainer.best = dict(state["best"])
    trainer.early_stopped = bool(state.get("early_stopped", False))
    trainer._epoch_sums = EpochLoss(trainer.device, state.get("epoch_sums", {}))
    restore_rng(state["rng"], trainer.task_generator)
    trainer._carry = unpack_state(state.get("carry"))
    if state.get("carry_per_rank"):
        carry = load_checkpoint(trainer._carry_path(trainer.step), require=("carry",))
        trainer._carry = unpack_state(carry["carry"])


def start(trainer: Trainer) -> None:
    """Begin a fresh run: ``config.json``, ``vocab.json`` (dataset tasks), an empty log, and
    ``last.pt`` at step 0."""
    cfg, main = trainer.config, trainer.dist.is_main
    if (trainer.checkpoint_dir / "last.pt").exists():
        raise UserError(
            f"{trainer.run_dir}: already holds a run; resume it with --resume or choose another "
            "--out"
        )
    if main:
        remove_stale_temp(trainer.run_dir)
        _write_config(trainer)
        write_vocab(trainer.run_dir, trainer.task)
    trainer.dist.barrier()  # the other ranks' carry files are written only after the cleanup
    torch.manual_seed(cfg.seed)
    for hook in trainer.hooks:
        if hasattr(hook, "start"):
            hook.start(trainer)
    trainer._log = MetricsLog.start(trainer.run_dir, enabled=main, tensorboard=cfg.tensorboard)
    trainer.save()


def resume(trainer: Trainer) -> FitResult | None:
    """Restore the last good checkpoint (``prev.pt`` when ``last.pt`` is damaged) and cut the log
    back to it; the stored result of a finished run instead.

    A ``train.lr`` other than the checkpoint's scales every rate of the schedule by new / old;
    a larger ``train.epochs`` extends the budget. A finished run that a larger budget extends
    keeps its result as ``RUN/final-stepN.json`` (``mneme.train.rundir.archive_final``).

    Raises:
        UserError: no checkpoint, a damaged or foreign one, a history that does not match it, or
            ``train.epochs`` below the epochs trained. Nothing is written then.
    """
    cfg, main = trainer.config, trainer.dist.is_main
    done = finished(trainer.run_dir, cfg)
    if done is not None:
        return done  # a finished run: nothing to train, nothing to log
    source, state = load_resume_point(trainer.checkpoint_dir)
    restore(trainer, state, source)
    trainer.saved = (source, trainer.step)
    if cfg.epochs < trainer.epoch:
        raise UserError(f"train.epochs ({cfg.epochs}) is below the {trainer.epoch} epochs "
                        f"{trainer.run_dir} has trained already")
    config = state.get("config")
    old = config.get("train", {}) if isinstance(config, dict) else {}
    if isinstance(old.get("lr"), float) and old["lr"] != cfg.lr:
        trainer.schedule["base_lr"] = float(trainer.schedule["base_lr"]) * cfg.lr / old["lr"]
    trainer._log = MetricsLog.resume(
        trainer.run_dir, lines=int(state.get("metrics_lines", 0)), epoch=trainer.epoch,
        source=source, enabled=main, tensorboard=cfg.tensorboard,
    )
    if main:  # every check has passed: now the run may be written to
        remove_stale_temp(trainer.run_dir)
        if (trainer.run_dir / "final.json").is_file():  # a larger budget extends a finished run
            archive_final(trainer.run_dir)
        if {**old, "progress": None} != {**trainer.full_config["train"], "progress": None}:
            _write_config(trainer)
        if read_vocab(trainer.run_dir) is None:  # a run from before vocab.json
            write_vocab(trainer.run_dir, trainer.task)
    trainer.dist.barrier()
    return None


def finished(run_dir: Path, config: Any) -> FitResult | None:
    """The stored result of a finished run (``final.json``); None when there is none, or when
    ``config`` (a ``TrainConfig``) allows more training: ``max_steps`` / ``max_seconds`` stopped
    it and the budget is larger now, or it trained all its epochs (no early stop) and
    ``config.epochs`` is larger."""
    if not (run_dir / "final.json").exists():
        return None
    result = read_final(run_dir)
    if result.stopped:
        return None if budget_spent(config, result.steps, result.seconds) is None else result
    epochs, early = trained_epochs(run_dir, result)
    return None if not early and config.epochs > epochs else result


def trained_epochs(run_dir: Path, result: FitResult) -> tuple[int, bool]:
    """(epochs trained, whether early stopping ended them) of a finished run; for a
    ``final.json`` that does not say, read from the log and the stored budget (a run that ended
    before its epochs did was stopped early)."""
    if result.epochs is not None and result.early_stopped is not None:
        return result.epochs, result.early_stopped
    records = read_metrics(run_dir)
    at_end = [r for r in records if r.get("step") == result.steps] or records[-1:]
    epochs = int(at_end[-1].get("epoch", 0)) if at_end else 0
    if records and int(records[-1].get("step", 0)) > result.steps:
        return epochs, False  # trained past its result: an extension was under way
    try:
        stored = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        budget = int(stored["train"]["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return epochs, True  # unknown budget: never extended
    return epochs, epochs < budget


def _write_config(trainer: Trainer) -> None:
    text = json.dumps(trainer.full_config, indent=2) + "\n"
    atomic_write_text(trainer.run_dir / "config.json", text)


def diverged(trainer: Trainer, what: str) -> NonFiniteLossError:
    """The error for a run whose ``what`` became NaN or infinite; it names the checkpoint that is
    left, if any, and how to go on from it."""
    if trainer.saved is None or not trainer.saved[0].exists():
        kept = "no checkpoint was saved (try a smaller train.lr or train.clip_norm)"
    else:
        path, step = trainer.saved
        kept = (f"{path} (step {step}) is intact: resume from it with a smaller rate, mneme "
                f"train --resume {trainer.run_dir} --train.lr {trainer.config.lr / 10:g} (or "
                "set train.clip_norm)")
    return NonFiniteLossError(f"{what} (epoch {trainer.epoch + 1}); {kept}")


def check_finite(trainer: Trainer, what: str, values: Mapping[str, Any] | None = None) -> None:
    """Raise ``diverged`` when a number in ``values`` (or, with None, a weight) is NaN or
    infinite: such a state is never saved or logged."""
    if values is None:
        bad = next((n for n, p in trainer.model.state_dict().items()
                    if p.is_floating_point() and not bool(torch.isfinite(p).all())), None)
        if bad is not None:
            raise diverged(trainer, f"{what}: the weight {bad} became NaN or infinite")
        return
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise diverged(trainer, f"{what}: {key} became {value}")
