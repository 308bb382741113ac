"""Sequence classifiers: an embedding, a recurrent core, and a ReLU layer before the softmax.

The network of the fast-weights paper's associative retrieval experiment (Ba et al. 2016, section
4.1): 100-d symbol embedding, a recurrent core of R units, a 100-unit ReLU layer on the last step's
output, softmax over the vocabulary. Every core of mneme fits (DESIGN.md's core contract), so the
paper's Table 1 compares the cores with everything else equal:

    fast-weights   layer-normalised fast-weight RNN (Ba et al. 2016)
    delta-fw       delta-rule fast weight programmer (Schlag et al. 2021)
    irnn           ReLU RNN with identity init (Le et al. 2015)
    lstm           LSTM (torch.nn.LSTM)
    alstm          associative LSTM (Danihelka et al. 2016)

Legend: B batch, T time, E embedding size, R (= H) recurrent units, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor, nn

from mneme.errors import UserError
from mneme.tasks.base import ModelOutput

__all__ = [
    "AssociativeLSTMClassifierConfig",
    "ClassifierConfig",
    "DeltaClassifierConfig",
    "FastWeightsClassifierConfig",
    "IRNNClassifierConfig",
    "LSTMClassifierConfig",
    "SequenceClassifier",
    "build_classifier",
]


@dataclass(frozen=True)
class ClassifierConfig:
    """The architecture around the core.

    Attributes:
        embedding_dim: E, the symbol embedding size (the paper: 100).
        hidden_size: R, the core's recurrent units (the paper's Table 1: 20, 50, 100).
        head_size: units of the ReLU layer before the softmax (the paper: 100).
    """

    embedding_dim: int = 100
    hidden_size: int = 20
    head_size: int = 100

    def validate(self) -> None:
        """Raise ``UserError`` naming the first bad field."""
        for name in ("embedding_dim", "hidden_size", "head_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class FastWeightsClassifierConfig(ClassifierConfig):
    """Fast-weight RNN core (Ba et al. 2016).

    Attributes:
        decay: lambda, the fast weights' decay per step (the paper: 0.95).
        fast_lr: eta, the fast weights' learning rate (the paper: 0.5).
        inner_steps: S, inner-loop iterations per step (the paper: 1).
        layer_norm: layer-normalise the inner loop.
        retrieval: how A(t) h is computed: matrix, attention or auto (equal results).
        recurrent_init: W starts as this times the identity.
    """

    decay: float = 0.95
    fast_lr: float = 0.5
    inner_steps: int = 1
    layer_norm: bool = True
    retrieval: Literal["auto", "matrix", "attention"] = "auto"
    recurrent_init: float = 0.05

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.decay <= 1.0:
            raise UserError(f"decay must be in [0, 1], got {self.decay}")
        if self.fast_lr < 0:
            raise UserError(f"fast_lr must be >= 0, got {self.fast_lr}")
        if self.inner_steps < 1:
            raise UserError(f"inner_steps must be >= 1, got {self.inner_steps}")


@dataclass(frozen=True)
class DeltaClassifierConfig(ClassifierConfig):
    """Delta-rule fast weight programmer core (Schlag et al. 2021).

    Attributes:
        layer_norm: layer-normalise the core's output.
    """

    layer_norm: bool = True


@dataclass(frozen=True)
class IRNNClassifierConfig(ClassifierConfig):
    """IRNN core (Le et al. 2015).

    Attributes:
        recurrent_init: the recurrent matrix starts as this times the identity (Le et al.: 1).
    """

    recurrent_init: float = 1.0


@dataclass(frozen=True)
class LSTMClassifierConfig(ClassifierConfig):
    """LSTM core (``torch.nn.LSTM``).

    Attributes:
        forget_bias: added to the forget gate's bias at init.
    """

    forget_bias: float = 1.0


@dataclass(frozen=True)
class AssociativeLSTMClassifierConfig(ClassifierConfig):
    """Associative LSTM core (Danihelka et al. 2016).

    Attributes:
        copies: redundant memory copies.
    """

    copies: int = 4

    def validate(self) -> None:
        super().validate()
        if self.hidden_size % 2:
            raise UserError(f"hidden_size must be even for alstm, got {self.hidden_size}")
        if self.copies < 1:
            raise UserError(f"copies must be >= 1, got {self.copies}")


def _core(config: ClassifierConfig) -> nn.Module:
    e, r = config.embedding_dim, config.hidden_size
    if isinstance(config, FastWeightsClassifierConfig):
        from mneme.associative.fast_weights import FastWeightRNN

        return FastWeightRNN(e, r, decay=config.decay, fast_lr=config.fast_lr,
                             inner_steps=config.inner_steps, layer_norm=config.layer_norm,
                             retrieval=config.retrieval, recurrent_init=config.recurrent_init)
    if isinstance(config, DeltaClassifierConfig):
        from mneme.associative.delta_rule import DeltaFastWeights

        return DeltaFastWeights(e, r, layer_norm=config.layer_norm)
    if isinstance(config, AssociativeLSTMClassifierConfig):
        from mneme.associative.associative_lstm import AssociativeLSTM

        return AssociativeLSTM(e, r, copies=config.copies)
    from mneme.cells.recurrent import IRNN, LSTM

    if isinstance(config, IRNNClassifierConfig):
        return IRNN(e, r, recurrent_init=config.recurrent_init)
    if isinstance(config, LSTMClassifierConfig):
        return LSTM(e, r, forget_bias=config.forget_bias)
    raise TypeError(f"no core for {type(config).__name__}")


class SequenceClassifier(nn.Module):
    """Embedding -> core -> last step -> ReLU layer -> logits.

    Input ``(B, T)`` symbol ids; output ``ModelOutput(logits (B, V), trace)``, the trace being
    the core's (fast-weight attention, for instance) when ``trace=True`` and the core has one.
    """

    def __init__(self, config: ClassifierConfig, vocab_size: int, num_classes: int) -> None:
        super().__init__()
        config.validate()
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.core = _core(config)
        self.head = nn.Sequential(nn.Linear(config.hidden_size, config.head_size), nn.ReLU(),
                                  nn.Linear(config.head_size, num_classes))

    def forward(self, inputs: Tensor, *, trace: bool = False) -> ModelOutput:
        out: Any = self.core(self.embedding(inputs), trace=trace)
        y = out[0]
        core_trace = out[2] if trace and len(out) > 2 else None
        return ModelOutput(self.head(y[:, -1]), trace=core_trace)


def build_classifier(config: ClassifierConfig, spec: Any) -> SequenceClassifier:
    """The classifier for a task ``spec`` with ``vocab_size`` and ``num_classes``."""
    return SequenceClassifier(config, spec.vocab_size, spec.num_classes)
