"""The MQAR suites, ``mqar`` and ``mqar-small`` (``MQAR_SUITES``, part of
``mneme.bench.suites.SUITES``): multi-query associative recall (Arora et al. 2023, "Zoology",
arXiv 2312.04927; ``mneme.tasks.mqar``) over every associative memory.

The paper's figure 2 grid: (sequence length T, key-value pairs D) in ``MQAR_GRID`` x model width d
in ``MQAR_WIDTHS``, vocabulary 8,192, queries placed by the power law a = 0.01, zeros between
them (their figure 2 configs). Rows (``MQAR_CORES``): the Transformer (the self-attention core, 2
layers, 1 head as theirs), fast weights (Ba et al. 2016), the delta-rule fast weight programmer
(Schlag et al. 2021), the modern Hopfield core (Ramsauer et al. 2021), the LSTM, the NTM (128 x 20
memory) and the DNC (32 x 16, 4 reads): one layer each, width d (``hidden_size``, the NTM's and
DNC's controller), token embedding of size d, every model the matrix's composition (embedding,
core, linear output layer over the V tokens at every step).

Differences from the paper's models: its output layer is tied to the embedding, ours is not (one
composition for every core); its attention blocks have no MLP and dropout 0.1, ours the core's
pre-LN blocks with a 4d MLP and no dropout; its positions are learned, ours RoPE, since learned
positions found the shift-by-one slowly at our budget (measured at T = 16, 2 pairs, V = 32:
RoPE 100% after 200 steps at lr 1e-3; learned positions 64% after 1,000 steps at 3e-3 and 50%
after 1,500 at 1e-2).

Protocol: the matrix's (``mneme.bench.matrix.PROTOCOL``: Adam, clip 1, constant rate, the best
validation checkpoint tested, 100 steps an epoch), fresh training sequences every step (the
paper walks a fixed set of 100,000 for up to 64 epochs; our budget sees fewer sequences than one
pass, where a fixed set and a stream are the same data, and a stream lets validation stop a cell
every 100 steps), batch ``MQAR_BATCH``, each cell stopping once validation accuracy reaches 99%
(the paper's early stop and its bar for solved). Every (model, T, d) is trained at each learning
rate of ``MQAR_LRS`` (theirs: 4 rates in 1e-4 - 1e-2); the report takes the rate with the best
validation accuracy and reports its test accuracy (3,000 test sequences, as theirs).

Budget: ``MQAR_EPOCHS`` epochs of 100 steps (the paper: up to 64 epochs of 100,000 sequences,
6.4M). Measured CPU time a step (batch 32, V = 8,192, one thread, on the loaded shared machine):
0.24-0.50 s at T = 64, d = 64 (LSTM, Hopfield, Transformer, fast weights, delta rule, NTM, DNC;
the output layer over 8,192 tokens at every step is most of it), 0.56-1.02 s at T = 128, d = 128,
1.8-6.4 s at T = 256, d = 256 (LSTM, Transformer, delta rule). Summed over the suite: about
150 CPU-s per step of every cell, 125 CPU-hours for 3,000 steps, so about 2.5-3 days with
``--jobs 2`` on 2 cores, less where cells stop early: a GPU run. ``mqar-small`` (``SMALL``) is the
CPU check. The budget may be short of what V = 8,192 needs: measured, the Transformer at T = 64,
4 pairs, d = 64, lr 3e-3 answered 0.0% of the queries of 256 held-out sequences after 500 steps
of 32, 3.3% after 1,300 (41,600 sequences; the paper's runs see up to 6.4M); raise
``MQAR_EPOCHS`` on a GPU.

Legend: T sequence length, D key-value pairs, d model width, V vocabulary.
"""

from __future__ import annotations

import dataclasses

from mneme.bench.cells import Cell, Suite
from mneme.bench.matrix import Column, matrix_cell

__all__ = ["MQAR_BATCH", "MQAR_CORES", "MQAR_EPOCHS", "MQAR_GRID", "MQAR_LRS", "MQAR_SUITES",
           "MQAR_WIDTHS", "SMALL", "column_key", "mqar_cells"]

MQAR_GRID: tuple[tuple[int, int], ...] = ((64, 4), (128, 8), (256, 16))
"""(T, D) of the paper's figure 2."""
MQAR_WIDTHS: tuple[int, ...] = (64, 128, 256)
"""Model widths d (the paper adds 512)."""
MQAR_CORES: tuple[str, ...] = ("self-attention", "fast-weights", "delta-rule", "hopfield", "lstm",
                               "ntm", "dnc")
"""Rows, in report order."""
MQAR_LRS: tuple[float, ...] = (1e-3, 3e-3)
MQAR_EPOCHS = 30
"""3,000 steps of ``MQAR_BATCH`` (96,000 sequences) a cell at most."""
MQAR_BATCH = 32
VOCAB = 8192
TOKENS_PER_EVAL_BATCH = 8192
"""Evaluation batches hold this many tokens (the logits are (B, T, V): 256 MB of float32)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """A suite's grid, widths, rows, learning rates and budget."""

    grid: tuple[tuple[int, int], ...] = MQAR_GRID
    widths: tuple[int, ...] = MQAR_WIDTHS
    cores: tuple[str, ...] = MQAR_CORES
    lrs: tuple[float, ...] = MQAR_LRS
    epochs: int = MQAR_EPOCHS
    vocab_size: int = VOCAB
    core_epochs: tuple[tuple[str, int], ...] = ()
    """(core, epochs) for the rows trained longer than ``epochs``."""
    core_lrs: tuple[tuple[str, tuple[float, ...]], ...] = ()
    """(core, learning rates) for the rows swept over other rates than ``lrs``."""


SMALL = Plan(grid=MQAR_GRID[:2], widths=(64, 128), lrs=(3e-3,), epochs=10, vocab_size=256,
             cores=("lstm", "hopfield", "self-attention", "fast-weights", "delta-rule", "ntm",
                    "dnc"), core_epochs=(("self-attention", 30),),
             core_lrs=(("self-attention", (1e-3, 3e-3)),))
"""``mqar-small``: the two smaller grid points, d = 64 and 128, one rate, 1,000 steps a cell at
most, the cheap rows first; the Transformer up to 3,000 steps and at lr 1e-3 too (measured: at
3e-3 it solved only T = 64, d = 64, and stayed at chance elsewhere even after 3,000 steps; at
1e-3, T = 64, d = 128 reached 98.5% validation accuracy in 400 steps). V = 256, the authors'
own example (``zoology/experiments/examples/basic.py``), since at V = 8,192 the output layer
alone costs ~0.2 CPU-s a step at T = 64 and nothing learns within a CPU budget (measured: the
Transformer at 0% after 150 steps). Measured CPU time a step at V = 256: 0.01-0.17 s at T = 64,
d = 64 (LSTM ... DNC), 0.03-0.55 s at T = 128, d = 128."""


def column_key(seq_len: int, num_pairs: int, width: int) -> str:
    """The report column of a cell: ``T64-kv4-d64``."""
    return f"T{seq_len}-kv{num_pairs}-d{width}"


def _cell(core: str, column: Column, seq_len: int, lr: float) -> Cell:
    cell = matrix_cell(core, column, seeds=1)
    model = cell.model
    if core == "self-attention":  # the paper's Transformer: 2 layers, 1 head
        model = dataclasses.replace(model, num_layers=2, num_heads=1, position="rope",
                                    max_length=seq_len)
    train = dataclasses.replace(cell.train, lr=lr,
                                eval_batch_size=max(1, TOKENS_PER_EVAL_BATCH // seq_len))
    return dataclasses.replace(cell, key=f"{cell.key}--lr{lr:g}", model=model, train=train)


def mqar_cells(plan: Plan = Plan()) -> list[Cell]:
    """One cell per (T, D) x d x core x learning rate; ``cell.column`` is ``column_key`` (the
    rate is ``cell.train.lr``, the key ends in it)."""
    from mneme.tasks.mqar import MQARConfig

    cells = []
    for core in plan.cores:  # rows outermost: the runner starts cells in this order
        for seq_len, pairs in plan.grid:
            task = MQARConfig(seq_len=seq_len, num_pairs=pairs, vocab_size=plan.vocab_size,
                              stream=True, valid_size=500, test_size=3000)
            for width in plan.widths:
                column = Column(column_key(seq_len, pairs, width), "mqar", task,
                                epochs=dict(plan.core_epochs).get(core, plan.epochs),
                                batch_size=MQAR_BATCH, early_stop=0.01,
                                width=width, model={"embedding_dim": width})
                for lr in dict(plan.core_lrs).get(core, plan.lrs):
                    cells.append(_cell(core, column, seq_len, lr))
    return cells


MQAR_SUITES: dict[str, Suite] = {
    "mqar": Suite(
        "mqar",
        "Multi-query associative recall (Zoology, figure 2): T, D in (64, 4), (128, 8), "
        "(256, 16) x d in 64, 128, 256, V = 8,192; Transformer (2 layers), fast weights, delta "
        "rule, modern Hopfield, LSTM, NTM, DNC; best of lr 1e-3 and 3e-3; up to 3,000 steps of "
        "32 a cell, stopping at 99% validation accuracy; about 125 CPU-hours (2.5-3 days with "
        "--jobs 2 on 2 cores)",
        lambda data_dir: mqar_cells(),
        report="mqar",
    ),
    "mqar-small": Suite(
        "mqar-small",
        "MQAR, the CPU check: (64, 4) and (128, 8) x d in 64, 128, V = 256 (the authors' own "
        "example vocabulary), the seven rows, "
        "lr 3e-3, up to 1,000 steps of 32 a cell (the Transformer: best of lr 1e-3 and 3e-3, "
        "up to 3,000 steps); about 1.5 hours with --jobs 2 on 2 busy cores",
        lambda data_dir: mqar_cells(SMALL),
        report="mqar",
    ),
}
