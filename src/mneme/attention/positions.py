"""Position encodings of the self-attention core (``mneme.attention.self_attention``).

Five ways to tell a Transformer where a token is, as Delétang et al. 2023 ("Neural Networks and
the Chomsky Hierarchy", section 4 and appendix B; their ``models/positional_encodings.py``)
compare them on length generalisation:

- ``sinusoidal_positions``: absolute sin/cos vectors added to the input (Vaswani et al. 2017, 3.5).
- ``rotate`` (RoPE): queries and keys rotated by their absolute positions, so q.k depends only on
  the offset (Su et al. 2021, RoFormer, section 3.4, eq. 34).
- ``alibi_bias``: a head-specific linear penalty on the distance added to the scores (Press et
  al. 2022, "Train Short, Test Long", section 3).
- ``RelativePosition``: Transformer-XL's relative scores with the u, v biases and the relative
  shift (Dai et al. 2019, section 3.3 and appendix B).

Legend: B batch, heads, T queries (the chunk), N keys (cache + chunk), E = H / heads, M = N + T - 1
relative distances.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RelativePosition", "alibi_bias", "alibi_slopes", "relative_shift", "rotate",
           "sinusoidal_positions"]


def sinusoidal_positions(
    start: int, length: int, size: int, *, device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """PE (length, size) of positions start..start+length-1 (Vaswani et al. 2017, 3.5):
    PE(pos, 2i) = sin(pos / 10000^(2i/size)), PE(pos, 2i+1) = cos(pos / 10000^(2i/size))."""
    pos = torch.arange(start, start + length, device=device, dtype=torch.float64).unsqueeze(1)
    rate = torch.exp(-math.log(10000.0) * torch.arange(0, size, 2, device=device,
                                                        dtype=torch.float64) / size)
    pe = torch.stack([torch.sin(pos * rate), torch.cos(pos * rate)], dim=-1).flatten(1)
    return pe[:, :size].to(dtype or torch.get_default_dtype())


def rotate(x: Tensor, start: int) -> Tensor:
    """RoPE: x (B, heads, T, E) at absolute positions m = start..start+T-1 -> (B, heads, T, E).

    Each pair (x_2i, x_2i+1) turns by the angle m theta_i, theta_i = 10000^(-2i/E) (Su et al.
    2021, eq. 34): (x_2i cos - x_2i+1 sin, x_2i+1 cos + x_2i sin). Rotations keep norms, and
    R_m q . R_n k = q . R_(n-m) k depends on n - m only. E must be even.
    """
    t, e = x.shape[-2], x.shape[-1]
    pos = torch.arange(start, start + t, device=x.device, dtype=torch.float64)
    theta = 10000.0 ** (-torch.arange(0, e, 2, device=x.device, dtype=torch.float64) / e)
    angle = pos[:, None] * theta[None]  # (T, E / 2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)


def alibi_slopes(heads: int) -> list[float]:
    """The heads' slopes m (Press et al. 2022, section 3): the geometric sequence 2^(-8 h /
    heads), h = 1..heads, for a power of two; otherwise those of the power of two below, then
    every other slope of twice that many heads (the authors' released code, as Delétang et al.
    2023 use it). 8 heads: 1/2, 1/4, ..., 1/256."""
    if heads & (heads - 1) == 0:
        return [2.0 ** (-8.0 * h / heads) for h in range(1, heads + 1)]
    below = 1 << (heads.bit_length() - 1)  # the power of two below
    return alibi_slopes(below) + alibi_slopes(2 * below)[0::2][: heads - below]


def alibi_bias(heads: int, start: int, t: int, n: int, *, causal: bool = True,
               device: torch.device | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """(heads, T, N) bias -m |i - j| of query position i = start..start+T-1 on key j = 0..N-1,
    added to the scaled scores (Press et al. 2022, eq. in section 3; not scaled by 1/sqrt(E)).

    ``causal=False`` (an encoder sees the future): the past keys (j < i) get +m/2, so the model
    can tell left from right, as in Delétang et al. 2023's code."""
    slopes = torch.tensor(alibi_slopes(heads), device=device, dtype=torch.float64)
    distance = (start + torch.arange(t, device=device, dtype=torch.float64))[:, None] \
        - torch.arange(n, device=device, dtype=torch.float64)[None]  # i - j, (T, N)
    bias = -distance.abs()
    if not causal:
        bias = bias + 0.5 * (distance > 0)
    return (slopes[:, None, None] * bias).to(dtype or torch.get_default_dtype())


def relative_shift(logits: Tensor) -> Tensor:
    """(..., T, M) scores over the distances N-1, N-2, ..., -(T-1) (descending, M = N + T - 1)
    -> (..., T, N) with out[i, j] = the score at distance (N - T + i) - j: query i is the chunk's
    step i after N - T cached ones, key j the j-th of N.

    Dai et al. 2019, appendix B: pad one column in front, read the flat buffer from T on, so row
    i starts T - 1 - i columns in; no gather."""
    *lead, t, m = logits.shape
    n = m - t + 1
    flat = F.pad(logits, (1, 0)).reshape(*lead, t * (n + t))[..., t:]
    return flat.reshape(*lead, t, n + t - 1)[..., :n]


class RelativePosition(nn.Module):
    """Transformer-XL relative scores of one attention layer (Dai et al. 2019, section 3.3):

        A_ij = (q_i + u) . k_j  +  (q_i + v) . W_R R_(i-j)       (terms a+c and b+d)

    with R_d the sinusoidal vector (``sinusoidal_positions``) of the signed distance d = i - j
    (negative: a future key, in an encoder), W_R (H, H) without bias, and u, v (heads, E)
    learned per head (initialised N(0, 0.02^2), as Delétang et al. 2023). Delétang et al. order
    R's features as [sin..., cos...] (the interleaved order here is a permutation W_R absorbs),
    and their causal branch encodes d + 1; here d, the R_(i-j) of Dai et al.'s A^rel_ij.

    ``forward(q (B, heads, T, E), n) -> (q + u, bias (B, heads, T, N))``: the content term is
    q + u against the keys, and the position term (q + v) . W_R R, scaled by 1/sqrt(E) like the
    content term, is the float mask given to ``scaled_dot_product_attention``.
    """

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.heads, self.head_size = num_heads, hidden_size // num_heads
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)  # W_{k,R}
        self.content_bias = nn.Parameter(0.02 * torch.randn(num_heads, self.head_size))  # u
        self.position_bias = nn.Parameter(0.02 * torch.randn(num_heads, self.head_size))  # v

    def forward(self, q: Tensor, n: int) -> tuple[Tensor, Tensor]:
        t = q.shape[2]
        m = n + t - 1
        r = sinusoidal_positions(-(t - 1), m, self.key.in_features, device=q.device,
                                 dtype=q.dtype).flip(0)  # (M, H): distances N-1 .. -(T-1)
        r_keys = self.key(r).view(m, self.heads, self.head_size).transpose(0, 1)  # (heads, M, E)
        scores = (q + self.position_bias[:, None]) @ r_keys.transpose(-2, -1)  # (B, heads, T, M)
        bias = relative_shift(scores) / math.sqrt(self.head_size)  # (B, heads, T, N)
        return q + self.content_bias[:, None], bias
