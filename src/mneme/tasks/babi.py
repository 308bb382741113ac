"""The 20 bAbI question-answering tasks, v1.2 (Weston et al. 2015, arXiv:1502.05698).

Shapes: B batch, N memory slots (most recent sentence in slot 0), J words per sentence, V
vocabulary. Real files are read from the data directory the CLI passes in; this module never
reads the environment.

Where it lives: the file format, the paths and the parser (``parse_babi``, ``BabiExample``) in
``mneme.tasks.babi_format``; the vocabulary, ``BabiSpec`` and the encoded splits in
``mneme.tasks.babi_encoding``; the configuration and the task (``BabiConfig``, ``BabiTask``)
here. Every public name is importable from this module.
"""

from __future__ import annotations

import difflib
import random
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.registry import register_task
from mneme.tasks.babi_encoding import (
    SUPPORT_ABSENT,
    SUPPORT_OUTSIDE,
    BabiSpec,
    Vocabulary,
    _Split,
    _story_steps,
    reference_encode,
)
from mneme.tasks.babi_format import (
    HOW_TO_GET,
    MAX_STORY_LINES,
    SIZE_DIRS,
    TASK_NAMES,
    BabiExample,
    babi_file,
    parse_babi,
    parse_babi_bytes,
    resolve_babi_dir,
    tokenize,
)
from mneme.tasks.babi_sequence import story_tokens
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, each, in_range, invalid, one_of

__all__ = [
    "HOW_TO_GET",
    "MAX_STORY_LINES",
    "SIZE_DIRS",
    "SUPPORT_ABSENT",
    "SUPPORT_OUTSIDE",
    "TASK_NAMES",
    "BabiConfig",
    "BabiDataWarning",
    "BabiExample",
    "BabiSpec",
    "BabiTask",
    "Vocabulary",
    "babi_file",
    "holdout",
    "parse_babi",
    "parse_babi_bytes",
    "per_task_error",
    "reference_encode",
    "resolve_babi_dir",
    "tokenize",
]


@dataclass(frozen=True)
class BabiConfig(Validated):
    """Which bAbI data to load and how to present it.

    Attributes:
        task_id: the task, 1..20 (ignored when ``joint``).
        joint: train on several tasks at once: ``tasks``, or all 20 when ``tasks`` is empty.
        tasks: the subset for joint training.
        size: ``"1k"`` (``en/``) or ``"10k"`` (``en-10k/``) training questions per task.
        data_dir: the ``babi`` folder (holding ``en/``) or its parent; the CLI fills it from
            ``--data-dir`` or ``$MNEME_DATA``.
        memory_size: N, the most recent statements kept in memory (MemN2N uses 50).
        valid_fraction: share of each task's training questions held out for validation.
        split_seed: seed of that hold-out.
    """

    task_id: int = field(default=1, metadata=in_range(1, 20))
    joint: bool = False
    tasks: tuple[int, ...] = field(default=(), metadata=each(in_range(1, 20)))
    size: Literal["1k", "10k"] = field(default="1k", metadata=one_of(*SIZE_DIRS))
    data_dir: str | None = None
    memory_size: int = field(default=50, metadata=at_least(1))
    valid_fraction: float = field(default=0.1, metadata=in_range(0.0, 0.5, closed="left"))
    split_seed: int = 0

    def check(self) -> None:
        if len(set(self.tasks)) != len(self.tasks):
            raise invalid(self, "tasks", "must be distinct task ids")
        if self.tasks and not self.joint:
            raise invalid(self, "tasks", "picks the joint-training subset; set joint=True")

    def task_ids(self) -> tuple[int, ...]:
        """The tasks loaded, ascending."""
        if not self.joint:
            return (self.task_id,)
        return tuple(sorted(self.tasks)) if self.tasks else tuple(range(1, 21))


def holdout(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split ``range(n)`` into sorted (kept, held out) lists, ``round(n * fraction)`` held out."""
    held = sorted(random.Random(seed).sample(range(n), round(n * fraction)))
    held_set = set(held)
    return [i for i in range(n) if i not in held_set], held


def per_task_error(totals: dict[str, float]) -> dict[int, float]:
    """Error fraction per task, ``error_task{N} / n_task{N}``, from summed (unreduced) metrics."""
    return {int(k[6:]): totals[f"error_task{k[6:]}"] / v
            for k, v in totals.items() if k.startswith("n_task") and v > 0}


@register_task("babi", config=BabiConfig, family="babi", needs_data=True,
               summary="bAbI question answering, 20 tasks, 1k or 10k",
               source="Weston et al. 2015, arXiv 1502.05698")
class BabiTask:
    """bAbI as a ``DatasetTask``: loads, encodes and serves the configured tasks.

    Batches: ``inputs = {"story": (B, N, J), "query": (B, J)}`` int64 word ids (0 pads),
    ``targets`` ``(B,)`` vocab id of the joined answer, ``meta`` ``{"task_id", "line", "index"}``
    each ``(B,)`` int64 (line: of the question in its file; index: position in the split).
    Training batches also carry the supervision strongly supervised models train on (the MemNN
    of Weston et al. 2014), which other models ignore: ``inputs["supporting"]`` ``(B, S)`` int64,
    the memory slot of each supporting fact in the order the file lists them, then
    ``SUPPORT_ABSENT`` (-1) padding; ``SUPPORT_OUTSIDE`` (-2) for a fact outside the memory; S is
    the most facts of any loaded question. ``inputs["answer"]`` ``(B,)`` equals ``targets``.
    The vocabulary comes from the training files (validation questions included, test excluded);
    J is the longest sentence of any loaded split, so every split has the same shapes.

    Raises:
        UserError: a bad config field. MissingDataError: data dir or a file absent (en-10k task 3
            training is missing from some copies). DataFormatError: a malformed file.
    """

    name = "babi"

    def __init__(self, config: BabiConfig) -> None:
        config.validate()
        self.config = config
        self.babi_dir = babi_dir = resolve_babi_dir(config.data_dir)
        train_ex: list[BabiExample] = []
        test_ex: list[BabiExample] = []
        kept: list[int] = []
        held: list[int] = []
        too_few: list[tuple[Path, int]] = []  # (training file, questions) holding none out
        for task_id in config.task_ids():
            path = babi_file(babi_dir, config.size, task_id, "train")
            examples = parse_babi(path, task_id)
            test_ex += parse_babi(babi_file(babi_dir, config.size, task_id, "test"), task_id)
            # seeded per task, so a task's hold-out is the same alone or in joint training
            keep, out = holdout(len(examples), config.valid_fraction,
                                config.split_seed * 1000 + task_id)
            if config.valid_fraction > 0 and not out:
                too_few.append((path, len(examples)))
            kept += [len(train_ex) + i for i in keep]
            held += [len(train_ex) + i for i in out]
            train_ex += examples
        for path, count in too_few[:1] if not held else ():  # after every file was read
            raise DataFormatError(path, None, f"{count} questions leave none for validation "
                                  f"at valid_fraction {config.valid_fraction}; use more "
                                  "questions or a larger --task.valid-fraction")
        self.vocab = Vocabulary.from_examples(train_ex)
        _warn_unseen_answers(test_ex, self.vocab, babi_dir, config.size)
        self.max_supporting = max(len(ex.supporting) for ex in (*train_ex, *test_ex))
        self._rows: dict[tuple[str, ...], int] = {(): 0}  # sentence table; row 0 is empty
        full = self._encode(train_ex)
        self._test = self._encode(test_ex)
        self._train = full.select(torch.tensor(kept, dtype=torch.long))
        self._valid = full.select(torch.tensor(held, dtype=torch.long))
        self.sentence_size = max(len(s) for s in self._rows)
        self._table = torch.zeros(len(self._rows), self.sentence_size, dtype=torch.long)
        for sentence, row in self._rows.items():
            if sentence:
                self._table[row, : len(sentence)] = torch.tensor(self.vocab.encode(sentence))
        self._set_spec()

    def _set_spec(self) -> None:
        """``spec`` and ``info`` from ``config``, ``vocab`` and ``sentence_size``."""
        config = self.config
        self.spec = BabiSpec(len(self.vocab), self.sentence_size, config.memory_size,
                             len(config.task_ids()), config.task_ids())
        self.info = TaskInfo(
            kind="dataset", inputs="structured", input_size=len(self.vocab), outputs="classes",
            output_size=len(self.vocab), readout="last_step", metric="error", unit="%",
            percent=True, selection_metric="error", solved_below=0.05, family="babi",
            source="Weston et al. 2015 (a task passes at >= 95% accuracy)",
            to_sequence=story_tokens)

    def vocab_json(self) -> dict[str, Any]:
        """What a model of this task needs without the data (a run's ``vocab.json``): the
        vocabulary in id order and J, the sentence length."""
        return {"vocab": self.vocab.to_list(), "sentence_size": self.sentence_size}

    @classmethod
    def from_vocab_json(cls, config: BabiConfig, data: dict[str, Any]) -> BabiTask:
        """The task of ``config`` without its data, from ``vocab_json()``: the vocabulary,
        ``spec``, ``info`` and ``encode_story`` (``mneme ask``); its splits are absent.

        Raises:
            UserError: a bad config field or vocabulary. KeyError, TypeError, ValueError:
                ``data`` is not what ``vocab_json`` wrote.
        """
        config.validate()
        task = cls.__new__(cls)
        task.config, task.babi_dir = config, None
        task.vocab = Vocabulary.from_list(data["vocab"])
        task.sentence_size = int(data["sentence_size"])
        task._train = task._valid = task._test = None
        task._set_spec()
        return task

    def _splits(self) -> dict[str, _Split]:
        if self._test is None:
            raise MissingDataError("babi: this task was rebuilt from a run's vocab.json, "
                                   "without its data; pass --data-dir or set MNEME_DATA")
        return {"train": self._train, "valid": self._valid, "test": self._test}

    def _row(self, sentence: tuple[str, ...]) -> int:
        return self._rows.setdefault(sentence, len(self._rows))

    def _encode(self, examples: Sequence[BabiExample]) -> _Split:
        """Vectorised memory: questions of one story share its statements in ``flat``."""
        n = self.config.memory_size
        flat = [0]  # 1-based offsets, so an empty story has a valid (masked) position
        starts, ends = [], []
        start = 1
        for ex, continued, new in _story_steps(examples):
            if not continued:
                start = len(flat)
            flat += [self._row(s) for s in new]
            starts.append(start)
            ends.append(start + len(ex.story))
        flat_t = torch.tensor(flat, dtype=torch.long)
        pos = torch.tensor(ends)[:, None] - 1 - torch.arange(n)[None, :]  # (E, N) newest first
        memory = torch.where(pos >= torch.tensor(starts)[:, None], flat_t[pos.clamp(min=0)], 0)
        query = torch.tensor([self._row(ex.query) for ex in examples], dtype=torch.long)
        target = torch.tensor([self.vocab.id(ex.answer_word) for ex in examples],
                              dtype=torch.long)
        task = torch.tensor([ex.task_id for ex in examples], dtype=torch.long)
        line = torch.tensor([ex.line for ex in examples], dtype=torch.long)
        # Story index s of a story of L statements sits in slot L - 1 - s (slot 0 newest).
        supporting = torch.full((len(examples), self.max_supporting), SUPPORT_ABSENT,
                                dtype=torch.long)
        for i, ex in enumerate(examples):
            for j, s in enumerate(ex.supporting):
                slot = len(ex.story) - 1 - s
                supporting[i, j] = slot if slot < n else SUPPORT_OUTSIDE
        return _Split(memory, query, target, task, line, supporting)

    @property
    def num_train(self) -> int:
        """Training questions after the validation hold-out."""
        return len(self._splits()["train"])

    def _batch(self, split: _Split, index: torch.Tensor, supervision: bool = False) -> Batch:
        part = split.select(index)
        inputs = {"story": self._table[part.memory], "query": self._table[part.query]}
        if supervision:
            inputs |= {"supporting": part.supporting, "answer": part.target}
        meta = {"task_id": part.task, "line": part.line, "index": index}
        return Batch(inputs, part.target, None, meta)

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """Training examples ``indices`` ``(B,)``; ``generator`` is unused (reserved for noise)."""
        return self._batch(self._train, indices.to(device="cpu", dtype=torch.long), True)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Batches of ``"train"`` (kept part), ``"valid"`` or ``"test"`` in file order.

        Raises:
            UserError: an unknown split or a batch size below 1.
        """
        splits = self._splits()
        if split not in splits:
            raise UserError(f"babi: unknown split {split!r}; choose train, valid or test")
        if batch_size < 1:
            raise UserError(f"babi: batch_size must be >= 1, got {batch_size}")
        data = splits[split]
        for first in range(0, len(data), batch_size):
            yield self._batch(data, torch.arange(first, min(first + batch_size, len(data))))

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean cross entropy of ``output.logits`` ``(B, V)`` against the answers, plus aux.

        A model that trains on its own criterion alone (the MemNN's margin ranking loss, which
        needs the supervision of training batches) returns it as ``aux_loss`` with a ``trace``
        whose ``aux_loss_only`` is True: the loss is then ``aux_loss`` alone.
        """
        if output.aux_loss is not None and getattr(output.trace, "aux_loss_only", False):
            return output.aux_loss
        loss = F.cross_entropy(output.logits, batch.targets.to(output.logits.device))
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums: ``count``, ``loss`` (CE), ``error`` (wrong answers), ``error_task{N}`` and
        ``n_task{N}`` for each task in the batch. ``reduce_metrics`` turns ``error`` into the
        error fraction and ``error_task{N}`` into that task's (over ``n_task{N}``); so does
        ``per_task_error`` on the sums."""
        logits = output.logits.detach().float()
        targets = batch.targets.to(logits.device)
        ce = F.cross_entropy(logits, targets, reduction="sum")
        wrong = (logits.argmax(-1) != targets).cpu()
        out = {"count": float(batch.size), "loss": float(ce), "error": float(wrong.sum())}
        task = batch.meta.get("task_id")
        if task is not None:
            task = torch.as_tensor(task).cpu()
            for t in task.unique().tolist():
                sel = task == t
                out[f"error_task{t}"] = float(wrong[sel].sum())
                out[f"n_task{t}"] = float(sel.sum())
        return out

    def encode_story(self, sentences: Sequence[str], question: str) -> dict[str, torch.Tensor]:
        """Encode a user's story for ``mneme ask``: ``story`` ``(1, N, J)``, ``query`` ``(1, J)``.

        Sentences are tokenised like the data; blank ones are skipped and only the N most recent
        are kept. Raises ``UserError`` on unknown words, an empty question or a sentence longer
        than J words.
        """
        story = [t for t in map(tokenize, sentences) if t][-self.config.memory_size:]
        query = tokenize(question)
        if not query:
            raise UserError("the question is empty")
        specials = (Vocabulary.NIL, Vocabulary.UNK)
        unknown = sorted({w for s in [*story, query] for w in s
                          if w not in self.vocab or w in specials})
        if unknown:
            known = [w for w in self.vocab.to_list()[2:] if "," not in w]
            hints = [f"{w} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(w, known, 1))
                     else w for w in unknown]
            raise UserError(f"unknown words: {', '.join(hints)}; known words include "
                            f"{', '.join(known[:12])}")
        too_long = [" ".join(s) for s in [*story, query] if len(s) > self.sentence_size]
        if too_long:
            raise UserError(f"sentences longer than {self.sentence_size} words: {too_long}")
        example = BabiExample(tuple(story), query, (), (), 0, 0)
        memory, q, _ = reference_encode(example, self.vocab, self.config.memory_size,
                                        self.sentence_size)
        return {"story": memory[None], "query": q[None]}

    def describe(self) -> str:
        """One paragraph: tasks, split sizes, V, J, N."""
        ids = self.config.task_ids()
        tasks = ", ".join(f"{t} ({TASK_NAMES[t]})" for t in ids) if len(ids) <= 3 else (
            f"{len(ids)} tasks ({', '.join(map(str, ids))})")
        return (f"bAbI v1.2 (Weston et al. 2015), {SIZE_DIRS[self.config.size]} "
                f"({self.config.size}): {tasks}; questions train {len(self._train)}, valid "
                f"{len(self._valid)}, test {len(self._test)}; vocabulary V={len(self.vocab)}, "
                f"sentence length J={self.sentence_size}, memory N={self.config.memory_size}")


def _warn_unseen_answers(examples: Sequence[BabiExample], vocab: Vocabulary, babi_dir: Path,
                         size: str) -> None:
    """Warn (counted, per file) about test answers no training question has: the model cannot
    predict them, so they always count as errors (1k task 8 has one: ``football,apple,milk``)."""
    unseen: dict[int, list[BabiExample]] = {}
    for ex in examples:
        if ex.answer_word not in vocab:
            unseen.setdefault(ex.task_id, []).append(ex)
    for task_id, missed in unseen.items():
        path = babi_file(babi_dir, size, task_id, "test")
        first = missed[0]
        warnings.warn(f"{path}: {len(missed)} test answer(s) never seen in training, always "
                      f"counted wrong (first: line {first.line}, {first.answer_word!r})",
                      BabiDataWarning, stacklevel=3)


class BabiDataWarning(UserWarning):
    """Something in the bAbI data that makes a score worse without being an error."""
