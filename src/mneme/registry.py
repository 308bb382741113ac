"""Names to builders: every core, task and model, registered beside its definition.

A core, a task or a task-facing model registers itself with a decorator on its builder::

    @register_core("ntm", config=NTMConfig, summary="Neural Turing Machine", size="controller_size")
    def build_ntm_core(config: NTMConfig, input_size: int) -> NTM: ...

    @register_task("copy", config=CopyConfig, summary="copy random 8-bit vectors")
    class CopyTask: ...                      # builder: config -> task

    @register_model("memn2n", config=MemN2NConfig, summary="...", tasks=("babi",))
    def build_memn2n(config, spec): ...      # builder: (config, task spec) -> nn.Module

The tables fill when the modules are imported: ``load()`` imports every module of mneme's
mechanism, task and model packages (so a new file needs no edit elsewhere), then the plugin
modules named in ``$MNEME_PLUGINS`` (comma-separated) and the ``mneme.plugins`` entry points.
Names are unique across cores and models: ``lstm`` is one thing everywhere.

This module is the bottom layer: it imports no other part of mneme at import time.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal, TypeVar

from mneme.errors import UserError

__all__ = [
    "CORES",
    "MODELS",
    "PLUGINS_ENV",
    "TASKS",
    "Entry",
    "config_from_dict",
    "core_entry",
    "load",
    "register_core",
    "register_model",
    "register_task",
    "task_entry",
    "to_dict",
]

PLUGINS_ENV = "MNEME_PLUGINS"
BUILTIN_PACKAGES = (
    "mneme.cells",
    "mneme.attention",
    "mneme.memory",
    "mneme.associative",
    "mneme.tasks",
    "mneme.models",
)
"""Every module of these packages is imported by ``load()``: registration is by import."""

Kind = Literal["core", "task", "model"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """A registered core, task or model.

    Attributes:
        name: the unique name (``--task NAME``, ``--model NAME``).
        kind: ``core``, ``task`` or ``model``.
        config: the frozen config dataclass (the CLI's ``--task.*`` / ``--model.*`` flags).
        build: cores ``(config, input_size) -> Core``; tasks ``(config) -> Task``; models
            ``(config, spec) -> nn.Module`` with ``spec`` the task's ``spec`` (or the task).
        summary: one line for ``--help`` and listings.
        source: the paper (and section) it implements.
        family: recipes and reports group by it (cores: ``cell``, ``external``, ``fast-weights``,
            ``attention``; tasks: ``algorithmic``, ``babi``, ``lm``, ...).
        needs_data: tasks: reads a dataset from the data directory.
        tasks: models: the task names or task families it is built for (empty: any).
        size: cores: the config field that sets the core's width (``hidden_size``).
        compiles: cores: has a ``torch.compile`` path (a ``compile_steps`` method, used by
            ``TrainConfig.compile``); ``mneme bench --compile`` switches only these cells to it.
        module: the module that registered it (recorded in run directories for plugins).
    """

    name: str
    kind: Kind
    config: type
    build: Callable[..., Any]
    summary: str
    source: str = ""
    family: str | None = None
    needs_data: bool = False
    tasks: tuple[str, ...] = ()
    size: str = "hidden_size"
    compiles: bool = False
    module: str = ""

    def config_class(self) -> type:
        """The config dataclass (kept as a method for the older call sites)."""
        return self.config


CORES: dict[str, Entry] = {}
TASKS: dict[str, Entry] = {}
MODELS: dict[str, Entry] = {}
_TABLES: dict[Kind, dict[str, Entry]] = {"core": CORES, "task": TASKS, "model": MODELS}
_loaded = False


def _register(kind: Kind, name: str, config: type, summary: str, **extra: Any
              ) -> Callable[[F], F]:
    if not is_dataclass(config):
        raise TypeError(f"register_{kind}({name!r}): config must be a dataclass")

    def decorator(build: F) -> F:
        table = _TABLES[kind]
        module = getattr(build, "__module__", "")
        clash = table.get(name) or (MODELS.get(name) if kind == "core" else
                                    CORES.get(name) if kind == "model" else None)
        if clash is not None and (clash.module, clash.build.__qualname__) != (
                module, build.__qualname__):
            raise ValueError(f"{kind} name {name!r} is taken by {clash.kind} {clash.name!r} "
                             f"({clash.module})")
        table[name] = Entry(name, kind, config, build, summary, module=module, **extra)
        return build

    return decorator


def register_core(name: str, *, config: type, summary: str, source: str = "",
                  family: str | None = None, size: str = "hidden_size",
                  compiles: bool = False) -> Callable[[F], F]:
    """Register a core builder ``(config, input_size) -> Core`` under ``name``.

    Raises:
        ValueError: ``name`` is already a core or a model registered elsewhere.
    """
    return _register("core", name, config, summary, source=source, family=family, size=size,
                     compiles=compiles)


def register_task(name: str, *, config: type, summary: str, source: str = "",
                  family: str | None = None, needs_data: bool = False) -> Callable[[F], F]:
    """Register a task builder ``(config) -> Task`` (a task class is one) under ``name``.

    Raises:
        ValueError: ``name`` is already a task registered elsewhere.
    """
    return _register("task", name, config, summary, source=source, family=family,
                     needs_data=needs_data)


def register_model(name: str, *, config: type, summary: str, source: str = "",
                   tasks: Iterable[str] = ()) -> Callable[[F], F]:
    """Register a task-facing model builder ``(config, spec) -> nn.Module`` under ``name``;
    ``tasks`` are the task names or families it is built for (empty: any).

    Raises:
        ValueError: ``name`` is already a core or a model registered elsewhere.
    """
    return _register("model", name, config, summary, source=source, tasks=tuple(tasks))


def _import_all(package: str) -> None:
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)


def plugin_modules(environ: Mapping[str, str] | None = None) -> list[str]:
    """The modules named in ``$MNEME_PLUGINS`` (comma-separated), in order."""
    value = (os.environ if environ is None else environ).get(PLUGINS_ENV, "")
    return [m.strip() for m in value.split(",") if m.strip()]


def load(extra: Iterable[str] = ()) -> None:
    """Import every builtin module (once), the plugins and ``extra`` modules: the tables fill.

    Raises:
        UserError: a plugin module that cannot be imported.
    """
    global _loaded
    if not _loaded:
        for package in BUILTIN_PACKAGES:
            _import_all(package)
        try:
            from importlib.metadata import entry_points

            for point in entry_points(group="mneme.plugins"):
                point.load()
        except Exception as exc:  # a broken third-party entry point must not break mneme
            warnings.warn(f"a mneme.plugins entry point failed to load: {exc}", stacklevel=2)
        _loaded = True
    for module in [*plugin_modules(), *extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UserError(f"plugin module {module!r} cannot be imported ({exc}); check "
                            f"${PLUGINS_ENV} and PYTHONPATH") from None


def _lookup(kind: Kind, name: str) -> Entry:
    load()
    table = _TABLES[kind]
    if name not in table:
        raise UserError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(table))}")
    return table[name]


def task_entry(name: str) -> Entry:
    """The registered task ``name``; ``UserError`` listing the known ones otherwise."""
    return _lookup("task", name)


def core_entry(name: str) -> Entry:
    """The registered core ``name``; ``UserError`` listing the known ones otherwise."""
    return _lookup("core", name)


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
