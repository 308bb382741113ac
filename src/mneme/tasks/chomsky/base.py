"""What the 15 Chomsky-hierarchy tasks share: the layout, the protocol, the loss and the score.

Delétang et al. 2023, "Neural Networks and the Chomsky Hierarchy" (ICLR; arXiv 2207.02098),
section 3 and the appendix's task descriptions, as DeepMind's released code runs them
(``google-deepmind/neural_networks_chomsky_hierarchy``: ``experiments/utils.py``
``make_model_with_empty_targets``, ``training.py``, ``range_evaluation.py``, ``example.py``).

**Layout.** An input string of n symbols, one-hot over the task's V_in symbols plus one extra
channel, then m = ``output_length(n)`` empty output slots (one-hot of that extra channel, the
code's ``OUTPUT_EMPTY_TOKEN``). The model reads the n + m steps in one pass; its logits at the m
slots are its predictions (not autoregressive). Classification tasks (the regular ones, Solve
Equation, Modular Arithmetic with brackets, Missing Duplicate) have m = 1.

**Batches.** ``inputs`` maps ``features`` ``(B, n + m, V_in + 1)`` and ``input_length`` ``(B,)``
(n, which the Tape RNN's jump reads: ``mneme.models.sequence``); ``targets`` ``(B, n + m)`` class
ids (0 at the input steps); ``mask`` ``(B, n + m)`` is True exactly at the m output slots.

**Protocol.** Every training batch draws ONE length n uniformly in 1..``max_length`` (40; the
code's ``UniformCurriculum``) and fresh strings of that length. The valid set (training lengths
``valid_lengths``) and the test sets (``test_lengths``, a fixed subsample of the paper's 41..500)
are drawn once from ``seed``, ``valid_size`` / ``test_size`` strings per length (the code: 512 a
length). Loss: cross-entropy averaged over the output slots and the batch (the code's
``loss_fn``; padding after a termination token included). Accuracy per length: correct tokens
over the tokens up to and including the first termination token (the code's ``accuracy_mask``;
all m slots where the task has none), pooled over the length's strings. **Score** (``error`` =
1 - score): the mean over the split's lengths of the per-length accuracy; "solved" is score
>= 90% (``solved_below`` 0.10 error). ``error_len{n}`` is each length's error.

Legend: B batch, n input length, m output length, T = n + m steps, V_in input symbols, V_out
output classes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from mneme.errors import UserError
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, each, invalid

__all__ = ["SOURCE", "TEST_LENGTHS", "ChomskyConfig", "ChomskyTask", "python_random"]

SOURCE = ("Delétang et al. 2023, 'Neural Networks and the Chomsky Hierarchy', ICLR, arXiv "
          "2207.02098; DeepMind's neural_networks_chomsky_hierarchy tasks/")
TEST_LENGTHS = (41, 50, 75, 100, 150, 200, 300, 500)
"""The fixed subsample of the paper's test lengths 41..500 (every length there in the paper)."""
_LEN = re.compile(r"^error_len(\d+)$")


@dataclass(frozen=True)
class ChomskyConfig(Validated):
    """Lengths and the fixed evaluation sets of every Chomsky-hierarchy task."""

    max_length: int = field(default=40, metadata=at_least(1))
    """Training lengths are uniform in 1..max_length, one length a batch (the paper: 40)."""
    valid_lengths: tuple[int, ...] = field(default=(10, 20, 30, 40), metadata=each(at_least(1)))
    """The validation sets' lengths (training range: they pick the checkpoint, never the test)."""
    test_lengths: tuple[int, ...] = field(default=TEST_LENGTHS, metadata=each(at_least(1)))
    """The test sets' lengths; those above ``max_length`` are the generalisation sets."""
    valid_size: int = field(default=64, metadata=at_least(1))
    """Strings per validation length."""
    test_size: int = field(default=128, metadata=at_least(1))
    """Strings per test length (the code: 512)."""
    seed: int = 20230501
    """Seed of the valid and test sets."""

    def check(self) -> None:
        if not self.test_lengths:
            raise invalid(self, "test_lengths", "must not be empty")
        if not self.valid_lengths:
            raise invalid(self, "valid_lengths", "must not be empty")


def python_random(generator: torch.Generator) -> random.Random:
    """A Python ``random.Random`` seeded by one draw of ``generator``: for the generators that
    simulate a grammar or use big integers (the released code uses Python's and NumPy's global
    random state there); every random bit still comes from ``generator``."""
    return random.Random(int(torch.randint(2**62, (1,), generator=generator)))


class ChomskyTask:
    """One task of the benchmark (a ``GeneratedTask``); subclasses give the generator.

    Subclasses set ``name``, ``level`` (``regular``, ``dcf``, ``cs``), ``input_vocab`` (V_in),
    ``output_vocab`` (V_out), ``termination`` (the output id that ends a result, or None), and
    define ``output_length(n)`` (default 1), ``draw(n, batch_size, generator)`` ``(B, n')``
    input ids (n' is n except where the code changes it) and ``solve(inputs)`` ``(B, m)`` target
    ids, or ``generate`` for both at once.
    """

    name = "chomsky"
    level = ""
    input_vocab = 2
    output_vocab = 2
    termination: int | None = None

    def __init__(self, config: ChomskyConfig) -> None:
        config.validate()
        self.config = config
        self.info = TaskInfo(
            kind="generated", inputs="features", input_size=self.input_vocab + 1,
            outputs="classes", output_size=self.output_vocab, readout="every_step",
            metric="error", unit="%", percent=True, selection_metric="error", solved_below=0.10,
            generalisation=tuple(f"len{n}" for n in config.test_lengths
                                 if n > config.max_length),
            family="chomsky", source=SOURCE)
        self._sets: dict[str, list[tuple[int, Tensor, Tensor]]] = {}

    # -- the generator (subclasses) --------------------------------------------------------------
    def output_length(self, n: int) -> int:
        """m, the output slots after an input of length n."""
        return 1

    def draw(self, n: int, batch_size: int, generator: torch.Generator) -> Tensor:
        """``(B, n)`` fresh input strings."""
        raise NotImplementedError

    def solve(self, inputs: Tensor) -> Tensor:
        """``(B, m)`` the targets of ``(B, n)`` inputs (where they are a function of them)."""
        raise NotImplementedError

    def generate(self, n: int, batch_size: int, generator: torch.Generator
                 ) -> tuple[Tensor, Tensor]:
        """``(inputs (B, n) ids, targets (B, m) ids)`` of ``batch_size`` fresh strings: ``draw``
        then ``solve`` (the grammar tasks draw both at once)."""
        inputs = self.draw(n, batch_size, generator)
        return inputs, self.solve(inputs)

    # -- batches ---------------------------------------------------------------------------------
    def batch(self, inputs: Tensor, targets: Tensor, length: int | None = None) -> Batch:
        """The batch of ``inputs`` ``(B, n)`` ids with their ``targets`` ``(B, m)`` ids in the
        layout above; ``length`` (default n) is the length it reports under."""
        b, n = inputs.shape
        m = targets.shape[1]
        empty = torch.full((b, m), self.input_vocab, dtype=torch.long)
        features = F.one_hot(torch.cat([inputs, empty], 1), self.input_vocab + 1).float()
        full = torch.cat([torch.zeros(b, n, dtype=torch.long), targets], 1)  # (B, T)
        mask = torch.zeros(b, n + m, dtype=torch.bool)
        mask[:, n:] = True
        return Batch({"features": features, "input_length": torch.full((b,), n)}, full, mask,
                     {"length": n if length is None else length, "input_length": n})

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """One length uniform in 1..``max_length``, then ``batch_size`` fresh strings of it."""
        n = int(torch.randint(1, self.config.max_length + 1, (1,), generator=generator))
        inputs, targets = self.generate(n, batch_size, generator)
        return self.batch(inputs, targets, n)

    def _split(self, split: str) -> list[tuple[int, Tensor, Tensor]]:
        if split not in ("valid", "test"):
            raise UserError(f"unknown split {split!r}; {self.name} splits: valid, test")
        if split not in self._sets:  # drawn on first use: building the task stays cheap
            cfg = self.config
            lengths, size = ((cfg.valid_lengths, cfg.valid_size) if split == "valid"
                             else (cfg.test_lengths, cfg.test_size))
            sets = []
            for n in lengths:
                g = torch.Generator().manual_seed(cfg.seed * 1009 + n * 2 + (split == "test"))
                sets.append((n, *self.generate(n, size, g)))
            self._sets[split] = sets
        return self._sets[split]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """The fixed strings of ``split``, one length a batch."""
        for n, inputs, targets in self._split(split):
            for start in range(0, inputs.shape[0], batch_size):
                stop = start + batch_size
                yield self.batch(inputs[start:stop], targets[start:stop], n)

    # -- loss and metrics ------------------------------------------------------------------------
    def _outputs(self, output: ModelOutput, batch: Batch) -> tuple[Tensor, Tensor]:
        """Logits ``(B, m, V_out)`` and targets ``(B, m)`` at the output slots."""
        n = int(batch.meta["input_length"])
        return output.logits[:, n:], batch.targets[:, n:]

    def accuracy_mask(self, targets: Tensor) -> Tensor:
        """``(B, m)``: the slots up to and including the first termination token (all of them
        for a task without one), the code's ``accuracy_mask``."""
        if self.termination is None:
            return torch.ones_like(targets, dtype=torch.bool)
        hit = targets == self.termination
        first = torch.where(hit.any(1), hit.float().argmax(1), targets.shape[1] - 1)
        return torch.arange(targets.shape[1], device=targets.device) <= first[:, None]

    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Cross-entropy (nats) averaged over the output slots and the batch."""
        logits, targets = self._outputs(output, batch)
        loss = F.cross_entropy(logits.transpose(1, 2), targets)
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums: ``nll`` and ``error`` per string (nats; the fraction of its counted tokens
        wrong), and at this batch's length n the wrong tokens ``error_len{n}`` over the counted
        tokens ``n_len{n}`` (``accuracy_mask``)."""
        logits, targets = self._outputs(output, batch)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        counted = self.accuracy_mask(targets)
        wrong = (logits.argmax(-1) != targets) & counted
        n = int(batch.meta["length"])
        return {"count": float(targets.shape[0]), "nll": float(nll.mean(1).sum()),
                "error": float((wrong.sum(1) / counted.sum(1)).sum()),
                f"error_len{n}": float(wrong.sum()), f"n_len{n}": float(counted.sum())}

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """``error``: the mean over the lengths present of the per-length error (the paper's
        score is ``accuracy`` = 1 - error)."""
        per_length = [v for k, v in metrics.items() if _LEN.match(k)]
        if per_length:
            metrics = dict(metrics, error=sum(per_length) / len(per_length))
            metrics["accuracy"] = 1.0 - metrics["error"]
        return metrics
