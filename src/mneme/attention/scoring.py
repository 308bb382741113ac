"""Attention scoring functions: how well each key matches each query.

Attention has two steps (Bahdanau et al. 2015, section 3.1; Luong et al. 2015, section 3.1): a
score ``e[b, i, j]`` for every query i and key j, turned into a distribution over the keys by a
softmax (``mneme.attention.attention.masked_softmax``), then the weighted average of the values.
This module holds the first step. Every score maps::

    forward(query (B, Tq, Dq), keys (B, Tk, Dk)) -> scores (B, Tq, Tk)

and is an ``nn.Module`` (some have parameters, some do not), so a model can swap one for another
by name through ``build_score``:

=============  =========================================  =======================================
name           score(q, k)                                source
=============  =========================================  =======================================
additive       v^T tanh(W q + U k)                        Bahdanau et al. 2015, eq. (6) and A.1.2
dot            q^T k                                      Luong et al. 2015, section 3.1, eq. (8)
scaled_dot     q^T k / sqrt(Dk)                           Vaswani et al. 2017, section 3.2.1
bilinear       q^T W k  (Luong's "general")               Luong et al. 2015, section 3.1, eq. (8)
location       (W q)[j], ignoring the keys' content       Luong et al. 2015, section 3.1, eq. (9)
=============  =========================================  =======================================

Luong's "concat" score, v^T tanh(W [q; k]), is the additive score (W [q; k] = W1 q + W2 k).

Legend: B batch, Tq queries, Tk keys, Dq query features, Dk key features, A the additive score's
hidden size.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "AdditiveScore",
    "BilinearScore",
    "DotScore",
    "LocationScore",
    "ScaledDotScore",
    "ScoreName",
    "build_score",
]

ScoreName = Literal["additive", "dot", "scaled_dot", "bilinear", "location"]


def _check(query: Tensor, keys: Tensor) -> None:
    if query.dim() != 3 or keys.dim() != 3 or query.shape[0] != keys.shape[0]:
        raise ValueError(
            f"query must be (B, Tq, Dq) and keys (B, Tk, Dk) with the same B; got "
            f"{tuple(query.shape)} and {tuple(keys.shape)}"
        )


class AdditiveScore(nn.Module):
    """Bahdanau's additive score ``e_ij = v^T tanh(W q_i + U k_j)`` (Bahdanau et al. 2015, eq. 6).

    The keys' projection ``U k`` does not depend on the query, so a decoder that scores the same
    encoder states at every step computes it once with ``precompute_keys`` and passes it back as
    ``projected_keys`` (the paper's appendix A.1.2 makes the same remark).

    Args:
        query_dim: Dq (the decoder state s_{i-1} in the paper).
        key_dim: Dk (the annotations h_j).
        hidden_dim: A, the size of the tanh layer (the paper's n').
        bias: add a bias inside the tanh (the paper has none).
    """

    def __init__(
        self, query_dim: int, key_dim: int, hidden_dim: int, *, bias: bool = False
    ) -> None:
        super().__init__()
        if min(query_dim, key_dim, hidden_dim) < 1:
            raise ValueError(
                f"query_dim, key_dim and hidden_dim must be >= 1; got {query_dim}, {key_dim}, "
                f"{hidden_dim}"
            )
        self.query_proj = nn.Linear(query_dim, hidden_dim, bias=False)  # W
        self.key_proj = nn.Linear(key_dim, hidden_dim, bias=bias)  # U (+ b)
        self.v = nn.Linear(hidden_dim, 1, bias=False)  # v^T

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """``U k`` for every key: ``(B, Tk, Dk) -> (B, Tk, A)``."""
        return self.key_proj(keys)

    def forward(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> Tensor:
        """Scores ``(B, Tq, Tk)`` from ``query (B, Tq, Dq)`` and ``keys (B, Tk, Dk)``.

        ``projected_keys`` ``(B, Tk, A)``, from ``precompute_keys(keys)``, skips that projection.
        """
        _check(query, keys)
        uk = self.precompute_keys(keys) if projected_keys is None else projected_keys
        wq = self.query_proj(query)  # (B, Tq, A)
        # (B, Tq, 1, A) + (B, 1, Tk, A): one tanh unit per (query, key) pair; the sum is a fresh
        # (B, Tq, Tk, A) tensor its backward does not read, so tanh may overwrite it (measured
        # 1.7x faster forward in benchmarks/attention_speed.py's setting)
        hidden = (wq.unsqueeze(2) + uk.unsqueeze(1)).tanh_()
        return torch.matmul(hidden, self.v.weight[0])


class DotScore(nn.Module):
    """The dot product ``e_ij = q_i . k_j`` (Luong et al. 2015, section 3.1, "dot").

    Args:
        query_dim: optional, checked to equal ``key_dim`` when both are given.
        key_dim: optional.
    """

    def __init__(self, query_dim: int | None = None, key_dim: int | None = None) -> None:
        super().__init__()
        if query_dim is not None and key_dim is not None and query_dim != key_dim:
            raise ValueError(
                f"{type(self).__name__} needs query_dim == key_dim; got {query_dim} and {key_dim}"
            )

    def scale(self, key_dim: int) -> float:
        """The factor multiplying ``q . k``: 1 here, 1/sqrt(Dk) for the scaled score."""
        return 1.0

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores ``(B, Tq, Tk)``; ``Dq`` must equal ``Dk``."""
        _check(query, keys)
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(
                f"{type(self).__name__} needs Dq == Dk; got {query.shape[-1]} and {keys.shape[-1]}"
            )
        scores = torch.bmm(query, keys.transpose(1, 2))
        scale = self.scale(keys.shape[-1])
        return scores if scale == 1.0 else scores * scale


class ScaledDotScore(DotScore):
    """The scaled dot product ``e_ij = q_i . k_j / sqrt(Dk)`` (Vaswani et al. 2017, eq. 1).

    Dividing by sqrt(Dk) keeps the scores' variance near 1 for unit-variance inputs, so the softmax
    does not saturate as Dk grows (section 3.2.1). ``mneme.attention.Attention`` computes this
    score with ``torch.nn.functional.scaled_dot_product_attention`` when weights are not asked for.
    """

    def scale(self, key_dim: int) -> float:
        """``1 / sqrt(Dk)``."""
        return 1.0 / math.sqrt(key_dim)


class BilinearScore(nn.Module):
    """Luong's "general" score ``e_ij = q_i^T W k_j`` (Luong et al. 2015, section 3.1, eq. 8).

    Args:
        query_dim: Dq.
        key_dim: Dk.
    """

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        if min(query_dim, key_dim) < 1:
            raise ValueError(f"query_dim and key_dim must be >= 1; got {query_dim}, {key_dim}")
        self.weight = nn.Parameter(torch.empty(query_dim, key_dim))  # W (Dq, Dk)
        nn.init.xavier_uniform_(self.weight)

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores ``(B, Tq, Tk)``."""
        _check(query, keys)
        # (q W) k^T: project the Tq queries, not the Tk keys (decoders have Tq = 1)
        return torch.bmm(torch.matmul(query, self.weight), keys.transpose(1, 2))


class LocationScore(nn.Module):
    """Luong's location-based score ``e_i = W q_i`` over key positions (Luong et al. 2015, eq. 9).

    The score of key j depends only on the query and the position j, never on the key's content,
    so the layer predicts ``max_keys`` scores and keeps the first Tk.

    Args:
        query_dim: Dq.
        max_keys: the largest Tk the layer can score.
    """

    def __init__(self, query_dim: int, max_keys: int) -> None:
        super().__init__()
        if min(query_dim, max_keys) < 1:
            raise ValueError(f"query_dim and max_keys must be >= 1; got {query_dim}, {max_keys}")
        self.max_keys = max_keys
        self.proj = nn.Linear(query_dim, max_keys)  # W_a

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores ``(B, Tq, Tk)``; only ``keys.shape[1]`` is read.

        Raises:
            ValueError: Tk > max_keys.
        """
        _check(query, keys)
        tk = keys.shape[1]
        if tk > self.max_keys:
            raise ValueError(f"LocationScore was built for max_keys={self.max_keys}, got Tk={tk}")
        return self.proj(query)[..., :tk]


def build_score(
    name: ScoreName,
    query_dim: int,
    key_dim: int,
    hidden_dim: int | None = None,
    max_keys: int | None = None,
) -> nn.Module:
    """A scoring module by name: ``additive``, ``dot``, ``scaled_dot``, ``bilinear``, ``location``.

    Args:
        name: the score.
        query_dim: Dq (equal to Dk for ``dot`` and ``scaled_dot``).
        key_dim: Dk.
        hidden_dim: A for ``additive``; None means Dk.
        max_keys: required for ``location``.

    Raises:
        ValueError: an unknown name, unequal dims for a dot score, ``location`` without max_keys.
    """
    if name == "additive":
        return AdditiveScore(query_dim, key_dim, key_dim if hidden_dim is None else hidden_dim)
    if name == "dot":
        return DotScore(query_dim, key_dim)
    if name == "scaled_dot":
        return ScaledDotScore(query_dim, key_dim)
    if name == "bilinear":
        return BilinearScore(query_dim, key_dim)
    if name == "location":
        if max_keys is None:
            raise ValueError("the location score needs max_keys (the largest number of keys)")
        return LocationScore(query_dim, max_keys)
    raise ValueError(
        f"unknown score {name!r}; choose additive, dot, scaled_dot, bilinear or location"
    )
