"""Multi-head attention and self-attention (Vaswani et al. 2017, sections 3.2.2 and 3.2.3).

Several scaled dot-product attentions run in parallel, each on its own learned projection of the
queries, keys and values; their contexts are concatenated and projected back::

    head_h = Attention(Q W_h^Q, K W_h^K, V W_h^V)                     h = 1..heads
    MultiHead(Q, K, V) = concat(head_1, ..., head_heads) W^O          (section 3.2.2)

Self-attention is the case Q = K = V = x (section 3.2.3); with ``causal=True`` position i sees
positions 0..i only, as in the Transformer's decoder.

The readable path computes the ``(B, heads, Tq, Tk)`` weights; with ``need_weights=False`` the
fused ``torch.nn.functional.scaled_dot_product_attention`` is used (``fused=True``). With one head
the layer equals ``Attention("scaled_dot")`` between the same projections (a test holds them equal).

Legend: B batch, Tq queries, Tk keys, heads, E per-head size, Dq/Dk/Dv input features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.attention.attention import fused_attention, masked_softmax

__all__ = ["MultiHeadAttention", "SelfAttention"]


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017, section 3.2.2).

    Args:
        query_dim: Dq.
        num_heads: heads >= 1.
        key_dim: Dk of the keys (default Dq).
        value_dim: Dv of the values (default Dk).
        head_dim: E, each head's query/key/value size (default Dq // heads, which must divide).
        out_dim: the output size (default Dq).
        bias: biases in the four projections.
        dropout: dropout on the attention weights during training.
        fused: allow the fused path when the weights are not asked for.

    Raises:
        ValueError: non-positive sizes, or Dq not divisible by heads with no head_dim.
    """

    def __init__(
        self,
        query_dim: int,
        num_heads: int = 1,
        *,
        key_dim: int | None = None,
        value_dim: int | None = None,
        head_dim: int | None = None,
        out_dim: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if num_heads < 1 or query_dim < 1:
            raise ValueError(f"query_dim and num_heads must be >= 1; got {query_dim}, {num_heads}")
        if head_dim is None:
            if query_dim % num_heads:
                raise ValueError(
                    f"query_dim {query_dim} is not divisible by num_heads {num_heads}; "
                    "pass head_dim"
                )
            head_dim = query_dim // num_heads
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        key_dim = query_dim if key_dim is None else key_dim
        value_dim = key_dim if value_dim is None else value_dim
        out_dim = query_dim if out_dim is None else out_dim
        self.num_heads, self.head_dim = num_heads, head_dim
        self.dropout, self.fused = dropout, fused
        inner = num_heads * head_dim
        self.query_proj = nn.Linear(query_dim, inner, bias=bias)  # W^Q of all heads, stacked
        self.key_proj = nn.Linear(key_dim, inner, bias=bias)  # W^K
        self.value_proj = nn.Linear(value_dim, inner, bias=bias)  # W^V
        self.out_proj = nn.Linear(inner, out_dim, bias=bias)  # W^O

    def _split(self, x: Tensor) -> Tensor:
        """``(B, T, heads * E) -> (B, heads, T, E)``."""
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend with every head.

        Args:
            query: ``(B, Tq, Dq)``.
            keys: ``(B, Tk, Dk)``.
            values: ``(B, Tk, Dv)``; None uses the keys.
            mask: ``(B, Tk)`` or ``(B, Tq, Tk)`` bool, True = keep (shared by the heads).
            causal: query i sees keys 0..i only.
            need_weights: return the weights; False takes the fused path.

        Returns:
            ``(output (B, Tq, out_dim), weights (B, heads, Tq, Tk) or None)``; each head's weights
            are its distribution before dropout (not averaged over heads).
        """
        values = keys if values is None else values
        q = self._split(self.query_proj(query))
        k = self._split(self.key_proj(keys))
        v = self._split(self.value_proj(values))
        dropout = self.dropout if self.training else 0.0
        weights = None
        if not need_weights and self.fused:
            ctx = fused_attention(q, k, v, mask, causal=causal, dropout=dropout)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            weights = masked_softmax(scores, mask, causal=causal)  # (B, heads, Tq, Tk)
            dropped = F.dropout(weights, dropout) if dropout > 0 else weights
            ctx = torch.matmul(dropped, v)
        b, _, tq, _ = ctx.shape
        out = self.out_proj(ctx.transpose(1, 2).reshape(b, tq, self.num_heads * self.head_dim))
        return out, (weights if need_weights else None)


class SelfAttention(MultiHeadAttention):
    """Self-attention in query-key-value form (Vaswani et al. 2017, section 3.2.3).

    Every position of ``x`` is a query, a key and a value. Arguments as ``MultiHeadAttention``
    with ``query_dim`` the input size D (keys and values have the same size).
    """

    def __init__(self, input_dim: int, num_heads: int = 1, **kwargs: object) -> None:
        if "key_dim" in kwargs or "value_dim" in kwargs:
            raise ValueError("SelfAttention's keys and values are its input: no key/value_dim")
        super().__init__(input_dim, num_heads, **kwargs)  # type: ignore[arg-type]

    def forward(  # type: ignore[override]
        self, x: Tensor, mask: Tensor | None = None, *, causal: bool = False,
        need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """``x (B, T, D)`` -> ``(y (B, T, out_dim), weights (B, heads, T, T) or None)``.

        ``mask`` ``(B, T)`` marks real positions (padding is never attended) or is ``(B, T, T)``;
        ``causal`` lets position i see positions 0..i only.
        """
        return super().forward(x, x, x, mask, causal=causal, need_weights=need_weights)
