"""The NTM's compiled path (``NTM.compile_steps``, ``--train.compile``) against its eager steps.

Each test compiles small graphs (10-30 s on two cores); a C++ compiler must be installed, as
``torch.compile`` on the CPU needs one.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mneme.config import TrainConfig
from mneme.errors import ConfigError, UserError
from mneme.memory.ntm import NTM, NTMConfig
from mneme.train.device import compile_steps
from mneme.train.logging import read_metrics


def _pair(seed: int = 0, **kw) -> tuple[NTM, NTM]:
    """Two equal cores; the second trains through compiled chunks of 2 steps."""
    cfg = NTMConfig(**{**dict(memory_size=8, word_size=4, controller_size=6), **kw})
    torch.manual_seed(seed)
    eager = NTM(3, cfg)
    compiled = NTM(3, cfg)
    compiled.load_state_dict(eager.state_dict())
    compiled.compile_steps(chunk=2)
    return eager, compiled


@pytest.mark.parametrize("kw", [
    {},  # the paper's layout: LSTM controller, one read and one write head
    {"controller": "feedforward", "read_heads": 2, "write_heads": 2, "controller_layers": 2,
     "clip_weighting_grad": 10.0},
], ids=["lstm", "feedforward-2-heads"])
def test_compiled_steps_equal_the_eager_steps_values_and_gradients(kw) -> None:
    eager, compiled = _pair(**kw)
    x = torch.randn(2, 5, 3)  # 5 steps in chunks of 2: both chunk shapes (2 and 1) run
    outs = []
    for core in (eager, compiled):
        y, state = core(x)
        loss = y.pow(2).sum() + state.memory.sum() + state.write_weightings.square().sum()
        loss.backward()
        outs.append((y, state, {n: p.grad for n, p in core.named_parameters()}))
    (y_e, s_e, g_e), (y_c, s_c, g_c) = outs
    torch.testing.assert_close(y_c, y_e)
    for f in dataclasses.fields(s_e):
        torch.testing.assert_close(getattr(s_c, f.name), getattr(s_e, f.name), msg=f.name)
    assert g_c.keys() == g_e.keys()
    for name in g_e:
        torch.testing.assert_close(g_c[name], g_e[name], msg=name)


def test_passes_without_gradients_and_traces_run_eagerly_with_equal_values() -> None:
    eager, compiled = _pair()
    x = torch.randn(1, 4, 3)
    with torch.no_grad():
        y_e, _ = eager(x)
        y_c, _ = compiled(x)
    torch.testing.assert_close(y_c, y_e)
    _, _, trace = compiled(x, trace=True)
    assert trace.read_weightings.shape == (1, 4, 1, 8)


def test_past_the_recompile_limit_the_core_warns_and_runs_eagerly() -> None:
    eager, compiled = _pair(memory_size=7)
    x = torch.randn(2, 4, 3)
    with torch._dynamo.config.patch(recompile_limit=1), \
            pytest.warns(RuntimeWarning, match="recompile limit"):
        y_c, _ = compiled(x)  # the second chunk needs a second graph
    y_e, _ = eager(x)
    torch.testing.assert_close(y_c, y_e)
    assert compiled._compiled is not None and compiled._compiled._graph is None


def test_a_chunk_below_one_is_refused() -> None:
    with pytest.raises(UserError, match="chunk must be >= 1"):
        NTM(3, NTMConfig(memory_size=4, word_size=2, controller_size=4)).compile_steps(0)


def test_compile_on_a_model_without_a_compiled_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"TrainConfig\.compile: no core .* only the ntm"):
        compile_steps(torch.nn.Sequential(torch.nn.LSTM(3, 4)))


def test_training_with_compile_follows_the_eager_run(tmp_path) -> None:
    """``--train.compile`` through the trainer: the same training and validation losses, epoch
    by epoch, as the eager run."""
    from mneme.models.build import model_entry
    from mneme.tasks.algorithmic import CopyConfig
    from mneme.train.run import RunConfig, train_run

    task = CopyConfig(width=3, max_length=3, test_lengths=(4,), generalisation_size=8,
                      valid_size=16, test_size=16)
    model = model_entry("ntm", "copy").config(
        memory_size=8, word_size=4, controller_size=8)  # type: ignore[call-arg]
    losses = []
    for compiled in (False, True):
        train = TrainConfig(seed=0, epochs=3, epoch_steps=2, batch_size=4, optimizer="adam",
                            lr=1e-2, eval_batch_size=16, progress=False, tensorboard=False,
                            compile=compiled)
        run = tmp_path / f"compile-{compiled}"
        summary = train_run(RunConfig("copy", task, "ntm", model, train), run, progress=False)
        losses.append([(r["train_loss"], r["valid_cost"]) for r in read_metrics(run)])
        assert summary["test"], summary
    assert len(losses[0]) == 3
    assert [v for r in losses[1] for v in r] == pytest.approx(
        [v for r in losses[0] for v in r], rel=1e-4)


def test_one_pair_of_graphs_serves_every_sequence_length() -> None:
    """Chunks have one shape and strides whatever T is: a sequence's first chunk and the others
    (whose state carries a gradient) compile once each, then every length reuses them."""
    from torch._dynamo.utils import counters

    _, core = _pair(memory_size=5)  # a configuration the other tests do not compile
    before = counters["stats"]["unique_graphs"]
    for steps in (4, 5, 7, 9, 2):
        y, _ = core(torch.randn(1, steps, 3))  # batch 1: where strides could follow T
        y.sum().backward()
    assert counters["stats"]["unique_graphs"] - before == 2
