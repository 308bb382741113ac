"""REINFORCE with a learned baseline, for models that sample discrete decisions.

Stochastic hard addressing (Zaremba & Sutskever 2015, "Reinforcement Learning Neural Turing
Machines") and hard attention (Xu et al. 2015, section 4.1) sample one location instead of taking
a weighted average. The sample has no gradient, so its parameters learn from the score-function
estimator (Williams 1992): the gradient of ``E[cost]`` is ``E[(cost - b) * d log p(sample)]``,
where the baseline ``b`` (here a learned prediction of the cost) lowers the variance without
biasing the estimate.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["reinforce_loss"]


def reinforce_loss(cost: Tensor, log_prob: Tensor, baseline: Tensor | None = None) -> Tensor:
    """The surrogate loss whose gradient is the REINFORCE estimate, plus the baseline's fit.

    Args:
        cost: ``(B,)`` each example's cost (lower is better); treated as a constant.
        log_prob: ``(B,)`` summed log-probability of the example's sampled decisions.
        baseline: ``(B,)`` the learned baseline's predicted cost, or None for no baseline.

    Returns:
        A scalar: ``mean((cost - b) * log_prob) + mean((b - cost)^2)`` with ``cost`` and, in the
        first term, ``b`` detached, so the policy follows the advantage and the baseline regresses
        on the cost.

    Raises:
        ValueError: shapes that are not all ``(B,)``.
    """
    cost = cost.detach()
    if cost.dim() != 1 or log_prob.shape != cost.shape:
        raise ValueError(
            f"cost and log_prob must both be (B,); got {tuple(cost.shape)} and "
            f"{tuple(log_prob.shape)}"
        )
    if baseline is None:
        return (cost * log_prob).mean()
    if baseline.shape != cost.shape:
        raise ValueError(f"baseline must be (B,) like cost; got {tuple(baseline.shape)}")
    advantage = cost - baseline.detach()
    return (advantage * log_prob).mean() + torch.mean((baseline - cost) ** 2)
