"""Soft attention and key-value attention: a distribution over keys, then an average of values.

Attention has two steps (Bahdanau et al. 2015, section 3.1, eqs. 5-6; Luong et al. 2015,
section 3.1)::

    weights[b, i, :] = softmax_j(score(query[b, i], keys[b, j]))     over the unmasked keys j
    context[b, i]    = sum_j weights[b, i, j] * values[b, j]

The scores come from ``mneme.attention.scoring``. Masks are boolean with True meaning *keep*:
a masked key gets weight exactly 0, and a query whose keys are all masked gets all-zero weights
and a zero context (never NaN), so padding needs no special case downstream.

Two paths compute the dot-product scores. The readable path materialises the scores and weights
(and returns the weights, e.g. to plot them). When the weights are not asked for
(``need_weights=False``), a dot or scaled-dot score goes through the fused
``torch.nn.functional.scaled_dot_product_attention`` instead, which never keeps the
``(B, Tq, Tk)`` weights for the backward pass; ``tests/attention`` holds the two paths equal.

Legend: B batch, Tq queries, Tk keys (= values), Dq, Dk, Dv query/key/value features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.attention.scoring import (
    AdditiveScore,
    DotScore,
    ScaledDotScore,
    ScoreName,
    build_score,
)

__all__ = ["Attention", "KeyValueAttention", "fused_attention", "keep_mask", "masked_softmax"]


def keep_mask(
    mask: Tensor | None, scores_shape: torch.Size | tuple[int, ...], *, causal: bool = False,
    device: torch.device | None = None,
) -> Tensor | None:
    """The boolean "keep" mask broadcastable to scores ``(B, ..., Tq, Tk)``, or None for all.

    Args:
        mask: ``(B, Tk)`` (key padding, the same for every query) or ``(B, Tq, Tk)``, bool, True =
            keep; or None. Extra dims between B and Tq in the scores (heads) are broadcast.
        scores_shape: the scores' shape ``(B, ..., Tq, Tk)``.
        causal: also drop key j > i for query i (top-left aligned, as
            ``scaled_dot_product_attention(is_causal=True)``: query i sees keys 0..i).
        device: where to build the causal mask (default: the mask's device, else the CPU).

    Raises:
        ValueError: a mask that is not bool or has the wrong shape.
    """
    *lead, tq, tk = scores_shape
    keep = None
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor (True = keep); got {mask.dtype}")
        b = lead[0]
        inner = len(lead) - 1  # head dims between B and Tq
        if mask.dim() == 2 and tuple(mask.shape) == (b, tk):
            keep = mask.view(b, *([1] * inner), 1, tk)
        elif mask.dim() == 3 and tuple(mask.shape) == (b, tq, tk):
            keep = mask.view(b, *([1] * inner), tq, tk)
        else:
            raise ValueError(
                f"mask must be (B, Tk) = {(b, tk)} or (B, Tq, Tk) = {(b, tq, tk)}; got "
                f"{tuple(mask.shape)}"
            )
        device = mask.device
    if causal:
        tril = torch.ones(tq, tk, dtype=torch.bool, device=device).tril()
        keep = tril if keep is None else keep & tril
    return keep


def masked_softmax(scores: Tensor, mask: Tensor | None = None, *, causal: bool = False) -> Tensor:
    """Softmax over the last dim of ``scores`` ``(B, Tq, Tk)`` (or ``(B, heads, Tq, Tk)``).

    Args:
        scores: attention scores.
        mask: ``(B, Tk)`` or ``(B, Tq, Tk)`` bool, True = keep; None keeps every key.
        causal: query i sees only keys 0..i.

    Returns:
        Weights of the scores' shape: each row sums to 1 over its kept keys, masked entries are
        exactly 0, and a row with no kept key is all zeros (not NaN); masked scores get no gradient.
    """
    keep = keep_mask(mask, scores.shape, causal=causal, device=scores.device)
    if keep is None:
        return torch.softmax(scores, dim=-1)
    # the most negative finite number, not -inf: a fully masked row stays finite (uniform), and
    # the product with keep then zeroes it; elsewhere exp(min - max) underflows to exactly 0
    filled = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=-1) * keep


def fused_attention(
    query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None, *,
    causal: bool = False, scale: float | None = None, dropout: float = 0.0,
) -> Tensor:
    """``softmax(scale * q k^T) v`` by ``torch.nn.functional.scaled_dot_product_attention``.

    Args:
        query: ``(B, ..., Tq, Dk)``; keys ``(B, ..., Tk, Dk)``; values ``(B, ..., Tk, Dv)``.
        mask: as in ``masked_softmax``.
        causal: as in ``masked_softmax``.
        scale: multiplies ``q . k``; None means ``1 / sqrt(Dk)`` (Vaswani et al. 2017, eq. 1).
        dropout: probability of dropping an attention weight (0 outside training).

    Returns:
        The context ``(B, ..., Tq, Dv)``, equal to the readable path's; zero for a query with no
        kept key.
    """
    shape = (*query.shape[:-1], keys.shape[-2])
    if mask is None:
        return F.scaled_dot_product_attention(query, keys, values, dropout_p=dropout,
                                              is_causal=causal, scale=scale)
    keep = keep_mask(mask, shape, causal=causal, device=query.device)
    assert keep is not None
    has_key = keep.any(dim=-1, keepdim=True)
    # a row with nothing to attend to attends to everything here and is zeroed after, so no
    # torch version can produce NaN in it (some return NaN for fully masked rows)
    out = F.scaled_dot_product_attention(query, keys, values, attn_mask=keep | ~has_key,
                                         dropout_p=dropout, scale=scale)
    return torch.where(has_key, out, out.new_zeros(()))


def _resolve_score(
    score: nn.Module | ScoreName, query_dim: int | None, key_dim: int | None,
    hidden_dim: int | None, max_keys: int | None,
) -> nn.Module:
    if isinstance(score, nn.Module):
        return score
    if score in ("dot", "scaled_dot") and (query_dim is None or key_dim is None):
        return build_score(score, 1, 1)  # parameter-free: the sizes only serve a check
    if query_dim is None or key_dim is None:
        raise ValueError(f"the score {score!r} is given by name: pass query_dim and key_dim")
    return build_score(score, query_dim, key_dim, hidden_dim=hidden_dim, max_keys=max_keys)


class Attention(nn.Module):
    """Soft attention (Bahdanau et al. 2015, section 3.1; Luong et al. 2015, section 3.1).

    Args:
        score: a scoring module (``mneme.attention.scoring``) or its name (``additive``, ``dot``,
            ``scaled_dot``, ``bilinear``, ``location``).
        query_dim: Dq, needed when a score with parameters is given by name.
        key_dim: Dk, likewise.
        hidden_dim: the additive score's hidden size (default Dk).
        max_keys: the location score's largest Tk.
        dropout: dropout on the attention weights during training (Vaswani et al. 2017,
            section 5.4, applies it to the sub-layers; on the weights as most implementations).
        fused: allow the fused path for dot scores when the weights are not asked for.
    """

    def __init__(
        self,
        score: nn.Module | ScoreName = "scaled_dot",
        query_dim: int | None = None,
        key_dim: int | None = None,
        *,
        hidden_dim: int | None = None,
        max_keys: int | None = None,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.score = _resolve_score(score, query_dim, key_dim, hidden_dim, max_keys)
        self.dropout = dropout
        self.fused = fused

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """The additive score's ``U k`` ``(B, Tk, A)``, to pass as ``projected_keys`` each step.

        Raises:
            TypeError: the score is not additive.
        """
        if not isinstance(self.score, AdditiveScore):
            raise TypeError(f"only the additive score precomputes keys, not {type(self.score)}")
        return self.score.precompute_keys(keys)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        causal: bool = False,
        need_weights: bool = True,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend.

        Args:
            query: ``(B, Tq, Dq)`` (a decoder step: Tq = 1).
            keys: ``(B, Tk, Dk)``.
            values: ``(B, Tk, Dv)``; None uses the keys (Bahdanau: the annotations h_j are both).
            mask: ``(B, Tk)`` or ``(B, Tq, Tk)`` bool, True = keep.
            causal: query i sees keys 0..i only.
            need_weights: return the weights; False lets dot scores take the fused path.
            projected_keys: ``precompute_keys(keys)``, additive score only.

        Returns:
            ``(context (B, Tq, Dv), weights (B, Tq, Tk) or None)``; the weights are the
            distribution before dropout.
        """
        values = keys if values is None else values
        if values.shape[:2] != keys.shape[:2]:
            raise ValueError(
                f"values must be (B, Tk, Dv) with the keys' B and Tk {tuple(keys.shape[:2])}; got "
                f"{tuple(values.shape)}"
            )
        dropout = self.dropout if self.training else 0.0
        score = self.score
        # exact types: a subclass may score differently from what the fused kernel computes
        if (not need_weights and self.fused and type(score) in (DotScore, ScaledDotScore)
                and query.shape[-1] == keys.shape[-1] and query.dim() == 3):
            ctx = fused_attention(query, keys, values, mask, causal=causal,
                                  scale=score.scale(keys.shape[-1]), dropout=dropout)
            return ctx, None
        if projected_keys is not None:
            if not isinstance(score, AdditiveScore):
                raise TypeError("projected_keys is only for the additive score")
            scores = score(query, keys, projected_keys=projected_keys)
        else:
            scores = score(query, keys)
        weights = masked_softmax(scores, mask, causal=causal)
        dropped = F.dropout(weights, dropout) if dropout > 0 else weights
        context = torch.bmm(dropped, values)
        return context, (weights if need_weights else None)


class KeyValueAttention(nn.Module):
    """Attention over a memory with separate key and value projections.

    Each memory row m_j is read through two learned maps: ``k_j = W_k m_j`` is what the query is
    compared with and ``v_j = W_v m_j`` is what is returned, so what addresses a row and what it
    contributes are learned apart (Miller et al. 2016, key-value memory networks; Daniluk et al.
    2017, section 3.2, who split the hidden state instead; Vaswani et al. 2017, section 3.2.2).

    Args:
        query_dim: Dq.
        memory_dim: Dm, the memory rows' size.
        key_dim: Dk (must equal Dq for the dot scores).
        value_dim: Dv.
        score: the score comparing queries with keys, by name or module.
        hidden_dim: as in ``Attention``.
        max_keys: as in ``Attention``.
        dropout: as in ``Attention``.
        fused: as in ``Attention``.
        bias: biases in the key and value projections.
    """

    def __init__(
        self,
        query_dim: int,
        memory_dim: int,
        key_dim: int,
        value_dim: int,
        score: nn.Module | ScoreName = "scaled_dot",
        *,
        hidden_dim: int | None = None,
        max_keys: int | None = None,
        bias: bool = False,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.key_proj = nn.Linear(memory_dim, key_dim, bias=bias)  # W_k
        self.value_proj = nn.Linear(memory_dim, value_dim, bias=bias)  # W_v
        self.attention = Attention(score, query_dim, key_dim, hidden_dim=hidden_dim,
                                   max_keys=max_keys, dropout=dropout, fused=fused)

    def forward(
        self, query: Tensor, memory: Tensor, mask: Tensor | None = None, *,
        causal: bool = False, need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """``query (B, Tq, Dq)``, ``memory (B, Tk, Dm)`` -> ``(context (B, Tq, Dv), weights)``.

        ``mask``, ``causal`` and ``need_weights`` as in ``Attention.forward``.
        """
        return self.attention(query, self.key_proj(memory), self.value_proj(memory), mask,
                              causal=causal, need_weights=need_weights)
