"""Cells of the NTM paper's algorithmic tasks (Graves et al. 2014, section 4), each model with its
recipe (``mneme.models.recipes``): the ``algorithmic`` suite's and the ``dnc`` suite's."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mneme.bench.cells import Cell, recipe_cell
from mneme.errors import UserError
from mneme.models.build import model_entry

__all__ = ["ALGORITHMIC_GROUPS", "ALGORITHMIC_PLAN", "algorithmic_cells"]


ALGORITHMIC_PLAN: tuple[tuple[str, str, int, int], ...] = (
    ("copy", "ntm-lstm", 3, 100), ("associative-recall", "ntm-lstm", 1, 150),
    ("copy", "lstm", 1, 60), ("copy", "ntm-hard", 1, 100),
    ("repeat-copy", "ntm-lstm", 1, 200), ("priority-sort", "ntm-lstm", 1, 400),
    ("copy", "ntm-ff", 1, 100), ("associative-recall", "ntm-ff", 1, 150),
    ("repeat-copy", "ntm-ff", 1, 200), ("priority-sort", "ntm-ff", 1, 250),
    ("associative-recall", "lstm", 1, 60), ("repeat-copy", "lstm", 1, 60),
    ("priority-sort", "lstm", 1, 60),
)
"""Algorithmic cells in priority order: (task, group, seeds, epochs of 100 steps at batch 16,
i.e. 1600 sequences; the NTM on recall and the LSTM-controller NTM on repeat copy train as the
paper, epochs of 1000 updates at batch 1: 150k and 200k sequences; the LSTM-controller NTM on
priority sort its recipe's 640k, ``mneme.models.recipes.sort_training``); every cell stops early
at 0.01 validation bits per sequence (the recipe's).
The LSTM baselines get 60 epochs (96k sequences): far fewer than the paper's, enough to show
whether they generalise beyond the training lengths."""
ALGORITHMIC_GROUPS: dict[str, tuple[str, dict[str, Any]]] = {
    "ntm-lstm": ("ntm", {"controller": "lstm"}),
    "ntm-ff": ("ntm", {"controller": "feedforward"}),
    "ntm-hard": ("ntm", {"controller": "lstm", "addressing": "hard"}),
    "lstm": ("lstm", {}),
    "dnc": ("dnc", {}),
}
"""Report group -> (registered model, model overrides)."""
def _has_model(model_name: str, task_name: str) -> bool:
    try:
        model_entry(model_name, task_name)
    except UserError:
        return False
    return True


def algorithmic_cells(plan: Sequence[tuple[str, str, int, int]]) -> list[Cell]:
    """NTM (LSTM and feedforward controllers) and LSTM cells on the NTM paper's tasks (Graves et
    al. 2014, section 4) with the recipe's training (RMSProp, momentum 0.9, elementwise clipping
    at 10, batch 16, ten times the paper's learning rates; the NTM on associative recall and
    repeat copy exactly the paper's, ``mneme.models.recipes.NTM_PAPER_TRAINING``) and the
    paper's network sizes
    (``mneme.models.recipes.NTM_PAPER_SIZES``; Table 3 for the LSTM), except the repeat-copy
    LSTM: 3 x 256 units instead of 3 x 512 (a step costs 4x less on a CPU).

    A plan's task may carry the suffix ``/same-length`` (copy, repeat copy, associative recall):
    the task with ``same_length_batches`` (one drawn length a training batch, no padding, as at
    the paper's batch size of 1), in a cell keyed ``{group}-{task}-same-length``.

    Raises:
        UserError: an unknown suffix, or one on a task without variable lengths.
    """
    from mneme.tasks.algorithmic import (
        AssociativeRecallConfig,
        CopyConfig,
        PrioritySortConfig,
        RepeatCopyConfig,
    )

    configs: dict[str, Any] = {"copy": CopyConfig(), "repeat-copy": RepeatCopyConfig(),
                               "associative-recall": AssociativeRecallConfig(),
                               "priority-sort": PrioritySortConfig()}
    cells = []
    for planned, group, seeds, epochs in plan:
        task_name, _, variant = planned.partition("/")
        model_name, overrides = ALGORITHMIC_GROUPS[group]
        if not _has_model(model_name, task_name):
            continue
        if (task_name, group) == ("repeat-copy", "lstm"):
            overrides = {"hidden_size": 256}
        config = configs[task_name]
        if variant:
            if variant != "same-length" or not hasattr(config, "same_length_batches"):
                raise UserError(f"algorithmic plan: {planned!r} has no variant {variant!r} "
                                "(only copy, repeat-copy and associative-recall take "
                                "'/same-length')")
            config = dataclasses.replace(config, same_length_batches=True)
        key = f"{group}-{task_name}" + (f"-{variant}" if variant else "")
        cells.append(recipe_cell(key, group, task_name, config, model_name,
                                 model_overrides=overrides,
                                 train_overrides={"repeats": seeds, "epochs": epochs}))
    return cells
