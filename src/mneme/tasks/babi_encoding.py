"""bAbI as ids: the vocabulary, what a model is told (``BabiSpec``), and the encoded splits.

A multi-word answer (``apple,football`` in task 8, ``n,w`` in task 19) is predicted as ONE
class, so its joined string is a word of the vocabulary, as in MemN2N (Sukhbaatar et al. 2015),
whose output matrix is tied to the last embedding.

Shapes: E examples of a split, N memory slots (most recent sentence in slot 0), J words per
sentence, S supporting facts. ``reference_encode`` is the readable encoding of one example that
the batched encoding of ``mneme.tasks.babi.BabiTask`` is tested against; ``mneme.tasks.babi``
re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from mneme.errors import UserError
from mneme.tasks.babi_format import BabiExample

__all__ = [
    "SUPPORT_ABSENT",
    "SUPPORT_OUTSIDE",
    "BabiSpec",
    "Vocabulary",
    "reference_encode",
]


def _story_steps(
    examples: Iterable[BabiExample],
) -> Iterator[tuple[BabiExample, bool, tuple[tuple[str, ...], ...]]]:
    """Yield (example, continues the previous story, its statements not in that story).

    Questions of one story share its statements, so walking only the new ones makes encoding
    linear in the file rather than in questions x story length.
    """
    prev: tuple[tuple[str, ...], ...] = ()
    for ex in examples:
        k = len(prev)
        if k and len(ex.story) >= k and ex.story[:k] == prev:
            yield ex, True, ex.story[k:]
        else:
            yield ex, False, ex.story
        prev = ex.story


class Vocabulary:
    """Word <-> id. Index 0 is the nil (padding) word ``<nil>``, 1 is ``<unk>``.

    Args:
        words: the full ordered word list, starting with ``<nil>``, ``<unk>`` (see ``to_list``).

    Raises:
        UserError: a list that does not start with the two special words or repeats a word.
    """

    NIL = "<nil>"
    UNK = "<unk>"

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if words[:2] != [self.NIL, self.UNK] or len(set(words)) != len(words):
            raise UserError("vocabulary must start with '<nil>', '<unk>' and have unique words")
        self._words = words
        self._index = {w: i for i, w in enumerate(words)}

    @classmethod
    def from_examples(cls, examples: Iterable[BabiExample]) -> Vocabulary:
        """Sorted words of stories, queries and answers, plus each joined answer (one class)."""
        seen: set[str] = set()
        for ex, _, new in _story_steps(examples):
            for sentence in new:
                seen.update(sentence)
            seen.update(ex.query)
            seen.update(ex.answer)
            seen.add(ex.answer_word)
        return cls([cls.NIL, cls.UNK, *sorted(seen - {cls.NIL, cls.UNK})])

    @classmethod
    def from_list(cls, words: Sequence[str]) -> Vocabulary:
        """The vocabulary ``to_list`` saved (run directories keep it as JSON)."""
        return cls(words)

    def to_list(self) -> list[str]:
        """All words in id order."""
        return list(self._words)

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def id(self, word: str) -> int:
        """The id of ``word``; 1 (``<unk>``) for a word not seen in training."""
        return self._index.get(word, 1)

    def encode(self, words: Iterable[str]) -> list[int]:
        """Ids of ``words``, unknown ones as 1 (``<unk>``)."""
        return [self._index.get(w, 1) for w in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ``ids`` (ints or a 1-d tensor)."""
        return [self._words[int(i)] for i in ids]


@dataclass(frozen=True)
class BabiSpec:
    """What a model needs to know: V, J, N and the tasks."""

    vocab_size: int
    sentence_size: int
    memory_size: int
    num_tasks: int
    task_ids: tuple[int, ...]


SUPPORT_ABSENT = -1
"""``supporting`` code: the question has fewer supporting facts than the row has columns."""
SUPPORT_OUTSIDE = -2
"""``supporting`` code: the fact is older than the N sentences kept in memory."""


@dataclass(frozen=True)
class _Split:
    """A split pre-encoded once: ids into the sentence table, so a batch is two gathers."""

    memory: torch.Tensor  # (E, N) row of the sentence table per slot, slot 0 most recent, 0 empty
    query: torch.Tensor  # (E,) row of the sentence table
    target: torch.Tensor  # (E,) vocab id of the joined answer
    task: torch.Tensor  # (E,) task id
    line: torch.Tensor  # (E,) line of the question in its file, to trace errors back
    supporting: torch.Tensor  # (E, S) slot of each supporting fact, SUPPORT_ABSENT/_OUTSIDE

    def select(self, index: torch.Tensor) -> _Split:
        return _Split(*(t[index] for t in (self.memory, self.query, self.target, self.task,
                                           self.line, self.supporting)))

    def __len__(self) -> int:
        return int(self.target.shape[0])


def reference_encode(example: BabiExample, vocab: Vocabulary, memory_size: int,
                     sentence_size: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Readable reference of the batched encoding: ``(N, J)`` story, ``(J,)`` query, target."""
    story = torch.zeros(memory_size, sentence_size, dtype=torch.long)
    for slot, sentence in enumerate(reversed(example.story[-memory_size:])):
        story[slot, : len(sentence)] = torch.tensor(vocab.encode(sentence), dtype=torch.long)
    query = torch.zeros(sentence_size, dtype=torch.long)
    query[: len(example.query)] = torch.tensor(vocab.encode(example.query), dtype=torch.long)
    return story, query, vocab.id(example.answer_word)
