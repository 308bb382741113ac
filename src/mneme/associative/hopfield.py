"""Classical Hopfield networks (Hopfield 1982): storage rules, dynamics, energy, spurious states.

Binary units s in {-1, +1}^N, symmetric weights W (N, N), thresholds theta (N,):

    h_i = sum_j W_ij s_j - theta_i                 local field
    s_i <- sgn(h_i)  (s_i kept when h_i = 0)       update, one unit (async) or all (sync)
    E(s) = -1/2 s^T W s + theta^T s                energy (Hopfield 1982, eq. 7)

Under asynchronous updates with W symmetric and W_ii >= 0 every flip lowers E, so the dynamics
ends in a fixed point; synchronous updates may end in a 2-cycle instead, which `recall` detects.

Storage rules, patterns stacked as rows X (P, N):
    hebbian         W = (1/N) X^T X, zero diagonal
    storkey         Storkey (1997) incremental rule
    pseudo_inverse  projection W = X^T (X X^T)^+ X (Personnaz, Guyon & Dreyfus 1985)

Legend: B networks (or cues), C cues per network, N units, P stored patterns; with an explicit
network index, K cues on G networks. Everything is batched: weights (N, N) shared by all cues or
(B, N, N) one network per row of the states, states (B, N) or (B, C, N). The asynchronous rule
updates one unit at a time, so it loops over the N steps of a sweep, but each step updates every
cue of every network at once; the local fields are kept up to date incrementally (a flip of unit
i adds Delta * W[:, i]), so a step costs O(B C) plus O(N) per flip. `async_sweep_reference` is
the rule read literally, kept for tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

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


def _float(t: Tensor, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    return t if t.dtype in (torch.float32, torch.float64) else t.to(torch.float32)


def _check_pm1(t: Tensor, name: str, allow_zero: bool = False) -> Tensor:
    t = _float(t, name)
    ok = (t == 1) | (t == -1) | ((t == 0) if allow_zero else False)
    if not bool(ok.all()):
        allowed = "-1, 0 (unknown) and +1" if allow_zero else "-1 and +1"
        raise ValueError(f"{name} must hold only {allowed}")
    return t


def _check_patterns(patterns: Tensor) -> Tensor:
    patterns = _check_pm1(patterns, "patterns")
    if patterns.dim() not in (2, 3) or patterns.shape[-1] < 1:
        raise ValueError(f"patterns must be (P, N) or (B, P, N), got {tuple(patterns.shape)}")
    return patterns


def _draws_on(generator: torch.Generator | None) -> torch.device:
    """Where random draws are made: the generator's device (the CPU without one), so a seed
    gives the same cues and orders whatever device the patterns are on; they are moved after."""
    return generator.device if generator is not None else torch.device("cpu")


def _zero_diagonal(w: Tensor) -> Tensor:
    w.diagonal(dim1=-2, dim2=-1).zero_()
    return w


# -- storage rules ---------------------------------------------------------------------------
def hebbian(patterns: Tensor) -> Tensor:
    """Hebbian outer-product rule W = (1/N) sum_mu x_mu x_mu^T with zero diagonal (Hopfield 1982).

    Args:
        patterns: (P, N) or (B, P, N) with entries +-1.
    Returns:
        W: (N, N) or (B, N, N).
    Raises:
        ValueError: entries other than +-1, or a bad shape.
    """
    x = _check_patterns(patterns)
    return _zero_diagonal((x.mT @ x).div_(x.shape[-1]))


def storkey_prefixes(patterns: Tensor, counts: Sequence[int]) -> Iterator[tuple[int, Tensor]]:
    """Storkey's rule applied pattern by pattern, yielding (P', W) after the first P' patterns.

    Storkey (1997), "Increasing the capacity of a Hopfield network without sacrificing
    functionality": w_ij += (1/N) (x_i x_j - x_i h_ji - h_ij x_j), with h_ij = sum_{k != i, j}
    w_ik x_k. With W symmetric, zero-diagonal and x = +-1 this is the rank-3 update
    W <- (1 + 2/N) W + (1/N) (x x^T - x h^T - h x^T), h = W x, diagonal kept at zero.

    Args:
        patterns: (P, N) or (B, P, N), entries +-1.
        counts: increasing prefix sizes in 0..P at which to yield W (one pass serves them all).
    Yields:
        (count, W) with W (N, N) or (B, N, N); W is a fresh tensor each time.
    Raises:
        ValueError: bad entries or shape, counts not increasing within 0..P.
    """
    x = _check_patterns(patterns)
    n_patterns, n = x.shape[-2], x.shape[-1]
    counts = list(counts)
    if any(b <= a for a, b in itertools.pairwise(counts)) or (
        counts and not 0 <= counts[0] <= counts[-1] <= n_patterns
    ):
        raise ValueError(f"counts must increase within 0..{n_patterns}, got {counts}")
    batched = x.dim() == 3
    xb = x if batched else x.unsqueeze(0)
    w = xb.new_zeros(xb.shape[0], n, n)
    diag = torch.arange(n, device=x.device)
    pending = iter(counts)
    target = next(pending, None)
    for mu in range(n_patterns + 1):
        while target is not None and target == mu:
            sym = (w + w.mT) / 2  # the rank-3 update is symmetric only up to rounding
            yield target, (sym if batched else sym[0])
            target = next(pending, None)
        if target is None or mu == n_patterns:
            return
        xi = xb[:, mu, :].unsqueeze(-1)  # (B, N, 1)
        h = w @ xi
        # x x^T - x h^T - h x^T = [x, h] @ [x - h, -x]^T
        left = torch.cat([xi, h], dim=-1)
        right = torch.cat([xi - h, -xi], dim=-1)
        w = torch.baddbmm(w, left, right.mT, beta=1 + 2 / n, alpha=1 / n)
        w[:, diag, diag] = 0


def storkey(patterns: Tensor) -> Tensor:
    """Storkey (1997) incremental learning rule; see `storkey_prefixes`. (P, N) -> (N, N)."""
    x = _check_patterns(patterns)
    return next(storkey_prefixes(x, [x.shape[-2]]))[1]


def pseudo_inverse(patterns: Tensor, *, zero_diagonal: bool = True) -> Tensor:
    """Pseudo-inverse (projection) rule W = X^T (X X^T)^+ X (Personnaz, Guyon & Dreyfus 1985).

    In the column convention of the literature (patterns as columns of X) this is
    W = X (X^T X)^-1 X^T, the orthogonal projection onto the span of the patterns, so every
    stored pattern satisfies W x = x for any P < N, even correlated ones. With ``zero_diagonal``
    (default) the self-couplings W_ii (about P/N each) are removed: patterns stay fixed points
    (h_i = (1 - W_ii) x_i) and basins of attraction grow (Kanter & Sompolinsky 1987); without
    it, the network keeps positive self-couplings, which stabilise many spurious states.
    For P >= N the projection is the identity: with zero diagonal nothing is stored.

    Args:
        patterns: (P, N) or (B, P, N), entries +-1.
        zero_diagonal: remove the self-couplings.
    Returns:
        W: (N, N) or (B, N, N).
    Raises:
        ValueError: bad entries or shape.
    """
    x = _check_patterns(patterns)
    gram_pinv = torch.linalg.pinv(x @ x.mT, hermitian=True)
    w = x.mT @ gram_pinv @ x
    w = (w + w.mT) / 2  # exact symmetry despite rounding
    return _zero_diagonal(w) if zero_diagonal else w


STORAGE_RULES = {"hebb": hebbian, "storkey": storkey, "pinv": pseudo_inverse}


def storage_weights(patterns: Tensor, rule: str) -> Tensor:
    """W for ``rule`` in ``STORAGE_RULES`` ("hebb", "storkey", "pinv"). Raises ValueError."""
    if rule not in STORAGE_RULES:
        raise ValueError(f"rule must be one of {', '.join(STORAGE_RULES)}, got {rule!r}")
    return STORAGE_RULES[rule](patterns)


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


def _prepare(
    weights: Tensor, states: Tensor, theta: Tensor | None, allow_zero: bool, name: str = "states"
) -> tuple[Tensor, Tensor, Tensor]:
    """Weights as (G, N, N) with G 1 or B, states as (B, C, N), theta as (1 or B, 1, N)."""
    w = _float(weights, "weights")
    s = _check_pm1(states, name, allow_zero=allow_zero).to(w.dtype)
    if w.dim() not in (2, 3) or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"weights must be (N, N) or (B, N, N), got {tuple(w.shape)}")
    n = w.shape[-1]
    if s.dim() not in (2, 3) or s.shape[-1] != n:
        raise ValueError(f"{name} must be (B, N) or (B, C, N) with N={n}, got {tuple(s.shape)}")
    if w.dim() == 3 and w.shape[0] != s.shape[0]:
        raise ValueError(f"weights hold {w.shape[0]} networks but {name} have {s.shape[0]} rows")
    s3 = s.unsqueeze(1) if s.dim() == 2 else s
    th = torch.zeros(1, 1, n, dtype=w.dtype, device=w.device)
    if theta is not None:
        th = _float(theta, "theta").to(w.dtype)
        if (
            th.dim() not in (1, 2)
            or th.shape[-1] != n
            or (th.dim() == 2 and th.shape[0] != s.shape[0])
        ):
            raise ValueError(f"theta must be (N,) or (B, N) with N={n}, got {tuple(th.shape)}")
        th = th.reshape(-1, 1, n)
    return (w if w.dim() == 3 else w.unsqueeze(0)), s3, th


def _sgn_keep(h: Tensor, s: Tensor, tol: float = 0.0) -> Tensor:
    return torch.where(h > tol, 1.0, torch.where(h < -tol, -1.0, s)).to(s.dtype)


def _tie_tolerance(w: Tensor) -> float:
    """|h| at or below this counts as a tie (state kept): a field that is exactly 0 in exact
    arithmetic (common with Hebbian weights, multiples of 1/N) comes out of floating point as
    +-tiny, and acting on its sign would flip a unit back and forth at equal energy forever."""
    n = w.shape[-1]
    scale = float(torch.maximum(w.amax(), -w.amin())) if w.numel() else 0.0
    return 4 * n * torch.finfo(w.dtype).eps * scale


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
    energies = []
    for i in units:
        h = float(weights[i] @ s) - float(th[i])
        if h != 0:
            s[i] = 1.0 if h > 0 else -1.0
        energies.append(float(-0.5 * s @ weights @ s + th @ s))
    return s, energies


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
