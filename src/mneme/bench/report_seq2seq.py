"""The sequence-to-sequence report: attention against the fixed-vector bottleneck.

Translation (French to English, Tatoeba prefixes subset): one row per model with test perplexity
(teacher forced), BLEU of greedy and beam-5 decoding (sacrebleu corpus BLEU against every
reference of a source) and exact match; BLEU by source length (the analogue of Bahdanau et al.
2015, figure 2, ``plots/seq2seq-bleu-by-length.png``); a few test sentences translated by each
model. Reversal: exact match (greedy) at every test length, ``plots/seq2seq-reversal.png``.
The papers' own BLEU come from WMT'14 with long sentences, so the report sets the papers'
qualitative claims (``SEQ2SEQ_CLAIMS``) beside our numbers rather than their numbers.

Decoding a cell is cached in ``OUT/cells/KEY/decoding.json`` (a finished cell never changes).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.bench.anchors import SEQ2SEQ_CLAIMS
from mneme.bench.suites import Cell
from mneme.train.checkpoint import atomic_write_text

BEAM_WIDTH = 5
EXAMPLES = 6
TITLES = {"additive": "attention (additive)", "none": "no attention (fixed vector)"}


def _attention(cell: Cell) -> str:
    return str(getattr(cell.model, "attention", "?"))


def _title(cell: Cell) -> str:
    name = _attention(cell)
    return TITLES.get(name, f"attention ({name})")


def decoded(cell: Cell, out: Path) -> dict[str, Any]:
    """Greedy and beam outputs of a cell's selected model on its test split, and their scores
    (``test-greedy``, ``test-beam5``, ``hyps-greedy``, ``hyps-beam5``), cached on disk."""
    path = out / "cells" / cell.key / "decoding.json"
    if path.is_file():
        return json.loads(path.read_text())
    from mneme.models.translate import decode_sources, score_outputs
    from mneme.train.run import load_run

    _, task, model = load_run(out / "cells" / cell.key)
    result: dict[str, Any] = {}
    for name, kw in (("greedy", {"strategy": "greedy"}),
                     (f"beam{BEAM_WIDTH}", {"strategy": "beam", "beam_width": BEAM_WIDTH})):
        hyps = decode_sources(model, task, task.sources["test"], **kw)  # type: ignore[arg-type]
        result[f"test-{name}"] = score_outputs(task, "test", hyps)
        result[f"hyps-{name}"] = [" ".join(h) for h in hyps]
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    return result


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _epochs(cell: Cell, summary: dict[str, Any]) -> str:
    return f"{summary['best_epoch']}/{cell.train.epochs}"


def translation_part(cells: Sequence[tuple[Cell, dict[str, Any]]], out: Path,
                     results: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    """Markdown lines and the table of the translation cells."""
    head = ("| model | test perplexity | token error % | BLEU greedy | BLEU beam 5 | "
            "exact match % (greedy) | best/trained epochs | train s (wall) |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for cell, summary in cells:
        test, dec = summary["test"], results[cell.key]
        lines.append(
            f"| {_title(cell)} | {_fmt(test.get('perplexity'), 2)} | "
            f"{_fmt(100 * test['error'])} | {_fmt(dec['test-greedy']['bleu'])} | "
            f"{_fmt(dec[f'test-beam{BEAM_WIDTH}']['bleu'])} | "
            f"{_fmt(100 * dec['test-greedy']['exact_match'])} | {_epochs(cell, summary)} | "
            f"{float(summary['seconds']):.0f} |")
    table = "\n".join(lines)
    from mneme.train.run import load_run

    _, task, _ = load_run(out / "cells" / cells[0][0].key)  # the split is the same for all
    sources, references = task.sources["test"], task.references["test"]
    buckets = _length_buckets([len(s) for s in sources])
    by_length = _bleu_by_length(cells, results, sources, references, buckets)
    plot = _plot_by_length(by_length, buckets, "source length (tokens)", "test BLEU (greedy)",
                           out / "plots" / "seq2seq-bleu-by-length.png")
    text = [
        "### French to English (Tatoeba, prefixes subset)",
        "",
        f"{len(sources)} test source sentences (every English translation of a source is a "
        "reference); BLEU is sacrebleu's corpus BLEU on detokenized text; perplexity and token "
        f"error are teacher-forced; beam search keeps {BEAM_WIDTH} hypotheses without length "
        "penalty.",
        "",
        table,
        "",
        "BLEU (greedy) by source length in tokens (punctuation counted, `</s>` not), the "
        "analogue of Bahdanau et al.'s figure 2; the subset holds sentences of at most 10 words, "
        f"far shorter than the papers' (`plots/{plot.name}`):",
        "",
        _bucket_table(by_length, buckets, cells),
        "",
        "Examples (greedy), from short to long test sources:",
        "",
        _examples(cells, results, sources, references),
    ]
    return text, table


def _length_buckets(lengths: Sequence[int]) -> list[tuple[int, int]]:
    """Up to four length ranges holding similar numbers of sources."""
    ordered = sorted(lengths)
    cuts = sorted({ordered[min(len(ordered) - 1, (k * len(ordered)) // 4)] for k in (1, 2, 3)})
    edges = [ordered[0], *[c for c in cuts if c > ordered[0]], ordered[-1] + 1]
    return [(lo, hi - 1) for lo, hi in itertools.pairwise(edges) if hi > lo]


def _bleu_by_length(cells: Sequence[tuple[Cell, dict[str, Any]]],
                    results: dict[str, dict[str, Any]], sources: Sequence[Sequence[str]],
                    references: Sequence[Any], buckets: list[tuple[int, int]],
                    ) -> dict[str, list[float]]:
    from mneme.tasks.translation import corpus_bleu

    out: dict[str, list[float]] = {}
    for cell, _ in cells:
        hyps = [h.split() for h in results[cell.key]["hyps-greedy"]]
        scores = []
        for lo, hi in buckets:
            rows = [i for i, s in enumerate(sources) if lo <= len(s) <= hi]
            scores.append(corpus_bleu([hyps[i] for i in rows], [references[i] for i in rows]))
        out[_title(cell)] = scores
    return out


def _bucket_table(by_length: dict[str, list[float]], buckets: list[tuple[int, int]],
                  cells: Sequence[tuple[Cell, dict[str, Any]]]) -> str:
    head = "| model | " + " | ".join(f"{lo}-{hi} tokens" if hi > lo else f"{lo} tokens"
                                     for lo, hi in buckets) + " |"
    lines = [head, "|---|" + "---|" * len(buckets)]
    for name, scores in by_length.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(s) for s in scores) + " |")
    return "\n".join(lines)


def _examples(cells: Sequence[tuple[Cell, dict[str, Any]]], results: dict[str, dict[str, Any]],
              sources: Sequence[Sequence[str]], references: Sequence[Any]) -> str:
    from mneme.tasks.translation import detokenize

    order = sorted(range(len(sources)), key=lambda i: (len(sources[i]), i))
    picks = [order[round(k * (len(order) - 1) / (EXAMPLES - 1))] for k in range(EXAMPLES)]
    head = "| source | reference | " + " | ".join(_title(c) for c, _ in cells) + " |"
    lines = [head, "|---|---|" + "---|" * len(cells)]
    for i in picks:
        outputs = [detokenize(results[c.key]["hyps-greedy"][i].split()) for c, _ in cells]
        lines.append(f"| {detokenize(sources[i])} | {detokenize(references[i][0])} | "
                     + " | ".join(outputs) + " |")
    return "\n".join(lines)


def reversal_part(cells: Sequence[tuple[Cell, dict[str, Any]]], out: Path,
                  results: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    """Markdown lines and the table of the reversal cells: exact match by test length."""
    lengths = sorted({int(k.removeprefix("exact_match_len")) for c, _ in cells
                      for k in results[c.key]["test-greedy"] if k.startswith("exact_match_len")})
    head = "| length | " + " | ".join(f"{_title(c)} greedy | beam {BEAM_WIDTH}"
                                      for c, _ in cells) + " |"
    lines = [head, "|---|" + "---|---|" * len(cells)]
    curves: dict[str, list[float]] = {_title(c): [] for c, _ in cells}
    for n in lengths:
        row = [str(n)]
        for cell, _ in cells:
            greedy = results[cell.key]["test-greedy"].get(f"exact_match_len{n}", math.nan)
            beam = results[cell.key][f"test-beam{BEAM_WIDTH}"].get(f"exact_match_len{n}",
                                                                   math.nan)
            row += [_fmt(100 * greedy), _fmt(100 * beam)]
            curves[_title(cell)].append(100 * greedy)
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines)
    task = cells[0][0].task
    plot = _plot_by_length(curves, [(n, n) for n in lengths], "sequence length",
                           "exact match % (greedy)", out / "plots" / "seq2seq-reversal.png",
                           trained=(task.min_length, task.max_length))
    trained = ", ".join(f"{_title(c)}: {float(s['seconds']):.0f} s, best/trained epochs "
                        f"{_epochs(c, s)}" for c, s in cells)
    text = [
        "### Sequence reversal",
        "",
        f"Exact match % of {task.test_size} test sequences per length ({task.symbols} symbols), "
        f"trained on lengths {task.min_length}-{task.max_length} (longer test lengths measure "
        f"extrapolation). Training: {trained}. Plot: `plots/{plot.name}`.",
        "",
        table,
    ]
    return text, table


def _plot_by_length(curves: dict[str, list[float]], buckets: list[tuple[int, int]], xlabel: str,
                    ylabel: str, path: Path, *, trained: tuple[int, int] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [(lo + hi) / 2 for lo, hi in buckets]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, ys in curves.items():
        ax.plot(xs, ys, "o-", label=name)
    if trained is not None:
        ax.axvspan(trained[0], trained[1], color="grey", alpha=0.12, label="training lengths")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def seq2seq_section(finished: Sequence[tuple[Cell, dict[str, Any]]],
                    out: Path) -> tuple[str, str]:
    """Markdown for ``results.md`` and the tables for the terminal."""
    from mneme.models.translate import ATTRIBUTION

    results = {cell.key: decoded(cell, out) for cell, _ in finished}
    text = ["## Sequence to sequence: attention against the fixed-vector bottleneck", "",
            "Same sizes with and without attention (additive score, Bahdanau et al. 2015; no "
            "attention: the summary vector starts the decoder and is fed to every step, as in "
            "Cho et al. 2014), one seed each.", ""]
    tables = []
    translation = [(c, s) for c, s in finished if c.task_name == "translation"]
    reversal = [(c, s) for c, s in finished if c.task_name == "reversal"]
    if translation:
        lines, table = translation_part(translation, out, results)
        text += [*lines, ""]
        tables.append(table)
    if reversal:
        lines, table = reversal_part(reversal, out, results)
        text += [*lines, ""]
        tables.append(table)
    text += ["What the papers found (their numbers are on WMT'14 English-French and not "
             "comparable to ours):", ""]
    text += [f"- {claim.claim} ({claim.source})" for claim in SEQ2SEQ_CLAIMS]
    if translation:
        text += ["", ATTRIBUTION]
    return "\n".join(text), "\n\n".join(tables)
