"""The DNC's panels for the algorithmic-task figures (Graves et al. 2016, Figure 1 and Extended
Data Figure 1): free gates, allocation and write gates, each read head's read modes, and usage,
all over time. ``mneme.viz.ntm`` adds them to a sequence's figure when the trace has them."""

from __future__ import annotations

from typing import Any

import torch

from mneme.viz.ntm import Panel

__all__ = ["dnc_panels"]


def dnc_panels(trace: Any, index: int, steps: int) -> list[Panel]:
    """Panels of sequence ``index`` of a ``DNCTrace`` (first ``steps`` steps); [] otherwise."""
    free = getattr(trace, "free_gates", None)
    if free is None:
        return []
    gates = torch.cat([trace.allocation_gates[index, :steps], trace.write_gates[index, :steps]],
                      -1)
    rw = trace.allocation_gates.shape[-1]
    panels = [
        Panel("free gates (row: read head)", free[index, :steps].T, "read head"),
        Panel(f"allocation and write gates (rows: {rw} allocation, then {rw} write)", gates.T,
              "gate"),
    ]
    modes = trace.read_modes[index, :steps]  # (T, R, 1 + 2 Rw)
    names = "backward, content, forward" if rw == 1 else f"{rw} backward, content, {rw} forward"
    for h in range(modes.shape[1]):
        panels.append(Panel(f"read modes, head {h} (rows: {names})", modes[:, h].T, "mode"))
    panels.append(Panel("usage", trace.usage[index, :steps].T, "location"))
    return panels
