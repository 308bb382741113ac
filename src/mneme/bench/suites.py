"""Named benchmark suites: lists of cells (task, model, config, seeds, budget).

``Cell``, ``Suite`` and ``recipe_cell`` live in ``mneme.bench.cells`` and are re-exported here.

``quick`` is the main job (``make run``, under ~10 minutes on 2 cores); ``babi-1k`` and
``babi-10k`` reproduce Table 1 of Sukhbaatar et al. 2015 (single-task and joint MemN2N, LSTM).
The families with suites of their own add them from their modules: ``dnc_cells``, ``mqar_cells``,
``chomsky_cells`` and ``retrieval_cells`` (the fast-weights suites).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mneme.bench import lengths
from mneme.bench.algorithmic_cells import ALGORITHMIC_PLAN, algorithmic_cells
from mneme.bench.cells import Cell, Suite, recipe_cell
from mneme.bench.chomsky_cells import CHOMSKY_SUITES
from mneme.bench.dnc_cells import DNC_SUITES
from mneme.bench.mqar_cells import MQAR_SUITES
from mneme.bench.retrieval_cells import RETRIEVAL_SUITES
from mneme.errors import UserError


def _babi_cells(
    data_dir: str | None,
    size: str,
    tasks: Sequence[int],
    *,
    memn2n_repeats: int,
    joint_repeats: int,
    lstm_repeats: int,
    lstm_epochs: int,
    memnn_repeats: int = 0,
) -> list[Cell]:
    from mneme.tasks.babi import BabiConfig

    cells: list[Cell] = []
    for t in tasks:
        task = BabiConfig(task_id=t, size=size, data_dir=data_dir)  # type: ignore[arg-type]
        cells.append(
            recipe_cell(
                f"memn2n-{size}-task{t:02d}",
                "memn2n",
                "babi",
                task,
                "memn2n",
                train_overrides={"repeats": memn2n_repeats},
            )
        )
    if joint_repeats:
        task = BabiConfig(joint=True, size=size, data_dir=data_dir)  # type: ignore[arg-type]
        cells.append(
            recipe_cell(
                f"memn2n-joint-{size}",
                "memn2n-joint",
                "babi",
                task,
                "memn2n",
                train_overrides={"repeats": joint_repeats},
            )
        )
    for t in tasks if lstm_repeats else ():
        task = BabiConfig(task_id=t, size=size, data_dir=data_dir)  # type: ignore[arg-type]
        cells.append(
            recipe_cell(
                f"lstm-{size}-task{t:02d}",
                "lstm",
                "babi",
                task,
                "lstm",
                train_overrides={"repeats": lstm_repeats, "epochs": lstm_epochs},
            )
        )
    # The strongly supervised MemNN (Weston et al. 2014), k = 2 hops as in the bAbI paper's column.
    for t in tasks if memnn_repeats else ():
        task = BabiConfig(task_id=t, size=size, data_dir=data_dir)  # type: ignore[arg-type]
        cells.append(
            recipe_cell(
                f"memnn-{size}-task{t:02d}",
                "memnn",
                "babi",
                task,
                "memnn",
                train_overrides={"repeats": memnn_repeats},
            )
        )
    return cells


POINTER_PLAN: tuple[tuple[str, int, int | None, int, int], ...] = (
    ("convex-hull", 5, None, 500_000, 5),
    ("convex-hull", 10, None, 500_000, 5),
    ("sort", 5, 10, 150_000, 3),
    ("tsp", 5, None, 300_000, 3),
    ("tsp", 8, None, 200_000, 5),
)
"""Pointer cells: (task, n, n_max, training examples, epochs), about 32 CPU-minutes in all at
batch 128 (20-50 ms a step on one core; hull n = 10 alone is half), so about 17 minutes on two
cores."""


def _pointer_cells(plan: Sequence[tuple[str, int, int | None, int, int]]) -> list[Cell]:
    """Ptr-Net cells (Vinyals et al. 2015) with the CPU recipe (Adam 1e-3, batch 128, clip 2),
    halving the learning rate every epoch from the third."""
    from mneme.tasks.sorting import ConvexHullConfig, SortConfig, TSPConfig

    configs = {"sort": SortConfig, "convex-hull": ConvexHullConfig, "tsp": TSPConfig}
    cells = []
    for task_name, n, n_max, train_size, epochs in plan:
        task = configs[task_name](n=n, n_max=n_max, train_size=train_size)
        key = f"ptr-net-{task_name}-n{n}" + (f"-{n_max}" if n_max is not None else "")
        train = {"epochs": epochs, "lr_schedule": "step", "lr_decay": 0.5,
                 "lr_decay_every": 1, "lr_decay_start": 2}
        cells.append(recipe_cell(key, "ptr-net", task_name, task, "ptr-net",
                                 train_overrides=train))
    return cells


def _lm_cells(data_dir: str | None, *, medium: bool = False) -> list[Cell]:
    """Language-model cells: PTB (Zaremba et al.'s small LSTM, Bengio et al.'s n-gram) and
    tiny-shakespeare characters (2 x 512 LSTM); or Zaremba et al.'s medium LSTM alone."""
    from mneme.models.lm import zaremba
    from mneme.tasks.text import CharsConfig, PTBConfig

    if medium:
        medium = zaremba("medium")
        task = PTBConfig(data_dir=data_dir, seq_len=medium.seq_len)
        train = dataclasses.replace(medium.train, progress=False)
        return [Cell("ptb-lstm-medium", "lstm-medium", "ptb", task, "rnn-lm", medium.model,
                     train)]
    ptb = PTBConfig(data_dir=data_dir)
    return [
        recipe_cell("ptb-lstm-small", "lstm-small", "ptb", ptb, "rnn-lm"),
        recipe_cell("ptb-ngram", "ngram", "ptb", ptb, "ngram"),
        recipe_cell("chars-lstm", "chars-lstm", "chars", CharsConfig(data_dir=data_dir),
                    "rnn-lm"),
    ]


def _seq2seq_cells(data_dir: str | None) -> list[Cell]:
    """Attention against the fixed-vector bottleneck, same sizes, one seed each: French-English
    (prefixes subset, H = E = 256, 15 epochs) and reversal (lengths 1-30, H = 128, up to 5000
    steps), by the ``seq2seq`` recipe."""
    from mneme.tasks.reversal import ReversalConfig
    from mneme.tasks.translation import TranslationConfig

    translation = TranslationConfig(data_dir=data_dir)
    cells = []
    for attention in ("additive", "none"):
        group = f"seq2seq-{attention}"
        model = {"attention": attention}
        cells.append(recipe_cell(f"{group}-translation", group, "translation", translation,
                                 "seq2seq", model_overrides=model))
        cells.append(recipe_cell(f"{group}-reversal", group, "reversal", ReversalConfig(),
                                 "seq2seq", model_overrides=model))
    return cells


JOULIN_GROUPS: dict[str, tuple[str, dict[str, Any]]] = {
    "rnn": ("rnn", {}), "lstm": ("lstm", {}), "stack-rnn": ("stack-rnn", {}),
    "stack-rnn-rounding": ("stack-rnn", {"rounding": True}),
}
"""Report group -> (core, model overrides): Joulin & Mikolov 2015, Table 2's rows."""
JOULIN_EPOCHS = 30
"""Epochs of 20 steps at batch 32 (about the code's 2000 strings an epoch): the curriculum
reaches n = 19 at epoch 17, so the last 13 epochs train on the whole range. The code trains up
to 100 epochs; 30 keep the suite near 20 minutes on 2 free cores (on a^n b^n the Stack RNN's
validation error reached 0 by epoch 10 in the first runs at 60). Measured CPU time (one
thread): a Stack RNN run on a^n b^n c^n d^n, 25 epochs, 31 s (about 1.6 s an epoch once n
reaches 19); LSTM and tanh RNN, 40 epochs, 10-11 s. So 36 Stack RNN runs of about 45 s and 36
LSTM and RNN runs of about 8 s: about 1,900 CPU seconds, 16 minutes with --jobs 2 (2-4 times
that on cores shared with other jobs)."""


def _joulin_cells(epochs: int = JOULIN_EPOCHS, seeds: int = 3) -> list[Cell]:
    """Every Table 2 language and memorisation x (tanh RNN, LSTM, Stack RNN without and with
    rounding), ``seeds`` seeds a cell, the ``counting`` recipe at ``epochs`` epochs. The rounding
    cells train exactly as the plain ones (rounding acts in eval mode only) and select their
    checkpoint with rounding, as the authors' -hard runs."""
    from mneme.tasks.counting import LANGUAGES, CountingConfig

    return [recipe_cell(f"{group}-{language}", group, "counting",
                        CountingConfig(language=language), model,  # type: ignore[arg-type]
                        model_overrides=overrides,
                        train_overrides={"repeats": seeds, "epochs": epochs})
            for language in LANGUAGES for group, (model, overrides) in JOULIN_GROUPS.items()]


QUICK_TASKS = (1, 4, 15)

SUITES: dict[str, Suite] = {
    "quick": Suite(
        "quick",
        "The headline: seven memories (tanh RNN, LSTM, NTM, fast weights, delta rule, modern "
        "Hopfield, self-attention) on copy, associative recall, associative retrieval, adding "
        "and repeat copy at a budget of 600-1,200 steps a cell (one seed, the matrix "
        "protocol), "
        f"and MemN2N (paper recipe, best of 2) vs the LSTM core (20 epochs) on bAbI 1k tasks "
        f"{', '.join(map(str, QUICK_TASKS))}",
        lambda data_dir: _quick_matrix()
        + _babi_cells(data_dir, "1k", QUICK_TASKS, memn2n_repeats=2, joint_repeats=0,
                      lstm_repeats=1, lstm_epochs=20),
        report="babi-1k",
        select_best=True,
    ),
    "babi-1k": Suite(
        "babi-1k",
        "bAbI 1k, 20 tasks: MemN2N PE LS RN single (best of 10), joint (best of 7), LSTM "
        "(Table 1), strongly supervised MemNN (one seed)",
        lambda data_dir: _babi_cells(
            data_dir,
            "1k",
            range(1, 21),
            memn2n_repeats=10,
            joint_repeats=7,
            lstm_repeats=1,
            lstm_epochs=60,
            memnn_repeats=1,
        ),
        report="babi-1k",
        select_best=True,
    ),
    "babi-1k-memn2n": Suite(
        "babi-1k-memn2n",
        "bAbI 1k, 20 tasks: MemN2N PE LS RN single-task, one repeat (the timed suite)",
        lambda data_dir: _babi_cells(
            data_dir, "1k", range(1, 21),
            memn2n_repeats=1, joint_repeats=0, lstm_repeats=0, lstm_epochs=0,
        ),
        report="babi-1k",
        select_best=True,
    ),
    "babi-10k": Suite(
        "babi-10k",
        "bAbI 10k, 20 tasks (where the task 3 training file is absent: 19): MemN2N PE LS RN "
        "single-task (best of 3 seeds on validation, the median beside), LSTM (5 epochs)",
        lambda data_dir: _babi_cells(
            data_dir,
            "10k",
            range(1, 21),
            memn2n_repeats=3,
            joint_repeats=0,
            lstm_repeats=1,
            lstm_epochs=5,
        ),
        report="babi-10k",
        select_best=True,
    ),
    "pointer": Suite(
        "pointer",
        "Pointer networks (Vinyals et al. 2015): convex hull at n = 5 and 10, sorting n = 5-10 "
        "numbers, TSP at n = 5 and 8 (optimal tours by brute force); Ptr-Net with 128 units, "
        "Adam 1e-3, batch 128",
        lambda data_dir: _pointer_cells(POINTER_PLAN),
        report="pointer",
    ),
    "algorithmic": Suite(
        "algorithmic",
        "NTM algorithmic tasks (Graves et al. 2014, section 4): copy, repeat copy, associative "
        "recall, priority sort; NTM with LSTM and feedforward controllers and the 3-layer LSTM, "
        "RMSProp (momentum 0.9, clip 10, 10x the paper's learning rates), batch 16 (the NTM on "
        "associative recall and the LSTM-controller NTM on repeat copy as the paper: batch 1, "
        "Graves's RMSProp; on priority sort with a learned memory and an annealed rate, 640k "
        "sequences), up to 96k-400k "
        "sequences a cell (3 seeds for NTM-LSTM copy, 1 elsewhere), stopping at 0.01 "
        "validation bits per sequence; several CPU-hours",
        lambda data_dir: algorithmic_cells(ALGORITHMIC_PLAN),
        report="algorithmic",
    ),
    "ptb": Suite(
        "ptb",
        "Language models: Penn Treebank with Zaremba et al.'s small LSTM (2 x 200, 13 epochs of "
        "SGD) and Bengio et al.'s neural 5-gram LM, and a 2 x 512 character LSTM on "
        "tiny-shakespeare; perplexity and bits per character beside the papers (about 1 h 45 "
        "min of CPU time in all, the PTB LSTM alone about 1 h)",
        lambda data_dir: _lm_cells(data_dir),
        report="lm",
    ),
    "ptb-medium": Suite(
        "ptb-medium",
        "Penn Treebank, Zaremba et al.'s medium LSTM (2 x 650, dropout 0.5, 39 epochs, T = 35): "
        "an estimated 14 CPU-hours (5x the small model's cost per token)",
        lambda data_dir: _lm_cells(data_dir, medium=True),
        report="lm",
    ),
    "seq2seq": Suite(
        "seq2seq",
        "Sequence to sequence with additive attention (Bahdanau et al. 2015) and without (the "
        "fixed-vector encoder-decoder): French-English Tatoeba prefixes subset, BLEU greedy and "
        "beam 5; sequence reversal, exact match against length (about 20 minutes on 2 free cores)",
        _seq2seq_cells,
        report="seq2seq",
    ),
    "joulin": Suite(
        "joulin",
        "Counting languages (a^n b^n, a^n b^n c^n, a^n b^n c^n d^n, a^n b^2n, a^n b^m c^(n+m)) "
        "and memorisation (Joulin & Mikolov 2015, Table 2): tanh RNN, LSTM (40 units) and the "
        f"Stack RNN 40+10 without and with rounding, 3 seeds, {JOULIN_EPOCHS} epochs of 20 "
        "steps at batch 32 (Adam 1e-2, the paper's curriculum to n = 19), scored as % of n = "
        "1..60 solved; about 20 minutes with --jobs 2 on 2 free cores",
        lambda data_dir: _joulin_cells(),
        report="counting",
    ),
}


def _quick_matrix() -> list[Cell]:
    from mneme.bench.matrix import quick_cells

    return quick_cells()


def _matrix(data_dir: str | None) -> list[Cell]:
    from mneme.bench.matrix import matrix_cells

    return matrix_cells()


SUITES["matrix"] = Suite(
    "matrix",
    "The memory matrix: every registered sequence core on copy, repeat copy, associative "
    "recall, priority sort, associative retrieval (R = 20, 50) and adding (T = 100), one "
    "protocol (Adam 1e-3, clip 1, width 64), 3 seeds, 1,000 steps a cell (adding 300); about "
    "20 minutes on 2 cores (50 with other jobs beside it)",
    _matrix,
    report="matrix",
)

SUITES["transformer"] = Suite("transformer", lengths.DESCRIPTION,
                              lambda data_dir: lengths.transformer_cells(), "matrix")
SUITES.update(DNC_SUITES)
SUITES.update(MQAR_SUITES)
SUITES.update(CHOMSKY_SUITES)
SUITES.update(RETRIEVAL_SUITES)


def get_suite(name: str) -> Suite:
    """The suite ``name``; ``UserError`` listing the known suites otherwise."""
    if name not in SUITES:
        raise UserError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}")
    return SUITES[name]
