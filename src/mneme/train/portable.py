"""Run directories that move: the vocabulary beside the weights, the dataset found where it is.

A dataset task (bAbI, Penn Treebank, characters, translation) builds its vocabulary from its
files, and ``config.json`` records the data directory the run was trained from. So that a run
directory can be copied elsewhere:

- at a run's start ``write_vocab`` stores the task's ``vocab_json()`` (its vocabularies and the
  sizes the model was built with) in ``RUN/vocab.json``, written atomically;
- ``load_task`` rebuilds the task from that file alone (the task class's ``from_vocab_json``)
  for the commands that read no data (``ask``, ``generate``, ``translate``);
- a command that reads data (``eval``, ``plot``) looks for it in ``--data-dir`` when given, else
  in ``$MNEME_DATA``, then in the recorded directory, and takes the first place whose
  vocabulary is the one in ``vocab.json`` (a different copy or version is passed over).

Runs written before ``vocab.json`` existed load as before: from the data, found the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme import registry
from mneme.errors import MissingDataError, UserError
from mneme.tasks.base import Task, check_splits
from mneme.train.checkpoint import atomic_write_text

__all__ = ["VOCAB_FILE", "build_task", "load_task", "read_vocab", "write_vocab"]

VOCAB_FILE = "vocab.json"


def build_task(config: Any) -> Task:
    """The task of a ``RunConfig`` (loads its dataset, if any), its splits checked to serve the
    run (``mneme.tasks.base.check_splits``) before anything is written."""
    task = registry.task_entry(config.task_name).build(config.task)
    check_splits(task, config.train.batch_size, config.train.eval_batch_size)
    return task


def write_vocab(run_dir: Path, task: Any) -> None:
    """Write ``RUN/vocab.json`` for a task that has ``vocab_json()``; nothing for others."""
    export = getattr(task, "vocab_json", None)
    if callable(export):
        text = json.dumps({"task": task.name, **export()}, ensure_ascii=False) + "\n"
        atomic_write_text(Path(run_dir) / VOCAB_FILE, text)


def read_vocab(run_dir: Path) -> dict[str, Any] | None:
    """The content of ``RUN/vocab.json``, or None when the run has none (older runs).

    Raises:
        UserError: the file is unreadable or not a JSON object.
    """
    path = Path(run_dir) / VOCAB_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable vocabulary ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a mneme vocabulary file")
    return data


def _from_vocab(config: Any, data: dict[str, Any], path: Path) -> Task | None:
    restore = getattr(registry.task_entry(config.task_name).build, "from_vocab_json", None)
    if restore is None:
        return None
    try:
        return restore(config.task, data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not the vocabulary of a {config.task_name} run ({exc!r})"
                        ) from None


def load_task(config: Any, run_dir: Path, *, data_dirs: Sequence[str] = (),
              explicit: bool = False, need_data: bool = True) -> Task:
    """The task of a run: from ``RUN/vocab.json`` when the caller reads no data, else built
    from its dataset.

    Args:
        config: the run's ``RunConfig`` (overrides applied).
        run_dir: the run directory, whose ``vocab.json`` is read (the selected repeat's).
        data_dirs: where to look for the data before the directory ``config`` records
            (``$MNEME_DATA``).
        explicit: ``config.task.data_dir`` was given on the command line (``--data-dir``):
            look only there.
        need_data: False for commands that only encode and decode (``ask``, ``generate``,
            ``translate``).

    Raises:
        MissingDataError: the data is in none of the places looked (one line naming them).
        UserError: a damaged ``vocab.json``, or data whose vocabulary differs from it.
    """
    run_dir = Path(run_dir)
    saved = read_vocab(run_dir)
    if saved is not None and not need_data:
        task = _from_vocab(config, saved, run_dir / VOCAB_FILE)
        if task is not None:
            return task
    return _from_data(config, run_dir, data_dirs, explicit, saved)


def _differs(task: Task, saved: dict[str, Any] | None) -> bool:
    """True when ``task``'s vocabulary is not the one ``vocab.json`` saved."""
    export = getattr(task, "vocab_json", None)
    return saved is not None and callable(export) and {"task": task.name, **export()} != saved


def _from_data(config: Any, run_dir: Path, data_dirs: Sequence[str], explicit: bool,
               saved: dict[str, Any] | None) -> Task:
    """``build_task`` on the first place that holds the run's data (see ``load_task``): a place
    whose vocabulary differs from ``saved`` (another copy, another version) is passed over."""
    recorded = getattr(config.task, "data_dir", None)
    places = list(dict.fromkeys([*data_dirs, *([recorded] if recorded else [])]))
    direct = not hasattr(config.task, "data_dir") or explicit or not places
    if direct:
        places = [recorded]  # without any, the task says it needs a directory and how to get it
    errors: list[UserError] = []
    for place in places:
        moved = config
        if place != recorded:
            moved = dataclasses.replace(config, task=dataclasses.replace(config.task,
                                                                         data_dir=place))
        try:
            task = build_task(moved)
        except MissingDataError as exc:
            if direct:
                raise
            errors.append(exc)
            continue
        if not _differs(task, saved):
            return task
        errors.append(UserError(f"the data in {place} differs from the data the run was "
                                f"trained on (its vocabulary is not {run_dir / VOCAB_FILE})"))
    if direct:
        raise UserError(f"{run_dir}: {errors[0]}")
    tried = ", ".join(f"{p} (recorded when trained)" if p == recorded and p not in data_dirs
                      else p for p in places)
    first = next((e for e in errors if not isinstance(e, MissingDataError)), errors[0])
    raise type(first)(f"{run_dir}: its data is in none of {tried}; pass --data-dir DIR or set "
                      f"MNEME_DATA to where it is now. {first}")
