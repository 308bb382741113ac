"""The DNC suites, ``dnc`` and ``dnc-babi`` (``DNC_SUITES``, part of ``mneme.bench.suites.SUITES``).

``dnc``: the Differentiable Neural Computer (Graves et al. 2016) against the NTM and the LSTM on the
NTM paper's four algorithmic tasks, every core under the matrix protocol (``mneme.bench.matrix``:
Adam 1e-3, gradient norm clip 1, batch 32, width 64, the same budget), 3 seeds a cell, each cell
stopping once its validation bits per sequence reach 0.1 (the issue's target at the training
lengths), tested at the training distribution and at longer sequences / more items.

Budget: ``DNC_EPOCHS`` epochs of 100 steps (2,000 steps, 64k sequences) at most. Measured training
step costs (batch 32, one thread, CPU time on the loaded shared machine; wall time there was 2-4x
more): DNC 43-77 ms, NTM 26-48 ms, LSTM 2-3 ms across the four tasks, about 0.1 s for the three
cores together, so at most 12 x 2,000 x 0.1 s = 41 CPU-minutes plus evaluation: about 23-25
minutes with ``--jobs 2`` on two free cores, less where cells stop early.

``dnc-babi``: the DNC reading bAbI 1k, all 20 tasks jointly, as one word sequence
(``TaskInfo.to_sequence``, ``mneme.tasks.babi_sequence``) with the ``("babi", "dnc")`` recipe
(``mneme.models.recipes``) at a CPU budget of ``BABI_EPOCHS`` epochs and a smaller memory
(``BABI_CPU_MODEL``); the full recipe (paper-size memory, 100 epochs) is a GPU run::

    mneme train --task babi --task.joint --task.size 1k --model dnc --train.device cuda
"""

from __future__ import annotations

import dataclasses

from mneme.bench.cells import Cell, Suite, recipe_cell
from mneme.bench.matrix import Column, columns, matrix_cell

__all__ = ["BABI_CPU_MODEL", "BABI_EPOCHS", "DNC_CORES", "DNC_EPOCHS", "DNC_SEEDS", "DNC_SUITES",
           "dnc_babi_cells", "dnc_cells", "dnc_columns"]

ALGORITHMIC_COLUMNS = ("copy", "repeat-copy", "associative-recall", "priority-sort")
DNC_CORES = ("dnc", "ntm", "lstm")
DNC_SEEDS = 3
DNC_EPOCHS = 20
"""2,000 steps of 32 sequences at most (the matrix's columns: 1,000)."""
TARGET_BITS = 0.1
"""Early stop: validation bits per sequence at or below this."""

BABI_EPOCHS = 4
"""About 2,250 steps of 32 stories (1k joint: 18,000 training questions, 563 steps an epoch);
measured 0.94 s of CPU time a step with ``BABI_CPU_MODEL`` (2.4 s wall on the loaded shared
machine): about 35 minutes of training plus the evaluations, about 40 minutes on one free core."""
BABI_CPU_MODEL = {"memory_size": 64, "word_size": 32, "controller_size": 100}
"""The CPU cell's DNC: 64 x 32 memory, 4 read heads, 100 LSTM units (the recipe's: 256 x 64,
256)."""


def dnc_columns() -> tuple[Column, ...]:
    """The matrix's algorithmic columns (copy 1-10, repeat copy 1-5 x 1-5, associative recall 2-6
    items, priority sort 8 of 10, with their generalisation sets) at the DNC suite's budget and
    early stop."""
    return tuple(dataclasses.replace(c, epochs=DNC_EPOCHS, early_stop=TARGET_BITS)
                 for c in columns() if c.key in ALGORITHMIC_COLUMNS)


def dnc_cells() -> list[Cell]:
    """``DNC_CORES`` x ``dnc_columns()``, ``DNC_SEEDS`` seeds each, the matrix protocol."""
    return [matrix_cell(core, column, seeds=DNC_SEEDS) for column in dnc_columns()
            for core in DNC_CORES]


def dnc_babi_cells(data_dir: str | None) -> list[Cell]:
    """The DNC on bAbI 1k joint, one seed, ``BABI_EPOCHS`` epochs, ``BABI_CPU_MODEL``."""
    from mneme.tasks.babi import BabiConfig

    task = BabiConfig(joint=True, size="1k", data_dir=data_dir)
    return [recipe_cell("dnc-babi-1k-joint", "dnc", "babi", task, "dnc",
                        model_overrides=BABI_CPU_MODEL, train_overrides={"epochs": BABI_EPOCHS})]


DNC_SUITES: dict[str, Suite] = {
    "dnc": Suite(
        "dnc",
        "Differentiable Neural Computer vs NTM vs LSTM (matrix protocol, width 64, 3 seeds, up "
        "to 2,000 steps, stopping at 0.1 validation bits): copy 1-10, repeat copy, associative "
        "recall 2-6 items, priority sort, with generalisation; about 25 minutes with --jobs 2 on "
        "2 free cores",
        lambda data_dir: dnc_cells(),
        report="matrix",
    ),
    "dnc-babi": Suite(
        "dnc-babi",
        "The DNC on bAbI 1k, 20 tasks jointly, as one word sequence: 64 x 32 memory, 4 epochs "
        "(about 2,250 steps, 40 minutes on one core); the full recipe is a GPU run",
        dnc_babi_cells,
        report="babi-1k",
    ),
}
