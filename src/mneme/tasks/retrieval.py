"""The associative retrieval task of the fast-weights paper.

Ba, Hinton, Mnih, Leibo & Ionescu 2016, "Using Fast Weights to Attend to the Recent Past" (arXiv
1610.06258), section 4.1: a sequence of K key-value pairs, keys letters a-z drawn without
replacement and values digits 0-9, then ``??`` and a query key; the answer is the query's value::

    c9k8j3f1??c -> 9        (K = 4, T = 2K + 3 = 11)

The vocabulary has 37 symbols: ``a``-``z`` (ids 0-25), ``0``-``9`` (ids 26-35) and ``?`` (id 36).
Validation and test sets are fixed by ``split_seed`` (10,000 and 20,000 sequences, as in the paper);
training uses a fixed set of 100,000 sequences (``RetrievalTask``, walked in epochs) or, with
``stream=True``, fresh sequences every step (``RetrievalStreamTask``) for longer training.

Legend: B batch, T = 2K + 3 sequence length, V = 37 vocabulary.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, in_range

__all__ = [
    "VOCAB",
    "RetrievalConfig",
    "RetrievalSpec",
    "RetrievalStreamTask",
    "RetrievalTask",
    "build_retrieval_task",
    "decode",
    "encode",
    "generate",
]

VOCAB: tuple[str, ...] = (*string.ascii_lowercase, *string.digits, "?")
"""The 37 symbols; a symbol's id is its index."""
_ID = {c: i for i, c in enumerate(VOCAB)}
_DIGIT0 = _ID["0"]
_QUERY_MARK = _ID["?"]


@dataclass(frozen=True)
class RetrievalConfig(Validated):
    """Associative retrieval settings.

    Attributes:
        num_pairs: K, the number of key-value pairs per sequence (1-26); T = 2K + 3.
        train_size: fixed training sequences (the paper: 100,000); unused with ``stream``.
        valid_size: validation sequences (the paper: 10,000).
        test_size: test sequences (the paper: 20,000).
        split_seed: seed of the fixed splits (the same seed gives the same sequences).
        stream: draw fresh training sequences every step instead of walking the fixed set.
    """

    num_pairs: int = field(default=4, metadata=in_range(1, 26))  # distinct letter keys
    train_size: int = field(default=100_000, metadata=at_least(1))
    valid_size: int = field(default=10_000, metadata=at_least(1))
    test_size: int = field(default=20_000, metadata=at_least(1))
    split_seed: int = 1610
    stream: bool = False


@dataclass(frozen=True)
class RetrievalSpec:
    """What a model needs: V input symbols, T, and V output classes."""

    vocab_size: int
    seq_len: int
    num_classes: int


def generate(batch_size: int, num_pairs: int, generator: torch.Generator) -> Batch:
    """``batch_size`` fresh sequences drawn with ``generator`` (vectorised, no Python loop).

    Returns:
        ``Batch(inputs (B, T) int64 symbol ids, targets (B,) id of the answer digit)``;
        ``meta["query_pair"]`` ``(B,)`` is the index of the queried pair.
    """
    b, k = batch_size, num_pairs
    # keys without replacement: the first K of a random permutation of the 26 letters
    keys = torch.rand(b, 26, generator=generator).argsort(dim=1)[:, :k]
    values = torch.randint(0, 10, (b, k), generator=generator) + _DIGIT0
    which = torch.randint(0, k, (b,), generator=generator)
    seq = torch.empty(b, 2 * k + 3, dtype=torch.long)
    seq[:, 0 : 2 * k : 2] = keys
    seq[:, 1 : 2 * k : 2] = values
    seq[:, 2 * k : 2 * k + 2] = _QUERY_MARK
    rows = torch.arange(b)
    seq[:, -1] = keys[rows, which]
    return Batch(seq, values[rows, which], None, {"query_pair": which})


def encode(text: str) -> torch.Tensor:
    """Symbol ids ``(T,)`` of a sequence written as text (``"c9k8??c"``).

    Raises:
        UserError: a character outside the 37-symbol vocabulary.
    """
    bad = [c for c in text if c not in _ID]
    if bad:
        raise UserError(f"retrieval: {bad[0]!r} is not a symbol (use a-z, 0-9 and ?)")
    return torch.tensor([_ID[c] for c in text], dtype=torch.long)


def decode(ids: torch.Tensor) -> str:
    """The text of symbol ids ``(T,)``."""
    return "".join(VOCAB[int(i)] for i in ids)


class _Retrieval:
    """What both training modes share: splits, loss and metrics.

    Metrics: ``error`` (fraction wrong; reports print %), ``loss`` (cross entropy in nats).

    Raises:
        UserError: a bad config field, or an unknown split in ``eval_batches``.
    """

    name = "retrieval"

    def __init__(self, config: RetrievalConfig) -> None:
        config.validate()
        self.config = config
        k = config.num_pairs
        self.spec = RetrievalSpec(len(VOCAB), 2 * k + 3, len(VOCAB))
        self.info = TaskInfo(
            kind="generated" if config.stream else "dataset", inputs="tokens",
            input_size=len(VOCAB), outputs="classes", output_size=len(VOCAB),
            readout="last_step", metric="error", unit="%", percent=True,
            selection_metric="error", solved_below=0.05, family="retrieval",
            source="Ba et al. 2016, section 4.1")
        self._splits = {"valid": self._fixed(config.valid_size, 1), "test": self._fixed(
            config.test_size, 2)}
        if not config.stream:
            self._splits["train"] = self._fixed(config.train_size, 0)

    def _fixed(self, size: int, which: int) -> Batch:
        # one generator per split, so changing a split's size leaves the others unchanged
        gen = torch.Generator().manual_seed(self.config.split_seed * 10 + which)
        return generate(size, self.config.num_pairs, gen)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Batches of ``"valid"``, ``"test"`` (or ``"train"`` for the fixed set), in order."""
        if split not in self._splits:
            raise UserError(f"retrieval: unknown split {split!r}; choose "
                            f"{', '.join(sorted(self._splits))}")
        if batch_size < 1:
            raise UserError(f"retrieval: batch_size must be >= 1, got {batch_size}")
        data = self._splits[split]
        for first in range(0, data.size, batch_size):
            sl = slice(first, first + batch_size)
            yield Batch(data.inputs[sl], data.targets[sl], None)  # type: ignore[index]

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean cross entropy (nats) of ``output.logits`` ``(B, V)``, plus the model's aux loss."""
        loss = F.cross_entropy(output.logits, batch.targets.to(output.logits.device))
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the batch: ``count``, ``loss`` (nats), ``error`` (wrong answers)."""
        logits = output.logits.detach().float()
        targets = batch.targets.to(logits.device)
        ce = F.cross_entropy(logits, targets, reduction="sum")
        wrong = (logits.argmax(-1) != targets).sum()
        return {"count": float(batch.size), "loss": float(ce), "error": float(wrong)}


class RetrievalTask(_Retrieval):
    """Associative retrieval as a ``DatasetTask`` over the fixed training set."""

    @property
    def num_train(self) -> int:
        """Number of fixed training sequences."""
        return self._splits["train"].size

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training sequences ``indices`` ``(B,)``; ``generator`` is unused."""
        data = self._splits["train"]
        idx = indices.to(dtype=torch.long)
        return Batch(data.inputs[idx], data.targets[idx], None)  # type: ignore[index]


class RetrievalStreamTask(_Retrieval):
    """Associative retrieval as a ``GeneratedTask``: fresh training sequences every step."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` fresh training sequences drawn with ``generator``."""
        return generate(batch_size, self.config.num_pairs, generator)


@register_task("retrieval", config=RetrievalConfig, family="retrieval",
               summary="associative retrieval, c9k8j3f1??c -> 9",
               source="Ba et al. 2016, section 4.1")
def build_retrieval_task(config: RetrievalConfig) -> RetrievalTask | RetrievalStreamTask:
    """The fixed-set task, or the streaming one when ``config.stream``."""
    return RetrievalStreamTask(config) if config.stream else RetrievalTask(config)
