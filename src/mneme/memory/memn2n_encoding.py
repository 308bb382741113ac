"""The fast MemN2N's sentence encoding: the position-encoding factors and the fused weighted bag.

Section 4.1 of Sukhbaatar et al. 2015 (arXiv 1503.08895) weights word j of a sentence by l_j;
``_position_factors`` splits l into two per-word scalars, so ``_WeightedBag`` encodes every
sentence for all K+1 tied tables as one ``embedding_bag`` whose backward is one GEMM. The model
that uses them is ``mneme.memory.memn2n.MemN2N``; ``position_encoding`` in
``mneme.memory.memn2n_reference`` builds the full weights l from the same factors.

Legend: M rows (sentences), J words per sentence, V vocabulary, F features per word.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


def _position_factors(
    lengths: Tensor,
    max_len: int,
    dtype: torch.dtype,
    formula: str = "paper",
    dim: int = 1,
    sentence_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Split l_kj = a_j + (k/d) b_j (section 4.1) into ``a, b`` ``(..., J)``, zero past the end.

    ``"paper"``, with L the sentence length: a_j = 1 - j/L and b_j = 2j/L - 1. ``"code"`` (the
    authors' Matlab code), with J' = sentence_size + 1 (default max_len + 1) and
    c_j = j - (J' + 1)/2:
    a_j = 1 - 2(d + 1) c_j / (d J') and b_j = 4 c_j / J'. The split turns the per-dimension
    weighting into two scalar-weighted bags, which ``embedding_bag`` fuses.
    """
    j = torch.arange(1, max_len + 1, device=lengths.device, dtype=dtype)
    length = lengths.unsqueeze(-1)
    inside = j <= length
    if formula == "code":
        # The code counts a time word at the end of every sentence, hence max_len + 1.
        width = (sentence_size if sentence_size is not None else max_len) + 1
        centred = j - (width + 1) / 2
        a = torch.where(inside, 1.0 - 2.0 * (dim + 1) * centred / (dim * width), 0.0)
        b = torch.where(inside, 4.0 * centred / width, 0.0)
        return a, b
    inv = 1.0 / length.clamp(min=1).to(dtype)
    a = torch.where(inside, 1.0 - j * inv, 0.0)
    b = torch.where(inside, 2.0 * j * inv - 1.0, 0.0)
    return a, b


class _WeightedBag(torch.autograd.Function):
    """out[r] = sum_j (w[0,r,j] + scale * w[1,r,j]) * table[ids[r,j]]; table ``(V, F)``.

    ``weights`` is ``(P, M, J)`` with P = 2 (position encoding: a, b) or P = 1 (bag of words:
    scale unused), zero on nil words; ``lengths`` ``(M,)`` counts the non-nil words of each row.

    Forward is one ``embedding_bag`` (fused gather + weighted sum) over the non-nil words only.
    Backward is one batched GEMM with the (non-empty rows x V) design matrix, several times faster
    on CPU than ``embedding_bag``'s sort-based backward. Only the table gets a gradient.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        table: Tensor,
        ids: Tensor,
        lengths: Tensor,
        weights: Tensor,
        scale: Tensor | None,
    ) -> Tensor:
        n_parts, rows = weights.shape[0], ids.shape[0]
        tokens = ids.view(-1).nonzero().squeeze(1)  # (T,) the non-nil words, row-major
        words = ids.view(-1).index_select(0, tokens)
        offsets = lengths.cumsum(0) - lengths
        n_words = tokens.shape[0]
        bags = F.embedding_bag(
            words.repeat(n_parts),
            table,
            torch.cat([offsets + i * n_words for i in range(n_parts)]),
            per_sample_weights=weights.view(n_parts, -1).index_select(1, tokens).view(-1),
            mode="sum",
        )
        out = bags if n_parts == 1 else torch.addcmul(bags[:rows], bags[rows:], scale)
        if ctx.needs_input_grad[0]:
            kept = lengths.nonzero().squeeze(1)  # empty rows add nothing to the gradient
            ctx.save_for_backward(
                kept, ids.index_select(0, kept), weights.index_select(1, kept), scale
            )
            ctx.vocab = table.shape[0]  # type: ignore[attr-defined]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        kept, ids, weights, scale = ctx.saved_tensors
        n_parts, rows, width = weights.shape
        grad = grad.index_select(0, kept)
        design = grad.new_zeros(n_parts, rows, ctx.vocab)
        design.scatter_add_(2, ids.expand(n_parts, rows, width), weights)
        parts = torch.bmm(design.transpose(1, 2), grad.expand(n_parts, *grad.shape))  # (P, V, F)
        # The b half is scaled per column, which commutes with the left product.
        grad_table = parts[0] if n_parts == 1 else torch.addcmul(parts[0], parts[1], scale)
        return grad_table, None, None, None, None
