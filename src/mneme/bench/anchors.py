"""Published numbers, each with its source, so every report prints ours beside theirs.

bAbI numbers are test error in % per task (Sukhbaatar, Szlam, Weston & Fergus 2015, "End-To-End
Memory Networks", arXiv 1503.08895v5, Table 1; the LSTM column is Weston et al. 2015, arXiv
1502.05698, reproduced in that table; the strongly supervised MemNN is that paper's Table 3, whose
accuracies are turned into errors). A failed task is one with error > 5%.
"""

from __future__ import annotations

import re
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
    "memnn": Anchor(
        "MemNN, strong supervision (paper)",
        "Weston et al. 2015, arXiv 1502.05698, Table 3, column 'MemNN' (Weston et al. 2014: "
        "k = 2 hops, bag of words, supporting facts supervised), 1k; error = 100 - accuracy. "
        "The table's mean row says 75% accuracy (mean 25.0 here); its per-task values average "
        "70.05% (error 29.95)",
        (0.0, 0.0, 80.0, 29.0, 17.0, 53.0, 32.0, 23.0, 35.0, 41.0,
         0.0, 0.0, 0.0, 1.0, 26.0, 73.0, 46.0, 43.0, 100.0, 0.0),
        mean=25.0,
        failed=13,
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


@dataclass(frozen=True)
class PointerAnchor:
    """A published pointer-network result: task, n, metric, value and where it comes from."""

    task: str
    n: int
    metric: str
    """``accuracy %`` (exact match), ``area %`` (area covered) or ``tour length``."""
    value: float
    source: str
    note: str = ""


_PTR = "Vinyals, Fortunato & Jaitly 2015, 'Pointer Networks', arXiv 1506.03134"

POINTER: tuple[PointerAnchor, ...] = (
    PointerAnchor("convex-hull", 5, "accuracy %", 92.0, f"{_PTR}, Table 1",
                  "Ptr-Net trained on n = 5-50 (one model), tested at n = 5"),
    PointerAnchor("convex-hull", 5, "area %", 99.6, f"{_PTR}, Table 1",
                  "same row; transcribed, not re-checked against the PDF here"),
    PointerAnchor("convex-hull", 10, "accuracy %", 87.0, f"{_PTR}, Table 1",
                  "Ptr-Net trained on n = 5-50, tested at n = 10"),
    PointerAnchor("convex-hull", 10, "area %", 99.8, f"{_PTR}, Table 1",
                  "same row; transcribed, not re-checked against the PDF here"),
    PointerAnchor("convex-hull", 50, "accuracy %", 72.6, f"{_PTR}, Table 1",
                  "Ptr-Net trained and tested at n = 50"),
    PointerAnchor("tsp", 5, "tour length", 2.12, f"{_PTR}, Table 2",
                  "Ptr-Net trained on optimal tours at n = 5; the optimum is 2.12"),
    PointerAnchor("tsp", 10, "tour length", 2.88, f"{_PTR}, Table 2",
                  "Ptr-Net trained on optimal tours at n = 10; the optimum is 2.87"),
)
"""Pointer-network anchors. Table 1's Ptr-Net rows at n = 5 and 10 come from one model trained on
n = 5-50 (the issue quotes them as "trained and tested on the same n"; the table's "trained n"
column says 5-50). The paper has no sorting number."""


@dataclass(frozen=True)
class AlgorithmicAnchor:
    """What the NTM paper reports for one model on one algorithmic task.

    The paper gives learning curves and example pictures, not tables of results, so an anchor is
    its text's statements plus, where marked "approx.", values read off a figure (not exact).

    Attributes:
        label: the model as the paper names it.
        summary: the result, short enough for a table cell.
        source: section and figures.
        sequences: training sequences until the curve is near 0 bits, approx., or None where the
            paper shows no convergence or we cannot read one.
    """

    label: str
    summary: str
    source: str
    sequences: int | None = None


_NTM = "Graves, Wayne & Danihelka 2014, 'Neural Turing Machines', arXiv 1410.5401"

ALGORITHMIC: dict[str, dict[str, AlgorithmicAnchor]] = {
    "copy": {
        "ntm-ff": AlgorithmicAnchor(
            "NTM, feedforward controller",
            "cost near 0 (approx. by 200k sequences, Fig. 3); trained on 1-20, copies 10-50 "
            "almost perfectly, 120 with one duplicated vector (Fig. 4)",
            f"{_NTM}, section 4.1, Figures 3-4", 200_000),
        "ntm-lstm": AlgorithmicAnchor(
            "NTM, LSTM controller",
            "cost near 0 (approx. by 200k sequences, Fig. 3); generalises beyond length 20 "
            "like the feedforward NTM (Fig. 4)",
            f"{_NTM}, section 4.1, Figures 3-4", 200_000),
        "lstm": AlgorithmicAnchor(
            "LSTM",
            "learns much slower and ends at a higher cost than NTM (Fig. 3); copies up to length "
            "20 almost perfectly, fails beyond (Fig. 5)",
            f"{_NTM}, section 4.1, Figures 3, 5"),
    },
    "repeat-copy": {
        "ntm-ff": AlgorithmicAnchor(
            "NTM, feedforward controller",
            "near 0 (approx. by 100k sequences, Fig. 7); length 20 almost perfect; beyond 10 "
            "repeats keeps copying but misplaces the end marker (Fig. 8)",
            f"{_NTM}, section 4.2, Figures 7-8", 100_000),
        "ntm-lstm": AlgorithmicAnchor(
            "NTM, LSTM controller",
            "near 0 (approx. by 100k sequences, Fig. 7); generalisation shown for NTM (Fig. 8)",
            f"{_NTM}, section 4.2, Figures 7-8", 100_000),
        "lstm": AlgorithmicAnchor(
            "LSTM",
            "solves it, slower than NTM (approx. 300k sequences, Fig. 7), with 3 x 512 units; "
            "fails at length 20 and at 20 repeats (Fig. 8)",
            f"{_NTM}, section 4.2, Figures 7-8", 300_000),
    },
    "associative-recall": {
        "ntm-ff": AlgorithmicAnchor(
            "NTM, feedforward controller",
            "near 0 within approx. 30k episodes (text); nearly perfect up to 12 items, below "
            "1 bit at 15 items (text, Fig. 11)",
            f"{_NTM}, section 4.3, Figures 10-11", 30_000),
        "ntm-lstm": AlgorithmicAnchor(
            "NTM, LSTM controller",
            "near 0, slower than the feedforward controller (text, Fig. 10); generalises to "
            "many more items than LSTM (Fig. 11)",
            f"{_NTM}, section 4.3, Figures 10-11"),
        "lstm": AlgorithmicAnchor(
            "LSTM",
            "does not reach zero cost after 1M episodes (text); fails beyond the training "
            "number of items (Fig. 11)",
            f"{_NTM}, section 4.3, Figures 10-11"),
    },
    "priority-sort": {
        "ntm-ff": AlgorithmicAnchor(
            "NTM, feedforward controller",
            "substantially better than LSTM (Fig. 18), with 8 heads and 512 controller units "
            "(Table 1)",
            f"{_NTM}, section 4.5, Figure 18, Table 1"),
        "ntm-lstm": AlgorithmicAnchor(
            "NTM, LSTM controller",
            "substantially better than LSTM (Fig. 18), with 5 heads and a 2 x 100 controller "
            "(Table 2)",
            f"{_NTM}, section 4.5, Figure 18, Table 2"),
        "lstm": AlgorithmicAnchor(
            "LSTM",
            "substantially worse than NTM (Fig. 18); 3 x 128 units (Table 3)",
            f"{_NTM}, section 4.5, Figure 18, Table 3"),
    },
}
"""The NTM paper's algorithmic results by task and report group (``ntm-ff``, ``ntm-lstm``,
``lstm``). Statements marked "text" paraphrase the paper's prose; "approx." numbers are read off
its learning-curve figures (via a transcription of the figures, not measured on the PDF) and are
only good to a factor of about 2."""
ALGORITHMIC_SOURCE = _NTM


@dataclass(frozen=True)
class LMAnchor:
    """A published language-model result: validation and test values (None where not given)."""

    label: str
    source: str
    valid: float | None
    test: float | None
    unit: str = "perplexity"


_ZAREMBA = "Zaremba, Sutskever & Vinyals 2014, arXiv 1409.2329, Table 1"
_MIKOLOV = ("Mikolov 2012, PhD thesis 'Statistical Language Models Based on Neural Networks', "
            "Table 4.1 (test set only)")

PTB: dict[str, LMAnchor] = {
    "lstm-small": LMAnchor("LSTM 2x200, no dropout (paper)", f"{_ZAREMBA}, non-regularized LSTM",
                           120.7, 114.5),
    "lstm-medium": LMAnchor("LSTM 2x650, dropout 0.5 (paper)",
                            f"{_ZAREMBA}, medium regularized LSTM", 86.2, 82.7),
    "lstm-large": LMAnchor("LSTM 2x1500, dropout 0.65 (paper)",
                           f"{_ZAREMBA}, large regularized LSTM", 82.2, 78.4),
    "ngram": LMAnchor("feedforward NNLM (Bengio et al. 2003)",
                      f"{_MIKOLOV}, feedforward neural network LM [50]", None, 140.2),
    "kn5": LMAnchor("Kneser-Ney 5-gram", f"{_MIKOLOV}, KN5", None, 141.2),
    "rnn": LMAnchor("RNN LM (Mikolov)", f"{_MIKOLOV}, recurrent neural network LM", None, 124.7),
}
"""Penn Treebank (Mikolov's version) word-level perplexity; keys are bench report groups."""


@dataclass(frozen=True)
class Claim:
    """A published qualitative finding a report checks ours against (no number to copy)."""

    claim: str
    source: str


SEQ2SEQ_CLAIMS: tuple[Claim, ...] = (
    Claim("The fixed-vector encoder-decoder degrades as sentences get longer: it does well on "
          "short sentences, but its BLEU falls rapidly with sentence length.",
          "Cho, van Merrienboer, Bahdanau & Bengio 2014, 'On the Properties of Neural Machine "
          "Translation: Encoder-Decoder Approaches', arXiv 1409.1259, abstract and section 4"),
    Claim("With attention (RNNsearch) translation quality does not degrade with source length "
          "the way the encoder-decoder's (RNNenc) does; RNNsearch-50 holds up even beyond 50 "
          "words.",
          "Bahdanau, Cho & Bengio 2015, 'Neural Machine Translation by Jointly Learning to Align "
          "and Translate', arXiv 1409.0473, figure 2 and section 5.1"),
    Claim("The soft alignments are mostly monotonic for English-French, with local reorderings "
          "(adjectives and nouns) found without supervision.",
          "Bahdanau et al. 2015, figure 3 and section 5.2.1"),
)
"""Sequence-to-sequence claims (``mneme bench --suite seq2seq``). The papers' BLEU come from
WMT'14 English-French with 30k-word vocabularies; ours from Tatoeba's short sentences, so only
the qualitative findings are compared."""


COUNTING_LANGUAGES = ("a^n b^n", "a^n b^n c^n", "a^n b^n c^n d^n", "a^n b^2n", "a^n b^m c^(n+m)")
COUNTING: dict[str, tuple[float, ...]] = {
    "rnn": (25.0, 23.3, 13.3, 23.3, 33.3), "lstm": (100.0, 100.0, 68.3, 75.0, 100.0),
    "stack-rnn": (100.0, 100.0, 100.0, 100.0, 43.3), "stack-rnn-rounding": (100.0,) * 5}
"""% of n solved (n up to 60, training n < 20) per report group, columns in Table 2's order
(``COUNTING_LANGUAGES``); the Stack RNN 40+10 without and with rounding. All are multiples of
100/60; as the task brief gives them (the paper's text was not reachable here to re-check)."""
COUNTING_SOURCE = "Joulin & Mikolov 2015, arXiv 1503.01007, Table 2 (% of n solved; here 100 - it)"


@dataclass(frozen=True)
class MatrixAnchor:
    """A published result for a (matrix column, core) pair, with the budget it took.

    Attributes:
        value: in the column's unit (% for retrieval), or None for a qualitative result.
        text: how to print it (``1.81%``, ``~0 bits``).
        source: paper and table or figure.
        budget: the paper's training budget, which is far above the matrix's.
    """

    value: float | None
    text: str
    source: str
    budget: str


def anchor_for(family: str, group: str, column: str) -> tuple[str, str] | None:
    """The published number for a report cell, as ``(text, source)``, or None.

    ``family`` is the task family (``babi``, ``retrieval``, ``algorithmic``, ``lm``, ...),
    ``group`` the report group (``memn2n``, ``lstm``, ``fast-weights``, ...) and ``column`` the
    report's column name for the task setting (``mneme.bench.report_family.column_name``):
    ``task 3 (1k)``, ``R = 20``, ``copy``, ``convex-hull n = 5``, ``ptb``. Reads the tables above
    without changing them.
    """
    if family == "babi":
        match = re.fullmatch(r"task (\d+) \((1k|10k)\)", column)
        anchor = BABI[match[2]].get(group) if match else None
        value = anchor.task(int(match[1])) if anchor and match else None
        return None if value is None or anchor is None else (f"{value:.1f}", anchor.source)
    if family == "retrieval":
        match = re.fullmatch(r"R = (\d+)", column)
        value = FAST_WEIGHTS.get(group, {}).get(int(match[1])) if match else None
        return None if value is None else (f"{value:.2f}", f"{_FW}, R = {match[1]}")  # type: ignore[index]
    if family == "algorithmic":
        found = ALGORITHMIC.get(column.split()[0], {}).get(group)
        return None if found is None else (found.summary, found.source)
    if family == "pointer":
        match = re.fullmatch(r"(\S+) n = (\d+)", column)
        rows = [a for a in POINTER if match and (a.task, a.n) == (match[1], int(match[2]))]
        if not rows:
            return None
        text = ", ".join(f"{a.metric} {a.value:g}" for a in rows)
        return f"{text} ({rows[0].note})", rows[0].source
    if family == "counting" and column in COUNTING_LANGUAGES and group in COUNTING:
        return f"{100 - COUNTING[group][COUNTING_LANGUAGES.index(column)]:.1f}", COUNTING_SOURCE
    if family == "lm" and column == "ptb" and group in PTB:
        lm = PTB[group]
        parts = [f"{name} {value:.1f}" for name, value in (("valid", lm.valid), ("test", lm.test))
                 if value is not None]
        return ", ".join(parts), lm.source
    return None


def _matrix_anchors() -> dict[tuple[str, str], MatrixAnchor]:
    anchors: dict[tuple[str, str], MatrixAnchor] = {}
    for core, by_r in FAST_WEIGHTS.items():
        for r in (20, 50):
            anchors[(f"retrieval-r{r}", core)] = MatrixAnchor(
                by_r[r] / 100, f"{by_r[r]:.2f}%", f"{_FW}, R = {r}",
                "Adam, batch 128, 100k training sequences, to convergence")
    ntm = "ntm-lstm"
    for task in ("copy", "repeat-copy", "associative-recall", "priority-sort"):
        for group, core in ((ntm, "ntm"), ("lstm", "lstm")):
            found = ALGORITHMIC[task][group]
            anchors[(task, core)] = MatrixAnchor(
                None, found.summary.split(";")[0].split(" (")[0], found.source,
                f"{found.sequences:,} sequences" if found.sequences else "up to 1M sequences")
    le = "Le, Jaitly & Hinton 2015, arXiv 1504.00941, section 4.1, Figure 2 (T = 150-400)"
    anchors[("adding-t100", "lstm")] = MatrixAnchor(
        None, "solved at T = 100 (and 500, 1000)",
        "Hochreiter & Schmidhuber 1997, 'Long Short-Term Memory', section 5.4, Experiment 4",
        "to the paper's stopping criterion")
    anchors[("adding-t100", "irnn")] = MatrixAnchor(
        None, "solved (MSE near 0) at T = 150-400, as the LSTM", le, "up to 1M steps")
    anchors[("adding-t100", "rnn")] = MatrixAnchor(
        None, "fails (stays at the baseline MSE of ~0.17) at T >= 150", le, "up to 1M steps")
    return anchors


MATRIX: dict[tuple[str, str], MatrixAnchor] = _matrix_anchors()
"""Published results by (matrix column, core): Ba et al.'s Table 1 for associative retrieval,
the NTM paper's qualitative findings for its four tasks (LSTM controller; the paper's LSTM had
3 layers of 128-512 units, ours one layer of 64), and the adding problem's (Hochreiter &
Schmidhuber 1997; Le et al. 2015, at longer T). Every other pair of the matrix has no published
run that we know of."""
