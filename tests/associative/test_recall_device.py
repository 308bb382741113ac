"""Classical recall creates its tensors on the patterns' device.

No accelerator is needed to check it: under ``torch.device("meta")`` as the default device, a
tensor made without ``device=`` lands on ``meta`` and the first op that mixes it with the CPU
patterns fails; recall must then give exactly what it gives without the default.
"""

from __future__ import annotations

import torch

from mneme.associative.bam import bam_recall, bam_weights
from mneme.associative.hopfield import (
    classify_states,
    count_spurious,
    flip_noise,
    hebbian,
    mask_cue,
    recall,
    storkey,
)
from mneme.associative.modern_hopfield import dense_recall


def _everything(x: torch.Tensor) -> list[torch.Tensor]:
    w = hebbian(x)
    out = []
    for update in ("async", "sync"):
        cues = flip_noise(x, 0.2, torch.Generator().manual_seed(1))
        result = recall(w, cues, update=update, generator=torch.Generator().manual_seed(2))
        out += [result.states, result.sweeps, result.energy, result.converged]
    out.append(mask_cue(x, 0.3, "random", torch.Generator().manual_seed(1)))
    out.append(classify_states(x, x))
    spurious = count_spurious(w, x, max_mixtures=2, generator=torch.Generator().manual_seed(3))
    out.append(torch.tensor([spurious.reversed_stable, spurious.mixtures_stable], device="cpu"))
    out.append(storkey(x))
    out.append(bam_recall(bam_weights(x, x[:, :8]), x).y)
    out.append(dense_recall(x, x[:2], generator=torch.Generator().manual_seed(1)).states)
    return out


def test_recall_makes_no_tensor_on_the_default_device() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (3, 16), generator=g).double() * 2 - 1  # (P, N) patterns on the CPU
    expected = _everything(x)
    with torch.device("meta"):  # any tensor made without device= would be on meta
        got = _everything(x)
    for e, g in zip(expected, got, strict=True):
        assert g.device.type == "cpu"
        torch.testing.assert_close(g, e, rtol=0, atol=0)
