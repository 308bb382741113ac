"""Decoding a ``Seq2Seq``: a step for ``mneme.decoding``, and whole translations.

``Seq2SeqDecoding`` holds the methods of ``mneme.models.seq2seq.Seq2Seq`` that decode: ``step``
(the next token's log-probabilities after reading one token: greedy, sampling and beam search
call it), ``reorder_state`` (the rows beam search keeps) and ``translate`` (a batch of sources
decoded, each output's attention recomputed by a teacher-forced pass), which returns a
``Translation``. The encoder, the attention and teacher forcing are ``Seq2Seq``'s.

Legend: B batch, T_s source length (with ``</s>``), L output length, V_t target vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from mneme.errors import UserError

if TYPE_CHECKING:
    from mneme.models.seq2seq import Seq2SeqState

__all__ = ["Seq2SeqDecoding", "Translation"]


@dataclass(frozen=True)
class Translation:
    """Decoded outputs of ``Seq2Seq.translate``.

    Attributes:
        tokens: per input, the output token ids without ``</s>``.
        attention: per input, ``(L + 1, T_s)`` weights of each output token and of ``</s>``
            (or of the last token when cut at ``max_length``) over the real source tokens;
            None without attention.
        finished: per input, whether ``</s>`` was produced.
        log_prob: per input, the summed log-probability of the output (``</s>`` included).
    """

    tokens: list[list[int]]
    attention: list[Tensor] | None
    finished: list[bool]
    log_prob: list[float]


class Seq2SeqDecoding:
    """The decoding methods of ``Seq2Seq`` (which inherits them): they run its ``encode``,
    ``_advance``, ``teacher_forced`` and output layer."""

    def step(self, tokens: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
        """A decoding step for ``mneme.decoding``: ``log_probs (B, V_t)`` of the next token after
        reading ``tokens (B,)``, and the new state (its ``weights`` are this step's attention)."""
        tilde, state = self._advance(tokens, state)
        return torch.log_softmax(self.output(self.dropout(tilde)), -1), state

    def reorder_state(self, state: Seq2SeqState, index: Tensor) -> Seq2SeqState:
        """Rows ``index`` of every tensor of ``state`` (all batch-first)."""
        from mneme.decoding.state import reorder_state

        return reorder_state(state, index, batch_dim=0)

    @torch.no_grad()
    def translate(
        self,
        source: Tensor,
        lengths: Tensor,
        *,
        strategy: Literal["greedy", "sample", "beam"] = "greedy",
        beam_width: int = 5,
        length_penalty: float = 0.0,
        max_length: int | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Translation:
        """Decode a batch of sources (in eval mode; the previous mode is restored).

        Args:
            source: ``(B, T_s)`` ids; lengths ``(B,)``.
            strategy: ``greedy``, ``sample`` (ancestral, with ``temperature``) or ``beam``.
            beam_width: hypotheses kept by beam search.
            length_penalty: beam search's GNMT alpha (Wu et al. 2016; 0: none).
            max_length: most output tokens (``</s>`` included); None: ``2 T_s + 10``.
            generator: the random source of ``sample``.

        Returns:
            A ``Translation``; its attention is recomputed by a teacher-forced pass over each
            output, which equals the weights seen while decoding.

        Raises:
            UserError: an unknown strategy, or a bad width or length.
        """
        from mneme.decoding import beam_search, greedy, sample

        was_training = self.training
        self.eval()
        try:
            state = self.encode(source, lengths)
            b = source.shape[0]
            limit = 2 * source.shape[1] + 10 if max_length is None else max_length
            start = torch.full((b,), self.bos_id, dtype=torch.long, device=source.device)
            if strategy == "greedy":
                decoded = greedy(self.step, state, start, limit, eos=self.eos_id)
            elif strategy == "sample":
                decoded = sample(self.step, state, start, limit, temperature=temperature,
                                 eos=self.eos_id, generator=generator)
            elif strategy == "beam":
                decoded = beam_search(self.step, state, start, limit, beam_width,
                                      eos=self.eos_id, length_penalty=length_penalty).best
            else:
                raise UserError(f"strategy must be greedy, sample or beam (got {strategy!r})")
            rows = [decoded.sequence(i) for i in range(b)]
            finished = [bool(r) and r[-1] == self.eos_id for r in rows]
            tokens = [r[:-1] if done else r for r, done in zip(rows, finished, strict=True)]
            attention = self._alignments(state, rows, lengths) if self.has_attention else None
            log_prob = [float(s) for s in decoded.scores]
        finally:
            self.train(was_training)
        return Translation(tokens, attention, finished, log_prob)

    def _alignments(self, state: Seq2SeqState, rows: Sequence[list[int]],
                    lengths: Tensor) -> list[Tensor]:
        """Per row, the attention ``(len(row), T_s_row)`` of a teacher-forced pass over it."""
        width = max(1, max(len(r) for r in rows))
        target_in = torch.full((len(rows), width), self.pad_id, dtype=torch.long,
                               device=state.values.device)
        for i, row in enumerate(rows):
            fed = [self.bos_id, *row[:-1]]
            target_in[i, : len(fed)] = torch.tensor(fed, dtype=torch.long)
        _, weights = self.teacher_forced(state, target_in)
        assert weights is not None
        return [weights[i, : max(1, len(r)), : int(lengths[i])].cpu() for i, r in enumerate(rows)]
