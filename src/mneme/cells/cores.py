"""The recurrent cells as registered cores: ``rnn``, ``irnn``, ``lstm``, ``gru``.

Each is a ``RecurrentStack`` built by ``build_stack`` (``torch.nn``'s fused kernels where they
apply), so every task of the matrix can run it (``mneme.models.sequence``). Variants are config
fields, not new names: ``--model lstm --model.variant peephole``, ``--model gru
--model.layer-norm``.

Legend: D input features, H hidden units, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mneme.cells.build import build_stack
from mneme.cells.stacks import RecurrentStack
from mneme.registry import register_core
from mneme.validation import Validated, at_least, in_range, one_of

__all__ = ["GRUCoreConfig", "IRNNCoreConfig", "LSTMCoreConfig", "RNNCoreConfig"]

LSTMVariant = Literal["standard", "peephole", "coupled", "no-forget", "no-output", "layer-norm"]
_LSTM_CELLS = {"standard": "lstm", "peephole": "peephole", "coupled": "coupled",
               "no-forget": "no-forget", "no-output": "no-output", "layer-norm": "ln-lstm"}


@dataclass(frozen=True)
class RNNCoreConfig(Validated):
    """A stack of recurrent layers.

    Attributes:
        hidden_size: H, units per layer.
        num_layers: L.
        dropout: dropout between stacked layers (Zaremba et al. 2014), 0 for none.
    """

    hidden_size: int = field(default=100, metadata=at_least(1))
    num_layers: int = field(default=1, metadata=at_least(1))
    dropout: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))


@dataclass(frozen=True)
class IRNNCoreConfig(RNNCoreConfig):
    """IRNN (Le, Jaitly & Hinton 2015): ReLU units, recurrence initialised to the identity.

    Attributes:
        recurrent_init: the recurrent matrix starts as this times the identity (the paper: 1).
    """

    recurrent_init: float = 1.0


@dataclass(frozen=True)
class LSTMCoreConfig(RNNCoreConfig):
    """LSTM (Hochreiter & Schmidhuber 1997, with forget gate) or one of its variants.

    Attributes:
        forget_bias: added to the forget gates' bias at init.
        variant: ``standard`` (fused ``torch.nn.LSTM``), ``peephole``, ``coupled``,
            ``no-forget``, ``no-output`` (Greff et al. 2017) or ``layer-norm`` (Ba et al. 2016).
    """

    forget_bias: float = 1.0
    variant: LSTMVariant = field(default="standard", metadata=one_of())


@dataclass(frozen=True)
class GRUCoreConfig(RNNCoreConfig):
    """GRU (Cho et al. 2014).

    Attributes:
        layer_norm: layer-normalise the gates (Ba et al. 2016's recipe on the GRU).
    """

    layer_norm: bool = False


def _stack(cell: str, config: RNNCoreConfig, input_size: int, **options: object
           ) -> RecurrentStack:
    config.validate()
    return build_stack(cell, input_size, config.hidden_size, config.num_layers,
                       dropout=config.dropout, **options)


@register_core("rnn", config=RNNCoreConfig, family="cell",
               summary="Elman RNN, tanh units (torch.nn.RNN)", source="Elman 1990")
def build_rnn_core(config: RNNCoreConfig, input_size: int) -> RecurrentStack:
    """An Elman RNN stack reading D = ``input_size`` features."""
    return _stack("rnn", config, input_size)


@register_core("irnn", config=IRNNCoreConfig, family="cell",
               summary="ReLU RNN with identity-initialised recurrence",
               source="Le, Jaitly & Hinton 2015, arXiv 1504.00941")
def build_irnn_core(config: IRNNCoreConfig, input_size: int) -> RecurrentStack:
    """An IRNN stack reading D = ``input_size`` features."""
    return _stack("irnn", config, input_size, recurrent_init=config.recurrent_init)


@register_core("lstm", config=LSTMCoreConfig, family="cell",
               summary="LSTM with forget gate (torch.nn.LSTM), or a variant (--model.variant)",
               source="Hochreiter & Schmidhuber 1997; Gers et al. 2000; Greff et al. 2017")
def build_lstm_core(config: LSTMCoreConfig, input_size: int) -> RecurrentStack:
    """An LSTM stack (or variant) reading D = ``input_size`` features."""
    config.validate()  # before the variant's lookup: an unknown variant is a ConfigError
    cell = _LSTM_CELLS[config.variant]
    return _stack(cell, config, input_size, forget_bias=config.forget_bias)


@register_core("gru", config=GRUCoreConfig, family="cell",
               summary="GRU (torch.nn.GRU), optionally layer-normalised",
               source="Cho et al. 2014, arXiv 1406.1078")
def build_gru_core(config: GRUCoreConfig, input_size: int) -> RecurrentStack:
    """A GRU stack reading D = ``input_size`` features."""
    return _stack("ln-gru" if config.layer_norm else "gru", config, input_size)
