"""What the two language-modelling tasks share: a token stream cut into rows and chunks.

``batchify`` cuts a split's ``(N,)`` stream into B rows; ``_StreamTask`` serves its chunks in
order (truncated backpropagation through time), and holds the loss and the metrics. ``LMSpec`` is
what a language model needs to know. The tasks (``PTBTask``, ``CharsTask``) are in
``mneme.tasks.text``, which re-exports these names; its docstring describes the stream.

Legend: B batch (rows of the stream), T chunk length (``seq_len``), V vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks.text_corpus import TextVocabulary
from mneme.types import Batch, ModelOutput, TaskInfo

if TYPE_CHECKING:
    from mneme.tasks.text import CharsConfig, PTBConfig

__all__ = [
    "LMSpec",
    "batchify",
]


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
