"""Question answering over a story: the LSTM baseline of the bAbI paper.

Weston, Bordes, Chopra, Rush, van Merriënboer, Joulin & Mikolov 2015, "Towards AI-Complete Question
Answering" (arXiv 1502.05698), section 5: an LSTM that reads the story and then the question as one
word sequence and answers from its last hidden state. It is the no-external-memory baseline MemN2N
is compared with (Sukhbaatar et al. 2015, table 1, "LSTM").

Legend: B batch, N memory slots, J words per sentence, T flattened words, d embedding,
H hidden units, V vocabulary. Inputs follow the bAbI contract of ``mneme.memory.memn2n``:
``story`` ``(B, N, J)`` with slot 0 the most recent sentence, ``query`` ``(B, J)``, word 0 nil.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from mneme.errors import UserError
from mneme.memory.memn2n import QASizes
from mneme.tasks.base import ModelOutput

__all__ = ["LSTMQA", "LSTMQAConfig", "LSTMQATrace", "build_lstm_qa", "flatten_story_query"]


@dataclass(frozen=True)
class LSTMQAConfig:
    """LSTM baseline hyper-parameters.

    Attributes:
        embedding_dim: d, the word embedding size.
        hidden_size: H, LSTM units per layer.
        num_layers: stacked LSTM layers.
        dropout: dropout on the word embeddings, between layers and on the last hidden state.
    """

    embedding_dim: int = 50
    hidden_size: int = 100
    num_layers: int = 1
    dropout: float = 0.0

    def validate(self) -> None:
        """Raise ``UserError`` naming the first bad field."""
        if self.embedding_dim < 1:
            raise UserError(f"embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.hidden_size < 1:
            raise UserError(f"hidden_size must be >= 1, got {self.hidden_size}")
        if self.num_layers < 1:
            raise UserError(f"num_layers must be >= 1, got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class LSTMQATrace:
    """What the LSTM read.

    Attributes:
        tokens: ``(B, T)`` the flattened word sequence (story oldest first, then the query),
            nil-padded after each example's end.
        lengths: ``(B,)`` number of real words of each example.
    """

    tokens: Tensor
    lengths: Tensor


def flatten_story_query(story: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """One word sequence per example: the story oldest sentence first, then the query.

    Empty slots and nil words are dropped, vectorised: a stable sort moves the real words to the
    front of each row in reading order.

    Args:
        story: ``(B, N, J)`` word ids, slot 0 the most recent sentence.
        query: ``(B, J)`` word ids.

    Returns:
        tokens ``(B, T)`` (T = the longest example, at least 1; nil after each end) and
        lengths ``(B,)``.
    """
    batch, slots, width = story.shape
    sequence = torch.cat([story.flip(1).reshape(batch, slots * width), query], 1)
    present = sequence.ne(0)
    lengths = present.sum(1)
    order = torch.argsort((~present).to(torch.uint8), dim=1, stable=True)
    longest = max(int(lengths.max()), 1) if batch else 1
    return sequence.gather(1, order[:, :longest]), lengths


class LSTMQA(nn.Module):
    """LSTM over story-then-question, answer from the last hidden state (Weston et al. 2015).

    embedding ``(V, d)`` (row 0, nil, fixed at zero) -> LSTM (H units, ``num_layers``) over the
    packed sequence -> the last layer's hidden state at each example's last real word -> linear
    ``(V, H)`` -> logits ``(B, V)``. Packing makes the result independent of padding and of the
    other examples in the batch.
    """

    def __init__(self, config: LSTMQAConfig, vocab_size: int) -> None:
        super().__init__()
        config.validate()
        if vocab_size < 2:
            raise UserError(f"vocab_size must be >= 2 (nil plus one word), got {vocab_size}")
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, inputs: Mapping[str, Tensor], *, trace: bool = False) -> ModelOutput:
        """Answer logits.

        Args:
            inputs: ``story`` ``(B, N, J)`` and ``query`` ``(B, J)`` word ids.
            trace: also return an ``LSTMQATrace`` (the flattened words).

        Returns:
            ``ModelOutput`` with logits ``(B, V)``.
        """
        tokens, lengths = flatten_story_query(inputs["story"], inputs["query"])
        x = self.dropout(self.embedding(tokens))  # (B, T, d)
        # An example with no word at all reads one nil (zero) vector rather than crash packing.
        packed = pack_padded_sequence(
            x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)  # hidden (L, B, H), in the batch's order
        logits = self.output(self.dropout(hidden[-1]))
        return ModelOutput(logits, LSTMQATrace(tokens, lengths) if trace else None)


def build_lstm_qa(config: LSTMQAConfig, spec: QASizes) -> LSTMQA:
    """An ``LSTMQA`` sized by the task's vocabulary ``spec.vocab_size``."""
    config.validate()
    return LSTMQA(config, vocab_size=int(spec.vocab_size))
