"""The associative retrieval suites, ``fast-weights``, ``fast-weights-long`` and
``fast-weights-extra`` (``RETRIEVAL_SUITES``, part of ``mneme.bench.suites.SUITES``): Table 1 of
Ba et al. 2016 (K = 4 key-value pairs, R recurrent units), each model with the retrieval recipe
(``mneme.models.recipes``: Adam 1e-3, batch 128, norm clip 5) and the runs' seeds, budgets and
learning rates below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mneme.bench.cells import Cell, Suite, recipe_cell

__all__ = ["FAST_WEIGHTS_EPOCHS", "FAST_WEIGHTS_EXTRA", "FAST_WEIGHTS_LONG",
           "FAST_WEIGHTS_LONG_EPOCHS", "FAST_WEIGHTS_PLAN", "RETRIEVAL_SUITES", "retrieval_cells"]


def retrieval_cells(
    plan: Sequence[tuple[str, int, int, float | None]], *, epochs: int,
    lr_schedule: str | None = None,
) -> list[Cell]:
    """Associative retrieval cells: (model, R, seeds, lr or None for the recipe's) each.

    A cell stops early once its validation error reaches 0; ``-tuned`` cells use their own lr;
    ``lr_schedule`` replaces the recipe's (constant) for every cell.
    """
    from mneme.tasks.retrieval import RetrievalConfig

    cells = []
    for model, r, seeds, lr in plan:
        group = model if lr is None else f"{model}-tuned"
        train: dict[str, Any] = {"repeats": seeds, "epochs": epochs, "early_stop": 0.0}
        if lr_schedule is not None:
            train["lr_schedule"] = lr_schedule
        if lr is not None:
            train["lr"] = lr
        cells.append(recipe_cell(f"{group}-r{r}", group, "retrieval", RetrievalConfig(), model,
                                 model_overrides={"hidden_size": r}, train_overrides=train))
    return cells


# Table 1 of Ba et al. 2016 at R = 20, 50, 100: three seeds at R = 20, where the comparison is
# decided, two at R = 50, one at R = 100 where every model ends near 0 or where a step costs
# several times more (A-LSTM; the delta rule, beyond the paper, runs in --suite fast-weights-extra).
FAST_WEIGHTS_PLAN: tuple[tuple[str, int, int, float | None], ...] = (
    ("fast-weights", 20, 3, None), ("fast-weights", 50, 2, None), ("fast-weights", 100, 1, None),
    ("lstm", 20, 3, None), ("lstm", 50, 2, None), ("lstm", 100, 1, None),
    ("irnn", 20, 3, None), ("irnn", 50, 2, None), ("irnn", 100, 1, None),
    ("alstm", 20, 1, None),
    ("lstm", 20, 2, 3e-3), ("irnn", 20, 2, 3e-3),
)
FAST_WEIGHTS_EXTRA: tuple[tuple[str, int, int, float | None], ...] = (
    ("delta-rule", 20, 1, None), ("alstm", 50, 1, None),
)
FAST_WEIGHTS_EPOCHS = 51
"""781 steps an epoch at batch 128: about 40k steps."""
FAST_WEIGHTS_LONG: tuple[tuple[str, int, int, float | None], ...] = (
    ("fast-weights", 20, 3, None), ("lstm", 20, 3, 3e-3),
)
FAST_WEIGHTS_LONG_EPOCHS = 154
"""About 120k steps at the recipe's constant rate: where seed 0 of the 40k-step suite, continued,
reached 1.70% (the paper's 1.81%). A half-cosine decay of the rate to 0 over the same budget was
measured first and is worse: seed 0 ended at 3.23% test error, flat at 3.2-3.3% validation from
90k steps on while the rate fell (``docs/results.md``)."""


RETRIEVAL_SUITES: dict[str, Suite] = {
    "fast-weights": Suite(
        "fast-weights",
        "Associative retrieval, K = 4 (Ba et al. 2016, Table 1): fast weights, LSTM, IRNN, "
        "A-LSTM at R = 20, 50, 100 where affordable (Adam lr 1e-3, batch 128, up to 40k steps, "
        "stopping at 0% validation error), LSTM and IRNN also at a tuned lr 3e-3",
        lambda data_dir: retrieval_cells(FAST_WEIGHTS_PLAN, epochs=FAST_WEIGHTS_EPOCHS),
        report="fast-weights",
    ),
    "fast-weights-long": Suite(
        "fast-weights-long",
        "Associative retrieval, K = 4, R = 20 at three times the budget (about 120k steps of "
        "128 at the recipe's constant rate): fast weights and the LSTM at its tuned lr 3e-3, "
        "3 seeds each (Ba et al. 2016, Table 1: 1.81% and 60.81%); about 20 minutes a "
        "fast-weights seed on one core",
        lambda data_dir: retrieval_cells(FAST_WEIGHTS_LONG, epochs=FAST_WEIGHTS_LONG_EPOCHS),
        report="fast-weights",
    ),
    "fast-weights-extra": Suite(
        "fast-weights-extra",
        "Associative retrieval, K = 4, beyond the fast-weights suite: the delta-rule fast weight "
        "programmer (Schlag et al. 2021) at R = 20 and the A-LSTM at R = 50 (same recipe)",
        lambda data_dir: retrieval_cells(FAST_WEIGHTS_EXTRA, epochs=FAST_WEIGHTS_EPOCHS),
        report="fast-weights",
    ),
}
