"""Training recipes as data: one table keyed by (task or task family, model or core family).

Each row names its source. ``recipe(task, model, task_config, model_config)`` finds the most
specific row (task name before task family before ``*``; model name before core family before
``*``) and returns the model config and ``TrainConfig`` defaults it sets, which explicit
``--model.*`` / ``--train.*`` flags then override. A pair without a row gets ``DEFAULT``
(Adam 1e-3, gradient norm clipped at 1), and ``recipe_source`` says "default recipe", which
every report prints beside the cell.

The papers' recipes of the language models and seq2seq live beside those models
(``lm_recipe``, ``seq2seq_recipe``) and are rows here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mneme import registry
from mneme.config import TrainConfig
from mneme.models.lm import lm_recipe
from mneme.models.recipes_algorithmic import (
    NTM_PAPER_SIZES,
    NTM_PAPER_TRAINING,
    NTM_SORT_MODEL,
    NTM_WEIGHTING_GRAD_CLIP,
    PAPER_BUDGET_SEQUENCES,
    PAPER_LR,
    PAPER_LSTM_SIZES,
    algorithmic_recipe,
    dnc_algorithmic,
    lstm_algorithmic,
    ntm_algorithmic,
    paper_training,
    sort_training,
)
from mneme.models.seq2seq import seq2seq_recipe

__all__ = [
    "DEFAULT",
    "DEFAULT_SOURCE",
    "NTM_PAPER_SIZES",
    "NTM_PAPER_TRAINING",
    "NTM_SORT_MODEL",
    "NTM_WEIGHTING_GRAD_CLIP",
    "PAPER_BUDGET_SEQUENCES",
    "PAPER_LR",
    "PAPER_LSTM_SIZES",
    "RECIPES",
    "Recipe",
    "algorithmic_recipe",
    "paper_training",
    "recipe",
    "recipe_source",
    "sort_training",
]

DEFAULT = TrainConfig(optimizer="adam", lr=1e-3, lr_schedule="constant", clip_norm=1.0,
                      batch_size=32, epochs=100)
"""The stated default for a pair no paper trained: Adam 1e-3, norm clip 1 (the Chomsky-hierarchy
protocol's optimiser and clipping, Deletang et al. 2023)."""
DEFAULT_SOURCE = "default recipe"

Apply = Callable[[str, str, Any, Any], tuple[Any, TrainConfig]]
"""``(task_name, model_name, task_config, model_config) -> (model_config, TrainConfig)``."""


@dataclass(frozen=True)
class Recipe:
    """One row: for ``task`` (a name, a family or ``*``) and ``model`` (a model or core name, a
    core family or ``*``), ``apply`` gives the model config and training defaults."""

    task: str
    model: str
    apply: Apply
    source: str


def _set(config: Any, size_field: str | None = None, size: int | None = None,
         **values: Any) -> Any:
    """``config`` with ``values`` (and the core's width field set to ``size``) where it has
    the fields: a row for every core sets only what the core's config knows."""
    names = {f.name for f in dataclasses.fields(config)}
    if size_field is not None and size is not None:
        values[size_field] = size
    return dataclasses.replace(config, **{k: v for k, v in values.items() if k in names})


def _size_field(model_name: str) -> str | None:
    return registry.CORES[model_name].size if model_name in registry.CORES else None


# -- the papers' recipes ------------------------------------------------------------------------
def _memn2n(task: str, model: str, task_config: Any, model_config: Any
            ) -> tuple[Any, TrainConfig]:
    joint = bool(getattr(task_config, "joint", False))
    if joint:
        model_config = dataclasses.replace(model_config, embedding_dim=50, linear_start_epochs=30)
    ls = model_config.linear_start
    ls_epochs = model_config.linear_start_epochs if ls else 0
    main_epochs, every = (60, 15) if joint else (100, 25)
    return model_config, TrainConfig(
        epochs=ls_epochs + main_epochs, batch_size=32, optimizer="sgd", lr=0.005 if ls else 0.01,
        lr_schedule="step", lr_decay=0.5, lr_decay_every=every, clip_norm=40.0,
        loss_reduction="sum", eval_batch_size=1000)


def _memnn(task: str, model: str, task_config: Any, model_config: Any
           ) -> tuple[Any, TrainConfig]:
    # The paper gives no rate or n for bAbI; SGD 0.01 on the batch sum at batch 32, clipped at 40
    # (as MemN2N's): without the clip a bilinear score diverged at lr 0.01 (tests/babi_fake.py).
    return model_config, TrainConfig(
        epochs=60, batch_size=32, optimizer="sgd", lr=0.01, lr_schedule="constant",
        loss_reduction="sum", clip_norm=40.0, eval_batch_size=1000)


def _babi_sequence(task: str, model: str, task_config: Any, model_config: Any
                   ) -> tuple[Any, TrainConfig]:
    model_config = _set(model_config, _size_field(model), 100, embedding_dim=50)
    return model_config, TrainConfig(
        epochs=100, batch_size=32, optimizer="adam", lr=1e-3, lr_schedule="constant",
        clip_norm=5.0, eval_batch_size=500)


DNC_BABI_SIZES: dict[str, int] = {"memory_size": 256, "word_size": 64, "num_reads": 4,
                                  "controller_size": 256}
"""The DNC of Graves et al. 2016's bAbI experiments (Methods): a 256 x 64 memory, 4 read heads,
an LSTM controller of 256 units."""


def _dnc_babi(task: str, model: str, task_config: Any, model_config: Any
              ) -> tuple[Any, TrainConfig]:
    model_config, train = _babi_sequence(task, model, task_config, model_config)
    return _set(model_config, **DNC_BABI_SIZES), train


def _retrieval(task: str, model: str, task_config: Any, model_config: Any
               ) -> tuple[Any, TrainConfig]:
    # 100k training sequences at batch 128 make 781 steps an epoch: 64 epochs are 50k steps
    model_config = _set(model_config, _size_field(model), 20, embedding_dim=100, head_size=100)
    return model_config, TrainConfig(
        epochs=64, batch_size=128, optimizer="adam", lr=1e-3, lr_schedule="constant",
        clip_norm=5.0, eval_batch_size=2000)


def _adding(task: str, model: str, task_config: Any, model_config: Any
            ) -> tuple[Any, TrainConfig]:
    # One setting that fits a few minutes of one core (Le et al. searched lr and clipping per
    # model): at T = 100 the LSTM leaves the predict-1 plateau after ~2,700 steps. Every core's
    # default width is Le et al.'s 100 units.
    return model_config, TrainConfig(
        epochs=25, epoch_steps=250, batch_size=50, optimizer="adam", lr=1e-3,
        lr_schedule="constant", clip_norm=1.0, eval_batch_size=1000)


def _pointer(task: str, model: str, task_config: Any, model_config: Any
             ) -> tuple[Any, TrainConfig]:
    # The paper: SGD at lr 1.0, batch 128, L2 clipping at 2.0 on a GPU; on a CPU Adam at 1e-3
    # (same batch and clipping) learns n <= 10 in minutes.
    return model_config, TrainConfig(
        epochs=20, batch_size=128, optimizer="adam", lr=1e-3, lr_schedule="constant",
        clip_norm=2.0, eval_batch_size=1000)


def _seq2seq(task: str, model: str, task_config: Any, model_config: Any
             ) -> tuple[Any, TrainConfig]:
    return seq2seq_recipe(task, task_config, model_config)


JOULIN_STACK_RNN: dict[str, Any] = {"hidden_size": 40, "num_stacks": 10, "read_top": 2,
                                    "stack_depth": 200, "recurrence": False}
"""The Stack RNN "40+10" of Joulin & Mikolov 2015 (Table 2) as the authors' script runs it
(``script_tasks.sh``: -nhid 40 -nstack 10 -depth 2 -mod 1, stack capacity 200): recurrence only
through the stacks."""


def _counting(task: str, model: str, task_config: Any, model_config: Any
              ) -> tuple[Any, TrainConfig]:
    # The code: SGD lr 0.1 with an update after every symbol (BPTT 50, errors clipped at 15),
    # 2000 strings an epoch, at most 100 epochs. Ours: batches of 32 examples (~2-4 strings
    # each), so 20 steps are about one such epoch, and Adam 1e-2 on the mean over symbols.
    # Measured at 60 epochs: the LSTM solves 65% of n on a^n b^2n with Adam 1e-2, 7% with SGD
    # 1.0 and 2% with SGD 3.0; the Stack RNN on a^n b^n c^n d^n at 40 epochs 78% (SGD 1.0: 62%).
    if model == "stack-rnn":
        model_config = _set(model_config, **JOULIN_STACK_RNN)
    else:
        model_config = _set(model_config, _size_field(model), 40)
    return model_config, TrainConfig(
        epochs=100, epoch_steps=20, batch_size=32, optimizer="adam", lr=1e-2,
        lr_schedule="constant", clip_norm=15.0, eval_batch_size=512)


def _chomsky(task: str, model: str, task_config: Any, model_config: Any
             ) -> tuple[Any, TrainConfig]:
    # Deletang et al. 2023, section 4 and appendix; the released code's example.py and
    # models/: one stack or tape of 8-wide cells read at the top only, a 5-block encoder of
    # width 64 (8 heads, dropout 0.1) with relative positions (the paper takes the best of
    # five encodings); 1M steps of 128, lr 3e-4 of the paper's grid {1e-4, 3e-4, 5e-4}
    if model == "self-attention":
        model_config = _set(model_config, hidden_size=64, num_layers=5, num_heads=8,
                            dropout=0.1, causal=False, position="relative")
    else:  # the code's stack of 30 and tape of 40 cells
        model_config = _set(model_config, _size_field(model), 256, num_stacks=1, num_tapes=1,
                            cell_size=8, read_top=1, stack_depth=30, tape_size=40)
    return model_config, TrainConfig(
        epochs=1000, epoch_steps=1000, batch_size=128, optimizer="adam", lr=3e-4,
        lr_schedule="constant", clip_norm=1.0, eval_batch_size=32)


def _lm(task: str, model: str, task_config: Any, model_config: Any) -> tuple[Any, TrainConfig]:
    return lm_recipe(task, model, task_config, model_config)


RECIPES: tuple[Recipe, ...] = (
    Recipe("babi", "memn2n", _memn2n, "Sukhbaatar et al. 2015, section 4.2 and the authors' "
           "Matlab code (linear start, lr 0.005 halved every 25 epochs, clip 40)"),
    Recipe("babi", "memnn", _memnn, "Weston et al. 2014, section 3.2 (SGD on the margin loss; "
           "rate ours)"),
    Recipe("babi", "dnc", _dnc_babi, "Graves et al. 2016, Methods (the bAbI DNC's sizes); "
           "training as the ('babi', '*') row"),
    Recipe("babi", "*", _babi_sequence, "Weston et al. 2015, section 5 (LSTM baseline); Adam "
           "1e-3, clip 5, ours"),
    Recipe("retrieval", "*", _retrieval, "Ba et al. 2016, section 4.1 (Adam, batch 128, "
           "100-d embedding, 100-unit ReLU layer)"),
    Recipe("adding", "*", _adding, "Le et al. 2015, section 4.1 (task, 100 units); Adam 1e-3 "
           "clip 1, ours"),
    Recipe("pointer", "ptr-net", _pointer, "Vinyals et al. 2015, section 4 (batch 128, clip 2; "
           "Adam 1e-3 for SGD 1.0 on a CPU)"),
    Recipe("seq2seq", "seq2seq", _seq2seq, "Bahdanau et al. 2015; Sutskever et al. 2014, "
           "section 3.4 (clip 5); Adam 1e-3"),
    Recipe("algorithmic", "ntm", ntm_algorithmic, "Graves et al. 2014, section 4.6 and "
           "Tables 1-2 (RMSProp, momentum 0.9, clip 10; lr x10 at batch 16; on associative "
           "recall, and the LSTM controller on repeat copy, the paper's batch 1 and Graves's "
           "RMSProp; the LSTM controller on priority sort: a learned initial memory, Graves's "
           "RMSProp at 1e-3 halved every 50 epochs from epoch 200, ours)"),
    Recipe("algorithmic", "lstm", lstm_algorithmic, "Graves et al. 2014, Table 3 (3-layer "
           "LSTM; RMSProp, momentum 0.9, clip 10; lr x10 at batch 16)"),
    Recipe("algorithmic", "dnc", dnc_algorithmic, "Graves et al. 2016, Methods; DeepMind's "
           "released dnc train.py (RMSProp, batch 16, norm clip 50; lr 1e-3 for 1e-4)"),
    Recipe("counting", "*", _counting, "Joulin & Mikolov 2015, section 4 and the authors' "
           "script_tasks.sh (Stack RNN 40+10, depth 2, recurrence through the stacks; 40 units "
           "for the RNN and LSTM); SGD on batches of 32 at lr 1.0, ours (the code: online SGD "
           "0.1)"),
    Recipe("chomsky", "*", _chomsky, "Delétang et al. 2023, section 4 (Adam, batch 128, clip 1, "
           "H 256, cell 8, Transformer 5 x 64); DeepMind's released code"),
    Recipe("lm", "rnn-lm", _lm, "Zaremba et al. 2014 (PTB small); char-rnn (characters)"),
    Recipe("lm", "ngram", _lm, "Bengio et al. 2003 (n = 5, m = 100, h = 200); Adam 2e-3"),
)


def find(task_name: str, model_name: str) -> Recipe | None:
    """The most specific row for (task, model), or None."""
    registry.load()
    task_family = registry.TASKS[task_name].family if task_name in registry.TASKS else None
    core = registry.CORES.get(model_name)
    model_family = core.family if core is not None and model_name not in registry.MODELS \
        else None
    tasks = [task_name, task_family, "*"]
    models = [model_name, model_family, "*"]
    for t in tasks:
        for m in models:
            if t is None or m is None:
                continue
            for row in RECIPES:
                if row.task == t and row.model == m:
                    return row
    return None


def recipe(task_name: str, model_name: str, task_config: Any, model_config: Any
           ) -> tuple[Any, TrainConfig]:
    """The model config and ``TrainConfig`` defaults for (task, model): the table's most
    specific row, else ``DEFAULT`` with the model config unchanged."""
    row = find(task_name, model_name)
    if row is None:
        return model_config, DEFAULT
    return row.apply(task_name, model_name, task_config, model_config)


def recipe_source(task_name: str, model_name: str) -> str:
    """The source of the recipe (task, model) trains with, or ``"default recipe"``."""
    row = find(task_name, model_name)
    return DEFAULT_SOURCE if row is None else row.source
