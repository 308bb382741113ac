"""Aligned sequence models: a core read step by step, a linear layer giving logits at every step.

The shape of the NTM paper's networks (Graves, Wayne & Danihelka 2014, "Neural Turing Machines",
arXiv 1410.5401, section 4): the output at step t is a sigmoid layer on the core's output at t, and
the algorithmic tasks (``mneme.tasks.algorithmic``) score the steps their mask marks. The core is
anything following DESIGN.md's core contract: an NTM, or the paper's baseline, a stack of LSTM
layers (``build_algorithmic_lstm``).

Legend: B batch, T time, D input features (D_in), H core output size, D_out output channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from mneme.config import TrainConfig
from mneme.errors import UserError
from mneme.tasks.base import ModelOutput

__all__ = [
    "PAPER_BUDGET_SEQUENCES",
    "PAPER_LR",
    "PAPER_LSTM_SIZES",
    "AlgorithmicLSTMConfig",
    "AlignedModel",
    "algorithmic_recipe",
    "build_algorithmic_lstm",
]


class AlignedModel(nn.Module):
    """core + linear output layer: logits (B, T, D_out) per step (sigmoid outputs for bit tasks).

    Args:
        core: ``forward(x (B, T, D)) -> (y (B, T, H), state)``, and with ``trace=True`` optionally
            ``(y, state, trace)``. A core that samples discrete decisions puts their summed
            log-probability ``(B,)`` on ``state.log_prob`` for REINFORCE.
        core_size: H.
        out_features: D_out.
        baseline: add a learned REINFORCE baseline, ``Linear(H, 1)`` on the time-mean of the core's
            output (detached, so the baseline's regression does not shape the core).
    """

    def __init__(self, core: nn.Module, core_size: int, out_features: int, *,
                 baseline: bool = False) -> None:
        super().__init__()
        self.core = core
        self.head = nn.Linear(core_size, out_features)
        self.baseline = nn.Linear(core_size, 1) if baseline else None

    def forward(self, inputs: Tensor, *, trace: bool = False) -> ModelOutput:
        """``inputs`` ``(B, T, D)`` -> ``ModelOutput(logits (B, T, D_out), trace, log_prob (B,) or
        None, baseline (B,) or None)``; ``trace`` is the core's trace when asked (None if the core
        has none)."""
        out: Any = self.core(inputs, trace=True) if trace else self.core(inputs)
        y, state = out[0], out[1]
        core_trace = out[2] if trace and len(out) > 2 else None
        # A core that samples says so with ``stochastic``; a soft core's zero log-prob is no policy.
        stochastic = getattr(self.core, "stochastic", True)
        log_prob = getattr(state, "log_prob", None) if stochastic else None
        baseline = None
        if self.baseline is not None:
            baseline = self.baseline(y.detach().mean(1)).squeeze(-1)
        return ModelOutput(self.head(y), trace=core_trace, log_prob=log_prob, baseline=baseline)


PAPER_LSTM_SIZES: dict[str, int] = {
    "copy": 256,
    "repeat-copy": 512,
    "associative-recall": 256,
    "priority-sort": 128,
}
"""Units per layer of the paper's 3-layer LSTM baseline (Graves et al. 2014, Table 3)."""


@dataclass(frozen=True)
class AlgorithmicLSTMConfig:
    """The paper's LSTM baseline: stacked LSTM layers and a sigmoid output layer.

    Attributes:
        hidden_size: H, units per layer; None: the paper's size for the task (Table 3: 3 x 256 for
            copy and associative recall, 3 x 512 for repeat copy, 3 x 128 for priority sort).
        num_layers: L (the paper: "All LSTM networks had three stacked hidden layers", 4.6).
        forget_bias: added to the forget gates' bias at init.
    """

    hidden_size: int | None = None
    num_layers: int = 3
    forget_bias: float = 1.0

    def validate(self) -> None:
        """Raise ``UserError`` naming the first bad field."""
        if self.hidden_size is not None and self.hidden_size < 1:
            raise UserError(f"model.hidden_size must be >= 1 or None (got {self.hidden_size})")
        if self.num_layers < 1:
            raise UserError(f"model.num_layers must be >= 1 (got {self.num_layers})")


def build_algorithmic_lstm(config: AlgorithmicLSTMConfig, task: Any) -> AlignedModel:
    """The LSTM baseline for ``task`` (anything with ``input_size``, ``output_size`` and, when
    ``hidden_size`` is None, ``task_name`` or ``name``: a task or its ``spec``).

    Raises:
        UserError: a bad config field, or no hidden size known for the task.
    """
    from mneme.cells.recurrent import LSTM

    config.validate()
    hidden = config.hidden_size
    if hidden is None:
        name = getattr(task, "task_name", None) or getattr(task, "name", None)
        if name not in PAPER_LSTM_SIZES:
            raise UserError(f"model.hidden_size: no paper size for task {name!r}; set it")
        hidden = PAPER_LSTM_SIZES[name]
    core = LSTM(task.input_size, hidden, config.num_layers, forget_bias=config.forget_bias)
    return AlignedModel(core, hidden, task.output_size)


PAPER_BUDGET_SEQUENCES: dict[str, int] = {
    "copy": 1_000_000,
    "repeat-copy": 500_000,
    "associative-recall": 1_000_000,
    "priority-sort": 1_000_000,
}
"""Sequences on the x axis of the paper's learning curves (Figures 3, 7, 10, 18)."""


PAPER_LR: dict[str, dict[str, float]] = {
    "ntm": {"copy": 1e-4, "repeat-copy": 1e-4, "associative-recall": 1e-4,
            "priority-sort": 3e-5},
    "lstm": {"copy": 3e-5, "repeat-copy": 3e-5, "associative-recall": 1e-4,
             "priority-sort": 3e-5},
}
"""The paper's learning rates at batch size 1 (Graves et al. 2014, Tables 1-3; both NTM
controllers use the same rates)."""


def algorithmic_recipe(task_name: str, model_name: str) -> TrainConfig:
    """Training defaults for ``ntm`` and ``lstm`` on the four algorithmic tasks.

    The paper (section 4.6): RMSProp with momentum 0.9, every gradient component clipped to
    (-10, 10); learning rates from Tables 1-3: NTM 1e-4 (priority sort 3e-5), LSTM 3e-5 (copy,
    repeat copy, priority sort) or 1e-4 (associative recall); its curves count single sequences.
    Here: batches of 16 sequences, so a CPU sees the paper's number of sequences in 1/16 of the
    updates, and every rate is 10 times the paper's (``PAPER_LR``), since an average over 16
    sequences is a less noisy gradient. Measured with one seed on a loaded 2-core machine:

    - NTM (LSTM controller), copy 1-20: at 1e-3, 0 validation bits per sequence (200 sequences)
      after 1300 steps (21k sequences) and 0 test bits up to length 50 (36 at length 120); copy
      1-5: 0.005 bits after 800 steps at 1e-3, still 1.3 bits after 3000 steps at 1e-4.
    - LSTM 3 x 256, copy 1-20, validation bits after 1500 steps: 22.1 at 3e-5, 10.3 at 1e-4, 8.1
      at 3e-4 (chance: about 42).

    An epoch is 100 steps (1600 sequences), so validation bits are logged often; the budget is
    the paper's x axis (``PAPER_BUDGET_SEQUENCES``), and training stops once validation bits per
    sequence are at or below 0.01.
    """
    batch, steps = 16, 100
    paper = PAPER_LR["lstm" if model_name == "lstm" else "ntm"].get(task_name, 1e-4)
    lr = round(10 * paper, 12)  # 3e-4, not 3.0000000000000003e-4, in config.json
    epochs = max(1, PAPER_BUDGET_SEQUENCES.get(task_name, 1_000_000) // (batch * steps))
    return TrainConfig(
        epochs=epochs,
        epoch_steps=steps,
        batch_size=batch,
        optimizer="rmsprop",
        lr=lr,
        momentum=0.9,
        lr_schedule="constant",
        clip_norm=None,
        clip_value=10.0,
        early_stop=0.01,
        eval_batch_size=500,
    )
