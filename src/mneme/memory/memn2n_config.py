"""What an End-To-End Memory Network is built from and what it shows: the sizes a QA task gives
(``QASizes``), the hyper-parameters (``MemN2NConfig``) and the trace of a forward (``MemN2NTrace``).

The model is ``mneme.memory.memn2n.MemN2N`` (Sukhbaatar, Szlam, Weston & Fergus 2015, arXiv
1503.08895). Legend: B batch, N memory slots, d embedding, K hops, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from torch import Tensor

from mneme.validation import Validated, at_least, greater_than, in_range, one_of

__all__ = ["MemN2NConfig", "MemN2NTrace", "QASizes"]


class QASizes(Protocol):
    """What a QA task tells a model: ``vocab_size`` V, ``sentence_size`` J, ``memory_size`` N."""

    vocab_size: int
    sentence_size: int
    memory_size: int


@dataclass(frozen=True)
class MemN2NConfig(Validated):
    """MemN2N hyper-parameters; defaults are the paper's bAbI recipe (section 4.2).

    Attributes:
        embedding_dim: d (20 for single-task training, 50 for joint training).
        hops: K, the number of memory layers.
        weight_tying: ``"adjacent"`` (A^{k+1} = C^k, W^T = C^K, B = A^1) or ``"layerwise"``
            (one A, one C for all hops, plus the linear map H; section 2.2).
        encoding: ``"position"`` (PE, section 4.1) or ``"bow"`` (bag of words, l = 1).
        position_formula: ``"paper"``: section 4.1's l_kj = (1 - j/J) - (k/d)(1 - 2j/J) with J
            the sentence's own length; ``"code"`` (default): the authors' Matlab code, which
            produced the published numbers, l_kj = 1 + 4(k - (d+1)/2)(j - (J'+1)/2)/(d J') with
            J' the padded sentence width + 1. Measured here on bAbI 1k task 6 (2 seeds each):
            50% test error with "paper", 21% with "code".
        temporal_encoding: learn T_A(i), T_C(i) for slot i (section 4.1).
        linear_start: start training with the softmax of each memory layer removed (LS, 4.2).
        linear_start_epochs: epochs before the training hook re-inserts the softmax (at most, in
            its plateau mode); the authors' Matlab code uses 20 single-task, 30 joint.
        null_memory: add one empty "null" memory (content 0, attention logit ``null_logit``) to
            every memory layer, so a hop can attend to nothing. The authors' Matlab code does not
            mask unused memory slots: each takes softmax weight with logit 0 and acts as such a
            null option. mneme masks padding exactly (it never takes weight, and results do not
            depend on padding) and keeps the null option explicit instead. Measured on bAbI 1k
            (2 seeds each), test error without -> with: task 6 21% -> 8%, task 10 36% -> 14%,
            task 18 19-41% -> 9%.
        null_logit: the null memory's logit; None: log N (the weight N empty slots with logit 0
            would take together).
        random_noise: fraction of empty memories added at training time (RN, section 4.1);
            it acts on the temporal indices, so it has no effect without temporal encoding.
        noise_mode: ``"time_gaps"`` (the authors' Matlab code: 0..ceil(fraction * n) blanks,
            drawn uniformly per example, only shift the sentences' time indices) or
            ``"empty_memories"`` (exactly ceil(fraction * n) blanks become extra memories that
            hold only their temporal embedding and can take attention).
        init_std: standard deviation of the Gaussian initialisation of every weight.
    """

    embedding_dim: int = field(default=20, metadata=at_least(1))
    hops: int = field(default=3, metadata=at_least(1))
    weight_tying: Literal["adjacent", "layerwise"] = field(default="adjacent", metadata=one_of())
    encoding: Literal["bow", "position"] = field(default="position", metadata=one_of())
    position_formula: Literal["code", "paper"] = field(default="code", metadata=one_of())
    temporal_encoding: bool = True
    linear_start: bool = True
    linear_start_epochs: int = field(default=20, metadata=at_least(0))
    null_memory: bool = True
    null_logit: float | None = None
    random_noise: float = field(default=0.1, metadata=in_range(0.0, 1.0, closed="left"))
    noise_mode: Literal["time_gaps", "empty_memories"] = field(default="time_gaps",
                                                               metadata=one_of())
    init_std: float = field(default=0.1, metadata=greater_than(0.0))


@dataclass(frozen=True)
class MemN2NTrace:
    """What one traced forward saw.

    Attributes:
        attention: ``(B, K, N')`` the weights p^k of every hop over memory slots. Columns
            ``0..N-1`` are the story slots (slot 0 most recent); in training with random noise,
            columns ``N..N'-1`` are the added empty memories. Empty (padding) slots hold exactly 0.
            Always a distribution: in linear mode (linear start), where the model reads the
            unnormalised scores, this is the softmax those scores would get (what the model
            attends to once the softmax is back); the raw scores are ``scores``.
        memory_mask: ``(B, N')`` bool, which columns are real memories (sentences or added noise).
        answer_input: ``(B, d)`` the vector the answer matrix W reads, u^{K+1}.
        null_attention: ``(B, K)`` the weight of the null memory in every hop (softmax mode with
            ``null_memory``; then attention + null_attention sums to 1 per hop), else None.
        scores: ``(B, K, N')`` the scores u^k . m^k_i (0 on padding), or None.
        linear: True when the forward ran in linear mode (the model used ``scores``, not
            ``attention``).
    """

    attention: Tensor
    memory_mask: Tensor
    answer_input: Tensor
    null_attention: Tensor | None = None
    scores: Tensor | None = None
    linear: bool = False
