"""Hierarchical attention: words into sentence vectors, sentences into a document vector.

Yang, Yang, Dyer, He, Smola & Hovy 2016, "Hierarchical Attention Networks for Document
Classification" (NAACL), section 2. Each level is a bidirectional GRU encoder followed by
attention pooling against a learned context vector::

    h_it = [GRU_fwd(x_it); GRU_bwd(x_it)]                  word encoder (GRU: eqs. 1-4)
    u_it = tanh(W_w h_it + b_w)                             word attention        (eq. 5)
    alpha_it = softmax_t(u_it^T u_w)                                              (eq. 6)
    s_i = sum_t alpha_it h_it                                                     (eq. 7)
    h_i = [GRU_fwd(s_i); GRU_bwd(s_i)]                      sentence encoder
    u_i = tanh(W_s h_i + b_s)                               sentence attention    (eq. 8)
    alpha_i = softmax_i(u_i^T u_s)                                                (eq. 9)
    v = sum_i alpha_i h_i                                   document vector       (eq. 10)

The paper classifies ``v`` with a softmax layer; that head belongs to a model, not here.

Padding: ``word_mask`` ``(B, S, T)`` marks real words, ``sentence_mask`` ``(B, S)`` real sentences
(default: sentences with at least one word). Both must be right-padded (real items first). The
encoders run on packed sequences, so padding never enters a real item's encoding, and the
attention gives padded words and sentences weight exactly 0: changing padding changes nothing.

Legend: B batch, S sentences, T words per sentence, D input (embedding) features, H GRU hidden
units per direction, A attention size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mneme.attention.attention import masked_softmax

__all__ = ["AttentionPooling", "HierarchicalAttention", "HierarchicalOutput"]


class AttentionPooling(nn.Module):
    """Pool a sequence by attention to a learned context vector (Yang et al. 2016, eqs. 5-7).

    Args:
        input_dim: the features of the pooled vectors.
        attention_dim: A, the size of ``u = tanh(W h + b)`` and of the context vector.
    """

    def __init__(self, input_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, attention_dim)  # W, b
        self.context = nn.Parameter(torch.empty(attention_dim))  # u_w, learned
        nn.init.normal_(self.context, std=attention_dim**-0.5)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x (B, T, D)``, ``mask (B, T)`` bool True = keep -> ``(pooled (B, D), weights (B, T))``.

        A row with no kept position pools to zeros.
        """
        scores = torch.tanh(self.proj(x)) @ self.context  # (B, T)
        weights = masked_softmax(scores.unsqueeze(1), mask).squeeze(1)
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1), weights


def _right_padded(mask: Tensor, what: str) -> Tensor:
    """The lengths of a right-padded ``(..., T)`` mask; raises ValueError if it is not one."""
    lengths = mask.sum(dim=-1)
    prefix = torch.arange(mask.shape[-1], device=mask.device) < lengths.unsqueeze(-1)
    if not torch.equal(prefix, mask):
        raise ValueError(f"{what} must be right-padded (real items first, then padding)")
    return lengths


class _BiGRU(nn.Module):
    """A bidirectional GRU over right-padded sequences ``(N, T, D) -> (N, T, 2H)``."""

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # empty sequences run one padded step; their outputs are masked out by the caller
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                      enforce_sorted=False)
        out, _ = self.gru(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


@dataclass(frozen=True)
class HierarchicalOutput:
    """What ``HierarchicalAttention`` returns.

    Attributes:
        document: ``(B, 2 * sentence_hidden)`` the document vector v.
        sentences: ``(B, S, 2 * word_hidden)`` the sentence vectors s_i (zero for padding).
        word_weights: ``(B, S, T)`` alpha_it, 0 on padded words and in padded sentences.
        sentence_weights: ``(B, S)`` alpha_i, 0 on padded sentences.
    """

    document: Tensor
    sentences: Tensor
    word_weights: Tensor
    sentence_weights: Tensor


class HierarchicalAttention(nn.Module):
    """Hierarchical attention network encoder (Yang et al. 2016, section 2).

    Args:
        input_dim: D, the word embeddings' size (the paper: 200).
        word_hidden: H of the word GRU per direction (the paper: 50).
        sentence_hidden: H of the sentence GRU per direction (the paper: 50).
        attention_dim: A of both attention layers (default: twice the word GRU's H, as the paper's
            100 for 50 + 50).
    """

    def __init__(
        self,
        input_dim: int,
        word_hidden: int = 50,
        sentence_hidden: int = 50,
        attention_dim: int | None = None,
    ) -> None:
        super().__init__()
        if min(input_dim, word_hidden, sentence_hidden) < 1:
            raise ValueError(
                f"input_dim, word_hidden and sentence_hidden must be >= 1; got {input_dim}, "
                f"{word_hidden}, {sentence_hidden}"
            )
        attention_dim = 2 * word_hidden if attention_dim is None else attention_dim
        self.word_encoder = _BiGRU(input_dim, word_hidden)
        self.word_attention = AttentionPooling(2 * word_hidden, attention_dim)
        self.sentence_encoder = _BiGRU(2 * word_hidden, sentence_hidden)
        self.sentence_attention = AttentionPooling(2 * sentence_hidden, attention_dim)
        self.output_dim = 2 * sentence_hidden

    def forward(
        self, x: Tensor, word_mask: Tensor | None = None, sentence_mask: Tensor | None = None
    ) -> HierarchicalOutput:
        """Encode documents.

        Args:
            x: ``(B, S, T, D)`` word embeddings.
            word_mask: ``(B, S, T)`` bool, True = real word, right-padded; None = all real.
            sentence_mask: ``(B, S)`` bool, True = real sentence, right-padded; None = sentences
                with at least one real word. Words of a padded sentence are ignored too.

        Returns:
            A ``HierarchicalOutput``.

        Raises:
            ValueError: a wrong shape or a mask that is not right-padded.
        """
        if x.dim() != 4:
            raise ValueError(f"x must be (B, S, T, D); got {tuple(x.shape)}")
        b, s, t, d = x.shape
        if word_mask is None:
            word_mask = torch.ones(b, s, t, dtype=torch.bool, device=x.device)
        if tuple(word_mask.shape) != (b, s, t) or word_mask.dtype != torch.bool:
            raise ValueError(f"word_mask must be bool (B, S, T) = {(b, s, t)}")
        if sentence_mask is None:
            sentence_mask = word_mask.any(dim=-1)
        if tuple(sentence_mask.shape) != (b, s) or sentence_mask.dtype != torch.bool:
            raise ValueError(f"sentence_mask must be bool (B, S) = {(b, s)}")
        word_mask = word_mask & sentence_mask.unsqueeze(-1)
        word_lengths = _right_padded(word_mask, "word_mask")
        sentence_lengths = _right_padded(sentence_mask, "sentence_mask")

        words = self.word_encoder(x.reshape(b * s, t, d), word_lengths.reshape(b * s))
        sentences, word_weights = self.word_attention(words, word_mask.reshape(b * s, t))
        sentences = sentences.view(b, s, -1)
        encoded = self.sentence_encoder(sentences, sentence_lengths)
        document, sentence_weights = self.sentence_attention(encoded, sentence_mask)
        return HierarchicalOutput(
            document=document,
            sentences=sentences,
            word_weights=word_weights.view(b, s, t),
            sentence_weights=sentence_weights,
        )
