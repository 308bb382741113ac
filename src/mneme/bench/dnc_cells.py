"""The DNC suites, ``dnc`` and ``dnc-babi`` (``DNC_SUITES``, part of ``mneme.bench.suites.SUITES``).

``dnc``: the Differentiable Neural Computer (Graves et al. 2016) against the NTM and the LSTM on the
NTM paper's four algorithmic tasks at the paper's settings (copy 1-20, repeat copy, associative
recall 2-6 items, priority sort; ``mneme.bench.algorithmic_cells``), each model with its recipe
(``mneme.models.recipes``: the NTM and the 3-layer LSTM as in the ``algorithmic`` suite; the DNC
as DeepMind's released training script with the NTM rows' learning rate), batch 16, the same
budget in sequences for the three (``DNC_PLAN``; on associative recall and repeat copy the NTMs
train as the paper, batch 1 with Graves's RMSProp, ``mneme.models.recipes.NTM_PAPER_TRAINING``;
on priority sort the NTM has its recipe's 640k sequences),
every cell stopping at 0.01 validation bits per sequence. Reported: bits per sequence at the
training lengths and beyond, and the sequences each seed needed to reach 0.1 bits (the NTM
paper's and the issue's bar).

``dnc-babi``: the DNC reading bAbI 1k, all 20 tasks jointly, as one word sequence
(``TaskInfo.to_sequence``, ``mneme.tasks.babi_sequence``) with the ``("babi", "dnc")`` recipe
(``mneme.models.recipes``) at a CPU budget of ``BABI_EPOCHS`` epochs and a smaller memory
(``BABI_CPU_MODEL``); the full recipe (paper-size memory, 100 epochs) is a GPU run::

    mneme train --task babi --task.joint --task.size 1k --model dnc --train.device cuda
"""
from __future__ import annotations

from mneme.bench.algorithmic_cells import algorithmic_cells
from mneme.bench.cells import Cell, Suite, recipe_cell

__all__ = ["BABI_CPU_MODEL", "BABI_EPOCHS", "DNC_PLAN", "DNC_SUITES", "dnc_babi_cells",
           "dnc_cells"]

DNC_PLAN: tuple[tuple[str, str, int, int], ...] = (
    ("copy", "dnc", 3, 60), ("copy", "ntm-lstm", 3, 60), ("copy", "lstm", 1, 60),
    ("associative-recall", "dnc", 3, 250), ("associative-recall", "ntm-lstm", 3, 100),
    ("associative-recall", "ntm-ff", 3, 100), ("associative-recall", "lstm", 1, 250),
    ("repeat-copy", "dnc", 1, 40), ("priority-sort", "dnc", 1, 40),
    ("repeat-copy", "ntm-lstm", 3, 100), ("priority-sort", "ntm-lstm", 3, 400),
    ("repeat-copy", "lstm", 1, 40), ("priority-sort", "lstm", 1, 40),
    ("repeat-copy/same-length", "lstm", 1, 40), ("repeat-copy/same-length", "dnc", 1, 40),
)
"""(task, group, seeds, epochs of 100 steps at batch 16), in run order: at most 96k sequences a
cell on copy, 64k on repeat copy and priority sort, 400k on associative recall (first run at 96k,
then extended to 240k and 400k: the runner trains a finished cell on to a larger budget and keeps
each earlier result as ``final-stepN.json``); the models of a task get the same budget, except
where the NTM trains as the paper (``mneme.models.recipes.NTM_PAPER_TRAINING``: epochs of 1000
updates at batch 1, 3 seeds): both NTMs on associative recall and the LSTM-controller NTM on
repeat copy, 100k sequences, 100k updates (recall: a quarter of the others' sequences, four times
their 25k updates, about the same CPU time; repeat copy: 1.6 times the others' sequences, 25
times their 4k updates); and the LSTM-controller NTM on priority sort, 3 seeds of its recipe's
640k sequences (``mneme.models.recipes.sort_training``, 10 times the others' 64k: at 64k it was
still at 29 validation bits). The feed-forward NTM has the recipe's gradient clip inside the
addressing recurrence (``mneme.models.recipes.NTM_WEIGHTING_GRAD_CLIP``); cells stop at 0.01
bits. Repeat copy runs twice for the batch-16 models: batches of mixed lengths and repeats padded
to the longest, and ``/same-length`` batches, one length and repeat count a batch, as the
paper's batch of 1 has (the NTM at batch 16: 73.3 bits mixed, 0.83 same-length, at 64k
sequences; at batch 1 the two are the same training, so the NTM has only the first)."""

BABI_EPOCHS = 4
"""About 2,250 steps of 32 stories (1k joint: 18,000 training questions, 563 steps an epoch);
measured 0.94 s of CPU time a step with ``BABI_CPU_MODEL`` (2.4 s wall on the loaded shared
machine): about 35 minutes of training plus the evaluations, about 40 minutes on one free core."""
BABI_CPU_MODEL = {"memory_size": 64, "word_size": 32, "controller_size": 100}
"""The CPU cell's DNC: 64 x 32 memory, 4 read heads, 100 LSTM units (the recipe's: 256 x 64,
256)."""


def dnc_cells() -> list[Cell]:
    """``DNC_PLAN``'s cells, each model with its recipe."""
    return algorithmic_cells(DNC_PLAN)


def dnc_babi_cells(data_dir: str | None) -> list[Cell]:
    """The DNC on bAbI 1k joint, one seed, ``BABI_EPOCHS`` epochs, ``BABI_CPU_MODEL``."""
    from mneme.tasks.babi import BabiConfig

    task = BabiConfig(joint=True, size="1k", data_dir=data_dir)
    return [recipe_cell("dnc-babi-1k-joint", "dnc", "babi", task, "dnc",
                        model_overrides=BABI_CPU_MODEL, train_overrides={"epochs": BABI_EPOCHS})]


DNC_SUITES: dict[str, Suite] = {
    "dnc": Suite(
        "dnc",
        "Differentiable Neural Computer vs NTM vs LSTM on the NTM paper's algorithmic tasks, each "
        "with its recipe (RMSProp, batch 16; the NTMs on associative recall and repeat copy as "
        "the paper: batch 1, Graves's RMSProp), 3 seeds of DNC and NTM on copy 1-20 and "
        "associative recall (and the feed-forward NTM on recall), of the NTM on repeat copy and "
        "priority sort, 1 on the rest, up to 96k sequences a cell (400k on associative recall, "
        "64k on repeat copy and priority sort; the NTMs as the paper 100k, the NTM on priority "
        "sort its recipe's 640k), stopping at 0.01 validation bits; about seven hours on 2 "
        "cores",
        lambda data_dir: dnc_cells(),
        report="algorithmic",
    ),
    "dnc-babi": Suite(
        "dnc-babi",
        "The DNC on bAbI 1k, 20 tasks jointly, as one word sequence: 64 x 32 memory, 4 epochs "
        "(about 2,250 steps, 40 minutes on one core); the full recipe is a GPU run",
        dnc_babi_cells,
        report="babi-1k",
    ),
}
