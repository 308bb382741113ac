"""The Differentiable Neural Computer (Graves et al. 2016, Methods) and its memory access."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tests.learning import train_steps
from torch.func import functional_call

from mneme import registry
from mneme.errors import UserError
from mneme.memory import dnc_access as access
from mneme.memory.dnc import DNC, DNCConfig, DNCState, build_dnc_core, oneplus
from mneme.models.build import build_model
from mneme.models.sequence import composed_config

f64 = torch.float64


def _core(d=3, seed=0, **kw) -> DNC:
    torch.manual_seed(seed)
    base = dict(memory_size=5, word_size=4, num_reads=2, controller_size=8)
    return DNC(d, DNCConfig(**{**base, **kw})).double()


def _t(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=f64)


# -- the access maths by hand --------------------------------------------------------------------
def test_allocation_weighting_by_hand():
    # u = [0.4, 0.1, 0.9]: ascending order phi = [1, 0, 2] (0.1, 0.4, 0.9), so
    #   a[1] = (1 - 0.1)                  = 0.9
    #   a[0] = (1 - 0.4) * 0.1            = 0.06
    #   a[2] = (1 - 0.9) * 0.1 * 0.4      = 0.004
    # and sum(a) = 1 - 0.1 * 0.4 * 0.9 = 0.964.
    u = _t(0.4, 0.1, 0.9)
    a = access.allocation_weighting(u, eps=0.0)
    torch.testing.assert_close(a, _t(0.06, 0.9, 0.004))
    assert a.sum().item() == pytest.approx(0.964)
    # DeepMind's eps changes it by O(eps) only; batched over leading dims
    batch = torch.stack([u, u.flip(0)])
    a = access.allocation_weighting(batch)
    torch.testing.assert_close(a, torch.stack([_t(0.06, 0.9, 0.004), _t(0.004, 0.9, 0.06)]),
                               atol=2e-6, rtol=0)
    # ties go to the lowest index: an empty memory allocates slot 0, then 1 (usage eps)
    a = access.allocation_weighting(torch.zeros(4, dtype=f64))
    assert a.argmax() == 0 and a[0] == pytest.approx(1 - 1e-6)
    assert a[1] == pytest.approx(1e-6 * (1 - 1e-6))


def test_two_write_heads_allocate_in_turn():
    # head 0 (both gates 1) allocates a0 = [0.06, 0.9, 0.004] from u = [0.4, 0.1, 0.9], raising
    # usage to u' = u + (1 - u) a0 = [0.436, 0.91, 0.9004]; head 1 allocates from u' (order
    # 0, 2, 1): a1 = [1 - 0.436, 0.436 * 0.9004 * (1 - 0.91), 0.436 * (1 - 0.9004)]
    u = _t(0.4, 0.1, 0.9).unsqueeze(0)
    ones = torch.ones(1, 2, dtype=f64)
    a = access.write_allocations(u, ones, ones)[0]
    torch.testing.assert_close(a[0], _t(0.06, 0.9, 0.004), atol=1e-5, rtol=0)
    torch.testing.assert_close(a[1], _t(0.564, 0.436 * 0.9004 * 0.09, 0.436 * 0.0996),
                               atol=1e-5, rtol=0)
    # a closed allocation gate leaves head 1 the same usage as head 0
    a = access.write_allocations(u, ones, torch.zeros(1, 2, dtype=f64))[0]
    torch.testing.assert_close(a[0], a[1])


def test_retention_and_usage_by_hand():
    # psi = (1 - 1.0 [.5, .5, 0]) (1 - .5 [0, 1, 0]) = [.5, .5, 1] [1, .5, 1] = [.5, .25, 1]
    free = _t(1.0, 0.5).unsqueeze(0)
    read_w = _t(0.5, 0.5, 0.0, 0.0, 1.0, 0.0).view(1, 2, 3)
    psi = access.retention(free, read_w)
    torch.testing.assert_close(psi, _t(0.5, 0.25, 1.0).unsqueeze(0))
    # u + w - u w = [0.4, 0.1 + 0.5 - 0.05, 0.9 + 0.1 - 0.09] = [0.4, 0.55, 0.91]; times psi
    prev_w = _t(0.0, 0.5, 0.1).view(1, 1, 3).requires_grad_()
    u = access.update_usage(_t(0.4, 0.1, 0.9).unsqueeze(0), prev_w, psi)
    torch.testing.assert_close(u, _t(0.2, 0.1375, 0.91).unsqueeze(0))
    assert u.grad_fn is None  # not differentiated through the write weighting (DeepMind)


def test_write_weighting_and_read_modes_by_hand():
    c, a = _t(0.2, 0.8, 0.0).view(1, 1, 3), _t(0.0, 0.0, 1.0).view(1, 1, 3)
    w = access.write_weighting(c, a, _t(0.25).view(1, 1), _t(0.5).view(1, 1))
    # 0.5 (0.25 a + 0.75 c) = [0.075, 0.3, 0.125]
    torch.testing.assert_close(w, _t(0.075, 0.3, 0.125).view(1, 1, 3))
    # modes [b, c, f] = [0.2, 0.5, 0.3]; b, c, f one-hot at slots 0, 2, 1 -> [0.2, 0.3, 0.5]
    modes = _t(0.2, 0.5, 0.3).view(1, 1, 3)
    b, f = _t(1.0, 0.0, 0.0).view(1, 1, 1, 3), _t(0.0, 1.0, 0.0).view(1, 1, 1, 3)
    r = access.read_weighting(modes, b, _t(0.0, 0.0, 1.0).view(1, 1, 3), f)
    torch.testing.assert_close(r, _t(0.2, 0.3, 0.5).view(1, 1, 3))


def test_link_and_precedence_by_hand():
    n = 3
    link, p = torch.zeros(1, 1, n, n, dtype=f64), torch.zeros(1, 1, n, dtype=f64)
    # write slot 0 then slot 1: only L[1, 0] = 1 ("1 was written after 0")
    for slot in (0, 1):
        w = torch.zeros(1, 1, n, dtype=f64)
        w[..., slot] = 1.0
        link, p = access.update_link(link, p, w), access.update_precedence(p, w)
    expected = torch.zeros(n, n, dtype=f64)
    expected[1, 0] = 1.0
    torch.testing.assert_close(link[0, 0], expected)
    torch.testing.assert_close(p[0, 0], _t(0.0, 1.0, 0.0))
    # forward from slot 0 is slot 1; backward from slot 1 is slot 0
    reads = _t(1.0, 0.0, 0.0, 0.0, 1.0, 0.0).view(1, 2, n)
    fwd, bwd = access.directional_weightings(link, reads)
    torch.testing.assert_close(fwd[0, :, 0], _t(0.0, 1.0, 0.0, 0.0, 0.0, 0.0).view(2, n))
    torch.testing.assert_close(bwd[0, :, 0], _t(0.0, 0.0, 0.0, 1.0, 0.0, 0.0).view(2, n))


def test_soft_link_update_by_hand():
    # w = [0.5, 0.25, 0], p_{t-1} = [0.2, 0.3, 0.1], L_{t-1} = 0.4 off the diagonal:
    #   L[0, 1] = (1 - 0.75) 0.4 + 0.5 0.3  = 0.25      L[2, 0] = (1 - 0.5) 0.4 + 0 = 0.2
    #   L[1, 2] = (1 - 0.25) 0.4 + 0.25 0.1 = 0.325     L[i, i] = 0
    #   p_t = (1 - 0.75) p_{t-1} + w = [0.55, 0.325, 0.025]
    w = _t(0.5, 0.25, 0.0).view(1, 1, 3)
    p = _t(0.2, 0.3, 0.1).view(1, 1, 3)
    prev = 0.4 * (1 - torch.eye(3, dtype=f64)).view(1, 1, 3, 3)
    link = access.update_link(prev, p, w)[0, 0]
    assert (link[0, 1], link[2, 0], link[1, 2]) == pytest.approx((0.25, 0.2, 0.325))
    assert torch.all(link.diagonal() == 0)
    torch.testing.assert_close(access.update_precedence(p, w), _t(0.55, 0.325, 0.025).view(1, 1, 3))


# -- the core ------------------------------------------------------------------------------------
def test_config_validation_names_the_field():
    with pytest.raises(UserError, match=r"DNCConfig\.memory_size must be >= 1 \(got 0\)"):
        DNC(3, DNCConfig(memory_size=0))
    with pytest.raises(UserError, match=r"DNCConfig\.num_writes"):
        DNC(3, DNCConfig(num_writes=0))
    with pytest.raises(UserError, match="input_size"):
        DNC(0)


def test_dnc_is_a_registered_core_with_an_interface_of_the_papers_size():
    entry = registry.core_entry("dnc")
    assert entry.build is build_dnc_core and (entry.family, entry.size) == ("external",
                                                                            "controller_size")
    core = build_dnc_core(DNCConfig(), 9)
    # the paper's interface size with Rw = 1: W R + 3 W + 5 R + 3
    w, r = 16, 4
    assert core.interface.out_features == w * r + 3 * w + 5 * r + 3
    assert core.output_size == 64 + r * w
    assert core.controller.input_size == 9 + r * w


@pytest.mark.parametrize("kw", [{}, {"num_writes": 2, "num_reads": 3}])
def test_forward_equals_repeated_step_and_trace_shapes(kw):
    core = _core(**kw)
    x = torch.randn(2, 6, 3, dtype=f64)
    y, state, trace = core(x, trace=True)
    s, stepped = core.initial_state(2, dtype=f64), []
    for t in range(6):
        out, s = core.step(x[:, t], s)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped, 1), y)
    for f in dataclasses.fields(DNCState):
        torch.testing.assert_close(getattr(s, f.name), getattr(state, f.name))
    r, rw, n = core.config.num_reads, core.config.num_writes, core.config.memory_size
    assert trace.write_weightings.shape == (2, 6, rw, n)
    assert trace.read_weightings.shape == (2, 6, r, n)
    assert trace.free_gates.shape == (2, 6, r)
    assert trace.allocation_gates.shape == trace.write_gates.shape == (2, 6, rw)
    assert trace.read_modes.shape == (2, 6, r, 1 + 2 * rw)
    assert trace.usage.shape == (2, 6, n)
    # invariants: weightings are (sub-)distributions, usage in [0, 1], modes distributions
    assert torch.all(trace.write_weightings.sum(-1) <= 1 + 1e-9)
    torch.testing.assert_close(trace.read_weightings.sum(-1) <= 1 + 1e-9,
                               torch.ones_like(trace.read_weightings[..., 0], dtype=torch.bool))
    assert torch.all((trace.usage >= 0) & (trace.usage <= 1))
    torch.testing.assert_close(trace.read_modes.sum(-1), torch.ones(2, 6, r, dtype=f64))
    assert torch.all(state.link.diagonal(dim1=-2, dim2=-1) == 0)


def _gradcheck(core: DNC, run, x: torch.Tensor) -> None:
    names = ("interface.weight", "interface.bias", "controller.weight_hh")
    named = dict(core.named_parameters())
    params = [named[k].detach().clone().requires_grad_() for k in names]

    def call(x, *ps):
        return run(lambda *args: functional_call(core, dict(zip(names, ps)), args), x)

    assert torch.autograd.gradcheck(call, (x, *params))


def test_gradcheck_whole_core():
    """float64 gradcheck through every part (input, controller and interface weights) over 4
    steps, usage differentiated through the write weighting too (``usage_gradient``)."""
    core = _core(memory_size=4, word_size=3, num_reads=2, num_writes=2, controller_size=5,
                 clip_controller=None, usage_gradient=True)
    x = torch.randn(2, 4, 3, dtype=f64, requires_grad=True)
    _gradcheck(core, lambda f, x: f(x)[0], x)
    u = torch.tensor([[0.3, 0.05, 0.8, 0.55]], dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(access.allocation_weighting, (u,))


def test_gradcheck_one_step_with_deepminds_stopped_usage_gradient():
    """The default stops usage's gradient through the last write weighting, a state input: one
    step from a random state, differentiated in x and the weights, is exact."""
    core = _core(memory_size=4, word_size=3, num_reads=2, controller_size=5, clip_controller=None)
    g = torch.Generator().manual_seed(3)
    s = core.initial_state(2, dtype=f64)
    soft = lambda t: 0.9 * torch.softmax(torch.randn(t.shape, generator=g, dtype=f64), -1)  # noqa: E731
    s = DNCState(torch.randn(s.memory.shape, generator=g, dtype=f64),
                 torch.rand(s.usage.shape, generator=g, dtype=f64),
                 0.5 * soft(s.link) * (1 - torch.eye(4, dtype=f64)), soft(s.precedence),
                 soft(s.read_weightings), soft(s.write_weightings),
                 torch.randn(s.reads.shape, generator=g, dtype=f64), soft(s.hidden), s.cell)
    x = torch.randn(2, 3, dtype=f64, requires_grad=True)
    _gradcheck(core, lambda f, x: f(x.unsqueeze(1), s)[0], x)


@pytest.mark.parametrize("logit", [1e4, -1e4])
@pytest.mark.parametrize("usage", [0.0, 1.0])
def test_saturated_gates_zero_memory_and_full_usage_stay_finite(logit, usage):
    """Interface logits of +-1e4 (gates exactly 0 or 1, strengths 1e4, one-hot read modes),
    zero memory, usage all 0 or all 1: outputs and every gradient are finite."""
    core = DNC(3, DNCConfig(memory_size=4, word_size=3, num_reads=2, controller_size=6,
                            clip_controller=None))
    with torch.no_grad():
        core.interface.weight.zero_()
        core.interface.bias.fill_(logit)
    state = dataclasses.replace(core.initial_state(2), usage=torch.full((2, 4), usage))
    x = torch.randn(2, 5, 3, requires_grad=True)
    y, new = core(x, state)
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(getattr(new, f.name)).all() for f in dataclasses.fields(new))
    (y.sum() + new.memory.sum()).backward()
    assert torch.isfinite(x.grad).all()
    for name, p in core.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for u in (torch.ones(2, 4, requires_grad=True), torch.zeros(2, 4, requires_grad=True)):
        a = access.allocation_weighting(u)
        a.sum().backward()
        assert torch.isfinite(a).all() and torch.isfinite(u.grad).all()
    assert oneplus(torch.tensor(1e4)) == pytest.approx(1e4 + 1)


def test_allocation_writes_the_free_slots_in_turn():
    """Write gate and allocation gate open, no freeing: every step writes an unused slot (slot 0
    first; the order of the other empty slots follows the eps-sized usage that the previous soft
    writes leaked to them), and the link matrix chains them."""
    core = _core(memory_size=4, num_reads=1, clip_controller=None)
    with torch.no_grad():
        core.interface.weight.zero_()
        bias = torch.zeros(core.interface.out_features, dtype=f64)
        split = torch.tensor(core.split).cumsum(0)
        bias[split[5]:split[6]] = -50.0  # free gates closed
        bias[split[6]:split[8]] = 50.0  # allocation and write gates open
        core.interface.bias.copy_(bias)
    _, state, trace = core(torch.zeros(1, 3, 3, dtype=f64), trace=True)
    written = trace.write_weightings[0, :, 0]
    slots = written.argmax(-1).tolist()
    assert slots[0] == 0 and len(set(slots)) == 3  # every step a fresh slot (ties: eps leakage)
    assert written.max(-1).values.min() > 0.99
    a, b, c = slots
    assert state.link[0, 0, b, a] > 0.99 and state.link[0, 0, c, b] > 0.99


def test_learns_copy():
    """Fixed seed: a small DNC (8 x 8 memory, one read head, 32 LSTM units) learns copy of
    lengths 1-3 of 4-bit vectors in 500 Adam updates: well under 0.5 wrong bits per sequence on
    held-out sequences, where guessing gets 4 (4 bits x 2 vectors / 2)."""
    from mneme.tasks.algorithmic import CopyConfig, CopyTask
    from mneme.train.evaluate import evaluate

    torch.manual_seed(0)
    task = CopyTask(CopyConfig(width=4, min_length=1, max_length=3, valid_size=200,
                               test_size=200))
    config = composed_config(registry.core_entry("dnc"))(memory_size=8, word_size=8,
                                                         num_reads=1, controller_size=32)
    model = build_model("dnc", config, task)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    train_steps(model, task, opt, 500, clip_norm=10.0)
    bits = evaluate(model, task, "test", 200)["bits"]
    assert bits < 0.5, bits


def test_plots_the_dnc_panels(tmp_path):
    from mneme.tasks.algorithmic import CopyConfig, CopyTask
    from mneme.viz.ntm import _sequence_panels, plot_algorithmic_run

    task = CopyTask(CopyConfig(max_length=4, valid_size=2, test_size=2, test_lengths=(6,),
                               generalisation_size=2))
    config = composed_config(registry.core_entry("dnc"))(memory_size=6, word_size=4,
                                                         num_reads=2, controller_size=8)
    model = build_model("dnc", config, task)
    batch = task.sample(2, torch.Generator().manual_seed(0))
    out = model(batch.inputs, trace=True)
    titles = [p.title for p in _sequence_panels(task, batch, out.logits, out.trace, 0)]
    for title in ("free gates", "allocation and write gates", "read modes, head 1", "usage"):
        assert any(t.startswith(title) for t in titles), (title, titles)
    paths = plot_algorithmic_run(task, model, tmp_path, examples=1, title="dnc")
    assert sorted(p.name for p in paths) == ["generalisation-len6.png", "sequence-0.png"]
