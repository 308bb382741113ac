"""The sequence generators of the NTM paper's tasks: one function per task draws a padded batch.

Each returns a ``Batch`` whose ``meta["steps"]`` holds every sequence's own length; the layouts
are in the functions' docstrings and summarised in ``mneme.tasks.algorithmic``, which holds the
tasks and re-exports these names.

Legend: B batch, T time steps, W vector width, L sequence length, R repeats, K items, N inputs,
M outputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mneme.types import Batch

__all__ = [
    "associative_recall_batch",
    "copy_batch",
    "priority_sort_batch",
    "repeat_copy_batch",
    "repeat_normalisation",
]


def _take(x: Tensor, index: Tensor) -> Tensor:
    """``x`` ``(B, N, W)`` rows picked by ``index`` ``(B, T)`` or ``(1, T)`` -> ``(B, T, W)``."""
    return x.gather(1, index.expand(x.shape[0], -1).unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _bits(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, shape, generator=generator).to(torch.float32)


def copy_batch(lengths: Tensor, width: int, generator: torch.Generator) -> Batch:
    """Copy sequences of the given ``lengths`` ``(B,)``.

    Layout of a length-L sequence, T = 2L + 1 steps: steps 0..L-1 carry the vectors on channels
    0..W-1, step L the delimiter on channel W, steps L+1..2L no input and the targets (the
    vectors again, mask True).

    Returns:
        ``Batch(inputs (B, T, W + 1), targets (B, T, W), mask (B, T))``, T = 2 max(L) + 1;
        ``meta["steps"]`` ``(B,)`` each sequence's own T.
    """
    b, lmax = lengths.numel(), int(lengths.max())
    bits = _bits((b, lmax, width), generator)
    t = torch.arange(2 * lmax + 1)[None, :]
    length = lengths[:, None]
    inputs = torch.zeros(b, t.shape[1], width + 1)
    inputs[..., :width] = _take(bits, t.clamp(max=lmax - 1)) * (t < length)[..., None]
    inputs[..., width] = (t == length).float()
    mask = (t > length) & (t <= 2 * length)
    targets = _take(bits, (t - length - 1).clamp(0, lmax - 1)) * mask[..., None]
    return Batch(inputs, targets, mask, {"steps": 2 * lengths + 1})


def repeat_normalisation(min_repeats: int, max_repeats: int) -> tuple[float, float]:
    """Mean and standard deviation of R ~ U{min_repeats..max_repeats}; std 1 when constant."""
    n = max_repeats - min_repeats + 1
    mean = (min_repeats + max_repeats) / 2
    std = math.sqrt((n * n - 1) / 12)
    return mean, std if std > 0 else 1.0


def repeat_copy_batch(lengths: Tensor, repeats: Tensor, width: int, mean: float, std: float,
                      generator: torch.Generator) -> Batch:
    """Repeat-copy sequences of ``lengths`` ``(B,)`` and ``repeats`` ``(B,)``.

    Layout, T = L + 2 + R L + 1: steps 0..L-1 the vectors (channels 0..W-1), step L the delimiter
    (channel W), step L+1 the normalised count ``(R - mean) / std`` (channel W+1), then no input
    while the targets are R copies of the sequence (channels 0..W-1, end marker 0) followed by one
    step with the end marker (output channel W) and zero bits. All output steps are masked in.

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W + 1), mask (B, T))``, ``meta["steps"]``.
    """
    b, lmax = lengths.numel(), int(lengths.max())
    bits = _bits((b, lmax, width), generator)
    steps = lengths * (repeats + 1) + 3
    t = torch.arange(int(steps.max()))[None, :]
    length, start = lengths[:, None], lengths[:, None] + 2
    end = start + repeats[:, None] * length  # the end-marker step
    inputs = torch.zeros(b, t.shape[1], width + 2)
    inputs[..., :width] = _take(bits, t.clamp(max=lmax - 1)) * (t < length)[..., None]
    inputs[..., width] = (t == length).float()
    count = ((repeats[:, None] - mean) / std).float().expand(b, t.shape[1])
    inputs[..., width + 1] = torch.where(t == length + 1, count, torch.zeros(()))
    copying = (t >= start) & (t < end)
    targets = torch.zeros(b, t.shape[1], width + 1)
    index = (t - start).clamp(min=0) % length
    targets[..., :width] = _take(bits, index) * copying[..., None]
    targets[..., width] = (t == end).float()
    mask = (t >= start) & (t <= end)
    return Batch(inputs, targets, mask, {"steps": steps, "repeats": repeats})


def associative_recall_batch(num_items: Tensor, item_length: int, width: int,
                             generator: torch.Generator) -> Batch:
    """Associative-recall sequences with ``num_items`` ``(B,)`` items each.

    Layout with n = ``item_length``, T = K (n + 1) + 2n + 2: each item is an item delimiter
    (channel W) then n vectors (channels 0..W-1); then a query delimiter (channel W+1), the query
    item (one of items 1..K-1, uniformly), a second query delimiter (the item is "bounded on the
    left and right by delimiter symbols", section 4.3), and n steps without input whose targets
    are the item that followed the query. Items are not forced distinct (a repeat of the query
    among 2^(nW) = 2^18 items is rare enough to ignore).

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W), mask (B, T))``; ``meta["steps"]``,
        ``meta["query"]`` ``(B,)`` the 0-based index of the query item.
    """
    b, kmax, n = num_items.numel(), int(num_items.max()), item_length
    items = _bits((b, kmax * n, width), generator)  # item k is rows k*n .. k*n + n - 1
    query = (torch.rand(b, generator=generator) * (num_items - 1)).long()
    span = n + 1
    steps = num_items * span + 2 * n + 2
    t = torch.arange(int(steps.max()))[None, :]
    k = num_items[:, None]
    in_items = t < k * span
    offset = t % span
    inputs = torch.zeros(b, t.shape[1], width + 2)
    inputs[..., width] = (in_items & (offset == 0)).float()
    item_row = ((t // span) * n + offset - 1).clamp(0, kmax * n - 1)
    inputs[..., :width] = _take(items, item_row) * (in_items & (offset > 0))[..., None]
    rel = t - k * span  # 0: query delimiter, 1..n: query, n+1: delimiter, n+2..2n+1: answer
    inputs[..., width + 1] = ((rel == 0) | (rel == n + 1)).float()
    q = query[:, None]
    shown = (rel >= 1) & (rel <= n)
    inputs[..., :width] += _take(items, (q * n + rel - 1).clamp(0, kmax * n - 1)) * shown[..., None]
    mask = (rel >= n + 2) & (rel <= 2 * n + 1)
    answer_row = ((q + 1) * n + rel - n - 2).clamp(0, kmax * n - 1)
    targets = _take(items, answer_row) * mask[..., None]
    return Batch(inputs, targets, mask, {"steps": steps, "query": query})


def priority_sort_batch(batch_size: int, num_inputs: int, num_outputs: int, width: int,
                        generator: torch.Generator) -> Batch:
    """Priority-sort sequences.

    Layout, T = N + 1 + M: steps 0..N-1 a vector (channels 0..W-1) and its priority ``U[-1, 1]``
    (channel W), step N a delimiter (channel W+1), then M steps without input whose targets are
    the M highest-priority vectors in descending order of priority.

    Returns:
        ``Batch(inputs (B, T, W + 2), targets (B, T, W), mask (B, T))``; ``meta["steps"]``,
        ``meta["order"]`` ``(B, M)`` the input index of each output step's vector.
    """
    b, n, m = batch_size, num_inputs, num_outputs
    vectors = _bits((b, n, width), generator)
    priority = torch.rand(b, n, generator=generator) * 2 - 1
    inputs = torch.zeros(b, n + 1 + m, width + 2)
    inputs[:, :n, :width] = vectors
    inputs[:, :n, width] = priority
    inputs[:, n, width + 1] = 1.0
    order = priority.argsort(dim=1, descending=True)[:, :m]
    targets = torch.zeros(b, n + 1 + m, width)
    targets[:, n + 1 :] = _take(vectors, order)
    mask = torch.zeros(b, n + 1 + m, dtype=torch.bool)
    mask[:, n + 1 :] = True
    return Batch(inputs, targets, mask, {"steps": torch.full((b,), n + 1 + m), "order": order})
