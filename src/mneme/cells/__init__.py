"""Internal memory: recurrent cells and stacks (Elman, IRNN, LSTM variants, GRU).

Every cell is a ``RecurrentStack`` core (DESIGN.md): ``initial_state``, ``forward(x (B, T, D),
state=None, *, trace=False) -> (y, state)``, ``step``, with an explicit frozen state
(``RNNState`` / ``LSTMState``, tensors ``(L * dirs, B, H)``). ``build_stack(name, ...)`` builds one
by its name in ``CELLS`` (both in ``mneme.cells.build``); ``mneme.cells.reference`` holds the
readable reference equations.
"""

from mneme.cells.build import CELLS, build_stack
from mneme.cells.dropout import VariationalDropout, embedding_dropout, variational_mask
from mneme.cells.gru import GRU, GRUTrace, LayerNormGRU, gru_scan
from mneme.cells.lstm import (
    GATE_LAYOUT,
    LSTM,
    LSTM_VARIANTS,
    LSTMTrace,
    LSTMVariant,
    VariantLSTM,
    lstm_scan,
)
from mneme.cells.rnn import IRNN, ElmanRNN, RNNTrace, rnn_scan
from mneme.cells.stacks import LSTMState, Merge, RecurrentStack, RNNState, detach_state

__all__ = [
    "CELLS",
    "GATE_LAYOUT",
    "GRU",
    "IRNN",
    "LSTM",
    "LSTM_VARIANTS",
    "ElmanRNN",
    "GRUTrace",
    "LSTMState",
    "LSTMTrace",
    "LSTMVariant",
    "LayerNormGRU",
    "Merge",
    "RNNState",
    "RNNTrace",
    "RecurrentStack",
    "VariantLSTM",
    "VariationalDropout",
    "build_stack",
    "detach_state",
    "embedding_dropout",
    "gru_scan",
    "lstm_scan",
    "rnn_scan",
    "variational_mask",
]
