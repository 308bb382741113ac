"""The memory matrix: every sequence core on every generated sequence task, one protocol.

A column is a task at a stated setting and budget; a row is a registered core. Every cell is the
same composition (``mneme.models.sequence``: input adapter + core + head) trained the same way:

- **Protocol**: Adam at lr 1e-3, gradient norm clipped at 1, constant rate, batch 32 (128 for
  associative retrieval, as Ba et al.), fresh sequences every step, 100 steps an epoch, validation
  after every epoch, the best validation checkpoint tested; a cell stops early once its
  validation metric reaches the column's target. No recipe of any paper: the matrix compares
  memories, not tuning (``recipe_source`` of these pairs is "matrix protocol").
- **Width**: every core has ``WIDTH`` = 64 units (``hidden_size``; the NTM's controller, with the
  paper's 128 x 20 memory; the self-attention core's model width); associative retrieval sets it
  to the column's R (Ba et al.'s Table 1: R = 20 and 50).
- **Seeds**: ``MATRIX_SEEDS`` = 3 per cell, reported as the median with the range.

The budgets are small: 1,000 steps (32k sequences; retrieval 128k) a cell, 300 steps (9,600
sequences) on the adding problem, where a step of T = 100 costs the slow cores most; the papers
train on 0.2-1M sequences. They are chosen so that the suite finishes in about two hours on two
cores; the published numbers stay in their own suites.

Legend: H width (hidden units), T sequence length, R repeats or retrieval width, K items.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mneme import registry
from mneme.bench.cells import Cell
from mneme.config import TrainConfig
from mneme.models.build import model_entry

__all__ = [
    "MATRIX_SEEDS",
    "PROTOCOL",
    "QUICK_CORES",
    "WIDTH",
    "Column",
    "columns",
    "matrix_cells",
    "quick_cells",
    "quick_columns",
    "sequence_cores",
]

WIDTH = 64
MATRIX_SEEDS = 3
PROTOCOL = TrainConfig(optimizer="adam", lr=1e-3, lr_schedule="constant", clip_norm=1.0,
                       batch_size=32, epochs=10, epoch_steps=100, eval_batch_size=500,
                       progress=False, tensorboard=False)
"""The matrix's training protocol; a column sets ``epochs`` (its budget), ``batch_size`` and
``early_stop``."""
PROTOCOL_SOURCE = "matrix protocol (Adam 1e-3, clip 1, same for every core)"


@dataclass(frozen=True)
class Column:
    """One task setting of the matrix.

    Attributes:
        key: the column's name in tables (``copy``, ``retrieval-r20``).
        task_name: the registered task.
        task: its config.
        epochs: the budget in epochs of 100 steps.
        batch_size: sequences a step.
        early_stop: stop once the validation selection metric is at or below this.
        width: the cores' width in this column (None: ``WIDTH``).
        model: composition fields for every core here (``embedding_dim``, ``head_size``).
        note: what the setting is, in words.
    """

    key: str
    task_name: str
    task: Any
    epochs: int
    batch_size: int = 32
    early_stop: float | None = None
    width: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def columns() -> tuple[Column, ...]:
    """Every column of the matrix, in report order."""
    from mneme.tasks.adding import AddingConfig
    from mneme.tasks.algorithmic import (
        AssociativeRecallConfig,
        CopyConfig,
        PrioritySortConfig,
        RepeatCopyConfig,
    )
    from mneme.tasks.retrieval import RetrievalConfig

    small = {"valid_size": 200, "test_size": 200}
    gen = {"generalisation_size": 50}
    ba = {"embedding_dim": 100, "head_size": 100}  # Ba et al.'s network around every core
    return (
        Column("copy", "copy", CopyConfig(max_length=10, test_lengths=(20, 40), **small, **gen),
               epochs=10, early_stop=0.01, note="lengths 1-10; tested at 20 and 40"),
        Column("repeat-copy", "repeat-copy",
               RepeatCopyConfig(max_length=5, max_repeats=5, test_lengths=(8,), test_repeats=(8,),
                                **small, **gen),
               epochs=10, early_stop=0.01, note="lengths 1-5, 1-5 repeats; tested at length 8 "
                                                "and 8 repeats"),
        Column("associative-recall", "associative-recall",
               AssociativeRecallConfig(test_items=(10, 12), **small, **gen),
               epochs=10, early_stop=0.01, note="2-6 items of 3 vectors; tested at 10 and 12"),
        Column("priority-sort", "priority-sort",
               PrioritySortConfig(num_inputs=10, num_outputs=8, **small),
               epochs=10, early_stop=0.01, note="the 8 of 10 vectors with the highest priority"),
        Column("retrieval-r20", "retrieval",
               RetrievalConfig(stream=True, valid_size=500, test_size=1000),
               epochs=10, batch_size=128, early_stop=0.0, width=20, model=ba,
               note="K = 4 pairs, R = 20 units"),
        Column("retrieval-r50", "retrieval",
               RetrievalConfig(stream=True, valid_size=500, test_size=1000),
               epochs=10, batch_size=128, early_stop=0.0, width=50, model=ba,
               note="K = 4 pairs, R = 50 units"),
        Column("adding-t100", "adding", AddingConfig(seq_len=100, valid_size=500, test_size=1000),
               epochs=3, early_stop=0.001, note="T = 100"),
    )


QUICK_CORES = ("rnn", "lstm", "ntm", "fast-weights", "delta-rule", "hopfield", "self-attention")
"""The headline's rows (``mneme bench --suite quick``)."""


def quick_columns() -> tuple[Column, ...]:
    """The headline's columns: easier settings of five tasks at a budget of a few minutes."""
    from mneme.tasks.adding import AddingConfig
    from mneme.tasks.algorithmic import AssociativeRecallConfig, CopyConfig, RepeatCopyConfig
    from mneme.tasks.retrieval import RetrievalConfig

    small = {"valid_size": 200, "test_size": 200, "generalisation_size": 50}
    return (
        Column("copy-5", "copy", CopyConfig(max_length=5, test_lengths=(10, 20), **small),
               epochs=12, early_stop=0.01, note="lengths 1-5; tested at 10 and 20"),
        Column("recall-4", "associative-recall",
               AssociativeRecallConfig(max_items=4, test_items=(6, 8), **small),
               epochs=12, early_stop=0.01, note="2-4 items; tested at 6 and 8"),
        Column("retrieval-r50", "retrieval",
               RetrievalConfig(stream=True, valid_size=500, test_size=1000),
               epochs=8, batch_size=128, early_stop=0.0, width=50,
               model={"embedding_dim": 100, "head_size": 100}, note="K = 4 pairs, R = 50"),
        Column("adding-t50", "adding", AddingConfig(seq_len=50, valid_size=500, test_size=500),
               epochs=6, early_stop=0.001, note="T = 50"),
        Column("repeat-copy-3", "repeat-copy",
               RepeatCopyConfig(max_length=3, max_repeats=3, test_lengths=(5,),
                                test_repeats=(5,), **small),
               epochs=12, early_stop=0.01, note="lengths and repeats 1-3; tested at 5"),
    )


def quick_cells() -> list[Cell]:
    """The headline matrix: ``QUICK_CORES`` x ``quick_columns()``, one seed each."""
    return [matrix_cell(core, column, seeds=1) for column in quick_columns()
            for core in QUICK_CORES]


def sequence_cores() -> list[str]:
    """Every registered core, in family order (cells, external, fast weights, associative,
    attention), for the matrix's rows."""
    registry.load()
    order = {"cell": 0, "external": 1, "fast-weights": 2, "associative": 3, "attention": 4}
    cells = {"rnn": 0, "irnn": 1, "lstm": 2, "gru": 3}
    return sorted(registry.CORES, key=lambda n: (order.get(registry.CORES[n].family or "", 9),
                                                  cells.get(n, 9), n))


def matrix_cell(core: str, column: Column, *, seeds: int = MATRIX_SEEDS,
                budget: float = 1.0) -> Cell:
    """The cell of ``core`` on ``column`` under the protocol (``budget`` scales the epochs)."""
    entry = model_entry(core, column.task_name)
    size = registry.CORES[core].size
    width = column.width or WIDTH
    values = {size: width, **column.model}
    names = {f.name for f in dataclasses.fields(entry.config)}
    if "num_heads" in names:  # attention heads must divide the width (R = 50: 2 heads)
        heads = next(h for h in (4, 2, 1) if width % h == 0)
        values["num_heads"] = heads
    model = entry.config(**{k: v for k, v in values.items() if k in names})
    train = dataclasses.replace(
        PROTOCOL, epochs=max(1, round(column.epochs * budget)), batch_size=column.batch_size,
        early_stop=column.early_stop, repeats=seeds)
    return Cell(f"{core}--{column.key}", core, column.task_name, column.task, core, model, train,
                column=column.key)


def matrix_cells(cores: Sequence[str] | None = None, keys: Sequence[str] | None = None, *,
                 seeds: int = MATRIX_SEEDS, budget: float = 1.0) -> list[Cell]:
    """Cells of ``cores`` (default: every registered core) x the columns ``keys`` (default:
    all)."""
    chosen = [c for c in columns() if keys is None or c.key in keys]
    rows = list(cores) if cores is not None else sequence_cores()
    return [matrix_cell(core, column, seeds=seeds, budget=budget)
            for column in chosen for core in rows]
