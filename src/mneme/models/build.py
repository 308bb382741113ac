"""From names to models: ``--model NAME`` is a task-facing model or a core composed with the task.

``model_entry(name, task)`` resolves a name: a registered task-facing model (MemN2N, MemNN,
seq2seq, pointer network, language models) when one has the name, else a registered core, which
``mneme.models.sequence.compose`` turns into a ``SequenceModel`` for any task that declares a
sequence view. ``build_model`` builds either from a config and a task.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mneme import registry
from mneme.errors import UserError
from mneme.models.sequence import compose, composed_config
from mneme.registry import Entry

__all__ = ["build_model", "is_composed", "model_entry", "model_names"]


def _fits(entry: Entry, task_name: str) -> bool:
    if not entry.tasks:
        return True
    family = registry.task_entry(task_name).family
    return task_name in entry.tasks or (family is not None and family in entry.tasks)


def model_names(task_name: str | None = None) -> list[str]:
    """Every model and core name (that fits ``task_name``, when given), sorted."""
    registry.load()
    names = [n for n, e in registry.MODELS.items() if task_name is None or _fits(e, task_name)]
    return sorted(names) + sorted(registry.CORES)


def model_entry(name: str, task_name: str | None = None) -> Entry:
    """The entry ``--model name`` means (on ``task_name``): a task-facing model, or a core
    composed with the task (an entry whose config is ``composed_config(core)``).

    Raises:
        UserError: an unknown name (listing the known ones), or a task-facing model built for
            other tasks (listing the models for this one).
    """
    registry.load()
    if name in registry.MODELS:
        entry = registry.MODELS[name]
        if task_name is not None and not _fits(entry, task_name):
            raise UserError(f"model {name!r} is built for task(s) {', '.join(entry.tasks)}, not "
                            f"{task_name!r}; models for {task_name}: "
                            f"{', '.join(model_names(task_name))}")
        return entry
    if name in registry.CORES:
        core = registry.CORES[name]
        return Entry(name, "model", composed_config(core),
                     lambda config, task: compose(core, config, task.info),
                     f"{core.summary} (core + input adapter + head)", source=core.source,
                     family=core.family, size=core.size, module=core.module)
    raise UserError(f"unknown model {name!r}; task-facing models: "
                    f"{', '.join(sorted(registry.MODELS))}; cores: "
                    f"{', '.join(sorted(registry.CORES))}")


def is_composed(name: str) -> bool:
    """True when ``--model name`` is a core composed with the task."""
    registry.load()
    return name not in registry.MODELS and name in registry.CORES


def build_model(name: str, config: Any, task: Any) -> nn.Module:
    """A freshly initialised model ``name`` with ``config`` for ``task``.

    A task-facing model's builder receives ``task.spec`` (sizes and vocabulary) when the task
    has one, else the task; a core is composed with the task's ``TaskInfo`` (the composed
    entry's ``build(config, task)`` takes the task itself).

    Raises:
        UserError: an unknown name, a model that does not fit the task, a bad config field, or
            a core on a task without a sequence view.
    """
    entry = model_entry(name, getattr(task, "name", None))
    if is_composed(name):
        info = getattr(task, "info", None)
        if info is None or not info.composable:
            task_name = getattr(task, "name", None)
            fits = [n for n in model_names(task_name) if n in registry.MODELS] \
                if task_name in registry.TASKS else sorted(registry.MODELS)
            raise UserError(f"task {task_name or task!r} declares no sequence view, so core "
                            f"{name!r} cannot read it; models for it: {', '.join(fits)}")
        return compose(registry.CORES[name], config, info)
    return entry.build(config, getattr(task, "spec", task))
