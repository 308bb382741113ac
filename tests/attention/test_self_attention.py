"""The causal self-attention core (mneme.attention.self_attention)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from mneme.attention.self_attention import (
    SelfAttentionConfig,
    SelfAttentionCore,
    SelfAttentionState,
    SelfAttentionTrace,
    build_self_attention_core,
    sinusoidal_positions,
)
from mneme.errors import UserError
from mneme.types import Core, detach_state, pack_state, unpack_state

POSITIONS = ("sinusoidal", "learned", "none", "rope", "alibi", "relative")


def make(input_size: int = 5, *, seed: int = 0, dtype=torch.float64, **kw) -> SelfAttentionCore:
    torch.manual_seed(seed)
    config = SelfAttentionConfig(**{"hidden_size": 8, "num_layers": 2, "num_heads": 2,
                                    "max_length": 64, **kw})
    return SelfAttentionCore(input_size, config).to(dtype).eval()


def inputs(*shape: int, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_shapes_state_and_trace() -> None:
    core = make(dtype=torch.float32)
    assert isinstance(core, Core) and core.output_size == 8
    x = inputs(3, 7, 5, dtype=torch.float32)
    y, state = core(x)
    assert y.shape == (3, 7, 8) and y.dtype == torch.float32
    assert state.keys.shape == state.values.shape == (2, 3, 2, 7, 4) and state.length == 7
    empty = core.initial_state(3)
    assert empty.keys.shape == (2, 3, 2, 0, 4) and empty.length == 0
    y_t, state = core.step(x[:, 0], state)
    assert y_t.shape == (3, 8) and state.length == 8
    y, state, trace = core(x[:, :2], state, trace=True)
    assert isinstance(trace, SelfAttentionTrace) and trace.attention.shape == (3, 2, 2, 2, 10)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        core(x[0])


def test_built_by_the_registry_builder() -> None:
    from mneme.registry import CORES, core_entry

    entry = CORES.get("self-attention") or core_entry("self-attention")
    assert entry.build is build_self_attention_core and entry.family == "attention"
    assert entry.config is SelfAttentionConfig
    core = entry.build(SelfAttentionConfig(hidden_size=12, num_heads=3, ff_size=7), 4)
    assert core.output_size == 12 and core.blocks[0].ff[0].out_features == 7
    assert core(torch.randn(2, 3, 4))[0].shape == (2, 3, 12)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("position", POSITIONS)
def test_causal_the_future_never_changes_the_past(position: str, norm_first: bool) -> None:
    core = make(position=position, norm_first=norm_first)
    x = inputs(2, 9, 5)
    y, _ = core(x)
    for k in (0, 3, 7):
        changed = x.clone()
        changed[:, k + 1:] = inputs(2, 8 - k, 5, seed=k + 10)
        y2, _ = core(changed)
        torch.testing.assert_close(y2[:, :k + 1], y[:, :k + 1], atol=1e-12, rtol=0)
        assert not torch.allclose(y2[:, k + 1:], y[:, k + 1:])


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("position", POSITIONS)
def test_whole_equals_chunks_carrying_state_equals_steps(position: str, norm_first: bool) -> None:
    core = make(position=position, norm_first=norm_first)
    x = inputs(3, 11, 5)
    y, state = core(x)
    pieces, chunked = [], None
    for lo, hi in ((0, 4), (4, 5), (5, 11)):
        y_c, chunked = core(x[:, lo:hi], chunked)
        pieces.append(y_c)
    torch.testing.assert_close(torch.cat(pieces, 1), y, atol=1e-10, rtol=0)
    stepped, s = [], core.initial_state(3, dtype=torch.float64)
    for t in range(11):
        y_t, s = core.step(x[:, t], s)
        stepped.append(y_t)
    torch.testing.assert_close(torch.stack(stepped, 1), y, atol=1e-10, rtol=0)
    for other in (chunked, s):
        torch.testing.assert_close(other.keys, state.keys, atol=1e-10, rtol=0)
        torch.testing.assert_close(other.values, state.values, atol=1e-10, rtol=0)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("position", POSITIONS)
def test_fused_path_equals_explicit_softmax_path(position: str, norm_first: bool) -> None:
    core = make(norm_first=norm_first, num_layers=3, position=position)
    x = inputs(2, 6, 5)
    y_fast, s_fast = core(x[:, :4])
    y_ref, s_ref, _ = core(x[:, :4], trace=True)
    torch.testing.assert_close(y_ref, y_fast, atol=1e-10, rtol=0)
    for t_chunk in (x[:, 4:], x[:, 4:5]):  # with a past cache: offset mask, and one step
        y_fast, _ = core(t_chunk, s_fast)
        y_ref, _, _ = core(t_chunk, s_ref, trace=True)
        torch.testing.assert_close(y_ref, y_fast, atol=1e-10, rtol=0)


def test_trace_rows_are_distributions_and_zero_on_the_future() -> None:
    core = make(num_layers=2)
    x = inputs(2, 6, 5)
    _, state, trace = core(x, trace=True)
    w = trace.attention  # (B, L, heads, T, N)
    assert w.shape == (2, 2, 2, 6, 6) and not w.requires_grad
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 2, 6, dtype=torch.float64))
    assert (w >= 0).all() and (w.triu(1) == 0).all() and (w.diagonal(dim1=-2, dim2=-1) > 0).all()
    _, _, trace = core(inputs(2, 3, 5, seed=2), state, trace=True)  # past 6: row i sees 0..6+i
    w = trace.attention
    assert w.shape == (2, 2, 2, 3, 9)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 2, 3, dtype=torch.float64))
    for i in range(3):
        assert (w[..., i, 7 + i:] == 0).all() and (w[..., i, :7 + i] > 0).all()


def test_trace_explicit_weights_match_a_hand_computed_first_layer() -> None:
    core = make(num_layers=1, position="none")
    x = inputs(1, 4, 5)
    _, _, trace = core(x, trace=True)
    block = core.blocks[0]
    z = block.norm_attn(core.input_proj(x))
    q, k, _ = block.qkv(z).view(1, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    expected = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1)
    torch.testing.assert_close(trace.attention[:, 0], expected)


def test_sinusoidal_positions_follow_the_paper() -> None:
    pe = sinusoidal_positions(3, 4, 6, dtype=torch.float64)
    for row, pos in enumerate(range(3, 7)):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[row, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-12)
            assert pe[row, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-12)
    assert sinusoidal_positions(0, 2, 5).shape == (2, 5)  # odd H


def test_learned_positions_stop_at_max_length() -> None:
    core = make(position="learned", max_length=6)
    _, state = core(inputs(1, 5, 5))
    _, state = core.step(inputs(1, 5), state)
    assert state.length == 6
    with pytest.raises(ValueError, match="max_length"):
        core(inputs(1, 2, 5), state)


@pytest.mark.parametrize("position", POSITIONS)
def test_gradcheck_through_input_and_cache(position: str) -> None:
    core = make(input_size=3, hidden_size=4, num_heads=2, num_layers=1, ff_size=6,
                position=position)
    x = inputs(2, 3, 3).requires_grad_()
    _, past = core(inputs(2, 2, 3, seed=5))
    keys, values = past.keys.clone().requires_grad_(), past.values.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: core(x)[0], (x,))
    assert torch.autograd.gradcheck(
        lambda x, k, v: core(x, SelfAttentionState(k, v))[0], (x, keys, values))
    assert torch.autograd.gradcheck(lambda x: core(x, trace=True)[0], (x,))


def test_state_packs_detaches_and_round_trips(tmp_path) -> None:
    core = make()
    x = inputs(2, 7, 5)
    _, state = core(x[:, :4])
    path = tmp_path / "state.pt"
    torch.save(pack_state(state), path)
    loaded = unpack_state(torch.load(path, weights_only=True))
    assert isinstance(loaded, SelfAttentionState) and loaded.length == 4
    torch.testing.assert_close(loaded.keys, state.keys, atol=0, rtol=0)
    torch.testing.assert_close(core(x[:, 4:], loaded)[0], core(x[:, 4:], state)[0])
    core.train()
    _, live = core(x[:, :4].requires_grad_())
    assert live.keys.requires_grad and not detach_state(live).keys.requires_grad


@pytest.mark.parametrize(("field", "value", "message"), [
    ("hidden_size", 0, "hidden_size must be >= 1 (got 0)"),
    ("num_layers", 0, "num_layers must be >= 1 (got 0)"),
    ("num_heads", 3, "hidden_size must be divisible by num_heads (got 64 and 3)"),
    ("num_heads", 0, "num_heads must be >= 1 (got 0)"),
    ("ff_size", 0, "ff_size must be >= 1 (got 0)"),
    ("dropout", 1.0, "dropout must be in [0, 1) (got 1.0)"),
    ("dropout", -0.1, "dropout must be in [0, 1) (got -0.1)"),
    ("max_length", 0, "max_length must be >= 1 (got 0)"),
    ("position", "rotary", "position must be one of 'sinusoidal', 'none', 'learned', 'rope', "
                           "'alibi', 'relative' (got 'rotary')"),
    ("num_heads", 64, "hidden_size / num_heads must be even with rope positions (got 64 and 64)"),
])
def test_validate_names_the_field(field: str, value: object, message: str) -> None:
    rope = field == "num_heads" and value == 64
    config = dataclasses.replace(SelfAttentionConfig(position="rope" if rope else "sinusoidal"),
                                 **{field: value})
    with pytest.raises(UserError) as info:
        config.validate()
    assert str(info.value) == f"SelfAttentionConfig.{message}"
    with pytest.raises(UserError):
        build_self_attention_core(config, 3)
    SelfAttentionConfig().validate()


def test_dropout_is_off_in_eval_and_on_in_training() -> None:
    core = make(dropout=0.5)
    x = inputs(2, 5, 5)
    torch.testing.assert_close(core(x)[0], core(x)[0])
    core.train()
    assert not torch.allclose(core(x)[0], core(x)[0])


def test_learns_to_recall_the_token_two_steps_back() -> None:
    """Output at step t the one-hot token seen at step t - 2 (vocab 8, T 12)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    vocab, steps, lag = 8, 12, 2
    core = SelfAttentionCore(vocab, SelfAttentionConfig(hidden_size=32, num_layers=1,
                                                        num_heads=4, ff_size=64))
    head = torch.nn.Linear(32, vocab)
    params = [*core.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.randint(0, vocab, (n, steps), generator=g)
        return F.one_hot(tokens, vocab).float(), tokens[:, :-lag]

    for _ in range(200):
        x, target = batch(32)
        logits = head(core(x)[0])[:, lag:]
        loss = F.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    core.eval()
    with torch.no_grad():
        x, target = batch(256)
        accuracy = (head(core(x)[0])[:, lag:].argmax(-1) == target).float().mean().item()
    assert accuracy >= 0.95, accuracy
