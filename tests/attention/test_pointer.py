"""Pointer networks (Vinyals et al. 2015): shapes, masks, decoding, and learning to sort."""

from __future__ import annotations

import itertools

import pytest
import torch

from mneme.attention.attention import masked_softmax
from mneme.attention.pointer import (
    PointerConfig,
    PointerNetwork,
    _log_softmax,
    build_pointer_network,
)
from mneme.errors import UserError
from mneme.models.build import model_entry
from mneme.models.recipes import recipe
from mneme.tasks.sorting import ConvexHullConfig, ConvexHullTask, SortConfig, SortTask
from mneme.train.loop import evaluate


def _net(input_dim=2, *, end=False, seed=0, **kw):
    torch.manual_seed(seed)
    return PointerNetwork(input_dim, 16, end_token=end, init_scale=0.5, **kw)


def _inputs(b=4, n=6, counts=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(b, n, 2, generator=g)
    counts = counts or [n] * b
    mask = torch.arange(n)[None, :] < torch.tensor(counts)[:, None]
    return points * mask[..., None], mask


def test_log_softmax_equals_log_of_masked_softmax():
    scores = torch.randn(3, 4, 5, dtype=torch.float64)
    keep = torch.rand(3, 4, 5) > 0.4
    keep[:, :, 0] = True
    got = _log_softmax(scores, keep).exp()
    assert torch.allclose(got * keep, masked_softmax(scores, keep))
    assert torch.isfinite(_log_softmax(scores, torch.zeros_like(keep))).all()  # no NaN row


def test_teacher_forced_shapes_and_visited_mask():
    net = _net(end=True)
    points, mask = _inputs(b=2, n=5)
    targets = torch.tensor([[0, 3, 1, 5, 0], [2, 4, 0, 1, 5]])  # END = 5
    log_probs = net.teacher_forced(points, mask, targets)
    assert log_probs.shape == (2, 5, 6)
    probs = log_probs.exp()
    assert torch.allclose(probs.sum(-1), torch.ones(2, 5))
    # positions pointed at earlier steps get probability 0; END stays possible
    assert probs[0, 1, 0] == 0 and probs[0, 2, 3] == 0 and probs[0, 2, 0] == 0
    assert probs[1, 4, [2, 4, 0, 1]].sum() == 0 and probs[1, 4, 5] > 0
    unmasked = _net(end=True, mask_visited=False).teacher_forced(points, mask, targets)
    assert unmasked.exp()[0, 1, 0] > 0


def test_padding_points_never_matter():
    """A short example padded to N gives the same distributions as the example alone."""
    net = _net()
    points, mask = _inputs(b=2, n=6, counts=[4, 6])
    targets = torch.tensor([[2, 0, 3, 1, 0, 0], [0, 1, 2, 3, 4, 5]])
    padded = net.teacher_forced(points, mask, targets)
    alone = net.teacher_forced(points[:1, :4], mask[:1, :4], targets[:1, :4])
    assert torch.allclose(padded[0, :4, :4], alone[0], atol=1e-6)
    assert (padded[0, :4, 4:].exp() == 0).all()


def test_greedy_decode_points_to_each_input_once():
    net = _net()
    points, mask = _inputs(b=5, n=6, counts=[3, 6, 4, 5, 6])
    out = net.decode(points, mask)
    assert out.tokens.shape == (5, 6) and out.attention.shape == (5, 6, 6)
    for row, n in zip(out.tokens.tolist(), mask.sum(1).tolist()):
        assert sorted(row[:n]) == list(range(n)) and row[n:] == [-1] * (6 - n)
    assert out.lengths.tolist() == mask.sum(1).tolist()


@pytest.mark.parametrize("beam_width", [1, 3])
def test_hull_decode_ends_with_end_and_never_repeats(beam_width):
    net = _net(end=True)
    points, mask = _inputs(b=8, n=5, counts=[5, 3, 4, 5, 5, 5, 4, 3])
    out = net.decode(points, mask, beam_width=beam_width)
    assert out.tokens.shape[1] <= 6
    for row, length, n in zip(out.tokens.tolist(), out.lengths.tolist(), mask.sum(1).tolist()):
        seq = row[:length]
        assert seq[-1] == 5 and len(set(seq)) == len(seq)  # END = N whatever the row's n
        assert all(0 <= t < n for t in seq[:-1])  # no padding point
        assert all(t == -1 for t in row[length:])


def test_decoding_agrees_with_teacher_forcing_and_ignores_targets():
    """The greedy step distributions equal the teacher-forced ones on the greedy output."""
    net = _net(end=True).eval()
    points, mask = _inputs(b=6, n=5)
    dec = net.decode(points, mask)
    tokens = dec.tokens.clamp(min=0)
    forced = net.teacher_forced(points, mask, tokens).exp()
    steps = torch.arange(tokens.shape[1])[None, :] < dec.lengths[:, None]
    assert torch.allclose(forced[steps], dec.attention[steps], atol=1e-6)
    wrong = {"points": points, "point_mask": mask, "targets": torch.zeros_like(tokens)}
    assert torch.equal(net(wrong).trace.tokens, dec.tokens)


def test_beam_search_finds_the_most_probable_permutation():
    net = _net(input_dim=1, seed=3).eval()
    points = torch.rand(3, 4, 1, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 4, dtype=torch.bool)
    beam = net.decode(points, mask, beam_width=24)  # 4! hypotheses: exhaustive
    greedy = net.decode(points, mask)
    perms = torch.tensor(list(itertools.permutations(range(4))))
    for i in range(3):
        scores = net.teacher_forced(points[i : i + 1].expand(24, -1, -1), mask[:1].expand(24, -1),
                                    perms).gather(-1, perms[..., None]).squeeze(-1).sum(-1)
        best = int(scores.argmax())
        assert beam.tokens[i].tolist() == perms[best].tolist()
        assert float(beam.log_prob[i]) == pytest.approx(float(scores[best].detach()), abs=1e-4)
        assert float(beam.log_prob[i]) >= float(greedy.log_prob[i]) - 1e-5


def test_gradcheck_teacher_forced_in_float64():
    net = _net(end=True).double()
    points, mask = _inputs(b=2, n=3)
    points = points.double().requires_grad_()
    targets = torch.tensor([[1, 0, 3], [2, 3, 0]])

    def target_log_probs(p):  # masked entries sit at -1e308, where finite differences vanish
        return net.teacher_forced(p, mask, targets).gather(-1, targets[..., None])

    assert torch.autograd.gradcheck(target_log_probs, (points,))


def test_registry_builds_model_and_config_validation():
    task = ConvexHullTask(ConvexHullConfig(n=5, train_size=8, valid_size=8, test_size=8))
    entry = model_entry("ptr-net", "convex-hull")
    model = entry.build(PointerConfig(hidden_size=8), task.spec)
    assert model.end is not None and model.embed.in_features == 2
    with pytest.raises(UserError, match=r"^PointerConfig\.hidden_size must be >= 1 \(got 0\)$"):
        PointerConfig(hidden_size=0).validate()
    with pytest.raises(UserError, match=r"^PointerConfig\.beam_width must be >= 1 \(got 0\)$"):
        PointerConfig(beam_width=0).validate()
    with pytest.raises(UserError, match=r"^PointerConfig\.attention_size must be >= 1"):
        PointerConfig(attention_size=0).validate()
    with pytest.raises(UserError, match=r"^PointerConfig\.init_scale must be >= 0 "):
        PointerConfig(init_scale=-0.1).validate()
    PointerConfig(attention_size=None, init_scale=0.0).validate()
    _, train = recipe("convex-hull", "ptr-net", task.config, PointerConfig())
    assert train.batch_size == 128 and train.clip_norm == 2.0


def test_learns_to_sort_five_numbers():
    """Fixed seed: a few hundred Adam steps sort 5 numbers exactly far above chance (1/120)."""
    torch.manual_seed(0)
    task = SortTask(SortConfig(n=5, train_size=10_000, valid_size=500, test_size=1))
    model = build_pointer_network(PointerConfig(hidden_size=32), task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.randperm(10_000, generator=torch.Generator().manual_seed(0))
    model.train()
    for step in range(300):
        batch = task.train_batch(order[(step * 32) % 9_984 :][:32], torch.Generator())
        loss = task.loss(model(batch.inputs), batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
    metrics = evaluate(model, task, "valid", 500)
    assert metrics["error"] < 0.2, metrics
    assert metrics["position_accuracy"] > 0.9, metrics
