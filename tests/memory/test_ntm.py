"""The Neural Turing Machine core (Graves et al. 2014, section 3) and its hard-read variant."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch
from tests.learning import train_steps
from torch import nn

from mneme import registry
from mneme.errors import UserError
from mneme.memory.ntm import (
    MEMORY_CONSTANT,
    NTM,
    NTMConfig,
    NTMState,
    build_ntm_core,
    read_memory,
    read_write,
    write_memory,
)
from mneme.models.build import build_model
from mneme.models.sequence import SequenceModel, compose, composed_config
from mneme.tasks.reinforce import reinforce_loss

f64 = torch.float64


def _core(d=3, dtype=f64, seed=0, **kw) -> NTM:
    torch.manual_seed(seed)
    base = dict(memory_size=6, word_size=4, controller_size=8)
    return NTM(d, NTMConfig(**{**base, **kw})).to(dtype)


def _model(task, **kw) -> SequenceModel:
    """``--model ntm`` on ``task``: the NTM core composed with the task (features -> NTM ->
    linear per step, plus the REINFORCE baseline in hard mode)."""
    config = composed_config(registry.core_entry("ntm"))(**kw)
    model = build_model("ntm", config, task)
    assert isinstance(model, SequenceModel)
    return model


def _parts(state: NTMState) -> tuple[torch.Tensor, ...]:
    return tuple(getattr(state, f.name) for f in dataclasses.fields(state))


def _select(state: NTMState, i: int) -> NTMState:
    """Batch element i of a state (hidden and cell are (L, B, H))."""
    parts = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    return NTMState(**{k: v[:, i : i + 1] if k in ("hidden", "cell") else v[i : i + 1]
                       for k, v in parts.items()})


def _random_state(core: NTM, b: int, seed: int = 1) -> NTMState:
    """A state far from the initial one, so tests see every part of it."""
    g = torch.Generator().manual_seed(seed)
    s = core.initial_state(b, dtype=f64)
    rand = lambda t: torch.randn(t.shape, generator=g, dtype=f64)  # noqa: E731
    soft = lambda t: torch.softmax(rand(t), -1)  # noqa: E731
    return NTMState(rand(s.memory), soft(s.read_weightings), soft(s.write_weightings),
                    rand(s.reads), 0.5 * rand(s.hidden), rand(s.cell), s.log_prob)


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("memory_size", 0, "NTMConfig.memory_size must be >= 1 (got 0)"),
        ("memory_size", 2.5, "NTMConfig.memory_size must be an integer (got 2.5)"),
        ("read_heads", 0, "NTMConfig.read_heads must be >= 1 (got 0)"),
        ("shift_range", -1, "NTMConfig.shift_range must be >= 0 (got -1)"),
        ("controller", "gru", "NTMConfig.controller must be one of 'lstm', 'feedforward' "
                              "(got 'gru')"),
        ("memory_init", "zeros", "NTMConfig.memory_init must be one of"),
        ("addressing", "sparse", "NTMConfig.addressing must be one of 'soft', 'hard'"),
        ("clip_controller", 0.0, "NTMConfig.clip_controller must be in (0, inf) (got 0.0)"),
        ("clip_controller", math.inf, "NTMConfig.clip_controller must be in (0, inf) (got inf)"),
    ],
)
def test_config_validation_names_the_field(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        NTMConfig(**{field: value}).validate()
    with pytest.raises(UserError, match=re.escape(message)):
        NTM(3, NTMConfig(**{field: value}))
    NTMConfig(clip_controller=None).validate()


def test_defaults_are_the_papers_copy_ntm():
    cfg = NTMConfig()
    assert (cfg.memory_size, cfg.word_size, cfg.controller_size, cfg.read_heads,
            cfg.write_heads, cfg.shift_range) == (128, 20, 100, 1, 1, 1)
    core = NTM(9, cfg)
    # one linear layer emits every head parameter: 2 heads x (W + 3 + 3) + erase and add (2 W)
    assert core.head.out_features == 2 * (20 + 6) + 2 * 20
    assert core.output_size == 100 + 20


# -- reading and writing -------------------------------------------------------------------------
def test_erase_then_add_by_hand():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    w = torch.tensor([[[0.5, 0.5, 0.0]]])
    erase = torch.tensor([[[1.0, 0.0]]])
    add = torch.tensor([[[10.0, 20.0]]])
    expected = torch.tensor([[[0.5 + 5, 2 + 10], [1.5 + 5, 4 + 10], [5.0, 6.0]]])
    torch.testing.assert_close(write_memory(memory, w, erase, add), expected)
    reads, new = read_write(memory, torch.tensor([[[0.0, 0.25, 0.75]]]), w, erase, add)
    torch.testing.assert_close(new, expected)
    torch.testing.assert_close(reads, torch.tensor([[[0.25 * 3 + 0.75 * 5, 0.25 * 4 + 0.75 * 6]]]))


def test_two_write_heads_by_hand_and_in_any_order():
    memory = torch.tensor([[[2.0, 4.0], [6.0, 8.0]]])
    w = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    erase = torch.tensor([[[0.5, 0.0], [1.0, 1.0]]])
    add = torch.tensor([[[1.0, 1.0], [2.0, 0.0]]])
    # slot 0: erased by (1 - 0.5) and (1 - 0.5) on dim 0, (1 - 0) and (1 - 0.5) on dim 1
    #         then + 1 * [1, 1] + 0.5 * [2, 0]
    # slot 1: head 0 does not touch it; head 1 erases half: * 0.5, then + 0.5 * [2, 0]
    expected = torch.tensor([[[2 * 0.25 + 2, 4 * 0.5 + 1], [3 + 1, 4.0]]])
    torch.testing.assert_close(write_memory(memory, w, erase, add), expected)
    swapped = write_memory(memory, w.flip(1), erase.flip(1), add.flip(1))
    torch.testing.assert_close(swapped, expected)


def test_fused_read_write_equals_reference():
    torch.manual_seed(0)
    b, n, w, r = 3, 7, 4, 2
    args = (torch.randn(b, n, w, dtype=f64), torch.softmax(torch.randn(b, r, n, dtype=f64), -1),
            torch.softmax(torch.randn(b, 1, n, dtype=f64), -1),
            torch.rand(b, 1, w, dtype=f64), torch.randn(b, 1, w, dtype=f64))
    g_reads, g_memory = torch.randn(b, r, w, dtype=f64), torch.randn(b, n, w, dtype=f64)
    results = []
    for fused in (True, False):
        leaves = [a.clone().requires_grad_(True) for a in args]
        if fused:
            reads, memory = read_write(*leaves)
        else:
            reads = read_memory(leaves[0], leaves[1])
            memory = write_memory(leaves[0], *leaves[2:])
        torch.autograd.backward([reads, memory], [g_reads, g_memory])
        results.append([reads.detach(), memory.detach(), *(x.grad for x in leaves)])
    for a, b_ in zip(*results):
        torch.testing.assert_close(a, b_)
    leaves = [a.clone().requires_grad_(True) for a in args]
    assert torch.autograd.gradcheck(read_write, tuple(leaves))


# -- the core contract ---------------------------------------------------------------------------
CONFIGS = [
    dict(),
    dict(controller="feedforward"),
    dict(read_heads=2, write_heads=2, shift_range=2),
    dict(controller_layers=2, learned_initial_weightings=True, memory_init="learned"),
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_batch_elements_are_independent(kw):
    core = _core(**kw)
    x = torch.randn(4, 5, 3, dtype=f64)
    state = _random_state(core, 4)
    y, new = core(x, state)
    assert y.shape == (4, 5, core.output_size)
    for i in range(4):
        y_i, new_i = core(x[i : i + 1], _select(state, i))
        torch.testing.assert_close(y_i, y[i : i + 1])
        torch.testing.assert_close(new_i.memory, new.memory[i : i + 1])


@pytest.mark.parametrize("kw", CONFIGS)
def test_forward_equals_repeated_step(kw):
    core = _core(**kw)
    x = torch.randn(2, 6, 3, dtype=f64)
    state = _random_state(core, 2)
    y, final = core(x, state)
    s = state
    for t in range(6):
        y_t, s = core.step(x[:, t], s)
        torch.testing.assert_close(y_t, y[:, t])
    for a, b in zip(_parts(s), _parts(final)):
        torch.testing.assert_close(a, b)
    # and a split sequence resumes exactly where it stopped
    y1, s1 = core(x[:, :2], state)
    y2, _ = core(x[:, 2:], s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)


def test_no_state_is_kept_on_the_module():
    core = _core()
    x = torch.randn(2, 4, 3, dtype=f64)
    before = {k: v.clone() for k, v in core.state_dict().items()}
    y_a, _ = core(x)
    core(torch.randn(2, 7, 3, dtype=f64))  # another sequence in between
    y_b, _ = core(x)
    torch.testing.assert_close(y_a, y_b)
    for k, v in core.state_dict().items():
        assert torch.equal(v, before[k])


def test_lstm_controller_is_an_lstm():
    """The fused controller step equals torch.nn.LSTMCell with the same weights."""
    core = _core(controller_size=5)
    cell = nn.LSTMCell(3 + 4, 5).double()
    h, c = torch.randn(2, 5, dtype=f64), torch.randn(2, 5, dtype=f64)
    x, reads = torch.randn(2, 3, dtype=f64), torch.randn(2, 4, dtype=f64)
    order = torch.cat([torch.arange(0, 10), torch.arange(15, 20), torch.arange(10, 15)])  # ifog
    with torch.no_grad():
        w_x, w_rh = cell.weight_ih[:, :3], torch.cat([cell.weight_hh, cell.weight_ih[:, 3:]], 1)
        pre = (x @ w_x.T + cell.bias_ih + cell.bias_hh + torch.cat([h, reads], 1) @ w_rh.T)
        hs: list[torch.Tensor] = []
        cs: list[torch.Tensor] = []
        out = core._lstm_layer(pre[:, order], c, cs, hs)
        h_ref, c_ref = cell(torch.cat([x, reads], 1), (h, c))
    torch.testing.assert_close(out, h_ref)
    torch.testing.assert_close(hs[0], h_ref)
    torch.testing.assert_close(cs[0], c_ref)


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_gradcheck_whole_step(controller):
    core = _core(d=2, controller=controller, memory_size=4, word_size=3, controller_size=4,
                 read_heads=2, write_heads=2, learned_initial_reads=False)
    state = _random_state(core, 2)

    def run(x, memory, read_w, write_w, reads, hidden, cell):
        s = NTMState(memory, read_w, write_w, reads, hidden, cell, state.log_prob)
        y, new = core(x, s)
        return y, new.memory, new.read_weightings, new.write_weightings

    inputs = (torch.randn(2, 2, 2, dtype=f64), *_parts(state)[:6])
    inputs = tuple(t.clone().requires_grad_(t.numel() > 0) for t in inputs)
    assert torch.autograd.gradcheck(run, inputs)


def test_parameter_constraints_hold_even_for_extreme_controller_outputs():
    core = _core(clip_controller=None, read_heads=2)
    with torch.no_grad():
        core.head.weight.mul_(1e4)
    x = 10 * torch.randn(3, 5, 3, dtype=f64)
    y, state, trace = core(x, trace=True)
    assert torch.isfinite(y).all() and torch.isfinite(state.memory).all()
    assert (trace.key_strength >= 0).all()
    assert ((trace.interpolation_gate >= 0) & (trace.interpolation_gate <= 1)).all()
    assert (trace.sharpening >= 1).all()
    torch.testing.assert_close(trace.shift_weighting.sum(-1), torch.ones(3, 5, 3, dtype=f64))
    assert ((trace.erase_vector >= 0) & (trace.erase_vector <= 1)).all()
    assert (trace.add_vector.abs() <= 1).all()
    for w in (trace.read_weightings, trace.write_weightings):
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1], dtype=f64))


def test_clip_controller_clamps_head_parameters():
    core = _core(clip_controller=0.5)
    with torch.no_grad():
        core.head.weight.mul_(1e3)
    _, _, trace = core(torch.randn(2, 3, 3, dtype=f64), trace=True)
    bound = torch.nn.functional.softplus(torch.tensor(0.5, dtype=f64))
    assert (trace.key_strength <= bound + 1e-12).all()
    assert (trace.sharpening <= 1 + bound + 1e-12).all()


def test_clip_weighting_grad_bounds_the_recurrent_gradient_only():
    x = torch.randn(2, 12, 3, dtype=f64)
    free, clipped = _core(), _core(clip_weighting_grad=1e-3)
    y_free, _ = free(x)
    y_clipped, _ = clipped(x)
    torch.testing.assert_close(y_clipped, y_free)  # forward unchanged
    y_free[:, -1].sum().backward()
    y_clipped[:, -1].sum().backward()
    g_free, g_clipped = free.head.weight.grad, clipped.head.weight.grad
    assert not torch.allclose(g_free, g_clipped)  # the recurrent path carried gradient


def test_trace_shapes():
    core = _core(read_heads=2, write_heads=3, shift_range=2)
    _, _, tr = core(torch.randn(4, 5, 3, dtype=f64), trace=True)
    assert tr.read_weightings.shape == (4, 5, 2, 6)
    assert tr.write_weightings.shape == (4, 5, 3, 6)
    assert tr.read_policy is None
    assert tr.keys.shape == (4, 5, 5, 4)
    assert tr.key_strength.shape == tr.interpolation_gate.shape == tr.sharpening.shape == (4, 5, 5)
    assert tr.shift_weighting.shape == (4, 5, 5, 5)
    assert tr.erase_vector.shape == tr.add_vector.shape == (4, 5, 3, 4)


# -- initial state -------------------------------------------------------------------------------
def test_memory_init_modes():
    constant = _core(memory_init="constant").initial_state(2, dtype=f64)
    assert torch.equal(constant.memory, torch.full((2, 6, 4), MEMORY_CONSTANT, dtype=f64))
    assert torch.equal(constant.read_weightings[..., 0], torch.ones(2, 1, dtype=f64))
    torch.testing.assert_close(constant.reads, torch.zeros(2, 1, 4, dtype=f64))

    random = _core(memory_init="random")
    a, b = random.initial_state(2).memory, random.initial_state(2).memory
    assert not torch.equal(a, b) and not torch.equal(a[0], a[1])
    random.eval()
    assert torch.equal(random.initial_state(2).memory, random.initial_state(2).memory)

    learned = _core(memory_init="learned", learned_initial_weightings=True)
    assert learned.initial_memory is not None and learned.initial_weighting_logits is not None
    y, _ = learned(torch.randn(2, 3, 3, dtype=f64))
    y.sum().backward()
    for p in (learned.initial_memory, learned.initial_weighting_logits, learned.initial_reads):
        assert p.grad is not None and p.grad.abs().sum() > 0
    s = learned.initial_state(2)
    torch.testing.assert_close(s.read_weightings.sum(-1), torch.ones(2, 1, dtype=f64))
    assert (s.read_weightings[..., 0] > 0.4).all()  # starts near slot 0


def test_no_learned_initial_reads():
    core = _core(learned_initial_reads=False)
    assert core.initial_reads is None
    assert torch.equal(core.initial_state(3).reads, torch.zeros(3, 1, 4, dtype=f64))


# -- stochastic hard reads -----------------------------------------------------------------------
def test_hard_reads_are_memory_rows_and_log_prob_sums_their_weights():
    core = _core(addressing="hard", read_heads=2, memory_size=5)
    state = _random_state(core, 3)
    x = torch.randn(3, 4, 3, dtype=f64)
    torch.manual_seed(7)
    y, final, trace = core(x, state, trace=True)
    one_hot = trace.read_weightings
    assert torch.equal(one_hot.sum(-1), torch.ones(3, 4, 2, dtype=f64))
    assert set(one_hot.unique().tolist()) <= {0.0, 1.0}
    chosen = one_hot.argmax(-1)  # (B, T, R)
    expected = trace.read_policy.gather(-1, chosen.unsqueeze(-1)).log().sum((1, 2, 3))
    torch.testing.assert_close(final.log_prob, expected)
    # the reads of step 0 are rows of the given memory, exactly
    reads0 = y[:, 0, core.config.controller_size :].view(3, 2, 4)
    rows = state.memory.gather(1, chosen[:, 0].unsqueeze(-1).expand(-1, -1, 4))
    assert torch.equal(reads0, rows)
    # and the head sits where it read
    assert torch.equal(final.read_weightings, one_hot[:, -1])


def test_soft_log_prob_is_zero():
    core = _core()
    _, state = core(torch.randn(2, 3, 3, dtype=f64))
    assert torch.equal(state.log_prob, torch.zeros(2, dtype=f64))


def test_eval_is_deterministic():
    core = _core(addressing="hard", memory_init="random").eval()
    x = torch.randn(2, 5, 3, dtype=f64)
    y1, s1, t1 = core(x, trace=True)
    y2, s2, _ = core(x, trace=True)
    assert torch.equal(y1, y2) and torch.equal(s1.log_prob, s2.log_prob)
    torch.testing.assert_close(t1.read_weightings.argmax(-1), t1.read_policy.argmax(-1))


def test_reinforce_surrogate_gradient_is_the_score_function():
    """The read head learns only through log_prob. Its REINFORCE surrogate's gradient, along a
    random direction of the head's bias, equals the finite difference of
    mean_b(cost_b * log p_b(sampled slots)) with the same samples (same seed)."""
    core = _core(addressing="hard", read_heads=2)
    state = _random_state(core, 4)
    x = torch.randn(4, 3, 3, dtype=f64)
    cost = torch.tensor([3.0, -1.0, 0.5, 2.0], dtype=f64)

    def surrogate() -> torch.Tensor:
        torch.manual_seed(11)  # the same draws each time
        _, final = core(x, state)
        return reinforce_loss(cost, final.log_prob)

    loss = surrogate()
    loss.backward()
    assert core.head.weight.grad is not None and core.head.weight.grad.abs().sum() > 0
    direction = torch.randn_like(core.head.bias)
    analytic = float(core.head.bias.grad @ direction)
    eps = 1e-6
    with torch.no_grad():
        core.head.bias.add_(eps * direction)
        plus = float(surrogate())
        core.head.bias.sub_(2 * eps * direction)
        minus = float(surrogate())
    assert analytic != 0.0
    assert math.isclose(analytic, (plus - minus) / (2 * eps), rel_tol=1e-5)


STEPS = 40


def test_reinforce_learns_a_bandit():
    """One hard read from a fixed memory; the cost is minus the first component of the read.
    REINFORCE alone must move the read distribution onto the best row."""
    torch.manual_seed(0)
    n = 8
    core = NTM(2, NTMConfig(memory_size=n, word_size=4, controller="feedforward",
                            controller_size=8, addressing="hard"))
    memory = torch.randn(1, n, 4)
    best = int(memory[0, :, 0].argmax())
    opt = torch.optim.Adam(core.parameters(), lr=0.05)
    b = 32
    x = torch.ones(b, 1, 2)

    def p_best() -> float:
        with torch.no_grad():
            s = dataclasses.replace(core.initial_state(b), memory=memory.expand(b, n, 4))
            _, _, tr = core(x, s, trace=True)
        return float(tr.read_policy[:, 0, 0, best].mean())

    start = p_best()
    for _ in range(STEPS):
        s = dataclasses.replace(core.initial_state(b), memory=memory.expand(b, n, 4))
        y, final = core(x, s)
        cost = -y[:, 0, -4].detach()
        loss = reinforce_loss(cost, final.log_prob, cost.mean().expand(b))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert start < 0.5
    assert p_best() > 0.9


# -- the composed model: --model ntm on an algorithmic task ------------------------------------
def test_ntm_is_a_registered_core():
    entry = registry.core_entry("ntm")
    assert entry.build is build_ntm_core and entry.config is NTMConfig
    assert (entry.family, entry.size) == ("external", "controller_size")
    core = build_ntm_core(NTMConfig(memory_size=8, word_size=5), 9)
    assert isinstance(core, NTM) and core.output_size == 100 + 5 and not core.stochastic
    assert build_ntm_core(NTMConfig(addressing="hard"), 9).stochastic
    with pytest.raises(UserError, match=r"NTMConfig\.memory_size"):
        build_ntm_core(NTMConfig(memory_size=0), 9)
    # the composed config is NTMConfig's fields plus the composition's two
    cls = composed_config(entry)
    names = {f.name for f in dataclasses.fields(cls)}
    assert names == {f.name for f in dataclasses.fields(NTMConfig)} | {"embedding_dim",
                                                                         "head_size"}
    assert issubclass(cls, NTMConfig)


def test_build_ntm_for_the_copy_task():
    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    task = CopyTask(CopyConfig(valid_size=4, test_size=4))
    batch = task.sample(3, torch.Generator().manual_seed(0))
    model = _model(task, memory_size=8, word_size=5)
    # features go straight into the NTM (no embedding); one linear layer per step
    assert model.embedding is None and model.core.input_size == task.info.input_size
    assert isinstance(model.head, nn.Linear)
    assert (model.head.in_features, model.head.out_features) == (100 + 5, task.info.output_size)
    assert model.baseline is None
    out = model(batch.inputs, trace=True)
    assert out.logits.shape == batch.targets.shape
    assert out.trace.write_weightings.shape[:3] == (3, batch.inputs.shape[1], 1)
    assert out.log_prob is None and out.baseline is None  # soft reads: no policy to learn
    hard = _model(task, memory_size=8, word_size=5, addressing="hard")
    out = hard(batch.inputs)
    assert out.log_prob.shape == out.baseline.shape == (3,)
    loss = task.loss(out, batch)
    loss.backward()
    assert all(p.grad is not None for p in hard.parameters())


def test_compose_and_build_model_make_the_same_ntm():
    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    task = CopyTask(CopyConfig(valid_size=4, test_size=4))
    config = composed_config(registry.core_entry("ntm"))(memory_size=8, word_size=5,
                                                         addressing="hard")
    torch.manual_seed(0)
    built = build_model("ntm", config, task)
    torch.manual_seed(0)
    composed = compose(registry.core_entry("ntm"), config, task.info)
    assert built.state_dict().keys() == composed.state_dict().keys()
    for key, value in built.state_dict().items():
        assert torch.equal(value, composed.state_dict()[key]), key
    # the keys of the model before composition (AlignedModel): old run directories still load
    assert {k.split(".")[0] for k in built.state_dict()} == {"core", "head", "baseline"}


def test_learns_copy():
    """Fixed seed: an NTM (LSTM controller, 16 x 8 memory) learns copy of lengths 1-4 within a
    few hundred updates: well under 0.5 wrong bits per sequence on held-out sequences, where
    guessing gets 10 (8 bits x 2.5 vectors / 2)."""
    from mneme.tasks.algorithmic import CopyConfig, CopyTask
    from mneme.train.evaluate import evaluate

    torch.manual_seed(0)
    task = CopyTask(CopyConfig(min_length=1, max_length=4, valid_size=200, test_size=200))
    model = _model(task, memory_size=16, word_size=8, controller_size=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, task, opt, 300, clip_norm=10.0)
    bits = evaluate(model, task, "test", 200)["bits"]
    assert bits < 0.5, bits
    assert math.isfinite(bits)


def test_plots_sequences_and_a_long_copy(tmp_path):
    from mneme.tasks.algorithmic import CopyConfig, CopyTask
    from mneme.viz.ntm import plot_algorithmic_run

    task = CopyTask(CopyConfig(max_length=5, valid_size=2, test_size=2, test_lengths=(3, 12),
                               generalisation_size=2))
    model = _model(task, memory_size=8, word_size=4, controller_size=8, addressing="hard")
    paths = plot_algorithmic_run(task, model, tmp_path / "plots", examples=1, title="ntm")
    names = sorted(p.name for p in paths)
    assert names == ["generalisation-len12.png", "sequence-0.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
