"""NTM addressing, one step at a time (Graves et al. 2014, section 3.3, eqs. 5-9)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mneme.memory.addressing import (
    address,
    circular_shift,
    clip_gradient,
    content_weighting,
    cosine_similarity,
    interpolate,
    sharpen,
)

f64 = torch.float64


def _t(values, dtype=f64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# -- hand-computed values ------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False])
def test_cosine_similarity_by_hand(fused):
    memory = _t([[[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])  # (1, 5, 2)
    keys = _t([[[2.0, 0.0], [1.0, 1.0]]])  # (1, 2, 2): two heads
    cos = cosine_similarity(keys, memory, fused=fused)
    r = 1 / math.sqrt(2)
    expected = _t([[[1.0, 0.0, -1.0, r, 0.0], [r, r, -r, 1.0, 0.0]]])
    torch.testing.assert_close(cos, expected)


def test_content_weighting_by_hand():
    memory = _t([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]]])
    keys = _t([[[1.0, 0.0]]])
    beta = _t([[[2.0]]])
    cos = [1.0, 0.0, -1.0, 1 / math.sqrt(2)]
    e = [math.exp(2 * c) for c in cos]
    expected = _t([[[v / sum(e) for v in e]]])
    torch.testing.assert_close(content_weighting(memory, keys, beta), expected)
    # beta = 0: uniform, whatever the similarities
    uniform = content_weighting(memory, keys, _t([[0.0]]))
    torch.testing.assert_close(uniform, torch.full((1, 1, 4), 0.25, dtype=f64))


def test_interpolate_by_hand():
    content = _t([[[0.7, 0.1, 0.1, 0.1]]])
    prev = _t([[[0.0, 0.0, 1.0, 0.0]]])
    out = interpolate(content, prev, _t([[[0.25]]]))
    torch.testing.assert_close(out, _t([[[0.175, 0.025, 0.775, 0.025]]]))
    torch.testing.assert_close(interpolate(content, prev, _t([[1.0]])), content)
    torch.testing.assert_close(interpolate(content, prev, _t([[0.0]])), prev)


W4 = [0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ([0.0, 1.0, 0.0], [0.1, 0.2, 0.3, 0.4]),  # no shift
        ([0.0, 0.0, 1.0], [0.4, 0.1, 0.2, 0.3]),  # +1: slot 3 wraps to slot 0
        ([1.0, 0.0, 0.0], [0.2, 0.3, 0.4, 0.1]),  # -1: slot 0 wraps to slot 3
        ([0.5, 0.0, 0.5], [0.3, 0.2, 0.3, 0.2]),  # half back, half forward
        ([0.2, 0.5, 0.3], [0.2 * 0.2 + 0.5 * 0.1 + 0.3 * 0.4, 0.2 * 0.3 + 0.5 * 0.2 + 0.3 * 0.1,
                           0.2 * 0.4 + 0.5 * 0.3 + 0.3 * 0.2, 0.2 * 0.1 + 0.5 * 0.4 + 0.3 * 0.3]),
        # S = 5 on N = 4: shifts -2 and +2 land on the same slots
        ([0.5, 0.0, 0.0, 0.0, 0.5], [0.3, 0.4, 0.1, 0.2]),
        ([0.0, 0.0, 0.0, 0.0, 1.0], [0.3, 0.4, 0.1, 0.2]),
        ([0.0, 0.0, 0.0, 1.0, 0.0], [0.4, 0.1, 0.2, 0.3]),
    ],
)
def test_circular_shift_by_hand(shift, expected):
    out = circular_shift(_t([[W4]]), _t([[shift]]))
    torch.testing.assert_close(out, _t([[expected]]))


def _shift_reference(w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Eq. 8 literally: w~(i) = sum over shifts k of w((i - k) mod N) s(k)."""
    b, r, n = w.shape
    half = s.shape[-1] // 2
    out = torch.zeros_like(w)
    for bi in range(b):
        for ri in range(r):
            for i in range(n):
                for k in range(s.shape[-1]):
                    out[bi, ri, i] += w[bi, ri, (i - (k - half)) % n] * s[bi, ri, k]
    return out


@pytest.mark.parametrize(("n", "slots"), [(5, 3), (6, 5), (4, 7), (3, 9), (1, 3)])
def test_circular_shift_matches_the_equation(n, slots):
    torch.manual_seed(n * 10 + slots)
    w = torch.softmax(torch.randn(2, 3, n, dtype=f64), -1)
    s = torch.softmax(torch.randn(2, 3, slots, dtype=f64), -1)
    torch.testing.assert_close(circular_shift(w, s), _shift_reference(w, s))


def test_circular_shift_rejects_even_range():
    with pytest.raises(ValueError, match="odd"):
        circular_shift(torch.ones(1, 1, 4) / 4, torch.ones(1, 1, 2) / 2)


def test_sharpen_by_hand():
    w = _t([[[0.5, 0.25, 0.25, 0.0]]])
    torch.testing.assert_close(sharpen(w, _t([[[2.0]]])), _t([[[2 / 3, 1 / 6, 1 / 6, 0.0]]]))
    torch.testing.assert_close(sharpen(w, _t([[1.0]])), w)


def test_address_chains_the_steps():
    torch.manual_seed(0)
    memory = torch.randn(2, 6, 3, dtype=f64)
    prev = torch.softmax(torch.randn(2, 2, 6, dtype=f64), -1)
    keys = torch.randn(2, 2, 3, dtype=f64)
    beta, gate, gamma = _t([[[3.0], [0.5]]] * 2), _t([[[0.3], [0.9]]] * 2), _t([[[1.5], [4.0]]] * 2)
    shift = torch.softmax(torch.randn(2, 2, 3, dtype=f64), -1)
    expected = content_weighting(memory, keys, beta)
    expected = sharpen(circular_shift(interpolate(expected, prev, gate), shift), gamma)
    torch.testing.assert_close(address(memory, prev, keys, beta, gate, shift, gamma), expected)


# -- invariants ----------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 9),
    heads=st.integers(1, 3),
    shift_range=st.integers(0, 4),
    log_beta=st.floats(-3, 30),
    gate=st.floats(0, 1),
    log_gamma=st.floats(0, 12),
    scale=st.sampled_from([0.0, 1e-20, 1.0, 1e20]),
)
def test_weightings_are_distributions(seed, n, heads, shift_range, log_beta, gate, log_gamma,
                                      scale):
    g = torch.Generator().manual_seed(seed)
    memory = scale * torch.randn(2, n, 4, generator=g)
    keys = torch.randn(2, heads, 4, generator=g)
    prev = torch.softmax(3 * torch.randn(2, heads, n, generator=g), -1)
    shift = torch.softmax(5 * torch.randn(2, heads, 2 * shift_range + 1, generator=g), -1)
    w = address(memory, prev, keys, torch.full((2, heads, 1), math.exp(log_beta)),
                torch.full((2, heads, 1), gate), shift,
                torch.full((2, heads, 1), math.exp(log_gamma)))
    assert torch.isfinite(w).all()
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, heads), atol=1e-5, rtol=0)


# -- adversarial numerics ------------------------------------------------------------------------
def _finite_grads(*tensors: torch.Tensor) -> bool:
    return all(t.grad is not None and torch.isfinite(t.grad).all() for t in tensors)


@pytest.mark.parametrize("fused", [True, False])
def test_zero_norm_keys_and_memory(fused):
    memory = torch.zeros(2, 5, 3, requires_grad=True)
    keys = torch.zeros(2, 2, 3, requires_grad=True)
    cos = cosine_similarity(keys, memory, fused=fused)
    assert torch.equal(cos, torch.zeros(2, 2, 5))
    w = content_weighting(memory, keys, torch.full((2, 2, 1), 5.0))
    torch.testing.assert_close(w, torch.full((2, 2, 5), 0.2))
    (cos.sum() + (w * torch.arange(5.0)).sum()).backward()
    assert _finite_grads(memory, keys)


def test_some_zero_rows_keep_the_others_exact():
    memory = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]]], requires_grad=True)
    keys = torch.tensor([[[1.0, 0.0]]], requires_grad=True)
    cos = cosine_similarity(keys, memory)
    torch.testing.assert_close(cos, torch.tensor([[[0.0, 0.6, 0.0]]]))
    cos.sum().backward()
    assert _finite_grads(memory, keys)


def test_huge_key_strength_does_not_overflow():
    torch.manual_seed(0)
    memory = torch.randn(2, 6, 4, requires_grad=True)
    keys = memory[:, 2:3].detach().clone().requires_grad_(True)  # matches row 2 exactly
    beta = torch.full((2, 1, 1), 1e30, requires_grad=True)
    w = content_weighting(memory, keys, beta)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w[:, 0, 2], torch.ones(2))
    (w * torch.arange(6.0)).sum().backward()
    assert _finite_grads(memory, keys, beta)


def test_sharpen_large_gamma_with_zeros():
    w = torch.tensor([[[0.0, 0.3, 0.0, 0.7], [0.0, 0.0, 1.0, 0.0]]], requires_grad=True)
    gamma = torch.tensor([[[1e6], [1e4]]], requires_grad=True)
    out = sharpen(w, gamma)
    torch.testing.assert_close(out, torch.tensor([[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]]))
    (out * torch.arange(4.0)).sum().backward()
    assert _finite_grads(w, gamma)


def test_sharpen_tiny_weights_do_not_underflow():
    w = torch.tensor([[[1e-30, 3e-30, 0.0, 0.0]]])  # float32: w^gamma underflows to 0
    out = sharpen(w, torch.tensor([[[5.0]]]))
    expected = torch.tensor([1.0, 3.0**5, 0.0, 0.0]) / (1 + 3.0**5)
    torch.testing.assert_close(out[0, 0], expected)


def test_extreme_head_parameters_give_finite_gradients():
    """Saturated constraints (what a controller output of +-1e4 produces)."""
    torch.manual_seed(1)
    memory = torch.randn(3, 8, 5, requires_grad=True)
    prev = torch.zeros(3, 2, 8)
    prev[:, :, 0] = 1.0
    keys = (1e4 * torch.randn(3, 2, 5)).requires_grad_(True)
    raw = torch.tensor([[1e4], [-1e4]]).expand(3, 2, 1).clone().requires_grad_(True)
    beta = torch.nn.functional.softplus(raw)
    gate = torch.sigmoid(raw)
    gamma = 1 + torch.nn.functional.softplus(raw)
    shift = torch.softmax(torch.tensor([1e4, -1e4, 0.0]).expand(3, 2, 3), -1)
    w = address(memory, prev, keys, beta, gate, shift, gamma)
    assert torch.isfinite(w).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2))
    (w * torch.arange(8.0)).sum().backward()
    assert _finite_grads(memory, keys, raw)


# -- gradients -----------------------------------------------------------------------------------
def test_clip_gradient_is_identity_forward_and_clamps_backward():
    x = _t([1.0, -2.0, 3.0]).requires_grad_(True)
    y = clip_gradient(x, 0.5)
    torch.testing.assert_close(y, x.detach())
    (y * _t([0.1, -3.0, 2.0])).sum().backward()
    torch.testing.assert_close(x.grad, _t([0.1, -0.5, 0.5]))
    assert clip_gradient(x, None) is x


def test_sharpening_recurrence_explodes_without_the_clip():
    """Why the NTM clips w_{t-1}'s gradient: a head near a tie between two slots, sharpened
    hard and fed back for 40 steps, multiplies its gradient by ~gamma a step; the clip bounds
    what reaches w_0 by the bound times one step's Jacobian."""
    gamma = torch.full((1, 1, 1), 20.0, dtype=f64)
    w0 = _t([[[0.5, 0.5, 0.0, 0.0]]]).requires_grad_(True)
    grads = {}
    for bound in (None, 1.0):
        w = w0
        for _ in range(40):
            w = sharpen(clip_gradient(w, bound) + 1e-3, gamma)
        (w * _t([1.0, 0.0, 0.0, 0.0])).sum().backward()
        grads[bound] = w0.grad.abs().max().item()
        w0.grad = None
    assert grads[None] > 1e30
    assert grads[1.0] < 100


def _rand(*shape, positive=False):
    x = torch.randn(*shape, dtype=f64)
    return (x.abs() + 0.5 if positive else x).requires_grad_(True)


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_cosine(fused):
    torch.manual_seed(2)
    assert torch.autograd.gradcheck(lambda k, m: cosine_similarity(k, m, fused=fused),
                                    (_rand(2, 3, 4), _rand(2, 5, 4)))


def test_fused_cosine_equals_reference_with_zero_rows():
    torch.manual_seed(3)
    memory = torch.randn(2, 6, 4, dtype=f64)
    memory[0, 1] = 0.0
    keys = torch.randn(2, 3, 4, dtype=f64)
    keys[1, 2] = 0.0
    weights = torch.randn(2, 3, 6, dtype=f64)
    grads = []
    for fused in (True, False):
        m, k = memory.clone().requires_grad_(True), keys.clone().requires_grad_(True)
        out = cosine_similarity(k, m, fused=fused)
        (out * weights).sum().backward()
        grads.append((out.detach(), m.grad, k.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_gradcheck_content_interpolate_shift_sharpen():
    torch.manual_seed(4)
    n = 5
    memory, keys, beta = _rand(2, n, 3), _rand(2, 2, 3), _rand(2, 2, 1, positive=True)
    assert torch.autograd.gradcheck(content_weighting, (memory, keys, beta))
    content = torch.softmax(torch.randn(2, 2, n, dtype=f64), -1).requires_grad_(True)
    prev = torch.softmax(torch.randn(2, 2, n, dtype=f64), -1).requires_grad_(True)
    gate = torch.rand(2, 2, 1, dtype=f64).requires_grad_(True)
    assert torch.autograd.gradcheck(interpolate, (content, prev, gate))
    for slots in (3, 7):
        shift = torch.softmax(torch.randn(2, 2, slots, dtype=f64), -1).requires_grad_(True)
        assert torch.autograd.gradcheck(circular_shift, (prev, shift))
    gamma = (1 + torch.rand(2, 2, 1, dtype=f64) * 3).requires_grad_(True)
    assert torch.autograd.gradcheck(sharpen, (prev, gamma))


def test_gradcheck_address():
    torch.manual_seed(5)
    n = 6
    args = (
        _rand(2, n, 3),
        torch.softmax(torch.randn(2, 2, n, dtype=f64), -1).requires_grad_(True),
        _rand(2, 2, 3),
        _rand(2, 2, 1, positive=True),
        torch.rand(2, 2, 1, dtype=f64).requires_grad_(True),
        torch.softmax(torch.randn(2, 2, 3, dtype=f64), -1).requires_grad_(True),
        (1 + torch.rand(2, 2, 1, dtype=f64)).requires_grad_(True),
    )
    assert torch.autograd.gradcheck(address, args)
