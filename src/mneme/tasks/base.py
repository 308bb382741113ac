"""What every task provides: batches, a loss, and metrics in its paper's unit.

Two kinds of task share one interface. A *generated* task (copy, associative recall) draws fresh
examples with ``sample(batch_size, generator)``. A *dataset* task (bAbI, Penn Treebank) holds fixed
splits: the training loop walks ``num_train`` examples epoch by epoch and asks for
``train_batch(indices, generator)``; evaluation goes through ``eval_batches(split, batch_size)``.
Randomness comes only from the generator the loop passes in, which is what makes a resumed run
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

import torch

from mneme.errors import UserError
from mneme.types import Batch, ModelOutput, TaskInfo

__all__ = ["Batch", "DatasetTask", "GeneratedTask", "ModelOutput", "StreamTask", "Task",
           "TaskInfo", "check_splits", "reduce_metrics", "task_info"]


@runtime_checkable
class Task(Protocol):
    """The interface the training loop, evaluation and benchmark read.

    ``info`` declares the task's kind, inputs, outputs and metrics (``TaskInfo``); the loop
    reads ``info.kind`` to decide how to draw training batches (``GeneratedTask``,
    ``DatasetTask``, ``StreamTask``) and ``info.selection_metric`` to pick the best checkpoint.
    A task may also define ``finalize_metrics(metrics) -> metrics`` to add derived metrics
    (perplexity from nats), and ``training_hooks() -> list`` for hooks the loop installs with
    the recipe's (a curriculum, ``mneme.train.hooks.Hook``; ``mneme.train.run.build_hooks``).
    """

    name: str
    info: TaskInfo

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """The scalar training loss (mean over the batch) in the paper's unit."""
        ...

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Per-batch metrics as *sums* over examples, with ``count``; see ``reduce_metrics``."""
        ...

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Deterministic batches of an evaluation split (``"valid"`` or ``"test"``)."""
        ...


@runtime_checkable
class DatasetTask(Task, Protocol):
    """A task over a fixed training set, walked in epochs by the loop."""

    @property
    def num_train(self) -> int:
        """Number of training examples (after the validation hold-out)."""
        ...

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training examples ``indices`` ``(B,)``; ``generator`` drives training-time noise."""
        ...


@runtime_checkable
class GeneratedTask(Task, Protocol):
    """A task that draws fresh examples every step."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """A new batch of ``batch_size`` examples drawn with ``generator``."""
        ...


@runtime_checkable
class StreamTask(Task, Protocol):
    """Consecutive chunks of one stream (language models); the loop carries the state across."""

    def num_train_batches(self, batch_size: int) -> int:
        """Chunks in one pass over the training stream."""
        ...

    def train_batch_at(self, index: int, batch_size: int, generator: torch.Generator) -> Batch:
        """The ``index``-th chunk of the training stream."""
        ...


def task_info(task: object) -> TaskInfo:
    """``task.info``.

    Raises:
        TypeError: the task declares no ``TaskInfo`` (every task must; see ``mneme.types``).
    """
    info = getattr(task, "info", None)
    if not isinstance(info, TaskInfo):
        raise TypeError(f"{type(task).__name__} declares no TaskInfo: give it an ``info`` "
                        "attribute (mneme.types.TaskInfo)")
    return info


_GROUPED = re.compile(r"^(?P<metric>.+)_(?P<group>[a-z]+\d+)$")


def reduce_metrics(totals: Mapping[str, float]) -> dict[str, float]:
    """Turn summed metrics into means.

    ``count`` and keys starting with ``n_`` stay sums. A grouped key ``{metric}_{group}{N}`` (e.g.
    ``error_task3``, ``bits_len40``) is divided by ``n_{group}{N}`` when that count is present
    (per-task means in joint training, per-length means in generalisation tests); every other key
    by ``count``.
    """
    count = max(float(totals.get("count", 0.0)), 1.0)
    out: dict[str, float] = {}
    for key, value in totals.items():
        if key == "count" or key.startswith("n_"):
            out[key] = float(value)
            continue
        grouped = _GROUPED.match(key)
        if grouped and f"n_{grouped['group']}" in totals:
            out[key] = float(value) / max(float(totals[f"n_{grouped['group']}"]), 1.0)
        else:
            out[key] = float(value) / count
    return out


def check_splits(task: Task, batch_size: int, eval_batch_size: int) -> None:
    """Fail before training when a split cannot serve a run: an empty validation or test split
    (the best checkpoint is selected on validation), or, for a stream, a split too short for
    the batch sizes. A stream task names the file in its own errors.

    Raises:
        UserError: the first split that cannot be used.
    """
    if task_info(task).kind == "stream":
        task.num_train_batches(batch_size)  # type: ignore[attr-defined]
    for split in ("valid", "test"):
        if next(iter(task.eval_batches(split, eval_batch_size)), None) is None:
            hint = (" (raise --task.valid-fraction)" if split == "valid"
                    and getattr(getattr(task, "config", None), "valid_fraction", None) == 0
                    else "")
            raise UserError(f"{getattr(task, 'name', 'task')}: the {split} split is empty; a run "
                            f"needs both validation and test examples{hint}")
