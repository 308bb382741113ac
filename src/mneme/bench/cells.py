"""What a suite is made of: ``Cell`` (one training run), ``Suite`` (a named list of cells and how
to report them) and ``recipe_cell`` (a cell trained with the recipe for its pair).

The suites themselves are in ``mneme.bench.suites`` (the papers') and ``mneme.bench.matrix``
(the memory matrix); both build their cells from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mneme.config import TrainConfig
from mneme.models.build import model_entry
from mneme.models.recipes import recipe

__all__ = ["Cell", "Suite", "recipe_cell"]


@dataclass(frozen=True)
class Cell:
    """One training run of a suite.

    Attributes:
        key: unique name, also the cell's directory under ``OUT/cells/``.
        group: the report column it belongs to (``memn2n``, ``memn2n-joint``, ``lstm``).
        task_name, task, model_name, model, train: what ``mneme train`` would be given.
        column: matrix cells only: the task column (``mneme.bench.matrix``).
    """

    key: str
    group: str
    task_name: str
    task: Any
    model_name: str
    model: Any
    train: TrainConfig
    column: str | None = None
    """Matrix cells: the column (task setting) key; the row is ``group``, the core."""


@dataclass(frozen=True)
class Suite:
    """A named list of cells and how to report them."""

    name: str
    description: str
    build: Callable[[str | None], list[Cell]]
    report: str
    """Report layout: ``babi-1k`` or ``babi-10k``."""
    select_best: bool = False
    """The report's headline is the repeat selected on validation (best of N, as the bAbI
    papers report), not the median over repeats."""


def recipe_cell(
    key: str,
    group: str,
    task_name: str,
    task: Any,
    model_name: str,
    *,
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> Cell:
    """A cell that trains with the published recipe for (task, model), then the overrides
    (applied before the recipe, which may read them, and again after, so that they win)."""
    model_cls = model_entry(model_name, task_name).config
    model = dataclasses.replace(model_cls(), **(model_overrides or {}))
    model, train = recipe(task_name, model_name, task, model)
    model = dataclasses.replace(model, **(model_overrides or {}))
    train = dataclasses.replace(train, progress=False, **(train_overrides or {}))
    return Cell(key, group, task_name, task, model_name, model, train)
