"""Hard attention: attend to exactly one key, chosen by argmax or sampled.

Xu et al. 2015 ("Show, Attend and Tell", section 4.1) treat the attended location as a latent
variable s drawn from the attention distribution ``Multinoulli(alpha)`` and return the value at s
instead of the expectation over all values. The choice has no gradient, so one of two estimators
trains the scores:

* ``"reinforce"``: the score-function estimator (Williams 1992; Xu et al. 2015, eqs. 10-12). The
  layer returns ``log_prob`` ``(B,)``, the summed log-probability of its choices; a model puts it
  in ``ModelOutput.log_prob`` and the loss adds ``mneme.tasks.reinforce.reinforce_loss`` (with a
  learned baseline, as Xu et al.'s moving-average baseline lowers the variance). ``entropy``
  ``(B,)`` is returned for their entropy bonus.
* ``"straight_through"``: the forward pass uses the one-hot choice, the backward pass the
  gradient of the soft weights (Bengio et al. 2013), i.e. ``one_hot + (soft - soft.detach())``.

``mode="argmax"`` picks the most probable key (deterministic, e.g. for evaluation);
``mode="sample"`` draws it from the distribution with an optional ``torch.Generator``. With
argmax and ``"reinforce"`` no gradient reaches the scores through the selection (``log_prob`` is
still returned, but a deterministic choice gives no unbiased REINFORCE gradient).

Legend: B batch, Tq queries, Tk keys, Dv value features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from mneme.attention.attention import _resolve_score, keep_mask, masked_softmax
from mneme.attention.scoring import AdditiveScore, ScoreName

__all__ = ["HardAttention", "HardAttentionOutput"]

HardMode = Literal["argmax", "sample"]
Estimator = Literal["reinforce", "straight_through"]


@dataclass(frozen=True)
class HardAttentionOutput:
    """What ``HardAttention`` returns.

    Attributes:
        context: ``(B, Tq, Dv)`` the chosen value per query (zero for a query with no kept key).
        weights: ``(B, Tq, Tk)`` one-hot choices (all zero where no key is kept); under
            ``straight_through`` their gradient is the soft weights'.
        soft_weights: ``(B, Tq, Tk)`` the distribution the choice was made from.
        index: ``(B, Tq)`` long, the chosen key; -1 where no key is kept.
        log_prob: ``(B,)`` sum over queries of log p(chosen key), with gradient to the scores.
        entropy: ``(B,)`` sum over queries of the distribution's entropy in nats.
    """

    context: Tensor
    weights: Tensor
    soft_weights: Tensor
    index: Tensor
    log_prob: Tensor
    entropy: Tensor


class HardAttention(nn.Module):
    """Hard (stochastic or argmax) attention, Xu et al. 2015, section 4.1.

    Args:
        score: a scoring module or its name (see ``mneme.attention.scoring``).
        query_dim: Dq, needed when a score with parameters is given by name.
        key_dim: Dk, likewise.
        mode: ``"argmax"`` or ``"sample"``; an attribute, so evaluation can switch to argmax.
        estimator: ``"reinforce"`` or ``"straight_through"``.
        hidden_dim: for the additive score.
        max_keys: for the location score.

    Raises:
        ValueError: an unknown mode or estimator.
    """

    def __init__(
        self,
        score: nn.Module | ScoreName = "dot",
        query_dim: int | None = None,
        key_dim: int | None = None,
        *,
        mode: HardMode = "sample",
        estimator: Estimator = "reinforce",
        hidden_dim: int | None = None,
        max_keys: int | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("argmax", "sample"):
            raise ValueError(f"mode must be argmax or sample, got {mode!r}")
        if estimator not in ("reinforce", "straight_through"):
            raise ValueError(f"estimator must be reinforce or straight_through, got {estimator!r}")
        self.score = _resolve_score(score, query_dim, key_dim, hidden_dim, max_keys)
        self.mode: HardMode = mode
        self.estimator: Estimator = estimator

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        causal: bool = False,
        generator: torch.Generator | None = None,
        projected_keys: Tensor | None = None,
    ) -> HardAttentionOutput:
        """Choose one key per query and return its value.

        Args:
            query: ``(B, Tq, Dq)``.
            keys: ``(B, Tk, Dk)``.
            values: ``(B, Tk, Dv)``; None uses the keys.
            mask: ``(B, Tk)`` or ``(B, Tq, Tk)`` bool, True = keep; masked keys are never chosen.
            causal: query i may choose keys 0..i only.
            generator: the random source for ``mode="sample"``.
            projected_keys: the additive score's precomputed ``U k``.

        Returns:
            A ``HardAttentionOutput``.
        """
        values = keys if values is None else values
        if projected_keys is not None and isinstance(self.score, AdditiveScore):
            scores = self.score(query, keys, projected_keys=projected_keys)
        else:
            scores = self.score(query, keys)
        soft = masked_softmax(scores, mask, causal=causal)  # (B, Tq, Tk)
        keep = keep_mask(mask, scores.shape, causal=causal, device=scores.device)
        if keep is None:
            keep = torch.ones_like(scores, dtype=torch.bool)
        keep = keep.expand(scores.shape)
        has_key = keep.any(dim=-1)  # (B, Tq)

        probs = soft.detach()
        if self.mode == "argmax":
            index = probs.argmax(dim=-1)
        else:
            # a row with no kept key samples from a uniform stand-in and is zeroed below
            flat = torch.where(has_key.unsqueeze(-1), probs, torch.ones_like(probs))
            flat = flat.reshape(-1, flat.shape[-1])
            index = torch.multinomial(flat, 1, generator=generator).view(probs.shape[:-1])
        one_hot = torch.zeros_like(probs).scatter_(-1, index.unsqueeze(-1), 1.0)
        one_hot = one_hot * has_key.unsqueeze(-1)
        weights = one_hot
        if self.estimator == "straight_through":
            # soft - soft.detach() is exactly 0 forward, so the one-hot values stay exact
            weights = one_hot + (soft - soft.detach())

        filled = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        # zero (not -inf) at masked keys, so neither 0 * log 0 nor its gradient is NaN
        log_soft = torch.log_softmax(filled, dim=-1).masked_fill(~keep, 0.0)
        chosen = log_soft.gather(-1, index.unsqueeze(-1)).squeeze(-1) * has_key
        entropy = -(soft * log_soft).sum(dim=-1)
        return HardAttentionOutput(
            context=torch.bmm(weights, values),
            weights=weights,
            soft_weights=soft,
            index=torch.where(has_key, index, torch.full_like(index, -1)),
            log_prob=chosen.sum(dim=-1),
            entropy=entropy.sum(dim=-1),
        )
