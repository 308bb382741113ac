"""Figures of a differentiable stack or tape over time: what a Stack RNN (Joulin & Mikolov 2015,
Figure 2 draws the stack of a^n b^n this way) or a Tape RNN (Deletang et al. 2023) holds and
which actions it takes, step by step.

For each drawn test sequence, one figure of stacked heatmaps over a shared time axis: the inputs
(bits as channels, tokens one-hot), the outputs (sigmoid for bits, softmax for classes), then per
stack or tape its action probabilities (action x time) and its contents (cell x time; with cells
of C > 1 values, C rows per cell). A stack is drawn from the top (cell 0) down; a tape is drawn
around the head, which the core keeps at cell 0: rows are offsets from the head, and the panel
title names the head's row.

``plot_memory_run`` draws nothing (returns ``[]``) unless the model's trace has a ``stacks`` (or
``tops``) or a ``tape`` field: it asks the trace, not the model's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.memory.stack_rnn import EMPTY_VALUE
from mneme.viz.ntm import Panel, plot_panels

__all__ = ["MAX_ROWS", "memory_panels", "plot_memory_run"]

MAX_ROWS = 128
"""At most this many rows (cells x cell size) of a memory panel are drawn."""
STACK_ACTIONS = "push / pop / no-op"
TAPE_ACTIONS = "stay / left / right / jump-left / jump-right"


def _memory(trace: Any) -> tuple[str, Tensor] | None:
    """``("stack" | "tape", (B, T, M, N, C))`` from a trace, or None."""
    if getattr(trace, "tape", None) is not None:
        return "tape", trace.tape
    if getattr(trace, "stacks", None) is not None:
        return "stack", trace.stacks
    if getattr(trace, "tops", None) is not None:
        return "stack", trace.tops.unsqueeze(-2)
    return None


def _cells(kind: str, memory: Tensor) -> tuple[Tensor, list[int]]:
    """The drawn cells ``(T, n, C)`` of one memory ``(T, N, C)`` and their labels: a stack's top
    cells, a tape's cells around the head (offsets -n/2 + 1 .. n/2)."""
    n_all, c = memory.shape[1], memory.shape[2]
    n = max(1, min(n_all, MAX_ROWS // c))
    if kind == "stack":  # down to the deepest cell ever filled (more than 0.01 from empty)
        filled = ((memory - EMPTY_VALUE).abs() > 0.01).any(-1).any(0).nonzero()
        n = min(n, int(filled.max()) + 1 if len(filled) else 1)
        return memory[:, :n], list(range(n))
    offsets = list(range(-((n - 1) // 2), n // 2 + 1))
    return memory[:, [o % n_all for o in offsets]], offsets


def memory_panels(kind: str, actions: Tensor, memory: Tensor, name: str) -> list[Panel]:
    """Two panels of one stack or tape over T steps.

    Args:
        kind: ``"stack"`` or ``"tape"``.
        actions: ``(T, A)`` action probabilities.
        memory: ``(T, N, C)`` contents after each step.
        name: the panel titles' prefix (``"stack 0"``).
    """
    labels = STACK_ACTIONS if kind == "stack" else TAPE_ACTIONS
    cells, offsets = _cells(kind, memory)
    steps, n, c = cells.shape
    image = cells.permute(1, 2, 0).reshape(n * c, steps)  # cell-major rows
    if kind == "stack":
        where = f"cells 0 (top) .. {n - 1}"
    else:
        where = f"offsets {offsets[0]} .. {offsets[-1]} from the head (row {offsets.index(0) * c})"
    rows = "cell" if c == 1 else f"{c} x cell + element"
    bound = max(float(image.abs().max()), 1e-6)  # symmetric: 0 is white
    return [
        Panel(f"{name} actions ({labels})", actions.T, "action"),
        Panel(f"{name} contents, {where}, {c} row(s) per cell", image, rows, vmin=-bound,
              vmax=bound, cmap="RdBu_r"),
    ]


def _io_panels(info: Any, inputs: Any, logits: Tensor) -> list[Panel]:
    """Inputs and outputs of one example, if they are per-step tokens, bits or features."""
    panels = []
    if isinstance(inputs, Tensor) and inputs.dim() == 1 and not inputs.is_floating_point():
        one_hot = torch.nn.functional.one_hot(inputs.long(), int(info.input_size))
        panels.append(Panel("inputs (tokens, one-hot)", one_hot.T.float(), "token",
                            cmap="gray_r"))
    elif isinstance(inputs, Tensor) and inputs.dim() == 2:
        panels.append(Panel("inputs", inputs.T, "channel", vmin=None, vmax=None, cmap="gray_r"))
    if logits.dim() == 2 and info.outputs in ("bits", "classes"):
        probs = torch.sigmoid(logits) if info.outputs == "bits" else logits.softmax(-1)
        kind = "sigmoid" if info.outputs == "bits" else "softmax"
        panels.append(Panel(f"outputs ({kind})", probs.T, "output", cmap="gray_r"))
    return panels


def plot_memory_run(task: Any, model: Any, out_dir: Path, *, examples: int = 3,
                    title: str = "") -> list[Path]:
    """Draw ``examples`` test sequences with the model's stacks or tapes over time
    (``{out_dir}/stack-{i}.png`` or ``tape-{i}.png``).

    Args:
        task: any task whose test batches the model reads.
        model: a composed model (``SequenceModel``); anything without a ``core`` draws nothing.
        out_dir: where the PNGs go.
        examples: how many test sequences to draw.
        title: prefix of every figure's title (model and task).

    Returns:
        The written paths; empty when the trace holds no stack or tape.
    """
    if getattr(model, "core", None) is None:
        return []
    model.eval()
    batch = next(iter(task.eval_batches("test", max(1, examples))))
    with torch.no_grad():
        out = model(batch.inputs, trace=True)
    found = _memory(out.trace)
    if found is None:
        return []
    kind, memory = found
    actions = out.trace.actions
    written = []
    for i in range(min(examples, batch.size)):
        inputs = batch.inputs[i] if isinstance(batch.inputs, Tensor) else None
        panels = _io_panels(task.info, inputs, out.logits[i])
        for m in range(memory.shape[2]):
            panels += memory_panels(kind, actions[i, :, m], memory[i, :, m], f"{kind} {m}")
        path = out_dir / f"{kind}-{i}.png"
        written.append(plot_panels(panels, f"{title}: test sequence {i}", path))
    return written
