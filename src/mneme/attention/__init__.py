"""Attention: scoring functions, soft/hard/key-value/multi-head/self/hierarchical attention.

Two steps (Bahdanau et al. 2015; Luong et al. 2015): a distribution over keys from a query, then
the weighted average of the values. Pointer networks live in ``mneme.attention.pointer``.
"""

from mneme.attention.attention import (
    Attention,
    KeyValueAttention,
    fused_attention,
    keep_mask,
    masked_softmax,
)
from mneme.attention.hard import HardAttention, HardAttentionOutput
from mneme.attention.hierarchical import (
    AttentionPooling,
    HierarchicalAttention,
    HierarchicalOutput,
)
from mneme.attention.multihead import MultiHeadAttention, SelfAttention
from mneme.attention.scoring import (
    AdditiveScore,
    BilinearScore,
    DotScore,
    LocationScore,
    ScaledDotScore,
    ScoreName,
    build_score,
)

__all__ = [
    "AdditiveScore",
    "Attention",
    "AttentionPooling",
    "BilinearScore",
    "DotScore",
    "HardAttention",
    "HardAttentionOutput",
    "HierarchicalAttention",
    "HierarchicalOutput",
    "KeyValueAttention",
    "LocationScore",
    "MultiHeadAttention",
    "ScaledDotScore",
    "ScoreName",
    "SelfAttention",
    "build_score",
    "fused_attention",
    "keep_mask",
    "masked_softmax",
]
