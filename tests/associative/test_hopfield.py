"""Classical Hopfield networks: storage rules by hand, energy descent, fixed points, cycles."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mneme.associative.hopfield import (
    MIXTURE,
    PATTERN,
    REVERSED,
    async_sweep_reference,
    classify_states,
    count_spurious,
    energy,
    flip_noise,
    hebbian,
    is_fixed_point,
    local_field,
    mask_cue,
    overlap,
    pseudo_inverse,
    recall,
    storage_weights,
    storkey,
    storkey_prefixes,
)


def random_pm1(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, shape, generator=g) * 2 - 1).to(dtype)


X3 = torch.tensor([[1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])  # two patterns, N = 3


def test_hebbian_by_hand() -> None:
    # W_ij = (1/3)(x1_i x1_j + x2_i x2_j), zero diagonal: W_01 = (1 - 1)/3, W_02 = (-1 + 1)/3,
    # W_12 = (-1 - 1)/3.
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -2 / 3], [0.0, -2 / 3, 0.0]])
    torch.testing.assert_close(hebbian(X3), expected)


def test_storkey_by_hand() -> None:
    # Pattern 1 on W = 0: h = 0, W = (1/3) x1 x1^T off the diagonal.
    # Pattern 2, x = (1, -1, 1), h_ij = sum_{k != i,j} w_ik x_k:
    #   h_01 = w_02 x_2 = -1/3, h_10 = w_12 x_2 = -1/3, h_02 = w_01 x_1 = -1/3,
    #   h_20 = w_21 x_1 = 1/3,  h_12 = w_10 x_0 = 1/3,  h_21 = w_20 x_0 = -1/3.
    #   dw_01 = (1/3)(x0 x1 - x0 h_10 - h_01 x1) = (1/3)(-1 + 1/3 - 1/3) = -1/3 -> w_01 = 0
    #   dw_02 = (1/3)(x0 x2 - x0 h_20 - h_02 x2) = (1/3)(1 - 1/3 + 1/3) = 1/3  -> w_02 = 0
    #   dw_12 = (1/3)(x1 x2 - x1 h_21 - h_12 x2) = (1/3)(-1 - 1/3 - 1/3) = -5/9 -> w_12 = -8/9
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -8 / 9], [0.0, -8 / 9, 0.0]])
    torch.testing.assert_close(storkey(X3), expected)


def storkey_literal(x: torch.Tensor) -> torch.Tensor:
    """Storkey (1997) with the h_ij sums written out, one weight at a time."""
    n = x.shape[1]
    w = torch.zeros(n, n, dtype=torch.float64)
    for xi in x.double():
        h = torch.zeros(n, n, dtype=torch.float64)
        for i in range(n):
            for j in range(n):
                h[i, j] = sum(w[i, k] * xi[k] for k in range(n) if k not in (i, j))
        new = w.clone()
        for i in range(n):
            for j in range(n):
                if i != j:
                    new[i, j] += (xi[i] * xi[j] - xi[i] * h[j, i] - h[i, j] * xi[j]) / n
        w = new
    return w


def test_storkey_matches_the_literal_rule_and_its_prefixes() -> None:
    x = random_pm1(5, 7, seed=3)
    torch.testing.assert_close(storkey(x.double()), storkey_literal(x))
    for count, w in storkey_prefixes(x.double(), [1, 3, 5]):
        torch.testing.assert_close(w, storkey_literal(x[:count]))
    batched = storkey(torch.stack([x, -x.flip(0)]))
    torch.testing.assert_close(batched[1], storkey(-x.flip(0)))


def test_pseudo_inverse_by_hand() -> None:
    # X^T X = [[3, -1], [-1, 3]], inverse (1/8)[[3, 1], [1, 3]]; W_ij = r_i G r_j^T / 8 with
    # rows r = (1, 1), (1, -1), (-1, 1): W = [[1, 0, 0], [0, 1/2, -1/2], [0, -1/2, 1/2]].
    full = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, -0.5], [0.0, -0.5, 0.5]])
    torch.testing.assert_close(pseudo_inverse(X3, zero_diagonal=False), full)
    torch.testing.assert_close(pseudo_inverse(X3), full - torch.diag(torch.diag(full)))
    # a projection: W x = x for correlated patterns too
    x = random_pm1(6, 20, seed=1)
    x[1] = x[0]
    x[1, :5] *= -1
    w = pseudo_inverse(x, zero_diagonal=False)
    torch.testing.assert_close(x @ w, x, atol=1e-4, rtol=0)


@st.composite
def networks(draw):
    n = draw(st.integers(2, 10))
    values = st.floats(-2, 2, allow_nan=False, width=32)
    upper = torch.tensor(draw(st.lists(values, min_size=n * n, max_size=n * n))).reshape(n, n)
    w = torch.triu(upper.double(), 1)
    w = w + w.T
    theta = torch.tensor(draw(st.lists(values, min_size=n, max_size=n))).double()
    states = torch.tensor(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    seed = draw(st.integers(0, 1000))
    return w, theta, states.double(), seed


@settings(max_examples=60, deadline=None)
@given(networks())
def test_energy_never_increases_under_async_updates(net) -> None:
    w, theta, s, seed = net
    g = torch.Generator().manual_seed(seed)
    result = recall(w, s.unsqueeze(0), theta, per_update=True, generator=g, max_sweeps=30)
    e = result.update_energy[0]
    assert (e[1:] - e[:-1] <= 1e-9).all()
    assert bool(result.converged[0])  # a finite descent ends in a fixed point
    torch.testing.assert_close(e[-1], energy(w, result.states, theta)[0])
    assert bool(is_fixed_point(w, result.states, theta)[0])


@settings(max_examples=25, deadline=None)
@given(networks())
@example((  # a field of 1e-22: a tie by the tolerance, in both (hypothesis found it)
    torch.tensor([[0.0, 0.0, 1.0075e-22], [0.0, 0.0, 1.0], [1.0075e-22, 1.0, 0.0]],
                 dtype=torch.float64),
    torch.zeros(3, dtype=torch.float64), torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64), 0))
def test_fast_async_equals_the_literal_sweep(net) -> None:
    w, theta, s, _ = net
    fast = recall(w, s.unsqueeze(0), theta, order="fixed", max_sweeps=1, per_update=True)
    slow, energies = async_sweep_reference(w, s, range(len(s)), theta)
    torch.testing.assert_close(fast.states[0], slow)
    torch.testing.assert_close(fast.update_energy[0, 1:], torch.tensor(energies).double())


@pytest.mark.parametrize("rule", ["hebb", "storkey", "pinv"])
def test_stored_patterns_are_fixed_points_below_capacity(rule: str) -> None:
    n = 200
    p = 5  # load 0.025 < 1/(4 ln 200) = 0.047
    x = random_pm1(p, n, seed=2)
    w = storage_weights(x, rule)
    assert bool(is_fixed_point(w, x).all())
    result = recall(w, x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(result.states, x)
    assert (result.sweeps == 0).all() and bool(result.converged.all())


def test_hebbian_fails_far_above_capacity() -> None:
    x = random_pm1(60, 100, seed=4)  # load 0.6
    assert float(is_fixed_point(hebbian(x), x).float().mean()) < 0.2


def test_recall_from_corrupted_and_partial_cues() -> None:
    x = random_pm1(4, 150, seed=5)
    w = hebbian(x)
    g = torch.Generator().manual_seed(1)
    for cue in (flip_noise(x, 0.2, g), mask_cue(x, 0.4, "zero", g), mask_cue(x, 0.3, "random", g)):
        assert not torch.equal(cue, x)
        result = recall(w, cue, generator=g)
        assert torch.equal(result.states, x)
        assert (result.energy[:, 1:] - result.energy[:, :-1] <= 1e-5).all()
    flipped = flip_noise(x, 0.2, g)
    assert ((flipped != x).sum(-1) == 30).all()
    assert ((mask_cue(x, 0.4, "zero", g) == 0).sum(-1) == 60).all()


def test_synchronous_two_cycle_is_detected() -> None:
    w = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    cues = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    sync = recall(w, cues, update="sync")
    assert sync.cycled.tolist() == [True, False]
    assert sync.converged.tolist() == [False, True]
    assert torch.equal(sync.states[0], torch.tensor([-1.0, 1.0]))  # one step into the cycle
    run = recall(w, cues[:1], update="async", order="fixed")
    assert bool(run.converged[0]) and not bool(run.cycled[0])
    assert torch.equal(run.states[0], torch.tensor([-1.0, -1.0]))


def test_batched_networks_match_one_at_a_time() -> None:
    x = random_pm1(3, 8, 40, seed=6)
    w = hebbian(x)
    cues = flip_noise(x, 0.25, torch.Generator().manual_seed(2))
    together = recall(w, cues, order="fixed")
    for b in range(3):
        alone = recall(w[b], cues[b], order="fixed")
        assert torch.equal(together.states[b], alone.states)
        torch.testing.assert_close(together.energy[b, :, -1], alone.energy[:, -1])
    # the same cues as one flat batch with a network index
    network = torch.arange(3).repeat_interleave(8)
    flat = recall(w, cues.reshape(-1, 40), order="fixed", network=network)
    assert torch.equal(flat.states.reshape(3, 8, 40), together.states)
    sync = recall(w, cues, update="sync")
    sync_flat = recall(w, cues.reshape(-1, 40), update="sync", network=network)
    assert torch.equal(sync_flat.states.reshape(3, 8, 40), sync.states)


def test_float64_is_kept_and_float32_is_default() -> None:
    x = random_pm1(3, 30, seed=7, dtype=torch.int64)
    assert hebbian(x).dtype == torch.float32
    w = hebbian(x.double())
    assert w.dtype == torch.float64
    assert recall(w, x.double()).states.dtype == torch.float64


def test_overlap_and_local_field() -> None:
    x = random_pm1(3, 50, seed=8)
    m = overlap(x, x)
    torch.testing.assert_close(torch.diagonal(m), torch.ones(3))
    torch.testing.assert_close(m, (x @ x.T) / 50)
    torch.testing.assert_close(overlap(-x[:1], x)[0, 0], torch.tensor(-1.0))
    w = hebbian(x)
    theta = torch.linspace(-1, 1, 50)
    torch.testing.assert_close(local_field(w, x, theta), x @ w.T - theta)
    torch.testing.assert_close(
        energy(w, x, theta), -0.5 * ((x @ w) * x).sum(-1) + (x * theta).sum(-1)
    )


def test_spurious_states_reversed_and_mixtures() -> None:
    n = 400
    x = random_pm1(5, n, seed=9)
    w = hebbian(x)
    counts = count_spurious(w, x, generator=torch.Generator().manual_seed(0))
    assert counts.patterns == 5 and counts.reversed_stable == 5  # E(-s) = E(s)
    assert counts.mixtures_tested == math.comb(5, 3)
    assert counts.mixtures_stable >= 8  # at load 5/400 3-mixtures are stable (AGS 1985)
    mixture = torch.sign(x[0] + x[1] - x[2]).unsqueeze(0)
    labels = classify_states(torch.cat([x[:1], -x[1:2], mixture]), x)
    assert labels.tolist() == [PATTERN, REVERSED, MIXTURE]


def test_bad_inputs_raise_value_errors_naming_the_field() -> None:
    x = random_pm1(3, 10)
    with pytest.raises(ValueError, match="patterns"):
        hebbian(x * 0.5)
    with pytest.raises(ValueError, match="patterns"):
        storkey(torch.ones(10))
    w = hebbian(x)
    with pytest.raises(ValueError, match="cues"):
        recall(w, random_pm1(2, 11))
    with pytest.raises(ValueError, match="cues"):
        recall(w, x * 2)
    with pytest.raises(ValueError, match="states"):
        energy(w, x * 2)
    with pytest.raises(ValueError, match="symmetric"):
        recall(w + torch.triu(torch.ones(10, 10), 1), x)
    with pytest.raises(ValueError, match="theta"):
        recall(w, x, torch.zeros(9))
    with pytest.raises(ValueError, match="update"):
        recall(w, x, update="parallel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rule"):
        storage_weights(x, "oja")
    with pytest.raises(ValueError, match="networks"):
        recall(hebbian(random_pm1(2, 3, 10)), random_pm1(3, 10))
    with pytest.raises(ValueError, match="fraction"):
        flip_noise(x, 1.5)
