"""Decoding strategies: greedy, sampling, beam search, and the state plumbing.

The toy models are step functions over a table of log-probabilities indexed by the whole prefix
(the state is the prefix, ``(B, t)``), so every sequence's probability can be enumerated
exhaustively and compared with what the search returns.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
import torch
from torch import Tensor

from mneme.decoding import (
    beam_search,
    greedy,
    length_penalty_factor,
    reorder_state,
    sample,
    truncate_top_k,
)
from mneme.errors import UserError
from mneme.models.lm import LMConfig, NGramConfig, NGramLM, RNNLanguageModel


class PrefixModel:
    """log P(next | prefix) from a seeded table keyed by the prefix (start token included)."""

    def __init__(self, vocab: int, seed: int, sharpness: float = 2.0) -> None:
        self.vocab, self.seed, self.sharpness = vocab, seed, sharpness
        self.calls = 0

    def log_probs(self, prefix: tuple[int, ...]) -> Tensor:
        key = hash((self.seed, prefix)) % (2**31)
        logits = torch.randn(self.vocab, generator=torch.Generator().manual_seed(key))
        return torch.log_softmax(self.sharpness * logits.double(), -1)

    def step(self, tokens: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        self.calls += 1
        prefix = tokens[:, None] if state is None else torch.cat([state, tokens[:, None]], 1)
        rows = [self.log_probs(tuple(p.tolist())) for p in prefix]
        return torch.stack(rows), prefix


class TableModel:
    """A Markov model: log P(next | previous token) from a fixed transition table ``(V, V)``."""

    def __init__(self, probs: list[list[float]]) -> None:
        self.table = torch.tensor(probs, dtype=torch.float64).log()

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self.table[tokens], state


def enumerate_hypotheses(model: PrefixModel, start: int, max_length: int, eos: int | None,
                         alpha: float, norm: str) -> list[tuple[float, list[int]]]:
    """Every sequence a search can return, with its normalised score, best first."""
    out = []
    for length in range(1, max_length + 1):
        for seq in itertools.product(range(model.vocab), repeat=length):
            if eos is not None and eos in seq[:-1]:
                continue
            if length < max_length and (eos is None or seq[-1] != eos):
                continue
            prefix, raw = (start,), 0.0
            for tok in seq:
                raw += float(model.log_probs(prefix)[tok])
                prefix += (tok,)
            out.append((raw / length_penalty_factor(length, alpha, norm), list(seq)))  # type: ignore[arg-type]
    return sorted(out, key=lambda x: -x[0])


# ---------------------------------------------------------------- greedy and sampling


def test_greedy_follows_the_argmax_and_stops_at_eos() -> None:
    # token 2 is eos; argmax from 0 is 1, from 1 is eos, from 2 is 0
    model = TableModel([[0.2, 0.7, 0.1], [0.3, 0.1, 0.6], [0.5, 0.4, 0.1]])
    out = greedy(model.step, None, torch.tensor([0, 2]), max_length=5, eos=2)
    assert out.tokens.tolist() == [[1, 2, 2], [0, 1, 2]]  # row 0 padded with eos after its end
    assert out.lengths.tolist() == [2, 3] and out.sequence(0) == [1, 2]
    assert math.isclose(float(out.scores[0]), math.log(0.7 * 0.6))  # padding adds nothing
    assert math.isclose(float(out.scores[1]), math.log(0.5 * 0.7 * 0.6))
    cut = greedy(model.step, None, torch.tensor([0, 2]), max_length=2, eos=2)
    assert cut.tokens.tolist() == [[1, 2], [0, 1]] and cut.lengths.tolist() == [2, 2]
    no_eos = greedy(model.step, None, torch.tensor([0]), max_length=4)
    assert no_eos.tokens.tolist() == [[1, 2, 0, 1]] and no_eos.lengths.tolist() == [4]


def test_greedy_stops_calling_once_every_row_ended() -> None:
    model = PrefixModel(4, seed=3)
    out = greedy(model.step, None, torch.tensor([0, 1, 2]), max_length=50, eos=3)
    assert model.calls == out.tokens.shape[1] == int(out.lengths.max())
    assert model.calls < 50  # some row would otherwise run on; every row emitted eos


def test_sampling_top_k_1_and_cold_temperature_equal_greedy() -> None:
    model = PrefixModel(6, seed=0)
    start = torch.arange(6)
    best = greedy(model.step, None, start, 8, eos=5)
    gen = torch.Generator().manual_seed(0)
    for kwargs in ({"top_k": 1}, {"temperature": 0.0}, {"temperature": 1e-4}):
        out = sample(model.step, None, start, 8, eos=5, generator=gen, **kwargs)
        assert torch.equal(out.tokens, best.tokens) and torch.equal(out.lengths, best.lengths)
        torch.testing.assert_close(out.scores, best.scores)


def test_sampling_draws_from_the_tempered_top_k_distribution() -> None:
    model = TableModel([[0.5, 0.3, 0.15, 0.05]] * 4)
    start = torch.zeros(20_000, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    out = sample(model.step, None, start, 1, generator=gen)
    freq = torch.bincount(out.tokens[:, 0], minlength=4).double() / start.numel()
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.3, 0.15, 0.05]).double(), atol=0.015,
                               rtol=0)
    out = sample(model.step, None, start, 1, temperature=0.5, top_k=2, generator=gen)
    freq = torch.bincount(out.tokens[:, 0], minlength=4).double() / start.numel()
    # temperature 0.5 squares the probabilities: 0.25 : 0.09, renormalised over the top 2
    torch.testing.assert_close(freq, torch.tensor([0.25 / 0.34, 0.09 / 0.34, 0, 0]).double(),
                               atol=0.015, rtol=0)
    again = sample(model.step, None, start[:50], 3, generator=torch.Generator().manual_seed(0))
    same = sample(model.step, None, start[:50], 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.tokens, same.tokens)


def test_truncate_top_k_and_argument_errors() -> None:
    lp = torch.tensor([[0.0, -1.0, -3.0, -2.0]])
    assert truncate_top_k(lp, 2).isinf().tolist() == [[False, False, True, True]]
    assert torch.equal(truncate_top_k(lp, 0), lp) and torch.equal(truncate_top_k(lp, None), lp)
    model = TableModel([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(UserError, match="temperature"):
        sample(model.step, None, torch.tensor([0]), 3, temperature=-1.0)
    with pytest.raises(UserError, match="top_k"):
        sample(model.step, None, torch.tensor([0]), 3, top_k=-1)
    with pytest.raises(UserError, match="max_length"):
        greedy(model.step, None, torch.tensor([0]), 0)
    with pytest.raises(UserError, match=r"shape \(B,\)"):
        greedy(model.step, None, torch.tensor([[0]]), 2)
    with pytest.raises(UserError, match="beam_width"):
        beam_search(model.step, None, torch.tensor([0]), 2, beam_width=0)
    with pytest.raises(UserError, match="n_best"):
        beam_search(model.step, None, torch.tensor([0]), 2, beam_width=2, n_best=3)
    with pytest.raises(UserError, match="length_penalty"):
        beam_search(model.step, None, torch.tensor([0]), 2, beam_width=2, length_penalty=-1)


# ---------------------------------------------------------------- beam search


def test_beam_finds_what_greedy_misses() -> None:
    """Step 1 from the start: P(0) 0.4, P(1) 0.6. Step 2: after 0 eos has 0.99, after 1 the
    distribution is flat. Greedy takes 1 (0.6 * 0.3334 = 0.20); the best is 0, eos (0.396)."""

    def step(tokens: Tensor, t: int | None) -> tuple[Tensor, int]:
        if t is None:
            rows = [[0.4, 0.6, 1e-9]] * tokens.shape[0]
        else:
            rows = [[0.005, 0.005, 0.99] if tok == 0 else [0.3333, 0.3333, 0.3334]
                    for tok in tokens.tolist()]
        return torch.tensor(rows, dtype=torch.float64).log(), 1

    assert greedy(step, None, torch.tensor([0]), 2, eos=2).sequence(0) == [1, 2]
    beam = beam_search(step, None, torch.tensor([0]), 2, beam_width=2, eos=2,
                       reorder_state=lambda s, i: s)
    assert beam.sequence(0) == [0, 2]
    assert math.isclose(float(beam.log_probs[0, 0]), math.log(0.4 * 0.99), rel_tol=1e-9)
    assert bool(beam.finished[0, 0])


@pytest.mark.parametrize(("alpha", "norm"), [(0.0, "gnmt"), (0.6, "gnmt"), (1.0, "power")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_equals_exhaustive_search(seed: int, alpha: float, norm: str) -> None:
    model = PrefixModel(3, seed=seed, sharpness=1.5)
    width, n_best, length = 9, 9, 3  # width >= V^L: nothing is pruned
    expected = enumerate_hypotheses(model, 1, length, eos=2, alpha=alpha, norm=norm)
    out = beam_search(model.step, None, torch.tensor([1]), length, beam_width=width, eos=2,
                      length_penalty=alpha, length_norm=norm, n_best=n_best)  # type: ignore[arg-type]
    got = [(float(out.scores[0, r]), out.sequence(0, r)) for r in range(n_best)]
    assert [g[1] for g in got] == [e[1] for e in expected[:n_best]]
    for (score, _), (want, _) in zip(got, expected, strict=False):
        assert math.isclose(score, want, rel_tol=1e-9)
    assert out.finished[0].tolist() == [seq[-1] == 2 for _, seq in got]


def test_beam_without_eos_returns_full_length_sequences() -> None:
    model = PrefixModel(3, seed=5)
    expected = enumerate_hypotheses(model, 0, 3, eos=None, alpha=0.0, norm="gnmt")
    out = beam_search(model.step, None, torch.tensor([0]), 3, beam_width=27, n_best=4)
    assert [out.sequence(0, r) for r in range(4)] == [e[1] for e in expected[:4]]
    assert out.lengths.tolist() == [[3, 3, 3, 3]] and not bool(out.finished.any())


def test_length_penalty_prefers_longer_hypotheses() -> None:
    assert math.isclose(length_penalty_factor(3, 0.6), (8 / 6) ** 0.6)
    assert length_penalty_factor(7, 0.0) == 1.0 and length_penalty_factor(4, 1.0, "power") == 4
    # eos has 0.5 from the start token; afterwards eos is unlikely but other tokens near certain
    class Model:
        def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
            first = state is None
            row = [0.45, 0.05, 0.5] if first else [0.98, 0.01, 0.01]
            return torch.tensor([row] * tokens.shape[0], dtype=torch.float64).log(), 1

    plain = beam_search(Model().step, None, torch.tensor([1]), 4, beam_width=3, eos=2,
                        reorder_state=lambda s, i: s)
    assert plain.sequence(0) == [2]  # log 0.5 beats log(0.45 * 0.98^2 * 0.01)
    avg = beam_search(Model().step, None, torch.tensor([1]), 4, beam_width=3, eos=2,
                      length_penalty=1.0, length_norm="power", reorder_state=lambda s, i: s)
    assert avg.sequence(0) == [0, 0, 0, 0]  # mean log-prob -0.22 beats -0.69 per token
    assert not bool(avg.finished[0, 0])


def test_beam_width_1_equals_greedy_and_batch_rows_are_independent() -> None:
    for seed in range(4):
        model = PrefixModel(5, seed=seed)
        start = torch.tensor([0, 1, 2, 3])
        g = greedy(model.step, None, start, 6, eos=4)
        b = beam_search(model.step, None, start, 6, beam_width=1, eos=4)
        assert torch.equal(b.best.lengths, g.lengths)
        for r in range(4):
            assert b.sequence(r) == g.sequence(r)
        torch.testing.assert_close(b.best.scores, g.scores)
        wide = beam_search(model.step, None, start, 6, beam_width=3, eos=4, length_penalty=0.6)
        for r in range(4):
            alone = beam_search(model.step, None, start[r : r + 1], 6, beam_width=3, eos=4,
                                length_penalty=0.6)
            assert wide.sequence(r) == alone.sequence(0)
            assert math.isclose(float(wide.scores[r, 0]), float(alone.scores[0, 0]))


@pytest.mark.parametrize("kind", ["lstm", "ngram"])
def test_beam_search_on_language_models(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "lstm":
        model: Any = RNNLanguageModel(LMConfig(hidden_size=8, init_scale=1.0), 7).eval()
    else:
        model = NGramLM(NGramConfig(order=3, hidden_size=8, init_scale=1.0), 7, pad_id=6).eval()
    start = torch.tensor([0, 3])
    _, warm = model.step(torch.tensor([5, 1]), None)  # a state from a "prompt"
    g = greedy(model.step, warm, start, 5, eos=6)
    b = beam_search(model.step, warm, start, 5, beam_width=1, eos=6,
                    reorder_state=model.reorder_state)
    for r in range(2):
        assert b.sequence(r) == g.sequence(r)
    wide = beam_search(model.step, warm, start, 5, beam_width=4, eos=6,
                       reorder_state=model.reorder_state)
    second = beam_search(model.step, model.reorder_state(warm, torch.tensor([1])), start[1:], 5,
                         beam_width=4, eos=6, reorder_state=model.reorder_state)
    assert wide.sequence(1) == second.sequence(0)


# ---------------------------------------------------------------- state plumbing


class Pair(NamedTuple):
    a: Tensor
    b: Tensor


@dataclass(frozen=True)
class Frozen:
    h: Tensor
    meta: int
    nested: tuple[Tensor, ...]


def test_reorder_state_handles_nested_structures() -> None:
    x = torch.arange(6).view(3, 2)
    index = torch.tensor([2, 0, 2])
    state = {"pair": Pair(x, x * 10), "frozen": Frozen(x + 1, 7, (x, x)), "none": None}
    out = reorder_state(state, index)
    assert isinstance(out["pair"], Pair) and isinstance(out["frozen"], Frozen)
    assert torch.equal(out["pair"].b, (x * 10)[index]) and out["frozen"].meta == 7
    assert torch.equal(out["frozen"].nested[1], x[index]) and out["none"] is None
    lbh = torch.arange(24).view(2, 3, 4)  # (L, B, H)
    (picked,) = reorder_state((lbh,), torch.tensor([1]), batch_dim=1)
    assert torch.equal(picked, lbh[:, 1:2])
    assert reorder_state(None, index) is None
