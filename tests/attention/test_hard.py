"""Hard attention (Xu et al. 2015, section 4.1): argmax, sampling, REINFORCE, straight-through."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mneme.attention import Attention, HardAttention
from mneme.tasks.reinforce import reinforce_loss

D64 = torch.float64
PAD = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])


class FixedScore(nn.Module):
    """Scores that are a parameter, so tests can read their gradient directly."""

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = nn.Parameter(scores.clone())

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return self.scores


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 3, 4, generator=g, dtype=D64),
            torch.randn(2, 5, 4, generator=g, dtype=D64),
            torch.randn(2, 5, 3, generator=g, dtype=D64))


def test_argmax_picks_the_most_probable_unmasked_key() -> None:
    q, k, v = _data()
    hard = HardAttention("dot", mode="argmax")
    out = hard(q, k, v, PAD)
    soft = Attention("dot")(q, k, v, PAD)[1]
    torch.testing.assert_close(out.soft_weights, soft)
    assert torch.equal(out.index, soft.argmax(-1))
    assert (out.index[0] < 3).all()  # padding is never chosen
    assert torch.equal(out.weights, nn.functional.one_hot(out.index, 5).to(D64))
    for b in range(2):
        for i in range(3):
            torch.testing.assert_close(out.context[b, i], v[b, out.index[b, i]])


def test_sampling_frequencies_match_the_weights() -> None:
    scores = torch.tensor([[[2.0, 0.0, 1.0, -1.0, 5.0]]], dtype=D64).expand(1, 4000, 5)
    mask = torch.tensor([[True, True, True, True, False]])  # the best key is padding
    hard = HardAttention(FixedScore(scores), mode="sample")
    out = hard(torch.zeros(1, 4000, 1, dtype=D64), torch.zeros(1, 5, 1, dtype=D64), mask=mask,
               generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(out.index.flatten(), minlength=5).to(D64) / 4000
    assert freq[4] == 0
    torch.testing.assert_close(freq, out.soft_weights[0, 0], atol=0.025, rtol=0)
    # a fixed generator gives the same draws
    again = hard(torch.zeros(1, 4000, 1, dtype=D64), torch.zeros(1, 5, 1, dtype=D64), mask=mask,
                 generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.index, out.index)


def test_fully_masked_query_chooses_nothing() -> None:
    q, k, v = _data()
    mask = torch.ones(2, 3, 5, dtype=torch.bool)
    mask[1, 1] = False
    for mode in ("argmax", "sample"):
        out = HardAttention("dot", mode=mode)(q, k, v, mask)
        assert out.index[1, 1] == -1 and (out.weights[1, 1] == 0).all()
        assert (out.context[1, 1] == 0).all() and torch.isfinite(out.log_prob).all()


def test_straight_through_gradient_equals_the_soft_gradient() -> None:
    q, k, v = _data()
    q.requires_grad_()
    k.requires_grad_()
    c = torch.randn(2, 3, 3, dtype=D64)  # a linear loss: d loss / d weights is the same in both
    hard = HardAttention("scaled_dot", mode="sample", estimator="straight_through")
    out = hard(q, k, v, PAD, causal=True, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out.context, out.weights.detach() @ v)  # forward: one-hot
    assert set(out.weights.detach().unique().tolist()) == {0.0, 1.0}
    g_hard = torch.autograd.grad((out.context * c).sum(), (q, k))
    soft_ctx = Attention("scaled_dot")(q, k, v, PAD, causal=True)[0]
    g_soft = torch.autograd.grad((soft_ctx * c).sum(), (q, k))
    for a, b in zip(g_hard, g_soft):
        torch.testing.assert_close(a, b)


def test_reinforce_log_prob_and_its_gradient() -> None:
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(2, 3, 5, generator=g, dtype=D64)
    score = FixedScore(scores)
    hard = HardAttention(score, mode="sample", estimator="reinforce")
    out = hard(torch.zeros(2, 3, 1, dtype=D64), torch.zeros(2, 5, 1, dtype=D64), mask=PAD,
               generator=g)
    p = out.soft_weights.detach()
    expect = torch.stack([sum(torch.log(p[b, i, out.index[b, i]]) for i in range(3))
                          for b in range(2)])
    torch.testing.assert_close(out.log_prob, expect)
    entropy = torch.stack([-sum(p[b, i, j] * torch.log(p[b, i, j]) for i in range(3)
                                for j in range(5) if p[b, i, j] > 0) for b in range(2)])
    torch.testing.assert_close(out.entropy, entropy)
    # d log p(s) / d scores = one_hot(s) - p on the kept keys, 0 on the masked ones
    out.log_prob.sum().backward()
    one_hot = nn.functional.one_hot(out.index, 5).to(D64)
    torch.testing.assert_close(score.scores.grad, (one_hot - p) * PAD[:, None, :])
    # the choice itself carries no gradient under REINFORCE
    assert not out.weights.requires_grad


def test_reinforce_learns_to_attend_to_the_rewarded_key() -> None:
    """A bandit: the cost is 0 when the query attends to key 3, else 1."""
    torch.manual_seed(0)
    keys = torch.randn(1, 6, 8)
    query = nn.Parameter(torch.zeros(1, 1, 8))
    baseline = nn.Parameter(torch.zeros(1))
    hard = HardAttention("dot", mode="sample")
    opt = torch.optim.Adam([query, baseline], lr=0.05)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        out = hard(query.expand(32, 1, 8), keys.expand(32, 6, 8), generator=g)
        cost = (out.index[:, 0] != 3).to(torch.float32)
        loss = reinforce_loss(cost, out.log_prob, baseline.expand(32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    hard.mode = "argmax"
    final = hard(query, keys)
    assert final.index.item() == 3
    assert final.soft_weights[0, 0, 3] > 0.9


def test_hard_attention_errors() -> None:
    with pytest.raises(ValueError, match="mode"):
        HardAttention("dot", mode="top2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="estimator"):
        HardAttention("dot", estimator="gumbel")  # type: ignore[arg-type]
