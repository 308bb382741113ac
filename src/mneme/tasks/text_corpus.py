"""The language-modelling corpora on disk: where they are, reading them, and their vocabulary.

Penn Treebank (Mikolov's ``ptb.{train,valid,test}.txt``) is read as lines of words, ``<eos>``
appended to each; a character corpus is read as one string. ``TextVocabulary`` maps tokens to ids.
The tasks that serve the token streams are in ``mneme.tasks.text``, which re-exports these names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from mneme.errors import DataFormatError, MissingDataError, UserError

__all__ = [
    "EOS",
    "UNK",
    "TextVocabulary",
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


def read_chars(path: str | Path) -> str:
    """The whole text of ``path``.

    Raises:
        MissingDataError: absent. DataFormatError: invalid UTF-8 or an empty file.
    """
    return _read_text(Path(path), "text", CHARS_HOW_TO_GET)
