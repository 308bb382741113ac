"""Multi-query associative recall (MQAR), as the Zoology authors generate it.

Arora, Eyuboglu, Timalsina, Johnson, Poli, Zou, Rudra & Ré 2023, "Zoology: Measuring and Improving
Recall in Efficient Language Models" (arXiv 2312.04927), section 3; the generator follows their
released code (HazyResearch/zoology, ``zoology/data/associative_recall.py``, ``multiquery_ar``):

- the vocabulary of V tokens is split in half: keys are ``1 .. V/2 - 1``, values ``V/2 .. V - 1``
  (token 0 is the filler); each sequence draws D distinct keys and D distinct values;
- the first 2D tokens are the pairs ``k_1 v_1 k_2 v_2 ...``;
- every key is queried once, at position ``2D + 2 g`` where the gaps g are drawn without
  replacement from ``0 .. (T - 2D) / 2 - 1`` with probability proportional to ``(g + 1) ** (a -
  1)`` (``power_a`` = a; 0.01 in the paper puts the queries near the pairs; 1 is uniform);
- the label of a query position is the queried key's value, -100 (ignored) elsewhere: the model
  reads the key and predicts its value at the same step, and loss and accuracy count the query
  positions only;
- the other positions hold the filler 0, or with ``random_non_queries`` a token drawn uniformly from
  the whole vocabulary (the function's default; the paper's figure 2 configs set it to False, which
  is this task's default).

Their example (V = 12, D = 2, T = 16, no noise): inputs ``2 8 4 7 0 0 4 0 0 0 0 0 2 0 0 0``, labels
7 at step 6 and 8 at step 12. Their code asserts T even, V > T and 4 D <= T; so does the config.

Splits: a fixed training set of ``train_size`` sequences (theirs: 100,000, walked in epochs) or,
with ``stream``, fresh sequences every step; fixed validation and test sets (theirs: one test set
of 3,000, which also stops training; here validation stops and selects, the test set reports).

Metric: ``error``, the fraction of queries answered wrong (argmax over the whole vocabulary, as
their ``compute_accuracy``); ``accuracy`` = 1 - error. Solved: accuracy >= 99% (their early
stopping threshold, and the bar of their figure 2).

Legend: B batch, T sequence length, D key-value pairs, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, in_range, invalid

__all__ = ["IGNORE", "MQARConfig", "MQARStreamTask", "MQARTask", "build_mqar_task", "generate",
           "power_law"]

IGNORE = -100
"""The label of every position that is not a query (Zoology's, PyTorch's ignore_index)."""
_CHUNK = 1024  # sequences generated at once for the fixed sets (bounds the (B, V/2) draws)


@dataclass(frozen=True)
class MQARConfig(Validated):
    """MQAR settings (defaults: the paper's first grid point and its figure 2 data).

    Attributes:
        seq_len: T, tokens per sequence (even; ``4 num_pairs <= T < vocab_size``).
        num_pairs: D, key-value pairs, each queried once.
        vocab_size: V, split into V/2 key and V/2 value tokens (the paper: 8,192).
        power_a: a, the power law of the query gaps, ``p(g) ~ (g + 1) ** (a - 1)`` (0.01; 1 is
            uniform).
        random_non_queries: fill the non-query positions with uniform random tokens instead of 0.
        train_size: fixed training sequences (the paper: 100,000); unused with ``stream``.
        valid_size: validation sequences (selection and early stopping).
        test_size: test sequences (the paper: 3,000).
        split_seed: seed of the fixed sets.
        stream: fresh training sequences every step instead of the fixed set.
    """

    seq_len: int = field(default=64, metadata=at_least(4))
    num_pairs: int = field(default=4, metadata=at_least(1))
    vocab_size: int = field(default=8192, metadata=at_least(4))
    power_a: float = field(default=0.01, metadata=in_range(0.0, 1.0, closed="right"))
    random_non_queries: bool = False
    train_size: int = field(default=100_000, metadata=at_least(1))
    valid_size: int = field(default=1_000, metadata=at_least(1))
    test_size: int = field(default=3_000, metadata=at_least(1))
    split_seed: int = 2312
    stream: bool = False

    def check(self) -> None:
        """Zoology's assertions: T even, ``4 D <= T``, ``V > T``."""
        if self.seq_len % 2:
            raise invalid(self, "seq_len", "must be even", got=str(self.seq_len))
        if 4 * self.num_pairs > self.seq_len:
            raise invalid(self, "num_pairs", "must be at most seq_len / 4",
                          got=f"{self.num_pairs} with seq_len {self.seq_len}")
        if self.vocab_size <= self.seq_len:
            raise invalid(self, "vocab_size", "must exceed seq_len",
                          got=f"{self.vocab_size} with seq_len {self.seq_len}")


def power_law(space: int, power_a: float) -> torch.Tensor:
    """``(space,)`` probabilities of the gaps ``0 .. space - 1``: ``(g + 1) ** (a - 1)``,
    normalised (Zoology's ``p``)."""
    p = torch.arange(1, space + 1, dtype=torch.float64) ** (power_a - 1.0)
    return p / p.sum()


def _distinct(batch_size: int, choices: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, k)`` distinct draws from ``0 .. choices - 1`` per row, uniformly."""
    return torch.rand(batch_size, choices, generator=generator).topk(k, dim=1).indices


def generate(config: MQARConfig, batch_size: int, generator: torch.Generator) -> Batch:
    """``batch_size`` fresh sequences drawn with ``generator`` (vectorised, no Python loop).

    Returns:
        ``Batch(inputs (B, T) int64 token ids, targets (B, T) int64 values at the query
        positions and IGNORE elsewhere, mask (B, T) bool the query positions)``.
    """
    b, d, t, v = batch_size, config.num_pairs, config.seq_len, config.vocab_size
    half = v // 2
    keys = _distinct(b, half - 1, d, generator) + 1  # (B, D) in 1 .. V/2 - 1
    values = _distinct(b, v - half, d, generator) + half  # (B, D) in V/2 .. V - 1
    inputs = torch.zeros(b, t, dtype=torch.long)
    inputs[:, 0 : 2 * d : 2] = keys
    inputs[:, 1 : 2 * d : 2] = values
    p = power_law((t - 2 * d) // 2, config.power_a).float()
    gaps = torch.multinomial(p.expand(b, -1), d, replacement=False, generator=generator)
    where = 2 * d + 2 * gaps  # (B, D) query positions, key i at where[:, i]
    inputs.scatter_(1, where, keys)
    targets = torch.full((b, t), IGNORE, dtype=torch.long).scatter_(1, where, values)
    if config.random_non_queries:
        noise = torch.randint(0, v, (b, t), generator=generator)
        inputs = torch.where(inputs == 0, noise, inputs)
    return Batch(inputs, targets, targets != IGNORE)


class _MQAR:
    """What both training modes share: the fixed sets, loss and metrics.

    Metrics (per query): ``error`` and ``accuracy`` (fractions; reports print %), ``loss``
    (cross entropy in nats).

    Raises:
        UserError: a bad config field, or an unknown split in ``eval_batches``.
    """

    name = "mqar"

    def __init__(self, config: MQARConfig) -> None:
        config.validate()
        self.config = config
        v = config.vocab_size
        self.info = TaskInfo(
            kind="generated" if config.stream else "dataset", inputs="tokens", input_size=v,
            outputs="classes", output_size=v, readout="every_step", metric="error", unit="%",
            percent=True, selection_metric="error", solved_below=0.01, family="mqar",
            source="Arora et al. 2023 (Zoology), section 3; HazyResearch/zoology multiquery_ar")
        sizes = {"valid": config.valid_size, "test": config.test_size}
        if not config.stream:
            sizes["train"] = config.train_size
        which = {"train": 0, "valid": 1, "test": 2}
        self._sets = {split: self._fixed(n, which[split]) for split, n in sizes.items()}

    def _fixed(self, size: int, which: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed set as int16 ``(inputs, targets)`` (V <= 32,767), drawn in chunks."""
        gen = torch.Generator().manual_seed(self.config.split_seed * 10 + which)
        parts = [generate(self.config, min(_CHUNK, size - i), gen) for i in range(0, size, _CHUNK)]
        small = torch.int16 if self.config.vocab_size <= 32767 else torch.long
        return (torch.cat([p.inputs for p in parts]).to(small),  # type: ignore[misc]
                torch.cat([p.targets for p in parts]).to(small))

    def _batch(self, split: str, rows: torch.Tensor | slice) -> Batch:
        inputs, targets = self._sets[split]
        y = targets[rows].long()
        return Batch(inputs[rows].long(), y, y != IGNORE)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Batches of ``"valid"``, ``"test"`` (or ``"train"`` for the fixed set), in order."""
        if split not in self._sets:
            known = ", ".join(sorted(self._sets))
            raise UserError(f"mqar: unknown split {split!r}; choose {known}")
        if batch_size < 1:
            raise UserError(f"mqar: batch_size must be >= 1, got {batch_size}")
        size = self._sets[split][0].shape[0]
        for first in range(0, size, batch_size):
            yield self._batch(split, slice(first, first + batch_size))

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean cross entropy (nats) over the query positions of ``output.logits`` ``(B, T, V)``,
        plus the model's aux loss."""
        logits = output.logits
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.to(logits.device).flatten(),
                               ignore_index=IGNORE)
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums over the queries: ``count`` (queries), ``loss`` (nats), ``error``, ``accuracy``."""
        logits = output.logits.detach().float()
        targets = batch.targets.to(logits.device)
        asked = targets != IGNORE
        ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                             reduction="sum")
        right = ((logits.argmax(-1) == targets) & asked).sum()
        n = asked.sum()
        return {"count": float(n), "loss": float(ce), "error": float(n - right),
                "accuracy": float(right)}


class MQARTask(_MQAR):
    """MQAR as a ``DatasetTask`` over the fixed training set (the authors' protocol)."""

    @property
    def num_train(self) -> int:
        """Number of fixed training sequences."""
        return self.config.train_size

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        """The training sequences ``indices`` ``(B,)``; ``generator`` is unused."""
        return self._batch("train", indices.to(dtype=torch.long))


class MQARStreamTask(_MQAR):
    """MQAR as a ``GeneratedTask``: fresh training sequences every step."""

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """``batch_size`` fresh training sequences drawn with ``generator``."""
        return generate(self.config, batch_size, generator)


@register_task("mqar", config=MQARConfig, family="mqar",
               summary="multi-query associative recall (Zoology): D pairs, then every key queried",
               source="Arora et al. 2023, arXiv 2312.04927, section 3")
def build_mqar_task(config: MQARConfig) -> MQARTask | MQARStreamTask:
    """The fixed-set task, or the streaming one when ``config.stream``."""
    return MQARStreamTask(config) if config.stream else MQARTask(config)
