"""Self-attention core: the attention-only baseline of the memory matrix (the Transformer).

A Transformer decoder stack without cross-attention (Vaswani et al. 2017, "Attention Is All You
Need", sections 3.2-3.5) used as a sequence core (DESIGN.md, "Contracts"): its memory is the
key/value cache of every step seen so far, so step t reads all of x_0..x_t and nothing later::

    h_0 = W_in x + PE(pos)                                  input projection, positions (3.5)
    a   = h + MultiHead(LN(h), causal)                      pre-LN block (``norm_first``)
    h'  = a + FFN(LN(a)),  FFN(z) = W_2 relu(W_1 z)         section 3.3
    y   = LN(h_L)                                           final norm (pre-LN only)

with MultiHead(Q, K, V) = concat(softmax(Q K^T / sqrt(E) + causal mask) V) W^O per head
(sections 3.2.1-3.2.2). Positions count from the cache length N, so a chunked call or a ``step``
gets the same positions as one call over the whole sequence. The fast path calls
``torch.nn.functional.scaled_dot_product_attention``; ``trace=True`` takes the readable
explicit-softmax path and returns the weights (a test holds the two equal).

``position`` picks the encoding (``mneme.attention.positions``): ``sinusoidal`` and ``learned``
vectors added to the input; ``rope`` rotates every head's q and k; ``alibi`` and ``relative``
(Transformer-XL) add a float bias to the scores, given to SDPA as its ``attn_mask`` (the relative
one computed from q, so still one fused call). ``causal=False`` is an encoder (Delétang et al.
2023's Transformer reads the input, then empty output steps, bidirectionally): every step sees
the whole chunk, so it has no ``step`` and takes no carried state.

Legend: B batch, T time, D input features, H hidden (d_model), L layers, heads, E = H / heads,
N cached steps (past + T after a call).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.attention.positions import (
    RelativePosition,
    alibi_bias,
    rotate,
    sinusoidal_positions,
)
from mneme.registry import register_core
from mneme.types import register_state
from mneme.validation import Validated, at_least, in_range, invalid, one_of

__all__ = [
    "SelfAttentionConfig",
    "SelfAttentionCore",
    "SelfAttentionState",
    "SelfAttentionTrace",
    "build_self_attention_core",
    "sinusoidal_positions",
]


@dataclass(frozen=True)
class SelfAttentionConfig(Validated):
    """A Transformer stack as a core: causal (a decoder without cross-attention) or an encoder.

    Attributes:
        hidden_size: H, d_model and the core's output size.
        num_layers: L blocks.
        num_heads: heads per block; must divide H.
        ff_size: the feed-forward inner size (None: 4 H, as d_ff = 2048 for d_model = 512).
        dropout: on the attention weights, residual branches and input (section 5.4).
        position: ``sinusoidal`` (section 3.5), ``learned`` embeddings of up to ``max_length``
            positions, ``rope`` (Su et al. 2021; E must be even), ``alibi`` (Press et al. 2022),
            ``relative`` (Dai et al. 2019, Transformer-XL) or ``none``.
        max_length: the longest sequence (cache included) with ``learned`` positions.
        norm_first: pre-LN blocks (LayerNorm before each sublayer, then a final LayerNorm);
            False is the paper's post-LN LN(x + sublayer(x)).
        causal: each step attends to itself and the past (a decoder, the default); False: to
            the whole chunk (an encoder: no ``step``, no carried state).
    """

    hidden_size: int = field(default=64, metadata=at_least(1))
    num_layers: int = field(default=2, metadata=at_least(1))
    num_heads: int = field(default=4, metadata=at_least(1))
    ff_size: int | None = field(default=None, metadata=at_least(1))
    dropout: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))
    position: Literal["sinusoidal", "none", "learned", "rope", "alibi", "relative"] = field(
        default="sinusoidal", metadata=one_of())
    max_length: int = field(default=2048, metadata=at_least(1))
    norm_first: bool = True
    causal: bool = True

    def check(self) -> None:
        """Every head gets H / num_heads features; RoPE rotates them in pairs."""
        if self.hidden_size % self.num_heads:
            raise invalid(self, "hidden_size", "must be divisible by num_heads",
                          got=f"{self.hidden_size} and {self.num_heads}")
        if self.position == "rope" and (self.hidden_size // self.num_heads) % 2:
            raise invalid(self, "hidden_size", "/ num_heads must be even with rope positions",
                          got=f"{self.hidden_size} and {self.num_heads}")


@register_state
@dataclass(frozen=True)
class SelfAttentionState:
    """The KV cache: keys and values (L, B, heads, N, E) of every step seen, oldest first.

    The position of the next step is ``length`` = N.
    """

    keys: Tensor
    values: Tensor

    @property
    def length(self) -> int:
        """N, the steps cached so far."""
        return int(self.keys.shape[3])


@dataclass(frozen=True)
class SelfAttentionTrace:
    """attention: (B, L, heads, T, N) each step's weights over the N cached steps (0 on the
    future when causal), before dropout."""

    attention: Tensor


class _Block(nn.Module):
    """One block: multi-head self-attention over cache + chunk, then the FFN."""

    def __init__(self, config: SelfAttentionConfig) -> None:
        super().__init__()
        h, self.heads = config.hidden_size, config.num_heads
        self.head_size = h // self.heads
        self.dropout, self.norm_first = config.dropout, config.norm_first
        self.position, self.causal = config.position, config.causal
        self.relative = (RelativePosition(h, self.heads) if config.position == "relative"
                         else None)
        self.qkv = nn.Linear(h, 3 * h)  # W^Q, W^K, W^V of all heads, stacked
        self.out = nn.Linear(h, h)  # W^O
        ff = config.ff_size or 4 * h
        self.ff = nn.Sequential(nn.Linear(h, ff), nn.ReLU(), nn.Dropout(config.dropout),
                                nn.Linear(ff, h))
        self.norm_attn, self.norm_ff = nn.LayerNorm(h), nn.LayerNorm(h)
        self.drop = nn.Dropout(config.dropout)

    def _attend(self, z: Tensor, past_k: Tensor, past_v: Tensor, explicit: bool
                ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """z (B, T, H), cache (B, heads, P, E) -> (out (B, T, H), keys and values (B, heads,
        P + T, E), weights (B, heads, T, P + T) or None)."""
        b, t, h = z.shape
        q, k, v = self.qkv(z).view(b, t, 3, self.heads, self.head_size).permute(2, 0, 3, 1, 4)
        past = past_k.shape[2]
        if self.position == "rope":  # absolute positions past.. : the cache holds rotated keys
            q, k = rotate(q, past), rotate(k, past)
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        n = past + t
        bias = None  # float (B, heads, T, N) or (heads, T, N), added to the scaled scores
        if self.relative is not None:
            q, bias = self.relative(q, n)
        elif self.position == "alibi":
            bias = alibi_bias(self.heads, past, t, n, causal=self.causal, device=z.device,
                              dtype=z.dtype)
        # query i (absolute position past + i) sees cached steps 0..past + i; an encoder all
        allowed = None if not self.causal else (
            torch.arange(n, device=z.device).unsqueeze(0)
            <= past + torch.arange(t, device=z.device).unsqueeze(1))  # (T, N)
        p = self.dropout if self.training else 0.0
        weights = None
        if explicit:  # the readable reference path
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)
            scores = scores if bias is None else scores + bias
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))
            weights = torch.softmax(scores, dim=-1)
            ctx = F.dropout(weights, p, self.training) @ v
        elif bias is None and allowed is not None and past == 0:  # the kernel's causal mask
            ctx = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # is_causal aligns top-left, so the offset mask is given explicitly
            mask = bias if allowed is None or t == 1 else (
                allowed if bias is None else bias.masked_fill(~allowed, float("-inf")))
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out(ctx.transpose(1, 2).reshape(b, t, h)), k, v, weights

    def forward(self, x: Tensor, past_k: Tensor, past_v: Tensor, explicit: bool
                ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        if self.norm_first:
            a, k, v, w = self._attend(self.norm_attn(x), past_k, past_v, explicit)
            x = x + self.drop(a)
            return x + self.drop(self.ff(self.norm_ff(x))), k, v, w
        a, k, v, w = self._attend(x, past_k, past_v, explicit)
        x = self.norm_attn(x + self.drop(a))
        return self.norm_ff(x + self.drop(self.ff(x))), k, v, w


class SelfAttentionCore(nn.Module):
    """Multi-head self-attention over the whole past: a Transformer decoder (no cross-attention)
    whose state is the KV cache (Vaswani et al. 2017, sections 3.2-3.5), or with
    ``causal=False`` an encoder over each chunk.

    Args:
        input_size: D.
        config: ``SelfAttentionConfig`` (validated here).
    """

    def __init__(self, input_size: int, config: SelfAttentionConfig | None = None) -> None:
        super().__init__()
        config = config or SelfAttentionConfig()
        config.validate()
        self.config, self.output_size = config, config.hidden_size
        self.num_heads, self.head_size = config.num_heads, config.hidden_size // config.num_heads
        self.input_proj = nn.Linear(input_size, config.hidden_size)
        self.position = (nn.Embedding(config.max_length, config.hidden_size)
                         if config.position == "learned" else None)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.hidden_size) if config.norm_first else nn.Identity()

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> SelfAttentionState:
        """An empty cache: keys and values (L, B, heads, 0, E)."""
        dtype = dtype or self.input_proj.weight.dtype
        shape = (len(self.blocks), batch_size, self.num_heads, 0, self.head_size)
        return SelfAttentionState(torch.zeros(shape, device=device, dtype=dtype),
                                  torch.zeros(shape, device=device, dtype=dtype))

    def _positions(self, start: int, t: int, like: Tensor) -> Tensor | None:
        """(T, H) encodings of positions start..start+T-1, or None without positions."""
        if self.config.position == "sinusoidal":
            return sinusoidal_positions(start, t, self.output_size, device=like.device,
                                        dtype=like.dtype)
        if self.position is None:
            return None
        if start + t > self.config.max_length:
            raise ValueError(f"learned positions reach max_length {self.config.max_length}; "
                             f"got position {start + t - 1}")
        return self.position(torch.arange(start, start + t, device=like.device))

    def forward(
        self, x: Tensor, state: SelfAttentionState | None = None, *, trace: bool = False
    ) -> tuple[Tensor, SelfAttentionState] | tuple[Tensor, SelfAttentionState,
                                                   SelfAttentionTrace]:
        """x (B, T, D) -> (y (B, T, H), state with T more cached steps[, SelfAttentionTrace]).

        ``trace=True`` takes the explicit-softmax path (equal to the fused one).

        Raises:
            ValueError: x not (B, T, D); an encoder (``causal=False``) given a non-empty state;
                ``learned`` positions past ``max_length``.
        """
        if x.dim() != 3:
            raise ValueError(f"x must be (B, T, D), got {tuple(x.shape)}")
        b, t, _ = x.shape
        state = self.initial_state(b, x.device, x.dtype) if state is None else state
        if not self.config.causal and state.length:
            raise ValueError(f"an encoder (causal=False) attends over one whole chunk and "
                             f"carries no state; got a state of {state.length} cached steps")
        h = self.input_proj(x)
        pe = self._positions(state.length, t, h)
        h = self.drop(h if pe is None else h + pe)
        keys, values, weights = [], [], []
        for layer, block in enumerate(self.blocks):
            h, k, v, w = block(h, state.keys[layer], state.values[layer], trace)
            keys.append(k)
            values.append(v)
            weights.append(w)
        y = self.norm(h)
        new_state = SelfAttentionState(torch.stack(keys), torch.stack(values))
        if trace:
            return y, new_state, SelfAttentionTrace(torch.stack(weights, dim=1).detach())
        return y, new_state

    def step(self, x_t: Tensor, state: SelfAttentionState) -> tuple[Tensor, SelfAttentionState]:
        """x_t (B, D) -> (y_t (B, H), state with one more cached step).

        Raises:
            ValueError: an encoder (``causal=False``): its outputs depend on later steps.
        """
        if not self.config.causal:
            raise ValueError("an encoder (causal=False) has no step: every output depends on "
                             "the whole sequence; call forward on it")
        y, state = self.forward(x_t.unsqueeze(1), state)[:2]
        return y.squeeze(1), state


@register_core("self-attention", config=SelfAttentionConfig,
               summary="multi-head self-attention over the past (Transformer decoder, "
                       "attention-only baseline; encoder with causal=False)",
               source="Vaswani et al. 2017, 'Attention Is All You Need', sections 3.2-3.5; "
                      "positions: Su et al. 2021, Press et al. 2022, Dai et al. 2019",
               family="attention")
def build_self_attention_core(config: SelfAttentionConfig, input_size: int) -> SelfAttentionCore:
    config.validate()
    return SelfAttentionCore(input_size, config)
