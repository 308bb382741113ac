"""Sequence regressors: a recurrent stack read to the end, a linear layer on its last output.

The network of the adding problem (Le, Jaitly & Hinton 2015, "A Simple Way to Initialize
Recurrent Networks of Rectified Linear Units", arXiv 1504.00941, section 4.1): one recurrent
layer of 100 units reads the (B, T, D) sequence, and a linear unit on the last step's output
predicts a real number. Any cell of ``mneme.cells`` fits (``build_stack``), so the adding problem
compares the cells with everything else equal:

    rnn    Elman RNN, tanh
    irnn   ReLU RNN, recurrent matrix initialised to the identity (Le et al. 2015)
    lstm   LSTM with a forget gate
    gru    gated recurrent unit

The output layer's bias starts at the target's mean (``spec.target_mean``, 1 for the adding
problem), so training starts at the predict-the-mean baseline instead of spending its first steps
learning a constant.

Legend: B batch, T time, D input features, H hidden units, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from mneme.errors import UserError
from mneme.tasks.base import ModelOutput

__all__ = [
    "GRURegressorConfig",
    "IRNNRegressorConfig",
    "LSTMRegressorConfig",
    "RNNRegressorConfig",
    "SequenceRegressor",
    "SequenceRegressorConfig",
    "build_regressor",
    "known_cells",
]

def known_cells() -> tuple[str, ...]:
    """The cell names ``mneme.cells.build_stack`` accepts."""
    from mneme.cells.build import CELLS

    return tuple(CELLS)


@dataclass(frozen=True)
class SequenceRegressorConfig:
    """The regressor's architecture.

    Attributes:
        cell: the recurrent cell (``known_cells()``: rnn, irnn, lstm, gru, ...).
        hidden_size: H, units per layer (Le et al. 2015: 100).
        num_layers: L, stacked layers.
        dropout: dropout between stacked layers (0: off).
    """

    cell: str = "lstm"
    hidden_size: int = 100
    num_layers: int = 1
    dropout: float = 0.0

    def validate(self) -> None:
        """Raise ``UserError`` naming the first bad field."""
        known = known_cells()
        if self.cell not in known:
            raise UserError(f"model.cell must be one of {', '.join(known)} (got {self.cell!r})")
        for name in ("hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise UserError(f"model.{name} must be >= 1 (got {getattr(self, name)})")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"model.dropout must be in [0, 1) (got {self.dropout})")


@dataclass(frozen=True)
class LSTMRegressorConfig(SequenceRegressorConfig):
    """LSTM regressor."""

    cell: str = "lstm"


@dataclass(frozen=True)
class GRURegressorConfig(SequenceRegressorConfig):
    """GRU regressor."""

    cell: str = "gru"


@dataclass(frozen=True)
class IRNNRegressorConfig(SequenceRegressorConfig):
    """IRNN regressor: ReLU units, identity-initialised recurrent matrix (Le et al. 2015)."""

    cell: str = "irnn"


@dataclass(frozen=True)
class RNNRegressorConfig(SequenceRegressorConfig):
    """Elman (tanh) RNN regressor."""

    cell: str = "rnn"


class SequenceRegressor(nn.Module):
    """Recurrent stack -> last step -> linear -> one real number per sequence.

    Args:
        config: the architecture.
        input_size: D.
        target_mean: the output layer's initial bias.

    Input ``(B, T, D)`` float; output ``ModelOutput(logits (B,) predictions)``.

    Raises:
        UserError: a bad config field.
    """

    def __init__(self, config: SequenceRegressorConfig, input_size: int,
                 target_mean: float = 0.0) -> None:
        super().__init__()
        config.validate()
        from mneme.cells.build import build_stack

        self.config = config
        self.core = build_stack(config.cell, input_size, config.hidden_size, config.num_layers,
                                dropout=config.dropout)
        self.head = nn.Linear(config.hidden_size, 1)
        nn.init.constant_(self.head.bias, target_mean)

    def forward(self, inputs: Tensor, **_: Any) -> ModelOutput:
        y, _ = self.core(inputs)
        return ModelOutput(self.head(y[:, -1]).squeeze(-1))


def build_regressor(config: SequenceRegressorConfig, spec: Any) -> SequenceRegressor:
    """The regressor for a task ``spec`` with ``input_size`` (and ``target_mean``, default 0)."""
    return SequenceRegressor(config, spec.input_size, float(getattr(spec, "target_mean", 0.0)))


def adding_recipe(model_name: str) -> Any:
    """The ``TrainConfig`` defaults for the adding problem (``registry.recipe``), any cell.

    Adam at lr 1e-3, batches of 50, gradient norm clipped at 1, fresh sequences every step;
    25 epochs of 250 steps (6,250 steps, 312,500 sequences; ~8 minutes for an LSTM of 100 units at
    T = 100 on one core). Le et al. 2015 trained with SGD and searched the learning rate and the
    clipping threshold per model; this single setting instead is what fits a few minutes on one
    core (measured: at T = 100 the LSTM leaves the predict-1 plateau after ~2,700 steps, the IRNN
    after a few hundred).
    """
    from mneme.config import TrainConfig

    return TrainConfig(epochs=25, epoch_steps=250, batch_size=50, optimizer="adam", lr=1e-3,
                       lr_schedule="constant", clip_norm=1.0, eval_batch_size=1000)
