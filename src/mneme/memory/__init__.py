"""External memory: controllers that read and write a memory outside their own state.

- ``ntm``: the Neural Turing Machine (Graves et al. 2014), addressing in ``addressing``, its
  reads, writes and trace in ``ntm_heads``.
- ``memn2n``: the End-To-End Memory Network (Sukhbaatar et al. 2015), its config and trace in
  ``memn2n_config``, its sentence encoding in ``memn2n_encoding``, its equations read literally
  in ``memn2n_reference``.
- ``memnn``: the strongly supervised Memory Network (Weston et al. 2014).
- ``stack_rnn``: the Stack RNN (Joulin & Mikolov 2015).
- ``tape_rnn``: the Tape RNN (Deletang et al. 2023).
- ``dnc``: the Differentiable Neural Computer (Graves et al. 2016), its memory access in
  ``dnc_access``.

The names users reach for are exported here: ``from mneme.memory import NTM, MemN2N, MemNN``.
"""

from mneme.memory.dnc import DNC, DNCConfig, DNCState, DNCTrace
from mneme.memory.memn2n import (
    MemN2N,
    MemN2NConfig,
    MemN2NTrace,
    QASizes,
    build_memn2n,
    memn2n_reference,
    position_encoding,
)
from mneme.memory.memnn import MemNN, MemNNConfig, MemNNTrace
from mneme.memory.ntm import NTM, NTMConfig, NTMState, NTMTrace
from mneme.memory.stack_rnn import StackRNN, StackRNNConfig, StackState, StackTrace
from mneme.memory.tape_rnn import TapeRNN, TapeRNNConfig, TapeState, TapeTrace

__all__ = [
    "DNC",
    "NTM",
    "DNCConfig",
    "DNCState",
    "DNCTrace",
    "MemN2N",
    "MemN2NConfig",
    "MemN2NTrace",
    "MemNN",
    "MemNNConfig",
    "MemNNTrace",
    "NTMConfig",
    "NTMState",
    "NTMTrace",
    "QASizes",
    "StackRNN",
    "StackRNNConfig",
    "StackState",
    "StackTrace",
    "TapeRNN",
    "TapeRNNConfig",
    "TapeState",
    "TapeTrace",
    "build_memn2n",
    "memn2n_reference",
    "position_encoding",
]
