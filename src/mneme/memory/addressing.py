"""The Neural Turing Machine's addressing, one function per step (Graves et al. 2014, section 3.3).

A head turns its parameters into a weighting over the N memory slots in four steps::

    K[k, M(i)] = k . M(i) / (|k| |M(i)|)                   cosine similarity       (eq. 6)
    w^c(i) = exp(beta K[k, M(i)]) / sum_j exp(beta K[k, M(j)])   content weighting  (eq. 5)
    w^g = g w^c + (1 - g) w_{t-1}                          interpolation           (eq. 7)
    w~(i) = sum_j w^g(j) s(i - j)   (indices modulo N)     circular convolution    (eq. 8)
    w(i) = w~(i)^gamma / sum_j w~(j)^gamma                 sharpening              (eq. 9)

Every function works on all heads of all sequences at once: weightings are ``(B, R, N)`` with R
the heads, one memory ``(B, N, W)`` is shared by the heads of a sequence. Per-head scalars
(key_strength beta, interpolation_gate g, sharpening gamma) are ``(B, R, 1)`` (``(B, R)`` is
accepted too). The functions take the parameters already constrained (beta >= 0, g in [0, 1],
s a distribution over the S = 2k + 1 shifts -k..k, gamma >= 1); ``mneme.memory.ntm`` applies
the constraints. Each step is numerically safe on its own: zero-norm keys or memory rows give
similarity 0 (never NaN), any key strength is overflow-free, and sharpening never divides by 0.

Legend: B batch, R heads, N memory slots, W word size (the paper's M), S shift range.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = [
    "address",
    "circular_shift",
    "clip_gradient",
    "content_weighting",
    "cosine_similarity",
    "interpolate",
    "sharpen",
]

EPS = 1e-8
"""Floor of the norm product in the cosine similarity."""


def _per_head(x: Tensor) -> Tensor:
    """A per-head scalar as ``(B, R, 1)`` (accepts ``(B, R)``)."""
    return x.unsqueeze(-1) if x.dim() == 2 else x


def cosine_similarity(keys: Tensor, memory: Tensor, eps: float = EPS, *,
                      fused: bool = True) -> Tensor:
    """K[k, M(i)] of eq. 6 for every head's key against every memory row.

    Args:
        keys: ``(B, R, W)`` one key per head.
        memory: ``(B, N, W)``.
        eps: floor of ``|k| |M(i)|``; a zero key or a zero row gives similarity 0 with finite
            gradients.
        fused: use the hand-written backward (``_FusedCosine``: about half the passes over the
            memory that autograd makes); False runs the literal formula under autograd. Both give
            the same values and gradients (a test holds them equal).

    Returns:
        ``(B, R, N)`` similarities in [-1, 1].
    """
    if fused:
        return _FusedCosine.apply(keys, memory, eps)
    dot = torch.bmm(keys, memory.transpose(1, 2))
    key_norm = torch.linalg.vector_norm(keys, dim=-1, keepdim=True)  # (B, R, 1)
    row_norm = torch.linalg.vector_norm(memory, dim=-1).unsqueeze(1)  # (B, 1, N)
    return dot / (key_norm * row_norm).clamp_min(eps)


class _FusedCosine(torch.autograd.Function):
    """cos = k . M(i) / max(|k| |M(i)|, eps) with the gradient written out.

    With D = |k| |M(i)| above eps (else only the first terms, as for a clamped denominator)::

        d/dk    = sum_i g_i M(i) / D_i  -  k / |k|^2 sum_i g_i cos_i
        d/dM(i) = sum_h g_h k_h / D_h  -  M(i) / |M(i)|^2 sum_h g_h cos_h

    Two ``bmm`` and one in-place ``addcmul_`` touch the memory-sized tensors, where autograd of
    the literal formula makes about eight passes (norm backward, masks, accumulation).
    """

    @staticmethod
    def forward(ctx: Any, keys: Tensor, memory: Tensor, eps: float) -> Tensor:  # type: ignore[override]
        cos, saved = cosine_forward(keys, memory, eps)
        ctx.save_for_backward(*saved)
        return cos

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # type: ignore[override]
        return (*cosine_backward(grad, ctx.saved_tensors, *ctx.needs_input_grad[:2]), None)


def cosine_forward(keys: Tensor, memory: Tensor, eps: float) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``_FusedCosine``'s forward: the similarities ``(B, R, N)`` and what its backward needs."""
    dot = torch.bmm(keys, memory.transpose(1, 2))
    key_norm = torch.linalg.vector_norm(keys, dim=-1, keepdim=True)
    row_norm = torch.linalg.vector_norm(memory, dim=-1).unsqueeze(1)
    denom = key_norm * row_norm
    inv = denom.clamp_min(eps).reciprocal_()
    cos = dot.mul_(inv)
    return cos, (keys, memory, key_norm, row_norm, inv, cos, denom >= eps)


def cosine_backward(grad: Tensor, saved: tuple[Tensor, ...], need_keys: bool,
                    need_memory: bool) -> tuple[Tensor | None, Tensor | None]:
    """``_FusedCosine``'s backward: the gradients of the keys and the memory (None where not
    needed) from the similarities' gradient ``grad`` ``(B, R, N)``."""
    keys, memory, key_norm, row_norm, inv, cos, active = saved
    scaled = grad * inv  # g / D, (B, R, N)
    along = torch.where(active, grad * cos, 0.0)  # the norms' share, 0 where clamped
    tiny = torch.finfo(keys.dtype).tiny
    grad_keys = grad_memory = None
    if need_keys:
        coef = along.sum(-1, keepdim=True) / key_norm.square().clamp_min(tiny)
        grad_keys = torch.bmm(scaled, memory).sub_(keys * coef)
    if need_memory:
        coef = along.sum(1, keepdim=True) / row_norm.square().clamp_min(tiny)  # (B, 1, N)
        grad_memory = torch.bmm(scaled.transpose(1, 2), keys)
        grad_memory.addcmul_(memory, coef.transpose(1, 2), value=-1.0)
    return grad_keys, grad_memory


def content_weighting(memory: Tensor, keys: Tensor, key_strength: Tensor,
                      eps: float = EPS) -> Tensor:
    """w^c of eq. 5: softmax over slots of ``key_strength`` times the cosine similarity.

    Args:
        memory: ``(B, N, W)``.
        keys: ``(B, R, W)``.
        key_strength: beta ``(B, R, 1)`` or ``(B, R)``, >= 0 (the caller applies softplus).
        eps: see ``cosine_similarity``.

    Returns:
        ``(B, R, N)``, each row a distribution. The softmax subtracts the row maximum, so any
        finite beta is overflow-free (similarities are bounded by 1).
    """
    scores = _per_head(key_strength) * cosine_similarity(keys, memory, eps)
    return torch.softmax(scores, dim=-1)


def interpolate(content_w: Tensor, prev_w: Tensor, interpolation_gate: Tensor) -> Tensor:
    """w^g = g w^c + (1 - g) w_{t-1} (eq. 7), as one ``lerp``.

    Args:
        content_w: w^c ``(B, R, N)``.
        prev_w: the head's previous weighting w_{t-1} ``(B, R, N)``.
        interpolation_gate: g ``(B, R, 1)`` or ``(B, R)`` in [0, 1] (the caller applies sigmoid).

    Returns:
        ``(B, R, N)``; a distribution when both weightings are.
    """
    return torch.lerp(prev_w, content_w, _per_head(interpolation_gate))


def circular_shift(w: Tensor, shift_weighting: Tensor) -> Tensor:
    """w~(i) = sum_j w(j) s(i - j) with indices modulo N (eq. 8), for all heads at once.

    Slot k of ``shift_weighting`` is the shift k - S//2: all weight on the last slot moves the
    weighting one slot forward (to higher indices, wrapping N-1 -> 0). A shift range wider
    than the memory wraps around more than once and still sums correctly. Computed as
    ``sum_k roll(w, k - S//2) s_k``: S rolls of the whole ``(B, R, N)`` batch, which on CPU is
    several times faster than a gather into ``(B, R, N, S)`` (measured in
    ``benchmarks/ntm_speed.py``'s development); no loop over batch or heads.

    Args:
        w: ``(B, R, N)``.
        shift_weighting: s ``(B, R, S)``, S odd, a distribution over shifts (softmax).

    Returns:
        ``(B, R, N)``.

    Raises:
        ValueError: an even S.
    """
    slots = shift_weighting.shape[-1]
    if slots % 2 == 0:
        raise ValueError(f"the shift range must have an odd number of slots, got {slots}")
    half = slots // 2
    weights = shift_weighting.unsqueeze(-1).unbind(-2)  # S x (B, R, 1)
    out = w * weights[half]
    for k, weight in enumerate(weights):
        if k != half:
            out = torch.addcmul(out, torch.roll(w, k - half, -1), weight)
    return out


def sharpen(w: Tensor, sharpening: Tensor) -> Tensor:
    """w(i) = w~(i)^gamma / sum_j w~(j)^gamma (eq. 9), as ``softmax(gamma log w~)``.

    The softmax subtracts the row maximum, so no gamma overflows and no row underflows to all
    zeros. The dtype's smallest normal number is added before the log (it changes no weight
    above ~1e-30 in float32), so zero entries stay (numerically) zero with zero, finite
    gradients; ``pow`` with a tensor exponent would be exact at 0 too but is several times
    slower on CPU.

    Args:
        w: ``(B, R, N)`` non-negative.
        sharpening: gamma ``(B, R, 1)`` or ``(B, R)``, >= 1 (the caller applies 1 + softplus);
            finite results for gamma up to ~1e36 (float32).

    Returns:
        ``(B, R, N)``, each row a distribution (uniform for an all-zero row).
    """
    log_w = torch.log(w + torch.finfo(w.dtype).tiny)
    return torch.softmax(_per_head(sharpening) * log_w, dim=-1)


class _ClipGradient(torch.autograd.Function):
    """Identity forward; the backward clamps the incoming gradient to [-bound, bound]."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, bound: float) -> Tensor:  # type: ignore[override]
        ctx.bound = bound
        return x.view_as(x)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad.clamp(-ctx.bound, ctx.bound), None


def clip_gradient(x: Tensor, bound: float | None) -> Tensor:
    """``x`` unchanged, with the gradient flowing back through it clamped to [-bound, bound].

    Clipping derivatives inside the backward pass, at a recurrent connection, is Graves's
    (2013, "Generating Sequences With Recurrent Neural Networks", section 2) guard against
    exploding gradients. The NTM applies it to w_{t-1}: a sharpening step's Jacobian grows with
    gamma over the largest weight (eq. 9), so a location-based head that shifts for many steps
    multiplies its gradient by up to gamma each step. Measured on the feed-forward NTM on
    associative recall: 1.5e38 at the first step of a 40-step sequence, an overflow to NaN.

    Args:
        x: any tensor.
        bound: > 0; None returns ``x`` itself.

    Returns:
        ``x`` (a view when ``bound`` is set).
    """
    return x if bound is None else _ClipGradient.apply(x, bound)


def address(
    memory: Tensor,
    prev_w: Tensor,
    keys: Tensor,
    key_strength: Tensor,
    interpolation_gate: Tensor,
    shift_weighting: Tensor,
    sharpening: Tensor,
    *,
    eps: float = EPS,
) -> Tensor:
    """The whole addressing mechanism of section 3.3 (Figure 2), eqs. 5-9 chained.

    Args:
        memory: M_t ``(B, N, W)``.
        prev_w: w_{t-1} ``(B, R, N)``.
        keys: k_t ``(B, R, W)``.
        key_strength: beta_t ``(B, R, 1)``, >= 0.
        interpolation_gate: g_t ``(B, R, 1)``, in [0, 1].
        shift_weighting: s_t ``(B, R, S)``, a distribution over shifts -S//2..S//2.
        sharpening: gamma_t ``(B, R, 1)``, >= 1.
        eps: see ``cosine_similarity``.

    Returns:
        w_t ``(B, R, N)``.
    """
    content_w = content_weighting(memory, keys, key_strength, eps)
    gated = interpolate(content_w, prev_w, interpolation_gate)
    return sharpen(circular_shift(gated, shift_weighting), sharpening)
