"""The bottom layer: state helpers, the core contract of every registered core, registration."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch

from mneme import registry
from mneme.types import (
    Core,
    TaskInfo,
    detach_state,
    map_state,
    pack_state,
    register_state,
    state_to,
    unpack_state,
)


@register_state
@dataclass(frozen=True)
class Inner:
    memory: torch.Tensor
    steps: int = 0


class Pair(NamedTuple):
    a: torch.Tensor
    b: tuple


def test_map_detach_move_pack_round_trip() -> None:
    w = torch.ones(3, requires_grad=True)
    state = (Inner(w * 2, 4), Pair(w * 3, (w * 4, None)))
    cut = detach_state(state)
    assert cut[0].memory.grad_fn is None and cut[1].b[0].grad_fn is None
    assert cut[0].steps == 4 and isinstance(cut[1], Pair) and cut[1].b[1] is None
    assert state_to(state, "cpu")[0].memory.device.type == "cpu"
    doubled = map_state(lambda t: 2 * t, cut)
    torch.testing.assert_close(doubled[1].a, torch.full((3,), 6.0))
    buffer = io.BytesIO()
    torch.save(pack_state(cut), buffer)
    buffer.seek(0)
    back = unpack_state(torch.load(buffer, weights_only=True))
    assert isinstance(back[0], Inner) and back[0].steps == 4
    torch.testing.assert_close(back[0].memory, cut[0].memory)
    torch.testing.assert_close(back[1][1][0], cut[1].b[0])  # a NamedTuple comes back a tuple


def test_state_errors() -> None:
    @dataclass(frozen=True)
    class Unregistered:
        x: torch.Tensor

    with pytest.raises(TypeError, match="register_state"):
        pack_state(Unregistered(torch.zeros(1)))
    with pytest.raises(TypeError):
        map_state(lambda t: t, object())
    with pytest.raises(ValueError, match="unknown state"):
        unpack_state({"__state__": "NoSuchState"})
    with pytest.raises(TypeError, match="dataclass"):
        register_state(int)  # type: ignore[arg-type]


registry.load()


@pytest.mark.parametrize("name", sorted(registry.CORES))
def test_every_registered_core_keeps_the_contract(name: str) -> None:
    """forward == chunked forward carrying the state == repeated step; the state packs."""
    registry.load()
    entry = registry.core_entry(name)
    config = entry.config(**{entry.size: 8}) if name != "self-attention" else entry.config(
        hidden_size=8, num_heads=2)
    torch.manual_seed(0)
    core = entry.build(config, 3).double().eval()
    assert isinstance(core, Core) and core.output_size >= 1
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, state = core(x)
    assert y.shape == (2, 5, core.output_size)
    y1, mid = core(x[:, :2])
    y2, _ = core(x[:, 2:], mid)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    stepped, s = [], core.initial_state(2, dtype=torch.float64)
    for t in range(5):
        out, s = core.step(x[:, t], s)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped, 1), y)
    unpack_state(pack_state(detach_state(state)))


def test_every_core_is_registered_once_with_a_source() -> None:
    registry.load()
    expected = {"rnn", "irnn", "lstm", "gru", "ntm", "fast-weights", "delta-rule", "alstm",
                "hopfield", "self-attention", "dnc"}
    assert expected <= set(registry.CORES)
    assert not set(registry.CORES) & set(registry.MODELS)  # names are unique
    for entry in registry.CORES.values():
        assert entry.source and entry.family and entry.summary


def test_registering_a_taken_name_is_refused() -> None:
    registry.load()

    @dataclass(frozen=True)
    class C:
        hidden_size: int = 1

    with pytest.raises(ValueError, match="taken"):
        registry.register_core("lstm", config=C, summary="x")(lambda c, d: None)
    with pytest.raises(ValueError, match="taken"):
        registry.register_model("ntm", config=C, summary="x")(lambda c, s: None)
    with pytest.raises(TypeError, match="dataclass"):
        registry.register_task("x", config=int, summary="x")


def test_every_task_declares_what_it_is() -> None:
    from mneme.tasks.adding import AddingConfig, AddingTask
    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    copy = CopyTask(CopyConfig(valid_size=2, test_size=2))
    assert copy.info == TaskInfo(
        kind="generated", inputs="features", input_size=9, outputs="bits", output_size=8,
        readout="every_step", metric="bits", unit="bits per sequence", selection_metric="bits",
        solved_below=1.0, family="algorithmic", source="Graves et al. 2014, section 4.1",
        generalisation=tuple(f"len{n}" for n in CopyConfig().test_lengths))
    adding = AddingTask(AddingConfig(seq_len=5, valid_size=2, test_size=2))
    assert adding.info.outputs == "real" and adding.info.output_bias == 1.0
    assert not TaskInfo("dataset", "structured", 3, "structured", 3, "none", "m", "u",
                        "m").composable
