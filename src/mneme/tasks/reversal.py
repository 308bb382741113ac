"""Sequence reversal: read ``a c b d`` and write ``d b c a``.

The classic probe of the encoder-decoder bottleneck: the first output token depends on the last
input token and the last output on the first, so a decoder that sees the source only through one
fixed vector must squeeze the whole sequence into it and fails as sequences grow, while an
attentive decoder looks each token up (Bahdanau et al. 2015, figure 2, make the same point on
translation: RNNenc degrades with sentence length, RNNsearch does not; Sutskever et al. 2014,
section 3.3, reverse the *source* to shorten the dependencies for the same reason).

Batches have the layout of ``mneme.tasks.translation``: ``inputs`` maps ``source`` ``(B, T_s)``
ids (padded with 0, ``</s>`` last), ``source_length`` ``(B,)`` and ``target_in`` ``(B, T_t)``
(``<s>`` then the reversed source); ``targets`` ``(B, T_t)`` end with ``</s>``, ``mask`` marks
real tokens. Symbols are the letters ``a, b, c, ...`` (ids 4 and up after ``<pad> <unk> <s>
</s>``), one vocabulary for both sides.

Training sequences are drawn fresh (uniform length in ``[min_length, max_length]``, uniform
symbols); the valid set (training lengths) and one test set per length in ``test_lengths`` are
fixed by ``seed``. Test metrics are grouped by length (``error_len10`` ...); sequence-level
exact match needs decoding (``mneme.models.translate.evaluate_decoding``).

Any core reads the task through its sequence view (``to_sequence``, the layout of Delétang et al.
2023's Transformer encoder): the source with its ``</s>``, then one empty output slot (``<s>``)
per target token; the composed model's logits at the slots are its predictions. Without
feedback from its own outputs, a core's teacher-forced error is its free-running error. The
lengths above ``max_length`` are the generalisation sets (``error_len40``).

Shapes: B batch, T_s and T_t source and target lengths in tokens, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mneme.errors import UserError
from mneme.registry import register_task
from mneme.tasks.translation import TranslationSpec, Vocabulary
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, each, invalid, ordered


@dataclass(frozen=True)
class ReversalConfig(Validated):
    """Alphabet, lengths and the fixed evaluation sets."""

    symbols: int = field(default=20, metadata=at_least(2))
    """Size of the alphabet (letters a, b, ... up to 26; ``s26``, ... beyond)."""
    min_length: int = field(default=1, metadata=at_least(1))
    """Shortest training (and validation) sequence."""
    max_length: int = 30
    """Longest training (and validation) sequence."""
    test_lengths: tuple[int, ...] = field(default=(5, 10, 15, 20, 25, 30, 40),
                                          metadata=each(at_least(1)))
    """One test set of each length (lengths above ``max_length`` test extrapolation)."""
    valid_size: int = field(default=500, metadata=at_least(1))
    test_size: int = field(default=200, metadata=at_least(1))
    """Sequences per test length."""
    seed: int = 20150901
    """Seed of the valid and test sets."""

    def check(self) -> None:
        ordered(self, "min_length", "max_length")
        if not self.test_lengths:
            raise invalid(self, "test_lengths", "must not be empty")


def symbol_names(n: int) -> list[str]:
    """The alphabet's tokens: ``a``..``z``, then ``s26``, ``s27``, ..."""
    return [chr(ord("a") + i) if i < 26 else f"s{i}" for i in range(n)]


class ReversalTask:
    """Reverse a sequence of symbols (a ``GeneratedTask`` with fixed valid and test sets).

    Attributes mirroring ``TranslationTask`` (what decoding-based evaluation reads):
    ``spec`` (one ``Vocabulary`` for both sides), ``sources[split]`` (token tuples),
    ``references[split]`` (the one reversal of each) and ``encode_sources``.
    """

    name = "reversal"
    selection_metric = "error"
    length_groups = True
    """Decoding-based evaluation reports exact match per source length."""

    def __init__(self, config: ReversalConfig) -> None:
        config.validate()
        self.config = config
        self.alphabet = symbol_names(config.symbols)
        vocab = Vocabulary(self.alphabet)
        self.first_symbol = len(vocab) - config.symbols  # id of "a"
        longest = max(config.max_length, *config.test_lengths)
        self.spec = TranslationSpec(vocab, vocab, longest + 1)
        self.info = TaskInfo(
            kind="generated", inputs="structured", input_size=len(vocab),
            outputs="classes", output_size=len(vocab), readout="every_step", metric="error",
            unit="%", percent=True, selection_metric="error", family="seq2seq",
            generalisation=tuple(f"len{n}" for n in config.test_lengths if n > config.max_length),
            source="Sutskever et al. 2014 (reversal); Bahdanau et al. 2015",
            to_sequence=self.to_sequence)
        g = torch.Generator().manual_seed(config.seed)
        valid_lengths = torch.randint(config.min_length, config.max_length + 1,
                                      (config.valid_size,), generator=g)
        self._sets: dict[str, list[list[int]]] = {
            "valid": [self._draw(int(n), g) for n in valid_lengths],
            "test": [self._draw(n, g) for n in config.test_lengths
                     for _ in range(config.test_size)],
        }
        self.sources = {split: [tuple(vocab.decode(s)) for s in seqs]
                        for split, seqs in self._sets.items()}
        self.references = {split: [[tuple(reversed(s))] for s in srcs]
                           for split, srcs in self.sources.items()}

    def _draw(self, length: int, generator: torch.Generator) -> list[int]:
        ids = torch.randint(self.config.symbols, (length,), generator=generator)
        return (ids + self.first_symbol).tolist()

    # -- batches -------------------------------------------------------------------------------
    def encode_sources(
        self, sources: Sequence[Sequence[str]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T_s)`` padded source ids ending in ``</s>``, and their lengths ``(B,)``."""
        vocab = self.spec.source_vocab
        return self._pad([[*vocab.encode(s), self.spec.eos_id] for s in sources])

    @staticmethod
    def _pad(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.tensor([len(r) for r in rows])
        out = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out, lengths

    def to_sequence(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The sequence view a composed core reads: ``(B, 2 T_s)`` ids, each row its source with
        ``</s>`` (n + 1 tokens), then n + 1 output slots ``<s>``, then padding; and ``(B,)``
        lengths 2 (n + 1)."""
        source, lengths = inputs["source"], inputs["source_length"]
        t_s = source.shape[1]
        t = torch.arange(2 * t_s, device=source.device)[None]  # (1, 2 T_s)
        n = lengths.to(source.device)[:, None]
        tokens = source.gather(1, t.clamp(max=t_s - 1).expand(source.shape[0], -1))
        slots = torch.full_like(tokens, self.spec.bos_id).masked_fill(t >= 2 * n, 0)
        return torch.where(t < n, tokens, slots), 2 * lengths

    def _predictions(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """``(B, T_t, V)`` logits: a task-facing model's own (one a target token), or a composed
        model's ``(B, 2 T_s, V)`` read at the output slots, step n + 1 + j for target j."""
        t_t = batch.targets.shape[1]
        if logits.shape[1] == t_t:
            return logits
        lengths = batch.inputs["source_length"].to(logits.device)  # type: ignore[index]
        slot = lengths[:, None] + torch.arange(t_t, device=logits.device)  # (B, T_t)
        return logits.gather(1, slot[..., None].expand(-1, -1, logits.shape[-1]))

    def batch(self, sequences: Sequence[Sequence[int]], *, group: bool = False) -> Batch:
        """The batch reversing ``sequences`` (symbol ids); ``group``: per-length test metrics."""
        eos, bos = self.spec.eos_id, self.spec.bos_id
        source, lengths = self._pad([[*s, eos] for s in sequences])
        target_in, _ = self._pad([[bos, *reversed(s)] for s in sequences])
        targets, _ = self._pad([[*reversed(s), eos] for s in sequences])
        mask = targets != self.spec.pad_id
        inputs = {"source": source, "source_length": lengths, "target_in": target_in}
        return Batch(inputs, targets, mask, {"group_lengths": group})

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """Fresh sequences, lengths uniform in ``[min_length, max_length]``."""
        cfg = self.config
        lengths = torch.randint(cfg.min_length, cfg.max_length + 1, (batch_size,),
                                generator=generator)
        return self.batch([self._draw(int(n), generator) for n in lengths])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        if split not in self._sets:
            raise UserError(f"unknown split {split!r}; reversal splits: valid, test")
        seqs = self._sets[split]
        for start in range(0, len(seqs), batch_size):
            yield self.batch(seqs[start : start + batch_size], group=split == "test")

    # -- loss and metrics ----------------------------------------------------------------------
    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean NLL per target token (nats) under teacher forcing."""
        assert batch.mask is not None
        logits = self._predictions(output.logits, batch)
        nll = F.cross_entropy(logits.transpose(1, 2), batch.targets, reduction="none")
        loss = (nll * batch.mask).sum() / batch.mask.sum()
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        """Sums per target token: ``nll`` (nats) and ``error`` (teacher-forced top-1); on the
        test split also per source length n: ``error_len{n}`` over ``n_len{n}`` tokens."""
        assert batch.mask is not None
        mask = batch.mask
        logits = self._predictions(output.logits, batch)
        nll = F.cross_entropy(logits.transpose(1, 2), batch.targets, reduction="none")
        wrong = (logits.argmax(-1) != batch.targets) & mask
        out = {
            "count": float(mask.sum()),
            "nll": float((nll * mask).sum()),
            "error": float(wrong.sum()),
        }
        if batch.meta.get("group_lengths"):
            lengths = batch.inputs["source_length"] - 1  # type: ignore[index]
            for n in lengths.unique().tolist():
                rows = lengths == n
                out[f"error_len{n}"] = float(wrong[rows].sum())
                out[f"n_len{n}"] = float(mask[rows].sum())
        return out


@register_task("reversal", config=ReversalConfig, family="seq2seq",
               summary="reverse a sequence of symbols; exact match by length",
               source="Sutskever et al. 2014; Bahdanau et al. 2015")
def build_reversal_task(config: ReversalConfig) -> ReversalTask:
    """The registry factory."""
    return ReversalTask(config)
