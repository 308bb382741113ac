"""Classical Hopfield networks (Hopfield 1982): storage rules, dynamics, energy, spurious states.

Binary units s in {-1, +1}^N, symmetric weights W (N, N), thresholds theta (N,):

    h_i = sum_j W_ij s_j - theta_i                 local field
    s_i <- sgn(h_i)  (s_i kept when h_i = 0)       update, one unit (async) or all (sync)
    E(s) = -1/2 s^T W s + theta^T s                energy (Hopfield 1982, eq. 7)

Under asynchronous updates with W symmetric and W_ii >= 0 every flip lowers E, so the dynamics
ends in a fixed point; synchronous updates may end in a 2-cycle instead, which `recall` detects.

Legend: B networks (or cues), C cues per network, N units, P stored patterns; with an explicit
network index, K cues on G networks.

Where it lives: the storage rules (``hebbian``, ``storkey``, ``pseudo_inverse``) in
``mneme.associative.hopfield_rules``; the dynamics (``recall``, batched, and
``async_sweep_reference``, the rule read literally) in ``mneme.associative.hopfield_dynamics``;
fields, energy, overlaps, cues and spurious states here. Every public name is importable from
this module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mneme.associative.hopfield_dynamics import RecallResult, async_sweep_reference, recall
from mneme.associative.hopfield_rules import (
    STORAGE_RULES,
    _check_patterns,
    _draws_on,
    _float,
    _prepare,
    _sgn_keep,
    _tie_tolerance,
    hebbian,
    pseudo_inverse,
    storage_weights,
    storkey,
    storkey_prefixes,
)

__all__ = [
    "STORAGE_RULES",
    "RecallResult",
    "SpuriousStates",
    "async_sweep_reference",
    "classify_states",
    "count_spurious",
    "energy",
    "flip_noise",
    "hebbian",
    "is_fixed_point",
    "local_field",
    "mask_cue",
    "overlap",
    "pseudo_inverse",
    "recall",
    "storage_weights",
    "storkey",
    "storkey_prefixes",
]


# -- energy, fields, overlaps, cues -----------------------------------------------------------
def local_field(weights: Tensor, states: Tensor, theta: Tensor | None = None) -> Tensor:
    """h = W s - theta for states (B, N) or (B, C, N); weights (N, N) or (B, N, N)."""
    w, s, th = _prepare(weights, states, theta, allow_zero=True)
    return (s @ w.mT - th).reshape(states.shape)


def is_fixed_point(weights: Tensor, states: Tensor, theta: Tensor | None = None) -> Tensor:
    """Whether sgn(W s - theta) = s, a zero field keeping the unit (float tolerance as in
    `recall`). states (B, N) or (B, C, N); weights (N, N) or (B, N, N) -> (B,) or (B, C) bool."""
    w, s, th = _prepare(weights, states, theta, allow_zero=True)
    h = s @ w.mT - th
    return (_sgn_keep(h, s, _tie_tolerance(w)) == s).all(-1).reshape(states.shape[:-1])


def energy(weights: Tensor, states: Tensor, theta: Tensor | None = None) -> Tensor:
    """E = -1/2 s^T W s + theta^T s (Hopfield 1982), shape of ``states`` without the last dim."""
    w, s, th = _prepare(weights, states, theta, allow_zero=True)
    e = -0.5 * ((s @ w.mT) * s).sum(-1) + (th * s).sum(-1)
    return e.reshape(states.shape[:-1])


def overlap(states: Tensor, patterns: Tensor) -> Tensor:
    """Overlaps m_mu = (1/N) s . x_mu.

    Args:
        states: (B, N) or (B, C, N).
        patterns: (P, N), or (B, P, N) one set per network.
    Returns:
        (B, P) or (B, C, P).
    """
    s, x = _float(states, "states"), _float(patterns, "patterns")
    if s.shape[-1] != x.shape[-1]:
        raise ValueError(f"states have N={s.shape[-1]} but patterns N={x.shape[-1]}")
    if x.dim() == 3 and s.dim() == 2:
        return (x @ s.unsqueeze(-1)).squeeze(-1) / s.shape[-1]
    return s @ x.mT / s.shape[-1]


def flip_noise(
    patterns: Tensor, fraction: float, generator: torch.Generator | None = None
) -> Tensor:
    """Copy of ``patterns`` (..., N) with exactly round(fraction * N) units per row flipped."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    x = _float(patterns, "patterns")
    k = round(fraction * x.shape[-1])
    if k == 0:
        return x.clone()
    chosen = torch.rand(x.shape, generator=generator, device=_draws_on(generator))
    chosen = chosen.argsort(-1)[..., :k].to(x.device)
    sign = torch.ones_like(x).scatter_(-1, chosen, -1.0)
    return x * sign


def mask_cue(
    patterns: Tensor,
    fraction: float,
    fill: Literal["zero", "random"] = "zero",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Partial cue: round(fraction * N) random units per row set to 0 (unknown) or random +-1."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if fill not in ("zero", "random"):
        raise ValueError(f"fill must be 'zero' or 'random', got {fill!r}")
    x = _float(patterns, "patterns").clone()
    k = round(fraction * x.shape[-1])
    on = _draws_on(generator)
    chosen = torch.rand(x.shape, generator=generator, device=on).argsort(-1)[..., :k].to(x.device)
    if fill == "zero":
        values = torch.zeros(chosen.shape, dtype=x.dtype, device=x.device)
    else:
        values = torch.randint(0, 2, chosen.shape, generator=generator, device=on).to(x) * 2 - 1
    return x.scatter_(-1, chosen, values)


# -- spurious states -------------------------------------------------------------------------
PATTERN, REVERSED, MIXTURE, OTHER = 0, 1, 2, 3


def classify_states(states: Tensor, patterns: Tensor, tol: float = 0.15) -> Tensor:
    """Label final states: 0 a stored pattern (m_mu > 1 - tol for some mu), 1 a reversed pattern
    (m_mu < -(1 - tol)), 2 a 3-pattern mixture (three |m| within tol of 1/2, the largest other
    below tol), 3 anything else (spin-glass states). states (K, N), patterns (P, N) -> (K,) long.
    """
    m = overlap(states, patterns)
    label = torch.full(m.shape[:-1], OTHER, dtype=torch.long, device=m.device)
    if m.shape[-1] >= 3:
        top = m.abs().topk(min(4, m.shape[-1]), dim=-1).values
        mixed = ((top[..., :3] - 0.5).abs() < tol).all(-1)
        if top.shape[-1] > 3:
            mixed &= top[..., 3] < tol
        label[mixed] = MIXTURE
    label[(m < -(1 - tol)).any(-1)] = REVERSED
    label[(m > 1 - tol).any(-1)] = PATTERN
    return label


@dataclass(frozen=True)
class SpuriousStates:
    """Counts from `count_spurious`.

    Attributes:
        patterns: P.
        reversed_stable: how many -x_mu are fixed points.
        mixtures_tested: how many 3-mixtures sgn(+-x_a +- x_b +- x_c) were tried.
        mixtures_stable: how many of them are fixed points.
        mixtures_attracting: how many, run to a fixed point, end in a 3-mixture state
            (`classify_states` label 2) rather than in a pattern or elsewhere.
    """

    patterns: int
    reversed_stable: int
    mixtures_tested: int
    mixtures_stable: int
    mixtures_attracting: int


def count_spurious(
    weights: Tensor,
    patterns: Tensor,
    *,
    max_mixtures: int = 256,
    generator: torch.Generator | None = None,
) -> SpuriousStates:
    """Find and count spurious states: reversed patterns -x and symmetric 3-mixtures
    sgn(e_a x_a + e_b x_b + e_c x_c), e = +-1 (Amit, Gutfreund & Sompolinsky 1985).

    Args:
        weights: (N, N); patterns: (P, N) +-1 with P >= 1.
        max_mixtures: at most this many triples (with random signs) are tested, drawn at random
            when there are more.
        generator: for drawing triples and the update order.
    """
    x = _check_patterns(patterns)
    if x.dim() != 2:
        raise ValueError(f"patterns must be (P, N) here, got {tuple(x.shape)}")
    w = _float(weights, "weights").to(x.dtype)
    tol = _tie_tolerance(w)
    fixed = (_sgn_keep(-x @ w.mT, -x, tol) == -x).all(-1)
    triples = list(itertools.combinations(range(x.shape[0]), 3))
    if len(triples) > max_mixtures:
        pick = torch.randperm(len(triples), generator=generator,
                              device=_draws_on(generator))[:max_mixtures]
        triples = [triples[int(j)] for j in pick]
    if not triples:
        return SpuriousStates(x.shape[0], int(fixed.sum()), 0, 0, 0)
    idx = torch.tensor(triples, device=x.device)
    signs = torch.randint(0, 2, (len(triples), 3, 1), generator=generator,
                          device=_draws_on(generator)).to(x) * 2 - 1
    mixtures = torch.sign((x[idx] * signs).sum(1))  # sums of three +-1 are odd: never 0
    stable = (_sgn_keep(mixtures @ w.mT, mixtures, tol) == mixtures).all(-1)
    result = recall(w, mixtures, max_sweeps=50, generator=generator)
    attracting = classify_states(result.states, x) == MIXTURE
    return SpuriousStates(
        x.shape[0], int(fixed.sum()), len(triples), int(stable.sum()), int(attracting.sum())
    )
