"""The one training loop every model and task goes through.

``Trainer.fit()`` trains a model on a task and leaves a run directory::

    RUN/config.json        the full configuration (task, model, train), as plain JSON
    RUN/vocab.json         dataset tasks: the vocabularies and sizes (``mneme.train.portable``)
    RUN/metrics.jsonl      one line per evaluation: epoch, step, lr, train and valid metrics
    RUN/checkpoints/       last.pt (resume point), prev.pt (the one before), best.pt (best on
                           validation), each with its SHA-256 in NAME.sha256
    RUN/final.json         valid and test metrics of the best checkpoint, steps, epochs, seconds;
                           a run extended to a larger budget keeps the earlier one as
                           final-stepN.json
    RUN/model.safetensors  the best weights (with the ``safetensors`` extra)
    RUN/tb/                TensorBoard event files (with the ``tensorboard`` extra); each resume
                           that logs adds one more file
    RUN/.lock              held by the process that owns the run; the PID of the last owner

The loop is deterministic given the seed: the batch order of epoch ``e`` is a permutation drawn from
a generator seeded by ``(seed, e)``, and every other random draw comes from RNGs that checkpoints
capture. A run stopped at any step (Ctrl-C, a crash after a checkpoint, SIGKILL at any write) and
resumed with ``fit(resume=True)`` continues bit-identically (``docs/reliability.md``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mneme.config import TrainConfig
from mneme.errors import UserError
from mneme.tasks.base import Batch, Task, task_info
from mneme.train import resume as runstate
from mneme.train.checkpoint import (
    atomic_write_text,
    checksum_path,
    load_checkpoint,
    save_checkpoint,
)
from mneme.train.device import resolve_device
from mneme.train.distributed import Distributed
from mneme.train.evaluate import FitResult, epoch_permutation, evaluate
from mneme.train.hooks import Hook
from mneme.train.logging import MetricsLog
from mneme.train.rundir import own_run
from mneme.train.session import (
    export_safetensors,
    install_sigint,
    learning_rate,
    make_optimizer,
    plain,
    progress,
    restore_sigint,
)
from mneme.train.tracking import SYNC_EVERY, EpochLoss, budget_spent, valid_postfix
from mneme.types import detach_state, pack_state


class Trainer:
    """Trains ``model`` on ``task`` under ``config`` into ``run_dir``.

    Args:
        task: a ``DatasetTask`` (walked in epochs) or a ``GeneratedTask``.
        model: maps ``batch.inputs`` to a ``ModelOutput``.
        config: the training configuration.
        run_dir: where the run directory lives (created).
        full_config: the plain-JSON configuration stored as ``config.json``.
        hooks: called after every epoch with the validation metrics.
        callbacks: ``f(trainer)`` after every optimiser step (tests use it to interrupt).
    """

    def __init__(
        self,
        task: Task,
        model: nn.Module,
        config: TrainConfig,
        run_dir: Path,
        *,
        full_config: dict[str, Any] | None = None,
        hooks: Iterable[Hook] = (),
        callbacks: Iterable[Callable[[Trainer], None]] = (),
        distributed: Distributed | None = None,
    ) -> None:
        config.validate()
        self.task = task
        self.dist = distributed or Distributed()
        self.device = resolve_device(
            config.device, local_rank=self.dist.local_rank if self.dist.world_size > 1 else None)
        self.model = model.to(self.device)
        if self.dist.world_size > 1 and config.batch_size % self.dist.world_size:
            raise UserError(
                f"train.batch_size ({config.batch_size}) must be a multiple of the number of "
                f"processes ({self.dist.world_size}): each rank trains on an equal share"
            )
        # Gradients are averaged across ranks by DDP's hooks during backward.
        self.forward_model: nn.Module = self.dist.wrap(self.model)
        self._carry: Any = None  # a stream task's recurrent state between batches
        self.config = config
        self.run_dir = Path(run_dir)
        self.full_config = full_config or {"train": plain(config)}
        self.hooks = list(hooks)
        self.callbacks = list(callbacks)
        self.optimizer = make_optimizer(self.model, config)
        self.kind = task_info(task).kind
        self.selection_metric: str = task_info(task).selection_metric
        # The LR schedule restarts from ``base_lr`` at ``phase_start`` (used by linear start).
        self.schedule: dict[str, float] = {"base_lr": config.lr, "phase_start": 0}
        self.epoch = 0
        self.step = 0
        self.seconds = 0.0
        self.best: dict[str, Any] = {"value": math.inf, "epoch": 0}
        self.task_generator = torch.Generator().manual_seed(config.seed)
        self._epoch_sums = EpochLoss(self.device)
        self._stop_requested = False
        self.stopped: str | None = None  # the budget that ended training: max_steps, max_seconds
        self.early_stopped = False  # train.early_stop ended training (kept in last.pt)
        self._last_valid: dict[str, str] = {}  # shown on the progress bar
        self._log: MetricsLog | None = None
        self.saved: tuple[Path, int] | None = None  # the checkpoint written or resumed last

    # -- schedule --------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        if self.kind == "stream":
            return max(1, int(self.task.num_train_batches(self.config.batch_size)))  # type: ignore[attr-defined]
        if self.kind == "dataset":
            return max(1, self.task.num_train // self.config.batch_size)  # type: ignore[attr-defined]
        return self.config.epoch_steps

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` under the schedule's current phase."""
        return learning_rate(self.config, self.schedule, epoch)

    def restart_schedule(self, base_lr: float, at_epoch: int, *, hold: bool = False) -> None:
        """Start the LR schedule again from ``base_lr`` at epoch ``at_epoch``.

        With ``hold`` the rate stays at ``base_lr`` until the next restart (a warm-up phase).
        """
        self.schedule = {"base_lr": float(base_lr), "phase_start": int(at_epoch),
                         "hold": float(hold)}

    def request_stop(self) -> None:
        """Stop after the current step, saving a checkpoint to resume from."""
        self._stop_requested = True

    # -- checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def _carry_path(self, step: int) -> Path:
        return self.checkpoint_dir / f"carry-step{step}-rank{self.dist.rank}.pt"

    def save(self) -> None:
        """Write ``last.pt`` atomically, keeping the one before as ``prev.pt`` (and, distributed,
        each rank's carried state first).

        Raises:
            NonFiniteLossError: the weights are not finite (nothing is saved).
        """
        runstate.check_finite(self, f"at step {self.step}")
        per_rank = self.dist.world_size > 1
        if per_rank:
            save_checkpoint(self._carry_path(self.step), {"carry": pack_state(self._carry)})
            self.dist.barrier()
        if self.dist.is_main:
            last = self.checkpoint_dir / "last.pt"
            save_checkpoint(last, runstate.payload(self), keep_previous=True)
        self.saved = (self.checkpoint_dir / "last.pt", self.step)
        self.dist.barrier()
        if per_rank:  # older carry files are stale once last.pt names this step
            for old in self.checkpoint_dir.glob(f"carry-step*-rank{self.dist.rank}.pt"):
                if old != self._carry_path(self.step):
                    old.unlink(missing_ok=True)
                    checksum_path(old).unlink(missing_ok=True)

    # -- the loop --------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> FitResult:
        """Train to the budget (or early stop), then evaluate the best checkpoint on test.

        The process owns ``run_dir`` meanwhile (``mneme.train.rundir.own_run``). A fresh run
        saves ``last.pt`` at step 0 before it logs anything, so every record has a checkpoint.

        Raises:
            UserError: another process owns the run; ``resume`` without a checkpoint, or with a
                damaged one or a history that does not match it; a fresh run in a directory that
                holds one.
            NonFiniteLossError: the loss, weights or metrics became NaN or infinite (``last.pt``
                is kept as it was).
        """
        with own_run(self.run_dir, enabled=self.dist.is_main):
            if resume:
                finished = runstate.resume(self)
                if finished is not None:
                    return finished
            else:
                runstate.start(self)
            torch.set_num_threads(self.config.threads)
            try:
                interrupted = self._train_epochs()
            finally:
                assert self._log is not None
                self._log.close()
            if interrupted:
                return FitResult(self.run_dir, steps=self.step, seconds=self.seconds,
                                 interrupted=True)
            return self._finish()

    def _train_epochs(self) -> bool:
        """Train to the end of the budget; True when interrupted (checkpointed, nothing else).

        ``max_steps`` / ``max_seconds`` end training after the step that uses them up: a stop
        within an epoch checkpoints there; ``_finish`` then tests as at a normal end.
        """
        cfg = self.config
        spe = self.steps_per_epoch
        total = cfg.epochs * spe if cfg.max_steps is None else min(cfg.epochs * spe, cfg.max_steps)
        previous = install_sigint(self.request_stop)
        bar = progress(cfg.progress, total, self.step, self.run_dir.name)
        self.stopped = budget_spent(cfg, self.step, self.seconds)
        try:
            while self.epoch < cfg.epochs and self.stopped is None and not self.early_stopped:
                lr = self.lr_at(self.epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                order = None
                if self.kind == "stream":
                    if self.step == self.epoch * spe:
                        self._carry = None  # each epoch reads the stream from its start
                elif self.kind == "dataset":
                    order = epoch_permutation(cfg.seed, self.epoch, self.task.num_train)  # type: ignore[attr-defined]
                self.model.train()
                start = time.perf_counter()
                for index in range(self.step - self.epoch * spe, spe):
                    batch = self._train_batch(order, index)
                    batch = self.dist.shard(batch)
                    self._train_step(batch)
                    if bar is not None:
                        bar.update(1)
                    if self.step % SYNC_EVERY == 0:
                        self._sync(bar)
                    for callback in self.callbacks:
                        callback(self)
                    self.stopped = budget_spent(cfg, self.step,
                                                self.seconds + time.perf_counter() - start)
                    if self._stop_requested or (self.stopped and index + 1 < spe):
                        self.seconds += time.perf_counter() - start
                        self._sync(bar)
                        self.save()
                        return self._stop_requested
                self.seconds += time.perf_counter() - start
                self._sync(bar)
                self.epoch += 1
                stop = self._end_of_epoch(lr, bar)
                self.early_stopped = stop
                if stop or self.epoch == cfg.epochs:
                    self.stopped = None  # the budget in epochs (or early stopping) ended it
                if (self.epoch % cfg.checkpoint_every == 0 or stop or self.epoch == cfg.epochs
                        or self.stopped):
                    self.save()
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
            restore_sigint(previous)
        return False

    def _sync(self, bar: Any) -> None:
        """Read the epoch's loss from the device: raise if a step's loss was not finite, else
        show it on the progress bar."""
        bad = self._epoch_sums.check()
        if bad is not None:
            raise self._diverged_loss(*bad)
        if bar is not None:
            self._show(bar, self.epoch + 1, self._epoch_sums.mean(), refresh=False)

    def _show(self, bar: Any, epoch: int, loss: float, *, refresh: bool) -> None:
        rate = (bar.format_dict["rate"] or 0.0) * self.config.batch_size
        bar.set_postfix(epoch=epoch, ex_s=f"{rate:.0f}", loss=f"{loss:.3f}", **self._last_valid,
                        refresh=refresh)

    def _diverged_loss(self, value: float, step: int) -> Exception:
        return runstate.diverged(self, f"the training loss became {value} at step {step}")

    def _train_batch(self, order: torch.Tensor | None, index: int) -> Batch:
        cfg = self.config
        task: Any = self.task  # its kind says which of these it has (``mneme.tasks.base``)
        if self.kind == "stream":
            batch = task.train_batch_at(index, cfg.batch_size, self.task_generator)
        elif order is not None:
            indices = order[index * cfg.batch_size : (index + 1) * cfg.batch_size]
            batch = task.train_batch(indices, self.task_generator)
        else:
            batch = task.sample(cfg.batch_size, self.task_generator)
        return batch.to(self.device)

    def _train_step(self, batch: Batch) -> None:
        cfg = self.config
        if self.kind == "stream":
            output = self.forward_model(batch.inputs, state=self._carry)
            self._carry = detach_state(output.state)
        else:
            output = self.forward_model(batch.inputs)
        loss = self.task.loss(output, batch)
        bad = self._epoch_sums.add(loss, batch.size, self.step + 1)  # on the CPU: per step
        if bad is not None:
            raise self._diverged_loss(bad, self.step + 1)
        if cfg.loss_reduction == "sum":
            # The MemN2N reference sums the loss over the batch; lr and clipping assume it. Under
            # DDP the ranks' gradients are averaged, so each scales by the global batch.
            loss = loss * batch.size * self.dist.world_size
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_value is not None:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), cfg.clip_value)
        if cfg.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
        self.optimizer.step()
        self.step += 1

    def _end_of_epoch(self, lr: float, bar: Any = None) -> bool:
        """Evaluate, log, run the hooks; True when early stopping says stop."""
        cfg = self.config
        sums, self._epoch_sums = self._epoch_sums, EpochLoss(self.device)
        record: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "lr": lr,
            "seconds": round(self.seconds, 3),
            "train_loss": sums.mean(),
            "device": str(self.device),
        }
        valid = None
        if self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs:
            valid = evaluate(self.model, self.task, "valid", cfg.eval_batch_size, self.device)
            record.update({f"valid_{k}": v for k, v in valid.items()})
            runstate.check_finite(self, f"validating after epoch {self.epoch}", valid)
            value = valid[self.selection_metric]
            self._last_valid = valid_postfix(task_info(self.task), valid)
            # Ties go to the later epoch: equal validation error, more training.
            if value <= self.best["value"]:
                self.best = {"value": value, "epoch": self.epoch}
                self._save_best(valid)
        for hook in self.hooks:
            hook.on_epoch_end(self, valid)
        runstate.check_finite(self, f"after epoch {self.epoch}", record)
        assert self._log is not None
        self._log.write(record)
        if bar is not None:  # the epoch's loss and validation, as the summary shows them
            self._show(bar, self.epoch, record["train_loss"], refresh=True)
        return (
            valid is not None
            and cfg.early_stop is not None
            and (valid[self.selection_metric] <= cfg.early_stop)
        )

    def _save_best(self, valid: dict[str, float]) -> None:
        if self.dist.is_main:
            save_checkpoint(
                self.checkpoint_dir / "best.pt",
                {"model": self.model.state_dict(), "epoch": self.epoch, "valid": valid},
            )
        self.dist.barrier()

    def _finish(self) -> FitResult:
        cfg = self.config
        best_path = self.checkpoint_dir / "best.pt"
        if self.stopped and self.best["value"] == math.inf:
            # Stopped before any validation: the weights at the stop are the best there are.
            # A resume replaces them at its first validation (``last.pt`` holds no best).
            valid = evaluate(self.model, self.task, "valid", cfg.eval_batch_size, self.device)
            runstate.check_finite(self, "validating at the stop", valid)
            self._save_best(valid)
        best = load_checkpoint(best_path, require=("model", "valid", "epoch"))
        self.model.load_state_dict(best["model"])
        test = evaluate(self.model, self.task, "test", cfg.eval_batch_size, self.device)
        runstate.check_finite(self, "testing the best checkpoint", test)
        result = FitResult(
            self.run_dir, valid=dict(best["valid"]), test=test, best_epoch=int(best["epoch"]),
            steps=self.step, seconds=round(self.seconds, 3), stopped=self.stopped,
            epochs=self.epoch, early_stopped=self.early_stopped)
        if self.dist.is_main:
            export_safetensors(self.model, self.run_dir / "model.safetensors")
            atomic_write_text(
                self.run_dir / "final.json", json.dumps(result.to_json(), indent=2) + "\n"
            )
        self.dist.barrier()
        return result
