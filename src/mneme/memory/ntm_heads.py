"""The NTM's heads at work: reading and writing the memory, and the record of what they did.

``read_memory`` is eq. 2, ``write_memory`` eqs. 3-4 (erase, then add) for all write heads at once,
and ``read_write`` both, fused with a hand-written backward for one write head (Graves, Wayne &
Danihelka 2014, arXiv 1410.5401, section 3). ``NTMTrace`` holds the heads' weightings and
parameters over a sequence. The core is in ``mneme.memory.ntm``, which re-exports these names.

Legend: B batch, T time, N memory slots, W word size, R read heads, Rw write heads,
S = 2 shift_range + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = [
    "NTMTrace",
    "read_memory",
    "read_write",
    "write_memory",
]


@dataclass(frozen=True)
class NTMTrace:
    """What the heads did over a sequence (detached).

    Attributes:
        read_weightings: ``(B, T, R, N)`` the weightings read with (one-hot in hard mode).
        write_weightings: ``(B, T, Rw, N)``.
        read_policy: ``(B, T, R, N)`` the distributions the hard reads were drawn from; None
            when soft.
        keys: ``(B, T, R + Rw, W)`` every head's key, read heads first.
        key_strength: ``(B, T, R + Rw)`` beta of every head, read heads first.
        interpolation_gate: ``(B, T, R + Rw)`` g.
        sharpening: ``(B, T, R + Rw)`` gamma.
        shift_weighting: ``(B, T, R + Rw, S)`` s over shifts -S//2..S//2.
        erase_vector: ``(B, T, Rw, W)``.
        add_vector: ``(B, T, Rw, W)``.
    """

    read_weightings: Tensor
    write_weightings: Tensor
    read_policy: Tensor | None
    keys: Tensor
    key_strength: Tensor
    interpolation_gate: Tensor
    sharpening: Tensor
    shift_weighting: Tensor
    erase_vector: Tensor
    add_vector: Tensor


def _stack_trace(record: list[tuple[Tensor, ...]], hard: bool) -> NTMTrace:
    """The ``NTMTrace`` of the steps ``NTM.forward`` recorded, each ``(read_w, write_w, policy,
    key, beta, gate, shift, gamma, erase, add)``; the read policy only when ``hard``."""
    def stacked(i: int, squeeze: bool = False) -> Tensor:
        value = torch.stack([step[i].detach() for step in record], 1)
        return value.squeeze(-1) if squeeze else value

    if not record:
        raise ValueError("trace needs at least one time step")
    return NTMTrace(
        read_weightings=stacked(0),
        write_weightings=stacked(1),
        read_policy=stacked(2) if hard else None,
        keys=stacked(3),
        key_strength=stacked(4, True),
        interpolation_gate=stacked(5, True),
        sharpening=stacked(7, True),
        shift_weighting=stacked(6),
        erase_vector=stacked(8),
        add_vector=stacked(9),
    )


def read_memory(memory: Tensor, read_weightings: Tensor) -> Tensor:
    """r = sum_i w(i) M(i) (eq. 2) for every head: ``(B, N, W)``, ``(B, R, N)`` -> ``(B, R, W)``."""
    return torch.bmm(read_weightings, memory)


def write_memory(memory: Tensor, write_weightings: Tensor, erase_vector: Tensor,
                 add_vector: Tensor) -> Tensor:
    """Erase then add (eqs. 3-4) for all write heads at once.

    Erasures multiply (so their order does not matter, as section 3.2 notes), then the adds sum.

    Args:
        memory: ``(B, N, W)``.
        write_weightings: ``(B, Rw, N)``.
        erase_vector: ``(B, Rw, W)`` in [0, 1].
        add_vector: ``(B, Rw, W)``.

    Returns:
        ``(B, N, W)`` the new memory.
    """
    w_t = write_weightings.transpose(1, 2)  # (B, N, Rw)
    if write_weightings.shape[1] == 1:  # one head: the product is a single outer product
        keep = 1.0 - torch.bmm(w_t, erase_vector)
    else:
        keep = torch.prod(1.0 - w_t.unsqueeze(-1) * erase_vector.unsqueeze(1), dim=2)
    return torch.baddbmm(memory * keep, w_t, add_vector)


def read_write(memory: Tensor, read_weightings: Tensor, write_weightings: Tensor,
               erase_vector: Tensor, add_vector: Tensor) -> tuple[Tensor, Tensor]:
    """Read the memory, then write it: ``(read_memory(...), write_memory(...))``.

    With one write head this runs ``_ReadWrite``, whose hand-written backward makes about half
    the passes over memory-sized tensors that autograd of the two functions makes (a test holds
    values and gradients equal); with more write heads, the two functions under autograd.

    Returns:
        reads ``(B, R, W)`` and the new memory ``(B, N, W)``.
    """
    if write_weightings.shape[1] == 1:
        return _ReadWrite.apply(memory, read_weightings, write_weightings, erase_vector,
                                add_vector)
    return (read_memory(memory, read_weightings),
            write_memory(memory, write_weightings, erase_vector, add_vector))


class _ReadWrite(torch.autograd.Function):
    """r = w_r M;  M' = M - M * (w_w^T e) + w_w^T a  (one write head), gradient written out::

        dM = g' - g' * (w_w^T e) + w_r^T g_r       dw_r = g_r M^T
        dw_w(i) = g'(i) . a - (g'(i) * M(i)) . e   de = -w_w (g' * M)      da = w_w g'

    The add and the read gradient's outer products are broadcast ``addcmul_`` in place, and
    products with the memory keep it as the left, contiguous operand (no transposed copies).
    Measured in a full copy training step at B = 64 this backward is about as fast as autograd's
    of ``read_memory`` + ``write_memory``; it is kept for its fewer ops per step.
    """

    @staticmethod
    def forward(ctx: Any, memory: Tensor, read_w: Tensor, write_w: Tensor,  # type: ignore[override]
                erase: Tensor, add: Tensor) -> tuple[Tensor, Tensor]:
        reads = torch.bmm(read_w, memory)
        write_t = write_w.transpose(1, 2)  # (B, N, 1)
        erased = torch.bmm(write_t, erase)  # w^T e, (B, N, W)
        new_memory = torch.addcmul(memory, memory, erased, value=-1.0).addcmul_(write_t, add)
        ctx.save_for_backward(memory, read_w, write_w, erase, add, erased)
        return reads, new_memory

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_reads: Tensor | None,  # type: ignore[override]
                 grad_memory: Tensor | None) -> tuple[Tensor | None, ...]:
        memory, read_w, write_w, erase, add, erased = ctx.saved_tensors
        need = ctx.needs_input_grad
        g_mem = g_read = g_write = g_erase = g_add = None
        if grad_reads is None:
            grad_reads = torch.zeros(*read_w.shape[:2], memory.shape[2], dtype=memory.dtype,
                                     device=memory.device)
        if grad_memory is None:
            grad_memory = torch.zeros_like(memory)
        if need[0]:
            g_mem = torch.addcmul(grad_memory, grad_memory, erased, value=-1.0)
            if read_w.shape[1] == 1:
                g_mem.addcmul_(read_w.transpose(1, 2), grad_reads)
            else:
                g_mem.baddbmm_(read_w.transpose(1, 2), grad_reads)
        if need[1]:
            g_read = torch.bmm(memory, grad_reads.transpose(1, 2)).transpose(1, 2)
        if need[2] or need[3]:
            g_masked = grad_memory * memory
            if need[2]:
                g_write = torch.bmm(grad_memory, add.transpose(1, 2))  # (B, N, 1)
                g_write = g_write.sub_(torch.bmm(g_masked, erase.transpose(1, 2)))
                g_write = g_write.transpose(1, 2)
            if need[3]:
                g_erase = torch.bmm(write_w, g_masked).neg_()
        if need[4]:
            g_add = torch.bmm(write_w, grad_memory)
        return g_mem, g_read, g_write, g_erase, g_add
