"""Classical Hopfield dynamics: ``recall`` runs a network from its cues to a fixed point (or, with
synchronous updates, a 2-cycle), and ``async_sweep_reference`` reads one asynchronous sweep
literally.

Legend: B networks (or cues), C cues per network, N units; with an explicit network index, K cues
on G networks. Everything is batched: weights (N, N) shared by all cues or (B, N, N) one network
per row of the states, states (B, N) or (B, C, N). The asynchronous rule updates one unit at a
time, so it loops over the N steps of a sweep, but each step updates every cue of every network
at once; the local fields are kept up to date incrementally (a flip of unit i adds
Delta * W[:, i]), so a step costs O(B C) plus O(N) per flip. `async_sweep_reference` is the rule
read literally, kept for tests.

The storage rules are in ``mneme.associative.hopfield_rules``; energy, fields, cues and spurious
states in ``mneme.associative.hopfield``, which re-exports every public name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from mneme.associative.hopfield_rules import (
    _check_pm1,
    _draws_on,
    _float,
    _prepare,
    _sgn_keep,
    _tie_tolerance,
)

__all__ = ["RecallResult", "async_sweep_reference", "recall"]


# -- dynamics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecallResult:
    """What `recall` did; leading dims (B,) or (B, C) as the states given.

    Attributes:
        states: (..., N) final states.
        converged: (...,) bool, reached a fixed point (a full sweep / step changed nothing).
        cycled: (...,) bool, synchronous dynamics entered a 2-cycle (always False for async).
        sweeps: (...,) long, sweeps (async) or steps (sync) until the fixed point or cycle was
            detected (the last, unchanged sweep not counted); ``max_sweeps`` if neither.
        energy: (..., S + 1) E after 0, 1, ..., S sweeps (the last value repeated once stopped).
        update_energy: (..., S * N + 1) E after every single unit update (async with
            ``per_update=True``), else None.
        history: (..., S + 1, N) states after every sweep, or (..., S * N + 1, N) after every
            unit update with ``per_update``; None unless ``keep_states``.
    """

    states: Tensor
    converged: Tensor
    cycled: Tensor
    sweeps: Tensor
    energy: Tensor
    update_energy: Tensor | None = None
    history: Tensor | None = None


def recall(
    weights: Tensor,
    cues: Tensor,
    theta: Tensor | None = None,
    *,
    update: Literal["async", "sync"] = "async",
    order: Literal["random", "fixed"] = "random",
    max_sweeps: int = 100,
    generator: torch.Generator | None = None,
    per_update: bool = False,
    keep_states: bool = False,
    network: Tensor | None = None,
) -> RecallResult:
    """Run the dynamics from ``cues`` until a fixed point (or, sync, a 2-cycle) or max_sweeps.

    Asynchronous: each sweep visits every unit once, in a new random permutation per network
    (per row of the states' first dim, shared by its C cues) or in the fixed order 0..N-1.
    Synchronous: all units at once, s <- sgn(W s - theta); E need not decrease, and a state
    equal to the one two steps back is reported as a 2-cycle.

    Args:
        weights: (N, N) shared, or (B, N, N) one network per row of ``cues``. Symmetric.
        cues: (B, N) or (B, C, N), entries -1, +1, or 0 for an unknown unit (a 0 unit whose
            field is exactly 0 stays 0).
        theta: thresholds (N,) or (B, N); None for zero.
        update: "async" or "sync".
        order: "random" or "fixed" (async only).
        max_sweeps: at most this many sweeps (async) or steps (sync).
        generator: for the random order.
        per_update: also record E after every unit update (async).
        keep_states: record the states after every sweep (or every update with per_update).
        network: (K,) long, for networks holding different numbers of cues: cue k (of cues
            (K, N)) runs on network[k] of weights (G, N, N); theta (N,) or (G, N).
    Returns:
        RecallResult.
    Raises:
        ValueError: bad shapes, non-+-1 cues, asymmetric weights, unknown update/order.
    """
    if update not in ("async", "sync"):
        raise ValueError(f"update must be 'async' or 'sync', got {update!r}")
    if order not in ("random", "fixed"):
        raise ValueError(f"order must be 'random' or 'fixed', got {order!r}")
    if max_sweeps < 1:
        raise ValueError(f"max_sweeps must be >= 1, got {max_sweeps}")
    if network is None:
        w, s3, th = _prepare(weights, cues, theta, allow_zero=True, name="cues")
        n_groups, per_group, n = s3.shape
        th = th.expand(n_groups, per_group, n).reshape(-1, n)
        s = s3.reshape(-1, n).clone()
        group = torch.arange(n_groups, device=s.device).repeat_interleave(per_group)
        net = group if w.shape[0] > 1 else torch.zeros_like(group)
    else:
        w, s, th, net = _prepare_network(weights, cues, theta, network)
        group = net
    _check_symmetric(w)
    lead = cues.shape[:-1]
    h = _fields(w, s, net) - th
    run = _run_async if update == "async" else _run_sync
    out = run(w, s, h, th, net, group, order, max_sweeps, generator, per_update, keep_states)
    states, converged, cycled, sweeps, energies, upd, hist = out

    def shape(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.reshape(*lead, *t.shape[1:])

    return RecallResult(
        shape(states), shape(converged), shape(cycled), shape(sweeps), shape(energies),
        shape(upd), shape(hist),
    )  # fmt: skip


def _prepare_network(
    weights: Tensor, cues: Tensor, theta: Tensor | None, network: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    w = _float(weights, "weights")
    if w.dim() != 3 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"weights must be (G, N, N) with network given, got {tuple(w.shape)}")
    g, n = w.shape[0], w.shape[-1]
    s = _check_pm1(cues, "cues", allow_zero=True).to(w.dtype)
    if s.dim() != 2 or s.shape[-1] != n:
        raise ValueError(f"cues must be (K, N) with N={n} when network is given")
    if network.shape != (s.shape[0],) or network.dtype != torch.long:
        raise ValueError(f"network must be a (K,) long tensor with K={s.shape[0]}")
    if s.shape[0] and not 0 <= int(network.min()) <= int(network.max()) < g:
        raise ValueError(f"network must index the {g} networks of weights")
    th = (torch.zeros(g, n, dtype=w.dtype, device=w.device) if theta is None
          else _float(theta, "theta").to(w.dtype))
    if th.shape not in ((n,), (g, n)):
        raise ValueError(f"theta must be (N,) or (G, N), got {tuple(th.shape)}")
    th = th.expand(g, n)[network]
    return w, s.clone(), th, network


def _check_symmetric(w: Tensor) -> None:
    """Spot-check W = W^T on up to 64 evenly spaced rows (a full check costs as much as W)."""
    n = w.shape[-1]
    rows = torch.linspace(0, n - 1, min(n, 64), device=w.device).round().long().unique()
    scale = float(torch.maximum(w.amax(), -w.amin())) if w.numel() else 0.0
    gap = (w[:, rows, :] - w[:, :, rows].mT).abs().amax() if w.numel() else torch.tensor(0.0)
    if float(gap) > 1e-6 * max(scale, 1.0):
        raise ValueError("weights must be symmetric")


def _fields(w: Tensor, s: Tensor, net: Tensor) -> Tensor:
    """W[net[k]] s_k for every cue k: s (K, N), w (G, N, N) symmetric -> (K, N)."""
    if w.shape[0] == 1:
        return s @ w[0]
    out = torch.empty_like(s)
    for g in torch.unique(net).tolist():
        rows = (net == g).nonzero().squeeze(1)
        out[rows] = s[rows] @ w[g]
    return out


def _energy_from_field(s: Tensor, h: Tensor, th: Tensor) -> Tensor:
    # W s = h + theta, so E = -1/2 s.(h + theta) + theta.s = -1/2 s.(h - theta)
    return -0.5 * (s * (h - th)).sum(-1)


def _run_async(w, s, h, th, net, group, order, max_sweeps, generator, per_update, keep_states):
    k, n = s.shape
    tol = _tie_tolerance(w)
    diag = torch.diagonal(w, dim1=-2, dim2=-1)  # (G, N)
    dev = s.device
    converged = torch.zeros(k, dtype=torch.bool, device=dev)
    sweeps = torch.full((k,), max_sweeps, dtype=torch.long, device=dev)
    e = _energy_from_field(s, h, th)
    energies, upd, hist = [e], [e.clone()] if per_update else None, [s.clone()]
    n_groups = int(group.max()) + 1
    # Converged cues never change again, so each sweep works on the others only, unless every
    # step must be recorded for all cues.
    compact = not (per_update or keep_states)
    ternary = bool((s == 0).any())  # a cue with unknown (0) units
    w_flat = w.reshape(-1, n)
    for sweep in range(max_sweeps):
        if order == "fixed":
            perm = torch.arange(n, device=dev).expand(n_groups, n)
        else:
            on = _draws_on(generator)
            perm = torch.rand(n_groups, n, generator=generator, device=on).argsort(-1).to(dev)
        act = (~converged).nonzero().squeeze(1) if compact else torch.arange(k, device=dev)
        s_a, h_a, net_a = s[act], h[act], net[act]
        s_flat = s_a.view(-1)
        unit = perm[group[act]].T.contiguous()  # (N, K'): the unit each cue updates at step t
        cell = unit + (torch.arange(act.numel(), device=dev) * n).unsqueeze(0)  # into s_a, h_a
        w_row = unit + (net_a * n).unsqueeze(0)  # into w as (G * N, N)
        changed = torch.zeros(act.numel(), dtype=torch.bool, device=dev)
        for t in range(n):
            hi = h_a.view(-1).take(cell[t])
            si = s_flat.take(cell[t])
            if ternary:
                flip = (hi * si < -tol) | ((si == 0) & (hi.abs() > tol))
            else:
                flip = hi * si < -tol  # s_i = +-1 disagrees with a non-tied field
            flipped = flip.nonzero().squeeze(1)
            if flipped.numel():
                d = (torch.sign(hi[flipped]) - si[flipped]) if ternary else -2 * si[flipped]
                s_flat.index_add_(0, cell[t][flipped], d)
                rows = w_flat.index_select(0, w_row[t][flipped])  # W symmetric: row = column
                h_a.index_add_(0, flipped, rows * d.unsqueeze(1))
                changed[flipped] = True
                if per_update:
                    # dE = -Delta h_i - 1/2 W_ii Delta^2 (h_i taken before the flip)
                    w_ii = diag.view(-1).take(w_row[t][flipped])
                    e = e.index_add(0, flipped, -d * hi[flipped] - 0.5 * w_ii * d * d)
            if per_update:
                upd.append(e.clone())
                if keep_states:
                    hist.append(s_a.clone())
        s[act], h[act] = s_a, h_a
        still = torch.zeros(k, dtype=torch.bool, device=dev)
        still[act[changed]] = True
        sweeps[~still & ~converged] = sweep
        converged |= ~still
        e = e.clone()
        e[act] = _energy_from_field(s_a, h_a, th[act])
        energies.append(e)
        if keep_states and not per_update:
            hist.append(s.clone())
        if bool(converged.all()):
            break
    cycled = torch.zeros(k, dtype=torch.bool, device=dev)
    return (
        s, converged, cycled, sweeps, torch.stack(energies, 1),
        torch.stack(upd, 1) if per_update else None,
        torch.stack(hist, 1) if keep_states else None,
    )  # fmt: skip


def _run_sync(w, s, h, th, net, group, order, max_sweeps, generator, per_update, keep_states):
    k = s.shape[0]
    converged = torch.zeros(k, dtype=torch.bool, device=s.device)
    cycled = torch.zeros(k, dtype=torch.bool, device=s.device)
    sweeps = torch.full((k,), max_sweeps, dtype=torch.long, device=s.device)
    prev = torch.full_like(s, math.nan)
    energies, hist = [_energy_from_field(s, h, th)], [s.clone()]
    tol = _tie_tolerance(w)
    for step in range(max_sweeps):
        new = _sgn_keep(h, s, tol)
        fixed = (new == s).all(1) & ~converged & ~cycled
        cycle = (new == prev).all(1) & ~fixed & ~converged & ~cycled
        sweeps[fixed | cycle] = step
        converged |= fixed
        cycled |= cycle
        done = converged | cycled
        prev = torch.where(done.unsqueeze(1), prev, s)
        s = torch.where(done.unsqueeze(1), s, new)
        h = _fields(w, s, net) - th
        energies.append(_energy_from_field(s, h, th))
        if keep_states:
            hist.append(s.clone())
        if bool(done.all()):
            break
    return (
        s, converged, cycled, sweeps, torch.stack(energies, 1), None,
        torch.stack(hist, 1) if keep_states else None,
    )  # fmt: skip


def async_sweep_reference(
    weights: Tensor, state: Tensor, units: Sequence[int], theta: Tensor | None = None
) -> tuple[Tensor, list[float]]:
    """One asynchronous sweep read literally: one cue, one unit at a time, in ``units`` order.

    Args:
        weights: (N, N); state: (N,) +-1; units: the update order; theta: (N,) or None.
    Returns:
        (the new state (N,), E after each update).
    """
    s = state.clone()
    th = torch.zeros_like(s) if theta is None else theta
    tol = _tie_tolerance(weights)  # the same tie rule as ``recall``: |h| <= tol keeps the unit
    energies = []
    for i in units:
        h = float(weights[i] @ s) - float(th[i])
        if abs(h) > tol:
            s[i] = 1.0 if h > 0 else -1.0
        energies.append(float(-0.5 * s @ weights @ s + th @ s))
    return s, energies
