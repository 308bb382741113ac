"""Length generalisation of the Transformer: ``mneme bench --suite transformer``.

The self-attention core as Delétang et al. 2023 ("Neural Networks and the Chomsky Hierarchy",
section 4) ran the Transformer, an encoder (``causal=False``) reading the input and then the
empty output steps, with each of their position encodings (none, sinusoidal, RoPE, ALiBi,
Transformer-XL relative; and learned embeddings), beside the NTM (Graves et al. 2014) on the
same compositions, and the attention seq2seq (Bahdanau et al. 2015) on reversal:

- **copy**: the matrix's copy column (lengths 1-10 of 8-bit vectors; tested at 20 and 40);
- **reversal**: ``mneme.tasks.reversal`` (lengths 1-30 of 20 symbols; tested at 5-30 and 40),
  which every core reads through its sequence view.

Cores train by the matrix protocol (``mneme.bench.matrix``: Adam 1e-3, clip 1, batch 32, width
64, the best validation checkpoint tested, ``LENGTH_SEEDS`` seeds); the seq2seq by its recipe
(H = 128, E = 32, clip 5) at the same steps and batch. The report is the matrix report (the test
metric and the generalisation sets of each column) and, for the seq2seq, the seq2seq report
(greedy and beam exact match by length).
"""

from __future__ import annotations

import dataclasses

from mneme.bench.cells import Cell, recipe_cell
from mneme.bench.matrix import Column, columns, matrix_cell

__all__ = ["DESCRIPTION", "LENGTH_EPOCHS", "LENGTH_SEEDS", "POSITIONS", "length_columns",
           "transformer_cells"]

DESCRIPTION = (
    "Length generalisation (Delétang et al. 2023): the self-attention encoder with six position "
    "encodings (none, sinusoidal, learned, RoPE, ALiBi, relative), the NTM and the attention "
    "seq2seq on copy (lengths 1-10; tested at 20 and 40) and reversal (1-30; 40), matrix "
    "protocol, 1,000 steps a seed, 3 seeds; estimated 20-25 minutes with --jobs 2 on 2 free cores")

POSITIONS = ("none", "sinusoidal", "learned", "rope", "alibi", "relative")
LENGTH_SEEDS = 3
LENGTH_EPOCHS = 10
"""Epochs of 100 steps at batch 32 (32,000 sequences) a seed, every model alike."""


def length_columns() -> tuple[Column, Column]:
    """The copy column of the matrix, and reversal at its own training and test lengths."""
    from mneme.tasks.reversal import ReversalConfig

    copy = next(c for c in columns() if c.key == "copy")
    reversal = Column("reversal", "reversal", ReversalConfig(valid_size=200, test_size=100),
                      epochs=LENGTH_EPOCHS, early_stop=0.0,
                      note="lengths 1-30 of 20 symbols; tested at 5-30 and 40")
    return dataclasses.replace(copy, epochs=LENGTH_EPOCHS), reversal


def transformer_cells(*, seeds: int = LENGTH_SEEDS, budget: float = 1.0) -> list[Cell]:
    """The encoder with each of ``POSITIONS`` and the NTM on both columns (rows
    ``encoder-{position}``, ``ntm``), and the attention seq2seq on reversal."""
    cells = []
    for column in length_columns():
        for position in POSITIONS:
            cell = matrix_cell("self-attention", column, seeds=seeds, budget=budget)
            group = f"encoder-{position}"
            model = dataclasses.replace(cell.model, position=position, causal=False)
            cells.append(dataclasses.replace(cell, key=f"{group}--{column.key}", group=group,
                                             model=model))
        cells.append(matrix_cell("ntm", column, seeds=seeds, budget=budget))
    reversal = cells[-1]
    cells.append(recipe_cell(
        "seq2seq-additive--reversal", "seq2seq-additive", "reversal", reversal.task, "seq2seq",
        model_overrides={"attention": "additive"},
        train_overrides={"repeats": seeds, "epochs": reversal.train.epochs, "epoch_steps": 100,
                         "batch_size": reversal.train.batch_size}))
    return cells
