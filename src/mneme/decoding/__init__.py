"""Decoding from a step function: greedy, sampling (temperature, top-k), beam search.

Every strategy is model-agnostic and batched over B: it calls
``step_fn(tokens (B,), state) -> (log_probs (B, V), state)`` (language models' ``step``; a
sequence-to-sequence decoder's step closed over its encoder memory). Beam search also picks rows
of the state with ``reorder_state(state, index)``.
"""

from mneme.decoding.beam import BeamResult, beam_search, length_penalty_factor
from mneme.decoding.greedy import Decoded, greedy
from mneme.decoding.sampling import sample, truncate_top_k
from mneme.decoding.state import map_state, reorder_state

__all__ = [
    "BeamResult",
    "Decoded",
    "beam_search",
    "greedy",
    "length_penalty_factor",
    "map_state",
    "reorder_state",
    "sample",
    "truncate_top_k",
]
