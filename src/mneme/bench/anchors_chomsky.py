"""Published numbers of the Chomsky-hierarchy suites (``mneme.bench.chomsky_cells``), each with
its source, as ``mneme.bench.anchors`` holds the others' (a module of its own to keep that one
within 400 lines); read by ``mneme.bench.report_chomsky``."""

from __future__ import annotations

__all__ = ["CHOMSKY", "CHOMSKY_SOURCE"]

CHOMSKY_SOURCE = "Delétang et al. 2023, 'Neural Networks and the Chomsky Hierarchy', Table 2"


def _chomsky_table() -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    groups = ("rnn", "stack-rnn", "tape-rnn", "transformer", "lstm")  # Table 2's column order
    for task in ("even-pairs", "modular-arithmetic", "parity-check", "cycle-navigation"):
        rows[task] = {g: 100.0 for g in groups if g != "transformer"}
    rows["modular-arithmetic"]["transformer"] = 24.2
    rows["parity-check"]["transformer"] = 52.0
    rows["cycle-navigation"]["transformer"] = 61.9
    for task, values in (("stack-manipulation", (56.0, 100.0, 100.0, 57.5, 59.1)),
                         ("reverse-string", (62.0, 100.0, 100.0, 62.3, 60.9)),
                         ("duplicate-string", (50.3, 52.8, 100.0, 52.8, 57.6)),
                         ("odds-first", (51.0, 51.9, 100.0, 52.8, 55.6))):
        rows[task] = dict(zip(groups, values))
    return rows


CHOMSKY: dict[str, dict[str, float]] = _chomsky_table()
"""Score (% accuracy averaged over test lengths 41-500, the maximum over 10 seeds and 3 learning
rates, 1M steps of 128) by Chomsky task (``mneme.tasks.chomsky``, short names) and report group.
Only the cells checked against the paper are entered (Table 2 as issue 17 quotes it); the other
cells (Even Pairs' Transformer, the other seven non-regular tasks) are left empty, not guessed."""
