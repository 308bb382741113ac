"""The Chomsky-hierarchy suites, ``chomsky`` and ``chomsky-small`` (``CHOMSKY_SUITES``, part of
``mneme.bench.suites.SUITES``).

Delétang et al. 2023 ("Neural Networks and the Chomsky Hierarchy", ICLR) train every model on
each of 15 tasks (``mneme.tasks.chomsky``) with lengths 1-40 and score it on lengths 41-500: the
per-token accuracy averaged over the test lengths, the maximum over 10 seeds and 3 learning
rates; "solved" is >= 90%. Rows: the paper's five (tanh RNN, LSTM, Stack RNN, Tape RNN, the
Transformer encoder) and mneme's NTM, DNC, fast weights, delta rule and modern Hopfield core.

Every cell is the ``("chomsky", "*")`` recipe (``mneme.models.recipes``: Adam, clip 1, one
8-wide stack or tape read at the top, the encoder of 5 blocks of width 64 with relative
positions, the best of the paper's encodings being more than a CPU affords) at a CPU ``Budget``
(``FULL``, ``SMALL``): fewer steps, a smaller batch and width, one learning rate, fewer seeds and
test strings. The runner extends finished cells, so a later run with more seeds adds to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mneme.bench.cells import Cell, Suite, recipe_cell

__all__ = ["CHOMSKY_SUITES", "FULL", "GROUPS", "PAPER_GROUPS", "SMALL", "SMALL_TASKS", "Budget",
           "chomsky_cells"]

GROUPS: dict[str, str] = {
    "rnn": "rnn", "lstm": "lstm", "stack-rnn": "stack-rnn", "tape-rnn": "tape-rnn",
    "transformer": "self-attention", "ntm": "ntm", "dnc": "dnc", "fast-weights": "fast-weights",
    "delta-rule": "delta-rule", "hopfield": "hopfield",
}
"""Report group (row) -> registered core, in table order."""
PAPER_GROUPS = ("rnn", "lstm", "stack-rnn", "tape-rnn", "transformer")
SMALL_TASKS = ("parity-check", "cycle-navigation", "stack-manipulation", "reverse-string",
               "duplicate-string", "odds-first")
"""Two tasks a level, those with published Table 2 values for every paper model."""


@dataclass(frozen=True)
class Budget:
    """What a suite affords, against the paper's 1M steps of 128, H = 256, 3 learning rates x
    10 seeds and 512 test strings a length.

    Attributes:
        steps: training steps a seed (``epochs`` x ``epoch_steps``).
        epoch_steps: steps between validations (the best validation checkpoint is tested).
        batch_size: strings a step.
        hidden_size: the recurrent cores' width (the Transformer keeps 5 x 64).
        lrs: Adam learning rates, one cell each.
        seeds: seeds a cell.
        test_size: strings a test length (lengths: ``mneme.tasks.chomsky.TEST_LENGTHS``).
        eval_batch_size: strings an evaluation batch (the Transformer: a quarter, since its
            attention at 1,500 steps holds B x 8 x T^2 scores).
        group_steps: (group, steps) for the groups trained longer than ``steps``: a step of
            the tanh RNN or the LSTM costs ~1.5 ms on one CPU thread, of the Transformer ~100.
    """

    steps: int
    epoch_steps: int
    batch_size: int
    hidden_size: int
    lrs: tuple[float, ...]
    seeds: int
    test_size: int
    eval_batch_size: int
    group_steps: tuple[tuple[str, int], ...] = ()

    def steps_of(self, group: str) -> int:
        """The training steps of ``group``'s cells."""
        return dict(self.group_steps).get(group, self.steps)

    def text(self) -> str:
        lrs = ", ".join(f"{lr:g}" for lr in self.lrs)
        longer = "".join(f"; {g}: {n:,}" for g, n in self.group_steps)
        return (f"{self.steps:,} steps of {self.batch_size} ({self.steps * self.batch_size:,} "
                f"strings{longer}; the paper: 1,000,000 of 128), width {self.hidden_size} "
                f"(the paper: 256; the Transformer 5 x 64 as the paper), lr {lrs} (the paper: "
                f"max over 1e-4, 3e-4, 5e-4), {self.seeds} seed(s) (the paper: 10), "
                f"{self.test_size} test strings a length (the paper: 512)")


FULL = Budget(steps=2000, epoch_steps=250, batch_size=32, hidden_size=128, lrs=(1e-3,),
              seeds=1, test_size=64, eval_batch_size=16)
"""``chomsky``: 10 models x 15 tasks, one seed. lr 1e-3 is the released ``example.py``'s; the
paper's grid is for 1M steps."""
SMALL = Budget(steps=1000, epoch_steps=250, batch_size=32, hidden_size=64, lrs=(1e-3,),
               seeds=2, test_size=32, eval_batch_size=16,
               group_steps=(("rnn", 4000), ("lstm", 4000), ("stack-rnn", 4000),
                            ("tape-rnn", 4000)))
"""``chomsky-small``: the paper's 5 models x ``SMALL_TASKS``, two seeds; every model at 1,000
steps first (nothing learned any task there, measured), then the recurrent ones extended to
4,000 (the LSTM learns parity within lengths 1-40 after about 3,750 steps, measured): the
report's score-against-budget table gives both."""


def chomsky_cells(budget: Budget, groups: tuple[str, ...] = tuple(GROUPS),
                  tasks: tuple[str, ...] | None = None) -> list[Cell]:
    """One cell per (group, task, learning rate), ``budget.seeds`` seeds each; task keys are
    the short names of ``mneme.tasks.chomsky.TASKS`` (default: all 15)."""
    from mneme import registry
    from mneme.tasks.chomsky import TASKS

    registry.load()
    cells = []
    for task in tasks or tuple(TASKS):
        task_name = f"chomsky-{task}"
        config = registry.task_entry(task_name).config(test_size=budget.test_size)
        for group in groups:
            core = GROUPS[group]
            attention = core == "self-attention"
            width = {} if attention else {registry.CORES[core].size: budget.hidden_size}
            for lr in budget.lrs:
                cells.append(recipe_cell(
                    f"{group}--{task}--lr{lr:g}", group, task_name, config, core,
                    model_overrides=width,
                    train_overrides={
                        "lr": lr, "batch_size": budget.batch_size, "repeats": budget.seeds,
                        "epochs": budget.steps_of(group) // budget.epoch_steps,
                        "epoch_steps": budget.epoch_steps, "tensorboard": False,
                        "eval_batch_size": max(1, budget.eval_batch_size // 4) if attention
                        else budget.eval_batch_size}))
    return cells


CHOMSKY_SUITES: dict[str, Suite] = {
    "chomsky": Suite(
        "chomsky",
        "Neural Networks and the Chomsky Hierarchy (Delétang et al. 2023): 10 memories (tanh "
        "RNN, LSTM, Stack RNN, Tape RNN, Transformer encoder; NTM, DNC, fast weights, delta "
        "rule, Hopfield) x 15 tasks, trained on lengths 1-40 and scored on 41-500; "
        f"{FULL.text()}; estimated 4-5 hours with --jobs 2 (extrapolated from 200-step cells "
        "on the loaded shared machine; the Transformer costs most)",
        lambda data_dir: chomsky_cells(FULL),
        report="chomsky",
    ),
    "chomsky-small": Suite(
        "chomsky-small",
        "The Chomsky-hierarchy suite's small variant: the paper's 5 models x 6 tasks (parity, "
        "cycle navigation, stack manipulation, reverse, duplicate, odds first); "
        f"{SMALL.text()}; measured on busy cores: 33 minutes with --jobs 2 at 1,000 steps a "
        "model, 63 more with --jobs 1 to extend the recurrent models to 4,000",
        lambda data_dir: chomsky_cells(SMALL, PAPER_GROUPS, SMALL_TASKS),
        report="chomsky",
    ),
}
