"""Names to (config dataclass, factory): every task and model the CLI and the benchmark can build.

A new task or model registers here with its frozen config dataclass; the CLI flags, the run
directory's ``config.json`` and the bench suites are all generated from those dataclasses.
Imports are lazy so that ``mneme --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from mneme.errors import UserError
from mneme.train.config import TrainConfig


@dataclass(frozen=True)
class Entry:
    """A registered task or model: where its config class and factory live."""

    name: str
    config: str
    """``module:ClassName`` of the frozen config dataclass."""
    factory: str
    """``module:function``; tasks: ``f(config) -> Task``; models: ``f(config, task) -> Module``."""
    summary: str
    needs_data: bool = False
    tasks: tuple[str, ...] = ()
    """Models: the tasks it is built for (empty: any)."""

    def config_class(self) -> type:
        return _load(self.config)

    def build(self, *args: Any) -> Any:
        return _load(self.factory)(*args)


TASKS: dict[str, Entry] = {
    "babi": Entry(
        "babi",
        "mneme.tasks.babi:BabiConfig",
        "mneme.tasks.babi:BabiTask",
        "bAbI question answering, 20 tasks, 1k or 10k (Weston et al. 2015)",
        needs_data=True,
    ),
    "retrieval": Entry(
        "retrieval",
        "mneme.tasks.retrieval:RetrievalConfig",
        "mneme.tasks.retrieval:build_retrieval_task",
        "associative retrieval, c9k8j3f1??c -> 9 (Ba et al. 2016, section 4.1)",
    ),
}

MODELS: dict[str, Entry] = {
    "memn2n": Entry(
        "memn2n",
        "mneme.memory.memn2n:MemN2NConfig",
        "mneme.memory.memn2n:build_memn2n",
        "End-To-End Memory Network (Sukhbaatar et al. 2015)",
        tasks=("babi",),
    ),
    "lstm": Entry(
        "lstm",
        "mneme.models.qa:LSTMQAConfig",
        "mneme.models.qa:build_lstm_qa",
        "LSTM reading story and question as one sequence (torch.nn.LSTM)",
        tasks=("babi",),
    ),
    "fast-weights": Entry(
        "fast-weights",
        "mneme.models.classifier:FastWeightsClassifierConfig",
        "mneme.models.classifier:build_classifier",
        "layer-normalised fast-weight RNN (Ba et al. 2016)",
        tasks=("retrieval",),
    ),
    "delta-fw": Entry(
        "delta-fw",
        "mneme.models.classifier:DeltaClassifierConfig",
        "mneme.models.classifier:build_classifier",
        "delta-rule fast weight programmer (Schlag et al. 2021)",
        tasks=("retrieval",),
    ),
    "irnn": Entry(
        "irnn",
        "mneme.models.classifier:IRNNClassifierConfig",
        "mneme.models.classifier:build_classifier",
        "ReLU RNN with identity init (Le et al. 2015; torch.nn.RNN)",
        tasks=("retrieval",),
    ),
    "alstm": Entry(
        "alstm",
        "mneme.models.classifier:AssociativeLSTMClassifierConfig",
        "mneme.models.classifier:build_classifier",
        "associative LSTM (Danihelka et al. 2016)",
        tasks=("retrieval",),
    ),
}

TASK_MODELS: dict[tuple[str, str], Entry] = {
    ("retrieval", "lstm"): Entry(
        "lstm",
        "mneme.models.classifier:LSTMClassifierConfig",
        "mneme.models.classifier:build_classifier",
        "LSTM classifier (torch.nn.LSTM)",
        tasks=("retrieval",),
    ),
}
"""A model name whose architecture depends on the task: (task, model) -> entry, read first."""


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _lookup(table: Mapping[str, Entry], kind: str, name: str) -> Entry:
    if name not in table:
        known = ", ".join(sorted(table))
        raise UserError(f"unknown {kind} {name!r}; known {kind}s: {known}")
    return table[name]


def task_entry(name: str) -> Entry:
    """The registered task ``name``; ``UserError`` listing the known ones otherwise."""
    return _lookup(TASKS, "task", name)


def model_entry(name: str, task: str | None = None) -> Entry:
    """The registered model ``name`` (for ``task``, when the model depends on it).

    Raises:
        UserError: an unknown name, listing the known ones.
    """
    if task is not None and (task, name) in TASK_MODELS:
        return TASK_MODELS[(task, name)]
    entry = _lookup(MODELS, "model", name)
    if task is not None and entry.tasks and task not in entry.tasks:
        fits = sorted(n for n, e in MODELS.items() if not e.tasks or task in e.tasks)
        fits += sorted(n for t, n in TASK_MODELS if t == task)
        raise UserError(f"model {name!r} is built for task(s) {', '.join(entry.tasks)}, not "
                        f"{task!r}; models for {task}: {', '.join(fits)}")
    return entry


def validate(config: Any) -> None:
    """Run ``config.validate()`` if it has one (raises ``UserError`` naming the field)."""
    check = getattr(config, "validate", None)
    if callable(check):
        check()


def config_from_dict(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Build the frozen dataclass ``cls`` from plain JSON values.

    Raises:
        UserError: a key that ``cls`` has no field for (named with ``where``), or a bad value.
    """
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UserError(
            f"{where}: unknown config field {unknown[0]!r} for {cls.__name__}; "
            f"known fields: {', '.join(sorted(names))}"
        )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON values."""
    assert is_dataclass(config)
    return dataclasses.asdict(config)  # type: ignore[arg-type]




def recipe(
    task_name: str, model_name: str, task_config: Any, model_config: Any
) -> tuple[Any, TrainConfig]:
    """The published training recipe for (task, model): model config and ``TrainConfig`` defaults.

    MemN2N on bAbI follows the authors' Matlab code (which the paper's numbers come from): SGD on
    the batch-summed loss, batch 32, gradient norm clipped at 40, linear start for 20 epochs at
    lr 0.005, then 100 epochs from lr 0.005 halved every 25. Joint training: d = 50, linear start
    30 epochs, then 60 epochs halved every 15.
    """
    if task_name == "babi" and model_name == "memn2n":
        joint = bool(getattr(task_config, "joint", False))
        if joint:
            model_config = dataclasses.replace(
                model_config, embedding_dim=50, linear_start_epochs=30
            )
        ls = model_config.linear_start
        ls_epochs = model_config.linear_start_epochs if ls else 0
        main_epochs, every = (60, 15) if joint else (100, 25)
        train = TrainConfig(
            epochs=ls_epochs + main_epochs,
            batch_size=32,
            optimizer="sgd",
            lr=0.005 if ls else 0.01,
            lr_schedule="step",
            lr_decay=0.5,
            lr_decay_every=every,
            clip_norm=40.0,
            loss_reduction="sum",
            eval_batch_size=1000,
        )
        return model_config, train
    if task_name == "babi" and model_name == "lstm":
        return model_config, TrainConfig(
            epochs=100,
            batch_size=32,
            optimizer="adam",
            lr=1e-3,
            lr_schedule="constant",
            clip_norm=5.0,
            eval_batch_size=500,
        )
    if task_name == "retrieval":
        # Ba et al. 2016, section 4.1: Adam, mini-batches of 128; 100k training sequences make
        # 781 steps an epoch, so 64 epochs are 50k steps
        return model_config, TrainConfig(
            epochs=64,
            batch_size=128,
            optimizer="adam",
            lr=1e-3,
            lr_schedule="constant",
            clip_norm=5.0,
            eval_batch_size=2000,
        )
    return model_config, TrainConfig()


def build_hooks(model_name: str, model_config: Any, model: Any, train: TrainConfig) -> list[Any]:
    """Training hooks a model's recipe needs (MemN2N: linear start)."""
    if model_name == "memn2n" and getattr(model_config, "linear_start", False):
        from mneme.train.hooks import LinearStart

        return [LinearStart(epochs=model_config.linear_start_epochs, lr=train.lr)]
    return []
