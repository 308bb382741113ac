"""Modern (dense, continuous) Hopfield networks and the Hopfield layers built on them.

Continuous modern Hopfield network, Ramsauer et al. 2020, "Hopfield Networks is All You Need"
(arXiv 2008.02217), stored patterns X = (x_1 .. x_P) as rows (P, D), state xi (D,):

    E(xi)  = -lse(beta, X xi) + 1/2 xi^T xi + beta^-1 log P + 1/2 M^2          eq. (2)
    xi_new = X^T softmax(beta X xi)                                            eq. (3)

with lse(beta, z) = beta^-1 log sum_mu exp(beta z_mu) and M = max_mu ||x_mu||. The update is the
attention of a query xi over keys = values = X (a CCCP step: E never increases; one step
usually retrieves). Batch-first: stored (P, D) or (B, P, D), states (B, S, D).

Dense associative memory for binary states, Krotov & Hopfield 2016 ("Dense Associative Memory
for Pattern Recognition", eq. 2-3) with F(z) = z^n or max(z, 0)^n, and Demircigil et al. 2017
("On a model of associative memory with huge storage capacity") with F(z) = exp(z):

    E(s) = -sum_mu F(x_mu . s),  s_i <- the sign of s_i giving the lower E (kept on a tie)

Legend: B batch, S state patterns, P stored patterns, D features.

Where it lives: the layers built on the update (``Hopfield``, ``HopfieldPooling``,
``HopfieldLayer``) in ``mneme.associative.hopfield_layers``, the sequence core in
``mneme.associative.hopfield_core``; the retrieval and the dense memory here. Every public name
is importable from this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mneme.associative.hopfield_dynamics import RecallResult
from mneme.associative.hopfield_layers import Hopfield, HopfieldLayer, HopfieldPooling
from mneme.associative.hopfield_rules import _check_pm1, _draws_on

__all__ = [
    "Hopfield",
    "HopfieldLayer",
    "HopfieldPooling",
    "ModernRetrieval",
    "dense_energy",
    "dense_recall",
    "lse",
    "modern_energy",
    "modern_retrieve",
    "modern_update",
]


def lse(beta: float | Tensor, z: Tensor, dim: int = -1) -> Tensor:
    """Log-sum-exp at inverse temperature beta: beta^-1 log sum exp(beta z) along ``dim``."""
    return torch.logsumexp(beta * z, dim=dim) / beta


def _pair(stored: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    if stored.dim() not in (2, 3) or state.dim() not in (2, 3):
        raise ValueError(
            f"stored must be (P, D) or (B, P, D) and state (S, D) or (B, S, D), got "
            f"{tuple(stored.shape)} and {tuple(state.shape)}"
        )
    if stored.shape[-1] != state.shape[-1]:
        raise ValueError(f"stored has D={stored.shape[-1]} but state D={state.shape[-1]}")
    if stored.shape[-2] < 1:
        raise ValueError("stored must hold at least one pattern (P >= 1)")
    if stored.dim() == 3 and state.dim() == 3 and stored.shape[0] != state.shape[0]:
        raise ValueError(f"stored batch {stored.shape[0]} != state batch {state.shape[0]}")
    return stored, state


def modern_update(stored: Tensor, state: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """One update xi_new = X^T softmax(beta X xi), Ramsauer et al. 2020 eq. (3).

    Args:
        stored: X, (P, D) or (B, P, D).
        state: xi, (S, D) or (B, S, D).
        beta: inverse temperature > 0.
    Returns:
        (new state like ``state`` (broadcast to B), association softmax(beta xi X^T) (.., S, P)).
    Raises:
        ValueError: shape mismatch or beta <= 0.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    x, xi = _pair(stored, state)
    assoc = torch.softmax(beta * xi @ x.mT, dim=-1)
    return assoc @ x, assoc


def modern_energy(stored: Tensor, state: Tensor, beta: float) -> Tensor:
    """E = -lse(beta, X xi) + 1/2 xi.xi + beta^-1 log P + 1/2 M^2 (eq. 2); (.., S). E >= 0."""
    x, xi = _pair(stored, state)
    m2 = (x * x).sum(-1).amax(-1)  # M^2, per batch
    if m2.dim():
        m2 = m2.unsqueeze(-1)
    n = x.shape[-2]
    return -lse(beta, xi @ x.mT) + 0.5 * (xi * xi).sum(-1) + math.log(n) / beta + 0.5 * m2


@dataclass(frozen=True)
class ModernRetrieval:
    """Result of `modern_retrieve`.

    Attributes:
        state: (.., S, D) the retrieved patterns.
        association: (.., S, P) softmax(beta xi X^T) of the last update.
        steps: updates made (all states are iterated together until all have converged).
        converged: (.., S) bool, the last update moved the state by at most ``tol`` (max-norm).
        energy: (.., S, steps + 1) E before and after every update.
        history: (.., S, steps + 1, D) the states, if ``keep_states``; else None.
    """

    state: Tensor
    association: Tensor
    steps: int
    converged: Tensor
    energy: Tensor
    history: Tensor | None = None


def modern_retrieve(
    stored: Tensor,
    state: Tensor,
    beta: float,
    *,
    max_iter: int = 1,
    tol: float = 1e-6,
    keep_states: bool = False,
) -> ModernRetrieval:
    """Iterate xi <- X^T softmax(beta X xi) from ``state``: one-step retrieval (max_iter=1) or
    until every state moves by at most ``tol`` (max-norm) or ``max_iter`` updates.

    Shapes as in `modern_update`. Raises ValueError for max_iter < 1 or bad shapes.
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    xi = state
    energies, hist = [modern_energy(stored, xi, beta)], [xi]
    steps = 0
    for _ in range(max_iter):
        new, assoc = modern_update(stored, xi, beta)
        moved = (new - xi).abs().amax(-1)
        xi, steps = new, steps + 1
        energies.append(modern_energy(stored, xi, beta))
        hist.append(xi)
        if bool((moved <= tol).all()):
            break
    energy = torch.stack(torch.broadcast_tensors(*energies), dim=-1)
    history = torch.stack(torch.broadcast_tensors(*hist), dim=-2) if keep_states else None
    return ModernRetrieval(xi, assoc, steps, moved <= tol, energy, history)


# -- dense associative memory (binary states) -------------------------------------------------
Separation = Literal["poly", "rectified", "exp"]


def _separation(kind: Separation, n: int) -> Callable[[Tensor], Tensor]:
    if kind == "poly":
        return lambda z: z**n
    if kind == "rectified":
        return lambda z: z.clamp(min=0) ** n
    if kind == "exp":
        return torch.exp
    raise ValueError(f"F must be 'poly', 'rectified' or 'exp', got {kind!r}")


def _dense_args(patterns: Tensor, states: Tensor, n: int) -> tuple[Tensor, Tensor]:
    x = _check_pm1(patterns, "patterns")
    s = _check_pm1(states, "states").to(x.dtype)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if x.dim() not in (2, 3) or s.dim() != 2 or x.shape[-1] != s.shape[-1]:
        raise ValueError(
            f"patterns must be (P, N) or (B, P, N) and states (B, N) with the same N, got "
            f"{tuple(x.shape)} and {tuple(s.shape)}"
        )
    if x.dim() == 3 and x.shape[0] != s.shape[0]:
        raise ValueError(f"patterns batch {x.shape[0]} != states batch {s.shape[0]}")
    return x, s


def dense_energy(patterns: Tensor, states: Tensor, F: Separation = "poly", n: int = 3) -> Tensor:
    """E = -sum_mu F(x_mu . s) (Krotov & Hopfield 2016 eq. 2; Demircigil et al. 2017).

    Args:
        patterns: (P, N) or (B, P, N), +-1. states: (B, N), +-1.
        F: "poly" z^n, "rectified" max(z, 0)^n, or "exp" exp(z).
        n: the polynomial degree.
    Returns:
        (B,) energies; with "exp" computed in float64 (finite for N up to about 700).
    Raises:
        ValueError: entries other than +-1, shapes, unknown F.
    """
    x, s = _dense_args(patterns, states, n)
    fn = _separation(F, n)
    m = (x @ s.unsqueeze(-1)).squeeze(-1) if x.dim() == 3 else s @ x.mT  # (B, P)
    return -fn(m.double() if F == "exp" else m).sum(-1)


def dense_recall(
    patterns: Tensor,
    cues: Tensor,
    F: Separation = "poly",
    n: int = 3,
    *,
    max_sweeps: int = 50,
    generator: torch.Generator | None = None,
) -> RecallResult:
    """Asynchronous minimisation of the dense energy: in each sweep every unit, in a random order
    per cue, takes the sign that gives the lower E (kept on a tie), Krotov & Hopfield eq. (3).

    The overlaps m_mu = x_mu . s of every cue are kept up to date, so a unit update costs O(P)
    per cue; all B cues are updated at once. With F = exp the comparison is made in log space
    (log-sum-exp), so it never overflows.

    Args:
        patterns: (P, N) shared or (B, P, N) one set per cue, +-1.
        cues: (B, N), +-1.
        F: the separation function (see `dense_energy`).
        n: its order (see `dense_energy`).
        max_sweeps: at most this many sweeps.
        generator: for the update order.
    Returns:
        `RecallResult` (energy per sweep; no update-level records; cycled all False).
    """
    x, s = _dense_args(patterns, cues, n)
    fn = _separation(F, n)
    b, big_n = s.shape
    xb = x.expand(b, *x.shape) if x.dim() == 2 else x  # (B, P, N) view
    s = s.clone()
    m = (xb @ s.unsqueeze(-1)).squeeze(-1)  # (B, P)
    dev = s.device
    rows = torch.arange(b, device=dev)
    converged = torch.zeros(b, dtype=torch.bool, device=dev)
    sweeps = torch.full((b,), max_sweeps, dtype=torch.long, device=dev)
    energies = [dense_energy(x, s, F, n)]
    for sweep in range(max_sweeps):
        order = torch.rand(b, big_n, generator=generator, device=_draws_on(generator))
        order = order.argsort(-1).to(dev)
        changed = torch.zeros(b, dtype=torch.bool, device=dev)
        for t in range(big_n):
            i = order[:, t]
            col = xb[rows, :, i]  # (B, P): x_mu,i of every cue's patterns
            si = s[rows, i]
            rest = m - col * si.unsqueeze(1)  # overlaps without unit i
            up, down = rest + col, rest - col
            if F == "exp":
                gain = torch.logsumexp(up, -1) - torch.logsumexp(down, -1)
            else:
                gain = (fn(up) - fn(down)).sum(-1)  # E(s_i=-1) - E(s_i=+1)
            new = torch.where(gain > 0, 1.0, torch.where(gain < 0, -1.0, si)).to(s.dtype)
            flip = new != si
            if bool(flip.any()):
                s[rows, i] = new
                m = rest + col * new.unsqueeze(1)
                changed |= flip
        sweeps[~changed & ~converged] = sweep
        converged |= ~changed
        energies.append(dense_energy(x, s, F, n))
        if bool(converged.all()):
            break
    cycled = torch.zeros(b, dtype=torch.bool, device=dev)
    return RecallResult(s, converged, cycled, sweeps, torch.stack(energies, 1))
