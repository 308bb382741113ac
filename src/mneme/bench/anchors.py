"""Published numbers, each with its source, so every report prints ours beside theirs.

bAbI numbers are test error in % per task (Sukhbaatar, Szlam, Weston & Fergus 2015, "End-To-End
Memory Networks", arXiv 1503.08895v5, Table 1; the LSTM column is Weston et al. 2015, arXiv
1502.05698, reproduced in that table). A failed task is one with error > 5%.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    """A published result: per-task values (None where the source gives none) and its summary."""

    label: str
    source: str
    per_task: tuple[float | None, ...]
    mean: float
    failed: int | None
    unit: str = "test error %"

    def task(self, task_id: int) -> float | None:
        """The published value of bAbI task ``task_id`` (1-based), or None."""
        return self.per_task[task_id - 1] if self.per_task else None


_T1 = "Sukhbaatar et al. 2015, Table 1"

BABI_1K = {
    "memn2n": Anchor(
        "MemN2N PE LS RN (paper)",
        f"{_T1}, 1k, PE LS RN, 3 hops, single-task",
        (0.0, 8.3, 40.3, 2.8, 13.1, 7.6, 17.3, 10.0, 13.2, 15.1,
         0.9, 0.2, 0.4, 1.7, 0.0, 1.3, 51.0, 11.1, 82.8, 0.0),
        mean=13.9,
        failed=11,
    ),
    "memn2n-joint": Anchor(
        "MemN2N PE LS RN joint (paper)",
        f"{_T1}, 1k, PE LS RN, joint training",
        (0.0, 11.4, 21.9, 13.4, 14.4, 2.8, 18.3, 9.3, 1.9, 6.5,
         0.3, 0.1, 0.2, 6.9, 0.0, 2.7, 40.4, 9.4, 88.0, 0.0),
        mean=12.4,
        failed=11,
    ),
    "lstm": Anchor(
        "LSTM (paper)",
        f"{_T1}, 1k, LSTM (Weston et al. 2015)",
        (50.0, 80.0, 80.0, 39.0, 30.0, 52.0, 51.0, 55.0, 36.0, 56.0,
         38.0, 26.0, 6.0, 73.0, 79.0, 77.0, 49.0, 48.0, 92.0, 9.0),
        mean=51.3,
        failed=20,
    ),
}

BABI_10K = {
    "memn2n": Anchor(
        "MemN2N PE LS RN (paper)",
        f"{_T1}, 10k, PE LS RN, 3 hops, single-task",
        (0.0, 0.3, 9.3, 0.0, 0.6, 0.0, 3.7, 0.8, 0.8, 2.4,
         0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 40.7, 6.7, 66.5, 0.0),
        mean=6.6,
        failed=4,
    ),
    "memn2n-joint": Anchor(
        "MemN2N PE LS RN joint (paper)",
        f"{_T1}, 10k, PE LS RN, joint training",
        (0.0, 1.0, 6.8, 0.0, 6.1, 0.1, 6.6, 2.7, 0.0, 0.5,
         0.0, 0.1, 0.0, 0.0, 0.2, 0.2, 41.8, 8.0, 75.7, 0.0),
        mean=7.5,
        failed=6,
    ),
    "lstm": Anchor(
        "LSTM (paper)",
        f"{_T1}, 10k, LSTM (per-task values not given here)",
        (),
        mean=36.4,
        failed=16,
    ),
}

BABI = {"1k": BABI_1K, "10k": BABI_10K}

_FW = "Ba et al. 2016, arXiv 1610.06258, Table 1"

FAST_WEIGHTS: dict[str, dict[int, float]] = {
    "fast-weights": {20: 1.81, 50: 0.0, 100: 0.0},
    "lstm": {20: 60.81, 50: 1.85, 100: 0.0},
    "irnn": {20: 62.11, 50: 60.23, 100: 0.34},
    "alstm": {20: 60.13, 50: 0.42, 100: 0.0},
}
"""Associative retrieval (K = 4) test error % by model and R, from Ba et al.'s Table 1. The
fast-weights R = 20 and 50, LSTM R = 20 and 50 and IRNN R = 20 values are the ones quoted in
mneme's issue; the others are transcribed from the same table."""
FAST_WEIGHTS_SOURCE = _FW
