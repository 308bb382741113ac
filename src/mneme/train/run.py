"""A whole training run from a configuration: build, train best-of-N repeats, resume, reload.

``RunConfig`` is what ``config.json`` holds. ``train_run`` trains ``train.repeats`` runs with
seeds ``seed, seed+1, ...`` (in ``RUN/repeat-{i}/`` when there is more than one), keeps the one with
the best validation metric, and writes ``RUN/summary.json``. ``load_run`` rebuilds the task and the
selected model from a run directory for ``eval``, ``ask`` and ``plot``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from mneme import __version__, registry
from mneme.config import TrainConfig
from mneme.errors import ConfigError, UserError
from mneme.models.build import build_model as build_named_model
from mneme.models.build import is_composed, model_entry
from mneme.tasks.base import Task, task_info
from mneme.train.checkpoint import atomic_write_text, load_checkpoint
from mneme.train.device import resolve_device
from mneme.train.distributed import Distributed
from mneme.train.loop import FitResult, Trainer
from mneme.train.portable import build_task, load_task
from mneme.train.rundir import own_run, remove_stale_temp, resumable
from mneme.validation import Validated


@dataclass(frozen=True)
class RunConfig(Validated):
    """Everything a run is made from; ``config.json`` is ``to_json()`` of this. ``validate()``
    validates the task, model and train configs in turn."""

    task_name: str
    task: Any
    model_name: str
    model: Any
    train: TrainConfig

    def to_json(self) -> dict[str, Any]:
        data = {
            "mneme_version": __version__,
            "task": {"name": self.task_name, "config": registry.to_dict(self.task)},
            "model": {"name": self.model_name, "config": registry.to_dict(self.model)},
            "train": registry.to_dict(self.train),
        }
        plugins = plugin_modules(self.task_name, self.model_name)
        if plugins:
            data["plugins"] = plugins
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> RunConfig:
        """Rebuild from ``config.json`` data; ``UserError`` naming ``where`` on bad content.

        Plugin modules the run was made with (``"plugins"``) are imported first; model names
        of older versions are mapped to today's (``LEGACY_MODELS``).
        """
        try:
            task_name = data["task"]["name"]
            model_name = data["model"]["name"]
            task_data, model_data = data["task"]["config"], dict(data["model"]["config"])
            train_data = data["train"]
        except (KeyError, TypeError):
            raise UserError(f"{where}: not a mneme run configuration") from None
        registry.load(data.get("plugins", ()))
        model_name, model_data = _legacy(task_name, model_name, model_data)
        task_cls = registry.task_entry(task_name).config
        model_cls = model_entry(model_name, task_name).config
        return cls(
            task_name,
            registry.config_from_dict(task_cls, task_data, f"{where} (task)"),
            model_name,
            registry.config_from_dict(model_cls, model_data, f"{where} (model)"),
            registry.config_from_dict(TrainConfig, train_data, f"{where} (train)"),
        )


LEGACY_MODELS: dict[tuple[str, str], str] = {
    ("ptb", "lstm"): "rnn-lm", ("chars", "lstm"): "rnn-lm", ("retrieval", "delta-fw"): "delta-rule",
}
"""(task, model name before 0.2) -> the name today: the language models' ``lstm`` was the RNN
LM, and the delta-rule core was ``delta-fw``."""


def _legacy(task_name: str, model_name: str, model_data: dict[str, Any]
            ) -> tuple[str, dict[str, Any]]:
    name = LEGACY_MODELS.get((task_name, model_name), model_name)
    if task_name == "adding" and is_composed(name):
        model_data.pop("cell", None)  # the adding regressors named their cell twice
    if name == "lstm" and model_data.get("hidden_size", 0) is None:
        from mneme.models.recipes import PAPER_LSTM_SIZES  # the NTM tasks' LSTM: None = paper

        model_data["hidden_size"] = PAPER_LSTM_SIZES.get(task_name, 256)
    return name, model_data


def _legacy_weights(config: RunConfig, weights: dict[str, Any]) -> dict[str, Any]:
    """Checkpoint names of 0.1's bAbI LSTM (``embedding``, ``lstm``, ``output``) as the composed
    model's (``embedding``, ``core.lstm``, ``head``); other checkpoints unchanged."""
    if config.model_name != "lstm" or not any(k.startswith("output.") for k in weights):
        return weights
    renamed = {}
    for key, value in weights.items():
        if key.startswith("lstm."):
            key = "core." + key
        elif key.startswith("output."):
            key = "head." + key.removeprefix("output.")
        renamed[key] = value
    return renamed


def plugin_modules(task_name: str, model_name: str) -> list[str]:
    """The modules outside mneme that registered the run's task, model or core."""
    modules = [registry.task_entry(task_name).module, model_entry(model_name, task_name).module]
    return sorted({m for m in modules if m and m.split(".")[0] != "mneme"})


def build_model(config: RunConfig, task: Task) -> nn.Module:
    """A freshly initialised model of ``config`` for ``task`` (``mneme.models.build``)."""
    return build_named_model(config.model_name, config.model, task)


def build_hooks(config: RunConfig, train: TrainConfig, task: Task | None = None) -> list[Any]:
    """Training hooks a model's recipe needs (MemN2N: linear start), then the task's own
    (``task.training_hooks()``: a curriculum)."""
    hooks: list[Any] = []
    if config.model_name == "memn2n" and getattr(config.model, "linear_start", False):
        from mneme.train.hooks import LinearStart

        hooks.append(LinearStart(epochs=config.model.linear_start_epochs, lr=train.lr))
    task_hooks = getattr(task, "training_hooks", None)
    return hooks + (list(task_hooks()) if callable(task_hooks) else [])


def _fit_one(
    config: RunConfig,
    task: Task,
    run_dir: Path,
    *,
    progress: bool,
    callbacks: Iterable[Callable[[Trainer], None]],
    distributed: Distributed | None = None,
) -> FitResult:
    from mneme.train.resume import finished

    done = finished(run_dir, config.train)
    if done is not None:
        return done
    import torch

    torch.manual_seed(config.train.seed)
    model = build_model(config, task)
    if config.train.compile:
        from mneme.train.device import compile_steps

        compile_steps(model)
    hooks = build_hooks(config, config.train, task)
    train = dataclasses.replace(config.train, progress=progress and config.train.progress)
    trainer = Trainer(
        task,
        model,
        train,
        run_dir,
        full_config=dataclasses.replace(config, train=train).to_json(),
        hooks=hooks,
        callbacks=callbacks,
        distributed=distributed,
    )
    return trainer.fit(resume=resumable(run_dir))


def train_run(
    config: RunConfig,
    run_dir: Path,
    *,
    task: Task | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: Iterable[Callable[[Trainer], None]] = (),
    distributed: Distributed | None = None,
) -> dict[str, Any]:
    """Train ``config`` into ``run_dir`` (best-of-N when ``train.repeats > 1``).

    With ``distributed`` (from ``torchrun``), every rank runs this; only rank 0 writes files and
    shows progress.

    Returns the summary (also written to ``RUN/summary.json``): the selected repeat's ``valid``
    and ``test`` metrics, every repeat's results, total ``steps`` and ``seconds``; or
    ``{"interrupted": True}`` when the user stopped training (resume with ``resume=True``).

    Raises:
        UserError: ``run_dir`` already holds a run and ``resume`` is False; another process owns
            it (``mneme.train.rundir.own_run``); a bad config field.
    """
    config.validate()
    run_dir = Path(run_dir)
    dist = distributed or Distributed()
    resolve_device(config.train.device,  # a missing device is named before anything is written
                   local_rank=dist.local_rank if dist.world_size > 1 else None)
    with own_run(run_dir, enabled=dist.is_main):
        return _train_owned(config, run_dir, task, resume, progress and dist.is_main, callbacks,
                            dist)


def _train_owned(config: RunConfig, run_dir: Path, task: Task | None, resume: bool,
                 progress: bool, callbacks: Iterable[Callable[[Trainer], None]],
                 dist: Distributed) -> dict[str, Any]:
    """``train_run`` while this process owns ``run_dir``."""
    if not resume and (run_dir / "config.json").exists():
        raise UserError(
            f"{run_dir}: already holds a run; resume it with --resume {run_dir} or choose "
            "another --out"
        )
    if resume and not (run_dir / "config.json").exists():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    task = task if task is not None else build_task(config)
    if dist.is_main:
        remove_stale_temp(run_dir)
    repeats = config.train.repeats
    if repeats == 1:
        results = [
            _fit_one(
                config, task, run_dir, progress=progress, callbacks=callbacks, distributed=dist
            )
        ]
        dirs = ["."]
    else:
        if dist.world_size > 1:
            raise UserError("train.repeats > 1 is not supported with torchrun; use repeats 1")
        atomic_write_text(run_dir / "config.json", json.dumps(config.to_json(), indent=2) + "\n")
        results, dirs = [], []
        for i in range(repeats):
            sub = dataclasses.replace(
                config,
                train=dataclasses.replace(config.train, seed=config.train.seed + i, repeats=1),
            )
            name = f"repeat-{i}"
            if i == 0 and (run_dir / "final.json").is_file() and not (run_dir / name).exists():
                name = "."  # a finished single run, now extended to best-of-N, is repeat 0
            results.append(
                _fit_one(sub, task, run_dir / name, progress=progress, callbacks=callbacks)
            )
            dirs.append(name)
            if results[-1].interrupted:
                break
    if any(r.interrupted for r in results):
        return {"interrupted": True, "run_dir": str(run_dir)}
    metric = task_info(task).selection_metric
    best = select_repeat([r.valid for r in results], metric)
    tests = [r.test[metric] for r in results]
    summary = {
        "selected": dirs[best],
        "selection": f"lowest valid {metric}, ties broken by valid loss",
        "valid": results[best].valid,
        "test": results[best].test,
        "best_epoch": results[best].best_epoch,
        f"test_{metric}_mean": statistics.fmean(tests),
        f"test_{metric}_std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
        "repeats": [
            {"dir": d, "seed": config.train.seed + i, **r.to_json()}
            for i, (d, r) in enumerate(zip(dirs, results))
        ],
        "steps": sum(r.steps for r in results),
        "seconds": round(sum(r.seconds for r in results), 3),
    }
    if dist.is_main:
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def read_config(run_dir: Path) -> RunConfig:
    """The ``RunConfig`` stored in ``RUN/config.json``.

    Raises:
        UserError: the directory or its config is missing or unreadable, or a value has the
            wrong type or is out of range (named by file and field).
    """
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: corrupt run configuration ({exc})") from None
    config = RunConfig.from_json(data, str(path))
    try:  # values of the wrong type or out of range, named by field
        config.validate()
    except ConfigError as exc:
        raise UserError(f"{path}: {exc}") from None
    return config


def select_repeat(valid: list[dict[str, float]], metric: str) -> int:
    """The repeat with the lowest validation ``metric``; ties (bAbI's validation error is often
    0% for several seeds) go to the lowest validation loss, then to the first seed."""
    return min(range(len(valid)),
               key=lambda i: (valid[i][metric], valid[i].get("loss", math.inf), i))


def selected_dir(run_dir: Path) -> Path:
    """The run directory of the selected repeat (the run itself when there is one)."""
    run_dir = Path(run_dir)
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            selected = json.loads(summary.read_text(encoding="utf-8"))["selected"]
            if not isinstance(selected, str):
                raise TypeError(selected)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise UserError(f"{summary}: corrupt summary") from None
        return run_dir / selected
    repeats = sorted(run_dir.glob("repeat-*/checkpoints/best.pt"))
    if repeats:
        return repeats[-1].parent.parent
    return run_dir


def load_run(
    run_dir: Path, *, overrides: dict[str, Any] | None = None, task: Task | None = None,
    data_dirs: Sequence[str] = (), need_data: bool = True, device: str = "cpu",
) -> tuple[RunConfig, Task, nn.Module]:
    """The config, task and best model (eval mode) of a run directory.

    Args:
        run_dir: a directory written by ``train_run``.
        overrides: task config fields to change (a longer length; ``{"data_dir": ...}`` from
            ``--data-dir`` makes it the only place the data is looked for).
        task: an already built task to reuse.
        data_dirs: where to look for the data before the recorded directory (``$MNEME_DATA``);
            ``mneme.train.portable.load_task``.
        need_data: False to build the task from ``RUN/vocab.json`` alone when the run has one
            (``ask``, ``generate``, ``translate``).
        device: where the model is put (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``),
            whatever device it was trained on.

    Raises:
        UserError: missing or corrupt run directory or checkpoint, unknown override field;
            (``ConfigError``) a device this machine does not have.
        MissingDataError: ``need_data`` and the data is nowhere looked.
    """
    target = resolve_device(device, label="device")
    config = read_config(run_dir)
    if overrides:
        known = {f.name for f in dataclasses.fields(config.task)}
        for key in overrides:
            if key not in known:
                raise UserError(f"unknown task config field {key!r}; known: {sorted(known)}")
        config = dataclasses.replace(config, task=dataclasses.replace(config.task, **overrides))
    source = selected_dir(run_dir)
    if task is None:
        task = load_task(config, source, data_dirs=data_dirs, need_data=need_data,
                         explicit=bool(overrides and "data_dir" in overrides))
    model = build_model(config, task)
    checkpoint = source / "checkpoints" / "best.pt"
    payload = load_checkpoint(checkpoint)
    try:
        model.load_state_dict(_legacy_weights(config, payload["model"]))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"{checkpoint}: does not fit this model/task ({first})") from None
    model.to(target).eval()
    return config, task, model
