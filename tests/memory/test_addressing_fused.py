"""The fused NTM addressing step: the same values and gradients as the chain of
``mneme.memory.addressing`` under autograd (Graves et al. 2014, eqs. 5-9), with its own backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mneme.memory.addressing import address
from mneme.memory.addressing_fused import address_from_params

f64 = torch.float64


def _reference(memory, prev_w, params, word_size):
    key, beta, gamma, gate, shift = params.split(
        [word_size, 1, 1, 1, params.shape[-1] - word_size - 3], -1)
    return address(memory, prev_w, key, F.softplus(beta), torch.sigmoid(gate),
                   torch.softmax(shift, -1), 1.0 + F.softplus(gamma))


def _inputs(b, h, n, w, slots, seed=0, dtype=f64, scale=1.0):
    torch.manual_seed(seed)
    memory = torch.randn(b, n, w, dtype=dtype)
    prev_w = torch.softmax(3 * torch.randn(b, h, n, dtype=dtype), -1)
    params = scale * torch.randn(b, h, w + 3 + slots, dtype=dtype)
    return memory, prev_w, params


def _values_and_grads(fn, memory, prev_w, params, word_size, upstream):
    leaves = [x.clone().requires_grad_(True) for x in (memory, prev_w, params)]
    out = fn(*leaves, word_size)
    grads = torch.autograd.grad(out, leaves, upstream)
    return out.detach(), grads


@pytest.mark.parametrize(("n", "slots"), [(7, 3), (6, 1), (5, 5), (2, 5), (9, 7)])
def test_equals_the_autograd_chain(n, slots):
    """Including a shift range wider than the memory (N = 2, S = 5: the shift wraps twice)."""
    memory, prev_w, params = _inputs(3, 4, n, 5, slots)
    memory[0, 1] = 0.0  # a zero row and a zero key: similarity 0, finite gradients
    params[1, 2, :5] = 0.0
    upstream = torch.randn(3, 4, n, dtype=f64)
    want, want_grads = _values_and_grads(_reference, memory, prev_w, params, 5, upstream)
    got, got_grads = _values_and_grads(address_from_params, memory, prev_w, params, 5, upstream)
    torch.testing.assert_close(got, want)
    for g, r in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, r)
    torch.testing.assert_close(got.sum(-1), torch.ones(3, 4, dtype=f64))


@pytest.mark.parametrize("slots", [1, 3, 5])
def test_gradcheck(slots):
    memory, prev_w, params = _inputs(2, 3, 6, 4, slots, seed=1)
    leaves = [x.requires_grad_(True) for x in (memory, prev_w, params)]
    assert torch.autograd.gradcheck(lambda m, p, q: address_from_params(m, p, q, 4), leaves)


def test_only_the_gradients_asked_for():
    memory, prev_w, params = _inputs(2, 2, 6, 4, 3, seed=2)
    params.requires_grad_(True)
    out = address_from_params(memory, prev_w, params, 4)
    (grad,) = torch.autograd.grad(out[..., 0].sum(), [params])
    assert grad.shape == params.shape and torch.isfinite(grad).all()


def test_saturated_parameters_give_finite_values_and_gradients():
    """Controller outputs of +-1e4 (what an unclipped controller can emit), in float32."""
    memory, prev_w, params = _inputs(3, 2, 8, 5, 3, seed=3, dtype=torch.float32, scale=1e4)
    prev_w = torch.zeros_like(prev_w)
    prev_w[..., 0] = 1.0  # one-hot: log of exact zeros after the shift
    upstream = torch.randn(3, 2, 8)
    got, grads = _values_and_grads(address_from_params, memory, prev_w, params, 5, upstream)
    want, want_grads = _values_and_grads(_reference, memory, prev_w, params, 5, upstream)
    assert torch.isfinite(got).all() and all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(got, want)
    for g, r in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-4)


def test_even_shift_range_is_refused():
    memory, prev_w, params = _inputs(1, 1, 5, 4, 2)
    with pytest.raises(ValueError, match="odd number of slots, got 2"):
        address_from_params(memory, prev_w, params, 4)


def test_constrain_params_maps_raw_parameters_into_their_ranges() -> None:
    from mneme.memory.addressing_fused import constrain_params

    params = 30 * torch.randn(4, 3, 5 + 3 + 3, dtype=f64)
    key, beta, gate, shift, gamma = constrain_params(params, 5)
    torch.testing.assert_close(key, params[..., :5])
    assert beta.shape == gate.shape == gamma.shape == (4, 3, 1) and shift.shape == (4, 3, 3)
    assert (beta >= 0).all() and (gamma >= 1).all() and ((gate >= 0) & (gate <= 1)).all()
    torch.testing.assert_close(shift.sum(-1), torch.ones(4, 3, dtype=f64))
    torch.testing.assert_close(gamma, 1 + F.softplus(params[..., 6:7]))
