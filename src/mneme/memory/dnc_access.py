"""The Differentiable Neural Computer's memory access, one function per equation (Graves et al.
2016, Nature 538:471, "Methods": "Memory addressing").

Content lookup is the NTM's (``mneme.memory.addressing.content_weighting``: cosine similarity with
an epsilon floor, softmax over slots). The rest, for read heads i = 1..R and write heads h::

    psi = prod_i (1 - f^i w^{r,i}_{t-1})                       retention vector
    u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} o w^w_{t-1}) o psi    usage
    phi = indices of u_t sorted ascending                       free list
    a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i]               allocation weighting
    w^w = g^w (g^a a + (1 - g^a) c^w)                           write weighting
    M_t = M_{t-1} o (E - w^w e^T) + w^w v^T                     erase then add
    p_t = (1 - sum_i w^w[i]) p_{t-1} + w^w                      precedence
    L_t[i, j] = (1 - w^w[i] - w^w[j]) L_{t-1}[i, j] + w^w[i] p_{t-1}[j],  L_t[i, i] = 0
    f^i = L_t w^{r,i}_{t-1},   b^i = L_t^T w^{r,i}_{t-1}        forward, backward weightings
    w^{r,i} = pi^i[1] b^i + pi^i[2] c^{r,i} + pi^i[3] f^i       read weighting (read modes)

Several write heads (DeepMind's released ``dnc``, ``addressing.py``; the paper has one): each
has its own link matrix and precedence, the heads allocate in turn (each one's allocation sees
the usage raised by the previous ones' gated allocations), and a read head has 1 + 2 Rw read
modes, ordered ``[backward per write head, content, forward per write head]`` (the paper's
``[b, c, f]`` when Rw = 1).

Numerical safety by construction: the cosine's norm product has an epsilon floor; usage is
clamped to [0, 1]; the allocation sorts ``eps + (1 - eps) u`` (DeepMind's eps = 1e-6), so the
cumulative product never multiplies by exactly 0 or 1 (a slot at usage 1 still yields a finite,
tiny allocation, and ties sort stably: the lowest index first); the link matrix's diagonal is
zeroed. As in DeepMind's code, usage is by default not differentiated through the previous write
weighting (it is detached): the allocation jumps where two usages cross in the sort, so that
gradient says little; ``differentiable=True`` keeps it (the equations as written).

Legend: B batch, N memory slots, W word size, R read heads, Rw write heads.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "ALLOCATION_EPS",
    "allocation_weighting",
    "directional_weightings",
    "read_weighting",
    "retention",
    "update_link",
    "update_precedence",
    "update_usage",
    "write_allocations",
    "write_weighting",
]

ALLOCATION_EPS = 1e-6
"""Usage is mapped to ``eps + (1 - eps) u`` before sorting (DeepMind's ``_EPSILON``)."""


def retention(free_gate: Tensor, prev_read_weightings: Tensor) -> Tensor:
    """psi = prod_i (1 - f^i w^{r,i}_{t-1}): how much of each slot the read heads keep.

    Args:
        free_gate: f ``(B, R)`` in [0, 1].
        prev_read_weightings: ``(B, R, N)``.

    Returns:
        ``(B, N)`` in [0, 1].
    """
    return torch.prod(1.0 - free_gate.unsqueeze(-1) * prev_read_weightings, dim=1)


def update_usage(prev_usage: Tensor, prev_write_weightings: Tensor, retention_vector: Tensor,
                 *, differentiable: bool = False) -> Tensor:
    """u_t = (u_{t-1} + w - u_{t-1} o w) o psi, w the union of the write heads' last weightings.

    ``w = 1 - prod_h (1 - w^w_h)`` (one head: its weighting).

    Args:
        prev_usage: u_{t-1} ``(B, N)``.
        prev_write_weightings: ``(B, Rw, N)``.
        retention_vector: psi ``(B, N)``.
        differentiable: differentiate through ``prev_write_weightings`` (the equations as
            written); False detaches them, as DeepMind's code does.

    Returns:
        ``(B, N)`` clamped to [0, 1].
    """
    written = prev_write_weightings if differentiable else prev_write_weightings.detach()
    written = written[:, 0] if written.shape[1] == 1 else 1.0 - torch.prod(1.0 - written, 1)
    usage = (prev_usage + written - prev_usage * written) * retention_vector
    return usage.clamp(0.0, 1.0)


def allocation_weighting(usage: Tensor, eps: float = ALLOCATION_EPS) -> Tensor:
    """a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i], phi the slots by ascending usage.

    One batched ``torch.sort`` (stable: ties go to the lower index), an exclusive ``cumprod``
    and a ``scatter`` back to slot order; the gradient flows through the sorted values (the
    order is piecewise constant).

    Args:
        usage: u ``(..., N)`` in [0, 1].
        eps: usage becomes ``eps + (1 - eps) u`` first.

    Returns:
        ``(..., N)``, non-negative, summing to at most 1 (1 - prod u).
    """
    usage = eps + (1.0 - eps) * usage
    sorted_usage, free_list = torch.sort(usage, dim=-1, stable=True)
    ones = torch.ones_like(sorted_usage[..., :1])
    before = torch.cumprod(torch.cat([ones, sorted_usage[..., :-1]], -1), -1)  # exclusive
    return torch.zeros_like(usage).scatter(-1, free_list, (1.0 - sorted_usage) * before)


def write_allocations(usage: Tensor, write_gate: Tensor, allocation_gate: Tensor) -> Tensor:
    """Every write head's allocation weighting ``(B, Rw, N)``, heads in turn.

    Head h allocates from the usage raised by heads < h: ``u += (1 - u) g^w g^a a`` (DeepMind).

    Args:
        usage: u_t ``(B, N)``.
        write_gate: g^w ``(B, Rw)``.
        allocation_gate: g^a ``(B, Rw)``.
    """
    allocations = []
    for h in range(write_gate.shape[1]):
        a = allocation_weighting(usage)
        allocations.append(a)
        if h + 1 < write_gate.shape[1]:
            gate = (write_gate[:, h] * allocation_gate[:, h]).unsqueeze(-1)
            usage = usage + (1.0 - usage) * gate * a
    return torch.stack(allocations, 1)


def write_weighting(content: Tensor, allocation: Tensor, allocation_gate: Tensor,
                    write_gate: Tensor) -> Tensor:
    """w^w = g^w (g^a a + (1 - g^a) c^w).

    Args:
        content: c^w ``(B, Rw, N)``.
        allocation: a ``(B, Rw, N)``.
        allocation_gate: g^a ``(B, Rw)`` in [0, 1].
        write_gate: g^w ``(B, Rw)`` in [0, 1].

    Returns:
        ``(B, Rw, N)``, each row summing to at most 1.
    """
    mixed = torch.lerp(content, allocation, allocation_gate.unsqueeze(-1))
    return write_gate.unsqueeze(-1) * mixed


def update_precedence(prev_precedence: Tensor, write_weightings: Tensor) -> Tensor:
    """p_t = (1 - sum_i w^w[i]) p_{t-1} + w^w: ``(B, Rw, N)``, ``(B, Rw, N)`` -> ``(B, Rw, N)``."""
    kept = 1.0 - write_weightings.sum(-1, keepdim=True)
    return torch.addcmul(write_weightings, kept, prev_precedence)


def update_link(prev_link: Tensor, prev_precedence: Tensor, write_weightings: Tensor) -> Tensor:
    """L_t[i, j] = (1 - w[i] - w[j]) L_{t-1}[i, j] + w[i] p_{t-1}[j], diagonal 0.

    Args:
        prev_link: L_{t-1} ``(B, Rw, N, N)``.
        prev_precedence: p_{t-1} ``(B, Rw, N)``.
        write_weightings: w^w ``(B, Rw, N)``.

    Returns:
        ``(B, Rw, N, N)``, entries in [0, 1]; row i says which slot was written just before i.
    """
    w_i, w_j = write_weightings.unsqueeze(-1), write_weightings.unsqueeze(-2)
    link = (1.0 - w_i - w_j) * prev_link + w_i * prev_precedence.unsqueeze(-2)
    n = link.shape[-1]
    return link * (1.0 - torch.eye(n, dtype=link.dtype, device=link.device))


def directional_weightings(link: Tensor, prev_read_weightings: Tensor) -> tuple[Tensor, Tensor]:
    """f = L w^r_{t-1} and b = L^T w^r_{t-1} for every read head against every write head's L.

    Args:
        link: ``(B, Rw, N, N)``.
        prev_read_weightings: ``(B, R, N)``.

    Returns:
        forward and backward, each ``(B, R, Rw, N)``.
    """
    w = prev_read_weightings.unsqueeze(1)  # (B, 1, R, N)
    forward = torch.matmul(w, link.transpose(-1, -2))  # sum_j L[i, j] w[j], (B, Rw, R, N)
    backward = torch.matmul(w, link)  # sum_j L[j, i] w[j]
    return forward.transpose(1, 2), backward.transpose(1, 2)


def read_weighting(read_modes: Tensor, backward: Tensor, content: Tensor, forward: Tensor
                   ) -> Tensor:
    """w^r = sum over modes: ``pi[:Rw] . b + pi[Rw] c + pi[Rw+1:] . f``.

    Args:
        read_modes: pi ``(B, R, 1 + 2 Rw)``, a distribution (softmax) per read head.
        backward: b ``(B, R, Rw, N)``.
        forward: f ``(B, R, Rw, N)``.
        content: c^r ``(B, R, N)``.

    Returns:
        ``(B, R, N)``.
    """
    rw = backward.shape[2]
    back, cont, fwd = read_modes.split([rw, 1, rw], -1)
    out = cont * content
    out = out + torch.matmul(back.unsqueeze(-2), backward).squeeze(-2)
    return out + torch.matmul(fwd.unsqueeze(-2), forward).squeeze(-2)
