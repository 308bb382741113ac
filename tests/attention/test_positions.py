"""Position encodings (mneme.attention.positions) by hand, and the self-attention encoder mode."""

from __future__ import annotations

import math

import pytest
import torch

from mneme.attention.positions import (
    RelativePosition,
    alibi_bias,
    alibi_slopes,
    relative_shift,
    rotate,
    sinusoidal_positions,
)
from mneme.attention.self_attention import SelfAttentionConfig, SelfAttentionCore

POSITIONS = ("sinusoidal", "learned", "none", "rope", "alibi", "relative")


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def make(*, seed: int = 0, **kw) -> SelfAttentionCore:
    torch.manual_seed(seed)
    config = SelfAttentionConfig(**{"hidden_size": 8, "num_layers": 2, "num_heads": 2,
                                    "max_length": 64, **kw})
    return SelfAttentionCore(5, config).double().eval()


# -- RoPE ----------------------------------------------------------------------------------------
def test_rope_turns_each_pair_by_position_times_theta() -> None:
    x = torch.tensor([1.0, 0.0, 0.0, 2.0], dtype=torch.float64).expand(1, 1, 3, 4)
    y = rotate(x, 5)  # positions 5, 6, 7; theta = 1 and 10000^(-1/2) = 0.01
    for i, m in enumerate((5, 6, 7)):
        expected = [math.cos(m), math.sin(m), -2 * math.sin(0.01 * m), 2 * math.cos(0.01 * m)]
        torch.testing.assert_close(y[0, 0, i], torch.tensor(expected, dtype=torch.float64))


def test_rope_keeps_norms_and_scores_depend_only_on_the_offset() -> None:
    q, k = randn(2, 3, 1, 8), randn(2, 3, 1, 8, seed=1)
    for m in (0, 4, 17):
        torch.testing.assert_close(rotate(q, m).norm(dim=-1), q.norm(dim=-1))
    for offset in (0, 3, -2):
        score = (rotate(q, 10) * rotate(k, 10 + offset)).sum(-1)
        for shift in (-7, 5, 40):
            moved = (rotate(q, 10 + shift) * rotate(k, 10 + offset + shift)).sum(-1)
            torch.testing.assert_close(moved, score, atol=1e-10, rtol=0)
    assert not torch.allclose((rotate(q, 10) * rotate(k, 13)).sum(-1),
                              (rotate(q, 10) * rotate(k, 11)).sum(-1))


# -- ALiBi ---------------------------------------------------------------------------------------
def test_alibi_slopes_follow_the_paper() -> None:
    assert alibi_slopes(8) == [2.0 ** -h for h in range(1, 9)]  # 1/2 .. 1/256
    assert alibi_slopes(4) == [4.0 ** -h for h in range(1, 5)]
    assert alibi_slopes(6) == [*alibi_slopes(4), 1 / 2, 1 / 8]  # 4, then every other of 8


def test_alibi_bias_is_minus_slope_times_distance() -> None:
    bias = alibi_bias(8, 3, 2, 5, dtype=torch.float64)  # queries at 3, 4; keys 0..4
    assert bias.shape == (8, 2, 5)
    for h, m in enumerate(alibi_slopes(8)):
        for i, pos in enumerate((3, 4)):
            for j in range(5):
                assert bias[h, i, j].item() == pytest.approx(-m * abs(pos - j))
    encoder = alibi_bias(2, 0, 3, 3, causal=False, dtype=torch.float64)
    m = alibi_slopes(2)[0]  # 1/16
    expected = -m * torch.tensor([[0, 1, 2], [0.5, 0, 1], [1.5, 0.5, 0]], dtype=torch.float64)
    torch.testing.assert_close(encoder[0], expected)


def test_alibi_core_weights_equal_a_hand_computed_first_layer() -> None:
    core = make(num_layers=1, position="alibi")
    x = randn(1, 4, 5, seed=3)
    _, _, trace = core(x, trace=True)
    block = core.blocks[0]
    q, k, _ = block.qkv(block.norm_attn(core.input_proj(x))).view(1, 4, 3, 2, 4).permute(
        2, 0, 3, 1, 4)
    distance = torch.arange(4.0)[:, None] - torch.arange(4.0)[None]
    slopes = torch.tensor(alibi_slopes(2), dtype=torch.float64)[:, None, None]
    scores = q @ k.transpose(-2, -1) / 2 - slopes * distance
    expected = torch.softmax(scores.masked_fill(distance < 0, float("-inf")), -1)
    torch.testing.assert_close(trace.attention[:, 0], expected)


# -- Transformer-XL relative positions ---------------------------------------------------------
@pytest.mark.parametrize(("t", "n"), [(1, 1), (3, 3), (4, 4), (2, 7), (1, 5)])
def test_relative_shift_equals_a_naive_loop(t: int, n: int) -> None:
    m = n + t - 1
    logits = randn(2, 3, t, m)  # column k holds distance n - 1 - k
    shifted = relative_shift(logits)
    assert shifted.shape == (2, 3, t, n)
    for i in range(t):
        for j in range(n):
            distance = (n - t + i) - j
            torch.testing.assert_close(shifted[..., i, j], logits[..., i, n - 1 - distance])


def test_relative_bias_equals_the_transformer_xl_terms_by_hand() -> None:
    torch.manual_seed(0)
    rel = RelativePosition(6, 2).double()
    q = randn(2, 2, 3, 3)  # (B, heads, T, E), queries at 2, 3, 4 after 2 cached steps
    q_content, bias = rel(q, 5)
    torch.testing.assert_close(q_content, q + rel.content_bias[:, None])
    assert bias.shape == (2, 2, 3, 5)
    for i in range(3):
        for j in range(5):
            r = sinusoidal_positions(2 + i - j, 1, 6, dtype=torch.float64)[0]  # R_(i-j)
            r_key = rel.key(r).view(2, 3)  # (heads, E)
            expected = ((q[:, :, i] + rel.position_bias) * r_key).sum(-1) / math.sqrt(3)
            torch.testing.assert_close(bias[:, :, i, j], expected)


# -- the encoder mode ----------------------------------------------------------------------------
def test_encoder_without_positions_is_permutation_equivariant() -> None:
    x = randn(2, 7, 5, seed=4)
    perm = torch.tensor([3, 0, 6, 1, 5, 2, 4])
    encoder = make(position="none", causal=False)
    torch.testing.assert_close(encoder(x[:, perm])[0], encoder(x)[0][:, perm])
    decoder = make(position="none")  # causal: the order matters
    assert not torch.allclose(decoder(x[:, perm])[0], decoder(x)[0][:, perm])


@pytest.mark.parametrize("position", POSITIONS)
def test_encoder_sees_the_future_and_its_paths_agree(position: str) -> None:
    core = make(position=position, causal=False)
    x = randn(2, 6, 5, seed=5)
    y, state = core(x)
    y_ref, _, trace = core(x, trace=True)
    torch.testing.assert_close(y_ref, y, atol=1e-10, rtol=0)
    torch.testing.assert_close(trace.attention.sum(-1), torch.ones(2, 2, 2, 6,
                                                                    dtype=torch.float64))
    assert (trace.attention > 0).all() and state.length == 6  # the future too
    changed = x.clone()
    changed[:, 5] = randn(2, 5, seed=6)
    assert not torch.allclose(core(changed)[0][:, 0], y[:, 0])


@pytest.mark.parametrize("position", POSITIONS)
def test_encoder_gradcheck(position: str) -> None:
    core = make(hidden_size=4, num_layers=1, ff_size=6, position=position, causal=False)
    x = randn(2, 3, 5, seed=7).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: core(x)[0], (x,))


def test_encoder_refuses_step_and_a_carried_state() -> None:
    core = make(causal=False)
    x = randn(2, 4, 5)
    _, state = core(x)
    with pytest.raises(ValueError, match=r"encoder.*no step"):
        core.step(x[:, 0], core.initial_state(2))
    with pytest.raises(ValueError, match=r"encoder.*carries no state; got a state of 4"):
        core(x, state)
    torch.testing.assert_close(core(x, core.initial_state(2, dtype=torch.float64))[0],
                               core(x)[0])
