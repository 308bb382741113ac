"""The End-To-End Memory Network read literally: the position encoding l of section 4.1 per
dimension (``position_encoding``) and section 2 hop by hop (``memn2n_reference``).

Sukhbaatar, Szlam, Weston & Fergus 2015, arXiv 1503.08895. This is the readable path that tests
hold ``mneme.memory.memn2n.MemN2N``'s fast forward equal to. Legend: B batch, N memory slots,
J words per sentence, d embedding, K hops, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from mneme.memory.memn2n_config import MemN2NTrace
from mneme.memory.memn2n_encoding import _position_factors
from mneme.types import ModelOutput

if TYPE_CHECKING:
    from mneme.memory.memn2n import MemN2N

__all__ = ["memn2n_reference", "position_encoding"]


def position_encoding(
    lengths: Tensor,
    max_len: int,
    dim: int,
    *,
    dtype: torch.dtype = torch.float32,
    formula: Literal["paper", "code"] = "paper",
    sentence_size: int | None = None,
) -> Tensor:
    """Position encoding weights l of section 4.1, per sentence.

    l_kj = (1 - j/J) - (k/d)(1 - 2j/J) for word position j = 1..J and embedding dimension
    k = 1..d, where J is the length of *that* sentence. Positions past the sentence end get 0.

    Args:
        lengths: ``(...,)`` number of words in each sentence.
        max_len: the padded sentence width (the J of the tensors).
        dim: d.
        dtype: floating dtype of the result.

    Returns:
        ``(..., max_len, d)`` the weights l.
    """
    a, b = _position_factors(lengths, max_len, dtype, formula, dim, sentence_size)
    k = torch.arange(1, dim + 1, device=lengths.device, dtype=dtype) / dim
    return a.unsqueeze(-1) + b.unsqueeze(-1) * k


def memn2n_reference(model: MemN2N, inputs: Mapping[str, Tensor]) -> ModelOutput:
    """Section 2 read literally, hop by hop: the readable path the fast forward is tested against.

    No random noise (evaluation semantics). Returns logits ``(B, V)`` and a ``MemN2NTrace``.
    """
    story, query = inputs["story"], inputs["query"]
    slots = story.shape[1]
    cfg = model.config
    dtype = model.embedding.dtype
    width = max(story.shape[-1], query.shape[-1])  # one J for story and query, as in forward
    story = F.pad(story, (0, width - story.shape[-1]))
    query = F.pad(query, (0, width - query.shape[-1]))

    def weights(x: Tensor) -> Tensor:  # l of section 4.1, (..., J, d); 0 on nil words
        present = x.ne(0)
        if cfg.encoding == "bow":
            return present.to(dtype).unsqueeze(-1).expand(*x.shape, cfg.embedding_dim)
        return position_encoding(
            present.sum(-1),
            width,
            cfg.embedding_dim,
            dtype=dtype,
            formula=cfg.position_formula,
            sentence_size=model.sentence_size,
        )

    l_story, l_query = weights(story), weights(query)
    mask = story.ne(0).any(-1)  # (B, N)
    u = (l_query * model.B()[query]).sum(-2)  # u = sum_j l_j B q_j
    attention: list[Tensor] = []
    raw: list[Tensor] = []
    nulls: list[Tensor] = []
    for k in range(1, cfg.hops + 1):
        m = (l_story * model.A(k)[story]).sum(-2)  # (B, N, d)
        c = (l_story * model.C(k)[story]).sum(-2)
        if model.temporal is not None:
            m = m + model.TA(k)[:slots]
            c = c + model.TC(k)[:slots]
        scores = (m * u.unsqueeze(1)).sum(-1)  # u^T m_i
        raw.append(torch.where(mask, scores, 0.0))
        if model.linear:
            p = raw[-1]
        elif cfg.null_memory:  # softmax over the real memories and the null memory
            null = scores.new_full((scores.shape[0], 1), model.null_logit)
            q = torch.softmax(torch.cat([scores.masked_fill(~mask, float("-inf")), null], -1), -1)
            p, null_p = q[:, :-1], q[:, -1]
            nulls.append(null_p)
        else:
            p = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        o = (p.unsqueeze(-1) * c).sum(1)
        u = u + o if model.H is None else u @ model.H.T + o
        if model.linear:  # the trace shows the distribution the scores would give
            p = torch.softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), -1) * mask
        attention.append(p)
    logits = u @ model.W().T
    null_weights = torch.stack(nulls, 1) if nulls else None
    return ModelOutput(logits, MemN2NTrace(torch.stack(attention, 1), mask, u, null_weights,
                                           torch.stack(raw, 1), model.linear))
