"""The bAbI v1.2 files (Weston et al. 2015, arXiv:1502.05698): the task names, where each file is,
and parsing a file into examples.

A file holds stories of numbered lines. ``ID text`` is a statement; ID 1 starts a new story; a
question line is ``ID question?<TAB>answer<TAB>supporting ids``. Each question becomes one
example whose story is every statement of its story before it (questions are not statements).

Words are lowercased, split on whitespace, and lose trailing ``.``/``?``; the data has no other
punctuation inside sentences. The task that serves the examples is ``mneme.tasks.babi``, which
re-exports these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mneme.errors import DataFormatError, MissingDataError, UserError

__all__ = [
    "HOW_TO_GET",
    "MAX_STORY_LINES",
    "SIZE_DIRS",
    "TASK_NAMES",
    "BabiExample",
    "babi_file",
    "parse_babi",
    "parse_babi_bytes",
    "resolve_babi_dir",
    "tokenize",
]

TASK_NAMES: dict[int, str] = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts",
    4: "two-arg-relations", 5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge", 11: "basic-coreference",
    12: "conjunction", 13: "compound-coreference", 14: "time-reasoning", 15: "basic-deduction",
    16: "basic-induction", 17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}
SIZE_DIRS: dict[str, str] = {"1k": "en", "10k": "en-10k"}
HOW_TO_GET = (
    "get the official archive tasks_1-20_v1-2.tar.gz "
    "(http://www.thespermwhale.com/jaseweston/babi/tasks_1-20_v1-2.tar.gz, mirror "
    "https://s3.amazonaws.com/text-datasets/babi_tasks_1-20_v1-2.tar.gz) and install it with "
    "'mneme data babi --from tasks_1-20_v1-2.tar.gz' (into $MNEME_DATA/babi or --data-dir)"
)


def tokenize(text: str) -> tuple[str, ...]:
    """Lowercase ``text``, split it on whitespace and strip trailing ``.``/``?`` from each word."""
    words = (w.rstrip(".?") for w in text.lower().split())
    return tuple(w for w in words if w)


@dataclass(frozen=True)
class BabiExample:
    """One question with its story.

    Attributes:
        story: tokenised statements before the question, oldest first (questions excluded).
        query: the tokenised question.
        answer: the answer words (``("n", "w")`` for ``n,w``).
        supporting: 0-based indices into ``story`` of the supporting facts.
        task_id: the bAbI task, 1..20.
        line: 1-based line number of the question in its file.
    """

    story: tuple[tuple[str, ...], ...]
    query: tuple[str, ...]
    answer: tuple[str, ...]
    supporting: tuple[int, ...]
    task_id: int
    line: int

    @property
    def answer_word(self) -> str:
        """The answer as one vocabulary word: its words joined by ``,``."""
        return ",".join(self.answer)


MAX_STORY_LINES = 500
"""The most lines (ids) a story may have; the longest story of bAbI v1.2 has 233 (en-10k task 3,
test), so a longer one is a file whose ids never restart at 1."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are the format's


def parse_babi_bytes(data: bytes, path: str | Path, task_id: int) -> list[BabiExample]:
    """Parse the bytes of a bAbI file; ``path`` only names the file in errors.

    Raises:
        DataFormatError: invalid UTF-8, an empty file or one without questions, a last line
            without its newline (a truncated file), a control character (NUL...), a line without
            a leading integer id, an id that neither continues the story nor is 1, a story
            longer than ``MAX_STORY_LINES``, a tab in a line that is not a question
            (``...?<TAB>``), a ``?`` line without tabs (its tabs lost or turned to spaces), a
            question without an answer, or a supporting id that is not an earlier statement of
            the story.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, line, f"invalid UTF-8 at byte {exc.start}") from None
    if not text.strip():
        raise DataFormatError(path, None, "empty file, expected bAbI stories")
    if not text.endswith("\n"):
        raise DataFormatError(path, text.count("\n") + 1, "the last line has no newline: the "
                              "file looks truncated")
    examples: list[BabiExample] = []
    tokens: dict[str, tuple[str, ...]] = {}  # few distinct sentences: tokenise each once
    story: list[tuple[str, ...]] = []
    index_of: dict[int, int] = {}  # statement id -> index in story; questions never enter
    prev = 0
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue  # blank lines carry nothing; ids alone delimit stories
        if bad := _CONTROL.search(line):
            raise DataFormatError(path, lineno, f"control character U+{ord(bad[0]):04X} at "
                                  f"column {bad.start() + 1}")
        head, _, rest = line.partition(" ")
        if not (head.isdigit() and head.isascii()) or not rest.strip():
            raise DataFormatError(path, lineno,
                                  f"expected '<integer id> <text>', got {line[:60]!r}")
        ident = int(head)
        if ident == 1:
            story, index_of = [], {}
        elif ident != prev + 1:
            raise DataFormatError(
                path, lineno, f"id {ident} does not continue the story (previous id {prev}; "
                f"expected {prev + 1}, or 1 to start a new story)")
        prev = ident
        if ident > MAX_STORY_LINES:
            raise DataFormatError(path, lineno, f"a story of more than {MAX_STORY_LINES} lines "
                                  "(do its ids restart at 1 for each story?)")
        if "\t" not in rest:
            if "?" in rest:
                raise DataFormatError(path, lineno, "a question without tabs (expected "
                                      "question?<TAB>answer<TAB>supporting ids; were the tabs "
                                      "turned to spaces?)")
            index_of[ident] = len(story)
            story.append(tokens.get(rest) or tokens.setdefault(rest, tokenize(rest)))
            continue
        fields = rest.split("\t")
        if not fields[0].rstrip().endswith("?"):
            raise DataFormatError(path, lineno, "a tab in a statement (only a question line, "
                                  "question?<TAB>answer<TAB>supporting ids, holds tabs)")
        if len(fields) < 2 or not fields[1].strip():
            raise DataFormatError(path, lineno, "question without an answer field "
                                  "(expected question<TAB>answer<TAB>supporting ids)")
        if len(fields) > 3:
            raise DataFormatError(path, lineno, f"question line has {len(fields)} tab-separated "
                                  "fields, expected question<TAB>answer<TAB>supporting ids")
        query = tokens.get(fields[0]) or tokens.setdefault(fields[0], tokenize(fields[0]))
        answer = tuple(a.strip().lower() for a in fields[1].strip().split(","))
        if not query or not all(answer):
            raise DataFormatError(path, lineno, "empty question or empty answer word")
        supporting = []
        for token in (fields[2] if len(fields) == 3 else "").split():
            sid = int(token) if token.isdigit() and token.isascii() else -1
            if sid not in index_of:
                why = ("is not an integer id" if sid < 0 else "points to a question line"
                       if 1 <= sid < ident else "points to no earlier statement of the story")
                raise DataFormatError(path, lineno, f"supporting fact {token!r} {why}")
            supporting.append(index_of[sid])
        examples.append(BabiExample(tuple(story), query, answer, tuple(supporting), task_id,
                                    lineno))
    if not examples:
        raise DataFormatError(path, None, "no question lines (expected ID question<TAB>answer...)")
    return examples


def parse_babi(path: str | Path, task_id: int) -> list[BabiExample]:
    """Read one bAbI file into examples in file order; raises ``DataFormatError`` as above."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(
            f"bAbI file not found: {path} (some copies of the data lack "
            f"en-10k/qa3_three-supporting-facts_train.txt); {HOW_TO_GET}") from None
    except OSError as exc:
        raise UserError(f"cannot read bAbI file {path}: {exc}") from None
    return parse_babi_bytes(data, path, task_id)


def resolve_babi_dir(data_dir: str | None) -> Path:
    """The bAbI folder: ``data_dir`` itself if it holds ``en/`` or ``en-10k/``, else its ``babi/``.

    Raises:
        MissingDataError: no ``data_dir`` given, or neither place holds the data.
    """
    if data_dir is None:
        raise MissingDataError(f"bAbI needs a data directory: pass --data-dir or set MNEME_DATA; "
                               f"{HOW_TO_GET}")
    base = Path(data_dir).expanduser()
    for candidate in (base, base / "babi"):
        if any((candidate / sub).is_dir() for sub in SIZE_DIRS.values()):
            return candidate
    raise MissingDataError(f"no bAbI data in {base}: looked for {base}/en, {base}/en-10k, "
                           f"{base}/babi/en and {base}/babi/en-10k; {HOW_TO_GET}")


def babi_file(babi_dir: Path, size: str, task_id: int, split: str) -> Path:
    """Path of ``qa{task_id}_{name}_{split}.txt`` in the ``size`` folder of ``babi_dir``."""
    return babi_dir / SIZE_DIRS[size] / f"qa{task_id}_{TASK_NAMES[task_id]}_{split}.txt"
