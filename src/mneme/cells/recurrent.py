"""The first cores of ``mneme.cells``, kept importable from here: IRNN and LSTM on ``torch.nn``.

They now live in ``mneme.cells.rnn`` and ``mneme.cells.lstm`` (with the rest of the family:
``ElmanRNN``, ``GRU``, the LSTM variants, stacks); this module re-exports them unchanged.
"""

from mneme.cells.lstm import LSTM
from mneme.cells.rnn import IRNN
from mneme.cells.stacks import LSTMState, RNNState

__all__ = ["IRNN", "LSTM", "LSTMState", "RNNState"]
