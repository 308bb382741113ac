"""Figures of stacks and tapes over time (``mneme.viz.stacks``)."""

from __future__ import annotations

import pytest
import torch

from mneme import registry
from mneme.memory.stack_rnn import EMPTY_VALUE
from mneme.viz.stacks import MAX_ROWS, memory_panels, plot_memory_run

PNG = b"\x89PNG\r\n\x1a\n"


def test_tape_panel_is_centred_on_the_head() -> None:
    """A tape of 5 one-element cells holding 0..4 (cell 0 under the head): rows are offsets
    -2 .. 2, i.e. cells 3, 4, 0, 1, 2."""
    tape = torch.arange(5.0).view(1, 5, 1).repeat(2, 1, 1)  # (T, N, C)
    actions = torch.full((2, 5), 0.2)
    acts, contents = memory_panels("tape", actions, tape, "tape 0")
    assert acts.image.shape == (5, 2)
    assert contents.image[:, 0].tolist() == [3.0, 4.0, 0.0, 1.0, 2.0]
    assert "offsets -2 .. 2" in contents.title and contents.vmin == -contents.vmax == -4.0


def test_stack_panel_stops_at_the_deepest_filled_cell() -> None:
    """Cells 0-1 ever filled, 2-5 always empty: two cells of two elements are drawn, top first;
    a tape with more rows than MAX_ROWS is cut to MAX_ROWS."""
    stack = torch.full((3, 6, 2), EMPTY_VALUE)
    stack[1, 0] = torch.tensor([0.5, 0.25])
    stack[2, :2] = torch.tensor([[0.1, 0.2], [0.5, 0.25]])
    _, contents = memory_panels("stack", torch.full((3, 3), 1 / 3), stack, "stack 0")
    assert contents.image.shape == (4, 3)
    assert contents.image[:, 2].tolist() == pytest.approx([0.1, 0.2, 0.5, 0.25])
    _, big = memory_panels("tape", torch.zeros(3, 5), torch.zeros(3, 100, 8), "tape 0")
    assert big.image.shape == (MAX_ROWS, 3)


@pytest.mark.parametrize(("core", "drawn"), [("stack-rnn", "stack"), ("tape-rnn", "tape"),
                                              ("lstm", None)])
def test_plot_memory_run_asks_the_trace(tmp_path, core: str, drawn: str | None) -> None:
    from mneme.models.build import build_model
    from mneme.models.sequence import composed_config
    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    registry.load()
    torch.manual_seed(0)
    task = CopyTask(CopyConfig(max_length=3, valid_size=2, test_size=2))
    model = build_model(core, composed_config(registry.core_entry(core))(hidden_size=8), task)
    paths = plot_memory_run(task, model, tmp_path, examples=2, title=core)
    if drawn is None:
        assert paths == []
        return
    assert sorted(p.name for p in paths) == [f"{drawn}-0.png", f"{drawn}-1.png"]
    assert all(p.read_bytes()[:8] == PNG for p in paths)
