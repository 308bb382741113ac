"""Hetero- and auto-associative memories: BAM, the linear associator, a denoising autoencoder.

Bidirectional associative memory (Kosko 1988, "Bidirectional associative memories", IEEE SMC 18):
pairs (x_mu in {-1,+1}^N, y_mu in {-1,+1}^M) stored as W = sum_mu y_mu x_mu^T (M, N); recall
bounces y <- sgn(W x), x <- sgn(W^T y) (a unit keeps its value on a zero field) until neither
changes. Each half-step maximises y^T W x over one side, so the energy E(x, y) = -y^T W x never
increases and the pair settles in a finite number of steps.

Linear associator (Kohonen 1972; Anderson 1972): y = W x with W = (1/N) Y^T X (Hebbian outer
products; exact only for orthogonal cues) or W = Y^T (X^T)^+ (the optimal linear associator,
exact for linearly independent cues). In the column convention: W = Y X^+.

Denoising autoencoder (Vincent et al. 2008) as a learned auto-associative memory: trained to map
+-1 patterns with flipped units back to the clean pattern.

Legend: B cues, P stored pairs, N features of x, M features of y, K hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.associative.hopfield import flip_noise
from mneme.associative.hopfield_rules import _check_pm1

__all__ = [
    "BAMResult",
    "DenoisingAutoencoder",
    "associate",
    "bam_energy",
    "bam_recall",
    "bam_weights",
    "dae_recall",
    "fit_dae",
    "linear_associator",
]


def _pairs(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    x, y = _check_pm1(x, "x"), _check_pm1(y, "y")
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (P, N) and y (P, M) with the same P, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    return x, y.to(x.dtype)


def bam_weights(x: Tensor, y: Tensor) -> Tensor:
    """W = sum_mu y_mu x_mu^T = Y^T X, (M, N) (Kosko 1988). x (P, N), y (P, M), entries +-1.

    Raises:
        ValueError: entries other than +-1, or P differing between x and y.
    """
    x, y = _pairs(x, y)
    return y.mT @ x


def bam_energy(weights: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """E(x, y) = -y^T W x for x (B, N), y (B, M); returns (B,)."""
    return -((x @ weights.mT) * y).sum(-1)


@dataclass(frozen=True)
class BAMResult:
    """What `bam_recall` did.

    Attributes:
        x: (B, N) and y: (B, M), the final pair.
        converged: (B,) bool, a full round (y then x) changed nothing.
        steps: (B,) long, rounds made before that (max_steps if never).
        energy: (B, 2 R + 1) E = -y^T W x after the start and every half-step of R rounds.
    """

    x: Tensor
    y: Tensor
    converged: Tensor
    steps: Tensor
    energy: Tensor


def _sgn_keep(h: Tensor, s: Tensor) -> Tensor:
    return torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s)).to(s.dtype)


def bam_recall(
    weights: Tensor, x: Tensor | None = None, y: Tensor | None = None, *, max_steps: int = 100
) -> BAMResult:
    """Bidirectional recall from a cue on either side (or both).

    Given only x, y starts as sgn(W x) (+1 on a zero field) and rounds are x <- sgn(W^T y),
    y <- sgn(W x); given only y the roles swap; given both, rounds start from the pair.

    Args:
        weights: W (M, N). x: (B, N) and/or y: (B, M), entries +-1.
        max_steps: at most this many rounds.
    Returns:
        BAMResult.
    Raises:
        ValueError: neither cue given, bad entries, or sizes not matching W.
    """
    if x is None and y is None:
        raise ValueError("give a cue x (B, N), y (B, M) or both")
    if weights.dim() != 2:
        raise ValueError(f"weights must be (M, N), got {tuple(weights.shape)}")
    w = weights if weights.dtype in (torch.float32, torch.float64) else weights.float()
    m, n = w.shape
    if x is not None:
        x = _check_pm1(x, "x").to(w.dtype)
        if x.dim() != 2 or x.shape[1] != n:
            raise ValueError(f"x must be (B, {n}), got {tuple(x.shape)}")
    if y is not None:
        y = _check_pm1(y, "y").to(w.dtype)
        if y.dim() != 2 or y.shape[1] != m:
            raise ValueError(f"y must be (B, {m}), got {tuple(y.shape)}")
    x_first = y is None  # the side that is updated second in each round
    if y is None:
        y = _sgn_keep(x @ w.mT, torch.ones(x.shape[0], m, dtype=w.dtype, device=w.device))
    if x is None:
        x = _sgn_keep(y @ w, torch.ones(y.shape[0], n, dtype=w.dtype, device=w.device))
    b = x.shape[0]
    converged = torch.zeros(b, dtype=torch.bool, device=x.device)
    steps = torch.full((b,), max_steps, dtype=torch.long, device=x.device)
    energies = [bam_energy(w, x, y)]
    for step in range(max_steps):
        if x_first:
            new_x = _sgn_keep(y @ w, x)
            energies.append(bam_energy(w, new_x, y))
            new_y = _sgn_keep(new_x @ w.mT, y)
            energies.append(bam_energy(w, new_x, new_y))
        else:
            new_y = _sgn_keep(x @ w.mT, y)
            energies.append(bam_energy(w, x, new_y))
            new_x = _sgn_keep(new_y @ w, x)
            energies.append(bam_energy(w, new_x, new_y))
        still = (new_x == x).all(-1) & (new_y == y).all(-1)
        steps[still & ~converged] = step
        converged |= still
        x, y = new_x, new_y
        if bool(converged.all()):
            break
    return BAMResult(x, y, converged, steps, torch.stack(energies, 1))


def linear_associator(x: Tensor, y: Tensor, rule: Literal["pinv", "hebb"] = "pinv") -> Tensor:
    """W (M, N) with W x_mu ~ y_mu: "hebb" W = (1/N) Y^T X, "pinv" W = Y^T (X^T)^+.

    Args:
        x: (P, N) cues, y: (P, M) targets (any real values; +-1 for the comparison with BAM).
        rule: "pinv" or "hebb".
    Raises:
        ValueError: unknown rule, or shapes.
    """
    if rule not in ("pinv", "hebb"):
        raise ValueError(f"rule must be 'pinv' or 'hebb', got {rule!r}")
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be (P, N) and y (P, M), got {tuple(x.shape)}, {tuple(y.shape)}")
    x = x if x.is_floating_point() else x.float()
    y = y.to(x.dtype)
    if rule == "hebb":
        return y.mT @ x / x.shape[1]
    return y.mT @ torch.linalg.pinv(x.mT)


def associate(weights: Tensor, x: Tensor, *, binary: bool = True) -> Tensor:
    """y = W x for x (B, N), W (M, N) -> (B, M); sgn(W x) (+1 on 0) with ``binary``."""
    y = x.to(weights.dtype) @ weights.mT
    return torch.where(y >= 0, 1.0, -1.0).to(y.dtype) if binary else y


class DenoisingAutoencoder(nn.Module):
    """x (B, N) -> tanh(W_2 tanh(W_1 x + b_1) + b_2) (B, N), one hidden layer of K units."""

    def __init__(self, size: int, hidden: int) -> None:
        super().__init__()
        if size < 1 or hidden < 1:
            raise ValueError(f"size and hidden must be >= 1, got {size}, {hidden}")
        self.encode = nn.Linear(size, hidden)
        self.decode = nn.Linear(hidden, size)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.decode(torch.tanh(self.encode(x))))


def fit_dae(
    patterns: Tensor,
    *,
    hidden: int | None = None,
    noise: float = 0.2,
    steps: int = 400,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
) -> tuple[DenoisingAutoencoder, list[float]]:
    """Train a `DenoisingAutoencoder` to restore ``patterns`` from copies with a fraction
    ``noise`` of units flipped (Adam, mean squared error to the clean pattern).

    Args:
        patterns: (P, N), +-1. hidden: K (default 2N). noise: flip fraction in [0, 1).
        steps: Adam steps. batch_size: noisy copies per step. lr: learning rate.
        seed: seeds the initialisation, the batches and the noise (the global RNG is untouched).
    Returns:
        (the trained model in eval mode, the loss of every step).
    Raises:
        ValueError: entries other than +-1, bad shapes or arguments.
    """
    x = _check_pm1(patterns, "patterns")
    if x.dim() != 2:
        raise ValueError(f"patterns must be (P, N), got {tuple(x.shape)}")
    if not 0.0 <= noise < 1.0 or steps < 1 or batch_size < 1:
        raise ValueError("need 0 <= noise < 1, steps >= 1 and batch_size >= 1")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DenoisingAutoencoder(x.shape[1], hidden or 2 * x.shape[1]).to(x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        clean = x[torch.randint(0, x.shape[0], (batch_size,), generator=gen, device="cpu")
                  .to(x.device)]
        noisy = flip_noise(clean, noise, gen)
        loss = F.mse_loss(model(noisy), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


@torch.no_grad()
def dae_recall(model: DenoisingAutoencoder, cues: Tensor, steps: int = 1) -> Tensor:
    """sgn(model(cue)) applied ``steps`` times; cues (B, N) -> (B, N) +-1."""
    s = cues.to(model.encode.weight.dtype)
    for _ in range(steps):
        s = torch.where(model(s) >= 0, 1.0, -1.0).to(s.dtype)
    return s
