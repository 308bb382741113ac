"""A fixed-seed learning test: recall the first symbol after a delay of 20 noisy steps."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mneme.cells import build_stack

SYMBOLS, DELAY, HIDDEN = 4, 20, 16


def _batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot symbols: the one to recall, DELAY distractors from the same alphabet, then a
    recall marker (feature SYMBOLS); the target is the first symbol."""
    first = torch.randint(0, SYMBOLS, (n,), generator=gen)
    seq = torch.cat([first[:, None], torch.randint(0, SYMBOLS, (n, DELAY), generator=gen)], 1)
    x = F.one_hot(seq, SYMBOLS + 1).float()
    marker = F.one_hot(torch.full((n, 1), SYMBOLS), SYMBOLS + 1).float()
    return torch.cat([x, marker], 1), first


def _train(cell: str, steps: int) -> float:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    core = build_stack(cell, SYMBOLS + 1, HIDDEN)
    head = torch.nn.Linear(HIDDEN, SYMBOLS)
    opt = torch.optim.Adam([*core.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(steps):
        x, y = _batch(32, gen)
        loss = F.cross_entropy(head(core(x)[0][:, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = _batch(500, torch.Generator().manual_seed(2))
    with torch.no_grad():
        return (head(core(x)[0][:, -1]).argmax(1) == y).float().mean().item()


def test_layer_normalised_lstm_recalls_where_a_tanh_rnn_does_not():
    """With the same size and budget (150 Adam steps of 32 sequences), the layer-normalised
    LSTM (Ba et al. 2016) learns to carry the symbol over 20 distractors; a tanh RNN stays at
    chance (1/4): the task needs the gated memory. (At this budget the plain and peephole LSTMs
    also stay at chance with this seed; layer norm keeps the gates out of saturation.)"""
    assert _train("ln-lstm", 150) > 0.95
    assert _train("rnn", 150) < 0.5
