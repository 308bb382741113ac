"""The MQAR report (``mneme bench --suite mqar``): test accuracy of every memory on the grid of
Zoology's figure 2, the published result beside it, a heatmap, and accuracy against state size.

Cells come from ``mneme.bench.mqar_cells`` (one per core x (T, D) x width x learning rate,
``cell.column`` the (T, D, d) key); their test metrics are read by the matrix report's
``matrix_entries``. Per (core, column) the learning rate with the lowest validation error is
kept (the paper keeps the best rate of its sweep); its test accuracy is the entry. **Bold**:
solved, accuracy >= 99% (the task's ``solved_below`` error of 1%).

State size is measured, not assumed: the floats of the core's state after reading one sequence
of T tokens (``mneme.types.map_state`` over the state the core returns): 2H for the LSTM (h, c),
H^2 + H for the delta rule, min(H^2, T H) + H for fast weights (whose core keeps the past hidden
states instead of the matrix when T < H, an exact equivalent), N x W plus the heads' weightings
and the controller for the NTM and the DNC, 2 x layers x T x d keys and values for the
Transformer, T x 2d for the Hopfield core.

Legend: T sequence length, D key-value pairs, d (H) width, N memory slots, W word size.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mneme import registry
from mneme.bench.anchors_external import MQAR, MQAR_VOCAB
from mneme.bench.report_matrix import matrix_entries
from mneme.bench.suites import Cell
from mneme.types import map_state

__all__ = ["MQAREntry", "mqar_entries", "mqar_section", "state_floats"]


@dataclass(frozen=True)
class MQAREntry:
    """One (core, T, D, d) at its selected learning rate; accuracies in %."""

    core: str
    column: str
    seq_len: int
    num_pairs: int
    width: int
    vocab_size: int
    lr: float
    accuracy: float
    valid_accuracy: float
    sequences: int
    seconds: float
    state_floats: int

    @property
    def solved(self) -> bool:
        return self.accuracy >= 99.0


@functools.cache
def _state_floats(core: str, model: Any, seq_len: int) -> int:
    from mneme.models.sequence import DEFAULT_EMBEDDING_DIM, core_config

    entry = registry.CORES[core]
    d_in = getattr(model, "embedding_dim", None) or DEFAULT_EMBEDDING_DIM
    built = entry.build(core_config(entry, model), d_in)
    with torch.no_grad():
        _, state = built(torch.zeros(1, seq_len, d_in))
    sizes: list[int] = []
    map_state(lambda t: sizes.append(t.numel()) or t, state)
    return sum(sizes)


def state_floats(cell: Cell) -> int:
    """Floats in the state of ``cell``'s core after one sequence of its task's T tokens."""
    return _state_floats(cell.model_name, cell.model, cell.task.seq_len)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def mqar_entries(finished: Sequence[tuple[Cell, dict[str, Any]]]) -> list[MQAREntry]:
    """One entry per (core, column): the learning rate with the lowest validation error."""
    mine = [(c, s) for c, s in finished if c.column is not None]
    best: dict[tuple[str, str], MQAREntry] = {}
    for (cell, summary), entry in zip(mine, matrix_entries(mine)):
        valid = _median([float(r["valid"]["error"]) for r in summary["repeats"]
                         if "error" in r.get("valid", {})])
        task = cell.task
        found = MQAREntry(
            cell.group, entry.column, task.seq_len, task.num_pairs, _width(cell),
            task.vocab_size, cell.train.lr, 100 * (1 - entry.median), 100 * (1 - valid),
            entry.sequences, entry.seconds, state_floats(cell))
        key = (found.core, found.column)
        if key not in best or _better(found, best[key]):
            best[key] = found
    return list(best.values())


def _better(a: MQAREntry, b: MQAREntry) -> bool:
    if math.isnan(b.valid_accuracy):
        return not math.isnan(a.valid_accuracy)
    return a.valid_accuracy > b.valid_accuracy


def _width(cell: Cell) -> int:
    """The cell's width d: the value of its core's size field (``hidden_size``, ...)."""
    return int(getattr(cell.model, registry.CORES[cell.model_name].size))


def _order(entries: Sequence[MQAREntry]) -> tuple[list[str], list[str]]:
    from mneme.bench.mqar_cells import MQAR_CORES

    seen = list(dict.fromkeys(e.core for e in entries))
    cores = [c for c in MQAR_CORES if c in seen] + [c for c in seen if c not in MQAR_CORES]
    first = {e.column: e for e in entries}
    columns = sorted(first, key=lambda c: (first[c].seq_len, first[c].num_pairs, first[c].width))
    return cores, columns


def _table(cores: Sequence[str], columns: Sequence[str], text: Callable[[str, str], str],
           extra: Sequence[str] = ()) -> str:
    rows = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    rows += [f"| {core} | " + " | ".join(text(core, c) for c in columns) + " |" for core in cores]
    return "\n".join([*rows, *extra])


def mqar_section(finished: Sequence[tuple[Cell, dict[str, Any]]], out: Path) -> tuple[str, str]:
    """The report's Markdown section and the table printed in the terminal; draws
    ``OUT/plots/mqar_heatmap.png`` and ``OUT/plots/mqar_state.png`` (and their SVGs)."""
    from mneme.viz.mqar import plot_mqar_heatmap, plot_mqar_state

    entries = mqar_entries(finished)
    if not entries:
        return "", ""
    cores, columns = _order(entries)
    grid = {(e.core, e.column): e for e in entries}
    lrs = {e.lr for e in entries}
    vocab = sorted({e.vocab_size for e in entries})

    def accuracy(core: str, column: str) -> str:
        e = grid.get((core, column))
        if e is None:
            return ""
        shown = f"**{e.accuracy:.1f}**" if e.solved else f"{e.accuracy:.1f}"
        return shown + (f" ({e.lr:g})" if len(lrs) > 1 else "")

    published = [f"| {core} (paper) | " + " | ".join(
        MQAR[core].text if vocab == [MQAR_VOCAB] else "n/a (V differs)" for _ in columns) + " |"
        for core in cores if core in MQAR]
    table = _table(cores, columns, accuracy, published)
    states = _table(cores, columns, lambda core, column: f"{grid[(core, column)].state_floats:,}"
                    if (core, column) in grid else "")
    winners = {c: [k for k in cores if (k, c) in grid and grid[(k, c)].solved] for c in columns}
    solved = [f"- **{c}**: {', '.join(w) or 'none'}" for c, w in winners.items()]
    sources = [f"- {core}: {a.text} ({a.source}; budget: {a.budget})"
               for core, a in MQAR.items() if core in cores]
    sequences = _median([float(e.sequences) for e in entries])
    title = f"MQAR (V = {', '.join(map(str, vocab))}): test accuracy, best rate on validation"
    plot_mqar_heatmap(entries, cores, 99.0, title, out / "plots" / "mqar_heatmap.png")
    plot_mqar_state(entries, cores, 99.0, f"{title}, against state size",
                    out / "plots" / "mqar_state.png")
    text = "\n".join([
        "## Multi-query associative recall (MQAR)", "",
        f"Test accuracy on the queries (%), V = {', '.join(map(str, vocab))}; columns T (length), "
        "kv (pairs), d (width); per cell the learning rate with the best validation accuracy "
        f"(of {', '.join(f'{lr:g}' for lr in sorted(lrs))}"
        f"{', in brackets' if len(lrs) > 1 else ''}); **bold**: solved (>= 99%). Median "
        f"{sequences:,.0f} training sequences a cell (cells stop at 99% validation accuracy).", "",
        table, "", "Solved by:", *solved, "",
        "Published (at the paper's budget, far larger than ours):", *(sources or ["- none"]), "",
        "State size: floats in the state after one sequence of T tokens (measured):", "",
        states, "", "![heatmap](plots/mqar_heatmap.png)", "",
        "![accuracy against state size](plots/mqar_state.png)", ""])
    return text, "\n".join([table, "", "Solved by:", *solved])
