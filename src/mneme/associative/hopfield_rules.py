"""Classical Hopfield storage rules: the weights W (N, N) that store patterns, and the input checks
and tie rule that every classical Hopfield function shares.

Storage rules, patterns stacked as rows X (P, N):
    hebbian         W = (1/N) X^T X, zero diagonal
    storkey         Storkey (1997) incremental rule
    pseudo_inverse  projection W = X^T (X X^T)^+ X (Personnaz, Guyon & Dreyfus 1985)

Legend: B networks, N units, P stored patterns. The fields, energy, cues and spurious states are
in ``mneme.associative.hopfield``, the dynamics in ``mneme.associative.hopfield_dynamics``; the
first re-exports every public name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

__all__ = [
    "STORAGE_RULES",
    "hebbian",
    "pseudo_inverse",
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


# -- weights, states and ties, as the fields and the dynamics read them ----------------------
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
