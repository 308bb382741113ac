"""Modern Hopfield networks: the update as attention, energy descent, layers, dense memories."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from mneme.associative.hopfield import flip_noise, hebbian, is_fixed_point, recall
from mneme.associative.hopfield_core import HopfieldCore
from mneme.associative.modern_hopfield import (
    Hopfield,
    HopfieldLayer,
    HopfieldPooling,
    dense_energy,
    dense_recall,
    lse,
    modern_energy,
    modern_retrieve,
    modern_update,
)


def pm1(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, shape, generator=g) * 2 - 1).to(dtype)


def test_update_is_attention_with_keys_and_values_the_stored_patterns() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, 5, generator=g, dtype=torch.float64)
    xi = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    new, assoc = modern_update(x, xi, beta=0.7)
    torch.testing.assert_close(new, F.scaled_dot_product_attention(xi, x, x, scale=0.7))
    written_out = torch.softmax(0.7 * xi @ x.transpose(1, 2), -1)
    torch.testing.assert_close(assoc, written_out)
    torch.testing.assert_close(assoc.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    shared, _ = modern_update(x[0], xi, beta=0.7)  # (P, D) stored for every batch row
    torch.testing.assert_close(shared[0], new[0])


def test_energy_by_hand_and_never_increasing() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    xi = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    beta = 0.5
    by_hand = -math.log(math.exp(0.5 * 1) + math.exp(0.5 * 2)) / 0.5 + 1.0 + math.log(2) / 0.5 + 2.0
    assert float(modern_energy(x, xi, beta)[0]) == pytest.approx(by_hand)
    lse_by_hand = 3 + 2 * math.log(2) - by_hand
    assert float(lse(beta, torch.tensor([1.0, 2.0]))) == pytest.approx(lse_by_hand)
    g = torch.Generator().manual_seed(1)
    stored = torch.randn(4, 30, 8, generator=g, dtype=torch.float64)
    state = torch.randn(4, 5, 8, generator=g, dtype=torch.float64)
    out = modern_retrieve(stored, state, 2.0, max_iter=50, tol=1e-10, keep_states=True)
    e = out.energy
    assert (e[..., 1:] - e[..., :-1] <= 1e-10).all()  # CCCP: E never increases
    assert (e >= -1e-9).all()
    assert out.history.shape == (4, 5, out.steps + 1, 8)
    torch.testing.assert_close(out.history[:, :, -1], out.state)


def test_one_step_retrieval_far_beyond_n_patterns() -> None:
    n, p = 64, 2000  # P = 31 N; a Hebbian network holds about 0.14 N
    x = pm1(p, n, seed=2)
    cue = flip_noise(x[:50], 0.15, torch.Generator().manual_seed(0))
    new, _ = modern_update(x, cue, beta=1.0)
    assert torch.equal(torch.sign(new), x[:50])
    assert float(is_fixed_point(hebbian(x[:200]), x[:200]).float().mean()) < 0.5


def small_hopfield(**kwargs) -> Hopfield:
    torch.manual_seed(0)
    return Hopfield(4, 3, hidden_size=4, output_size=2, num_heads=2, **kwargs).double()


def test_layer_with_one_step_is_multi_head_attention() -> None:
    layer = small_hopfield(normalize=False, beta=0.8)
    stored = torch.randn(2, 6, 3, dtype=torch.float64)
    state = torch.randn(2, 5, 4, dtype=torch.float64)
    z, assoc = layer(stored, state, return_association=True)
    q = layer.w_q(state).unflatten(-1, (2, 2)).transpose(1, 2)
    k = layer.w_k(stored).unflatten(-1, (2, 2)).transpose(1, 2)
    v = layer.w_v(stored).unflatten(-1, (2, 2)).transpose(1, 2)
    heads = F.scaled_dot_product_attention(q, k, v, scale=0.8)
    torch.testing.assert_close(z, layer.w_o(heads.transpose(1, 2).flatten(-2)))
    assert assoc.shape == (2, 2, 5, 6)


def test_masks_take_patterns_out_of_the_association() -> None:
    layer = small_hopfield()
    stored = torch.randn(2, 6, 3, dtype=torch.float64)
    state = torch.randn(2, 5, 4, dtype=torch.float64)
    keep = torch.ones(2, 6, dtype=torch.bool)
    keep[:, 4:] = False
    _, assoc = layer(stored, state, stored_mask=keep, return_association=True)
    assert (assoc[..., 4:] == 0).all()
    z_cut = layer(stored[:, :4], state)
    torch.testing.assert_close(layer(stored, state, stored_mask=keep), z_cut)
    causal = torch.ones(5, 6, dtype=torch.bool).tril()
    _, assoc = layer(stored, state, association_mask=causal, return_association=True)
    assert (assoc[..., ~causal] == 0).all()


@pytest.mark.parametrize("steps", [1, 3])
def test_gradcheck_hopfield_layer_float64(steps: int) -> None:
    layer = small_hopfield(update_steps=steps, trainable_beta=True)
    stored = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: layer(a, b), (stored, state))
    params = tuple(layer.parameters())

    def by_params(*ps):
        return torch.func.functional_call(
            layer, {n: p for (n, _), p in zip(layer.named_parameters(), ps)}, (stored, state)
        )

    assert torch.autograd.gradcheck(by_params, params)


def test_gradcheck_pooling_and_lookup_layers_float64() -> None:
    torch.manual_seed(0)
    pool = HopfieldPooling(4, 3, num_queries=2, num_heads=2).double()
    lookup = HopfieldLayer(4, num_memories=6, output_size=3).double()
    items = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    assert pool(items).shape == (2, 2, 3)
    assert lookup(items).shape == (2, 5, 3)
    assert torch.autograd.gradcheck(lambda t: pool(t), (items,))
    assert torch.autograd.gradcheck(lambda t: lookup(t), (items,))
    _, assoc = lookup(items, return_association=True)
    assert assoc.shape == (2, 1, 5, 6)


def test_core_step_forward_and_chunks_agree_and_are_causal() -> None:
    torch.manual_seed(0)
    core = HopfieldCore(6, 12, key_size=8, update_steps=2).double()
    x = torch.randn(3, 7, 6, dtype=torch.float64)
    y, state, trace = core(x, trace=True)
    assert y.shape == (3, 7, 12) and state.keys.shape == (3, 7, 8)
    assert dataclasses.is_dataclass(state)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.keys = state.keys  # type: ignore[misc]
    s = core.initial_state(3, dtype=torch.float64)
    steps = []
    for t in range(7):
        y_t, s = core.step(x[:, t], s)
        steps.append(y_t)
    torch.testing.assert_close(torch.stack(steps, 1), y)
    y1, s1 = core(x[:, :3])
    y2, s2 = core(x[:, 3:], s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    torch.testing.assert_close(s2.values, state.values)
    later = x.clone()
    later[:, 4:] += 1.0
    torch.testing.assert_close(core(later)[0][:, :4], y[:, :4])  # the past does not see ahead
    a = trace.association
    assert a.shape == (3, 7, 7) and (a.triu(1) == 0).all()
    torch.testing.assert_close(a.sum(-1), torch.ones(3, 7, dtype=torch.float64))


def test_dense_energy_by_hand() -> None:
    x = torch.tensor([[1.0, 1.0, -1.0], [1.0, -1.0, 1.0]])
    s = torch.tensor([[1.0, 1.0, 1.0]])  # overlaps 1 and 1
    assert float(dense_energy(x, s, "poly", 3)[0]) == -2.0
    s = torch.tensor([[1.0, 1.0, -1.0]])  # overlaps 3 and -1
    assert float(dense_energy(x, s, "poly", 3)[0]) == -(27.0 - 1.0)
    assert float(dense_energy(x, s, "rectified", 3)[0]) == -27.0
    assert float(dense_energy(x, s, "exp")[0]) == pytest.approx(-(math.exp(3) + math.exp(-1)))


@pytest.mark.parametrize(("kind", "n"), [("poly", 3), ("rectified", 3), ("exp", 1)])
def test_dense_memory_descends_and_stores_more_than_n(kind: str, n: int) -> None:
    big_n, p = 40, 60  # load 1.5
    x = pm1(p, big_n, seed=3)
    g = torch.Generator().manual_seed(0)
    cue = flip_noise(x, 0.1, g)
    out = dense_recall(x, cue, kind, n, generator=g)  # type: ignore[arg-type]
    assert (out.energy[:, 1:] - out.energy[:, :-1] <= 1e-6).all()
    floor = {"poly": 0.75, "rectified": 0.9, "exp": 0.9}[kind]  # measured: 0.83, 0.95, 1.0
    assert float((out.states == x).all(-1).float().mean()) >= floor
    hebb = recall(hebbian(x), cue, generator=g)
    assert float((hebb.states == x).all(-1).float().mean()) < 0.1
    batched = dense_recall(x.expand(2, p, big_n), cue[:2], kind, n, generator=g)  # type: ignore[arg-type]
    assert batched.states.shape == (2, big_n)


def test_dense_quadratic_energy_is_the_hebbian_network() -> None:
    # F(z) = z^2 flips on the sign of sum_mu x_mu,i sum_{j != i} x_mu,j s_j: the Hebbian field
    x = pm1(4, 30, seed=4)
    starts = pm1(20, 30, seed=5)
    out = dense_recall(x, starts, "poly", 2, generator=torch.Generator().manual_seed(0))
    assert bool(out.converged.all())
    assert bool(is_fixed_point(hebbian(x), out.states).all())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="beta"):
        modern_update(torch.randn(3, 2), torch.randn(1, 2), beta=0.0)
    with pytest.raises(ValueError, match="D="):
        modern_update(torch.randn(3, 2), torch.randn(1, 4), beta=1.0)
    with pytest.raises(ValueError, match="num_heads"):
        Hopfield(4, hidden_size=6, num_heads=4)
    with pytest.raises(ValueError, match="F must be"):
        dense_energy(pm1(2, 3), pm1(1, 3), "cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="states"):
        dense_energy(pm1(2, 3), torch.zeros(1, 3))
