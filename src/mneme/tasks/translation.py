"""English-French translation pairs from Tatoeba (manythings.org/anki ``fra.txt``).

Each line of ``fra.txt`` is ``English<TAB>French`` (newer releases add a third attribution
column, which is ignored). The task translates ``direction="fra-eng"`` (French source, as in the
PyTorch seq2seq tutorial and ``mneme translate RUN "je suis content ."``) or ``"eng-fra"``.

Subsets:

- ``prefixes``: the usual filtered subset, pairs of at most ``max_length`` words on both sides
  whose English side starts with "i am", "he is", "she is", "you are", "we are", "they are" (or
  their contractions), about 11k pairs;
- ``all``: every pair of at most ``max_length`` words on both sides (the larger set).

Text is lowercased and Unicode-normalised (NFC); accents are kept (French needs them), and the
tokenizer keeps punctuation as tokens: ``"Je n'ai pas faim."`` becomes
``je n' ai pas faim .``. Pairs are split by *source sentence* with a fixed seed, so a source
sentence and its translations are all in one split; a test source with several translations has
them all as BLEU references. BLEU is sacrebleu's corpus BLEU on detokenized text.

Data: Tatoeba sentences, CC-BY 2.0 FR; attribution "www.manythings.org/anki and tatoeba.org"
(see ``eng-fra/_about.txt`` beside the data). Shapes: B batch, T_s source and T_t target
lengths in tokens, V vocabulary.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.registry import register_task
from mneme.types import Batch, ModelOutput, TaskInfo
from mneme.validation import Validated, at_least, in_range

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
ENGLISH_PREFIXES = (
    "i am ", "i'm ", "he is ", "he's ", "she is ", "she's ", "you are ", "you're ",
    "we are ", "we're ", "they are ", "they're ",
)
HOW_TO_GET = (
    "download fra-eng.zip from http://www.manythings.org/anki/ and install it with "
    "'mneme data eng-fra --from fra-eng.zip' (into $MNEME_DATA/eng-fra/ or --data-dir)"
)
# French elides the word before the apostrophe (n'ai -> n' ai); English cliticises the word after
# it (I'm -> i 'm, father's -> father 's).
_TOKEN = {"fra": re.compile(r"\w+'|\w+|[^\w\s]"), "eng": re.compile(r"'\w+|\w+|[^\w\s]")}


def normalise(text: str) -> str:
    """Lowercase, NFC-normalise and unify apostrophes and spaces (accents are kept)."""
    text = unicodedata.normalize("NFC", text.lower())
    text = text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(text.split())


def tokenize(text: str, language: Literal["eng", "fra"] = "fra") -> list[str]:
    """Words and punctuation marks of ``normalise(text)``, apostrophes kept on the clitic.

    >>> tokenize("Je n'ai pas faim.")
    ['je', "n'", 'ai', 'pas', 'faim', '.']
    >>> tokenize("I'm his father's friend.", "eng")
    ['i', "'m", 'his', 'father', "'s", 'friend', '.']
    """
    return _TOKEN[language].findall(normalise(text))


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens as text: no space before ``. , ! ? ; :`` or a clitic, none after an elision."""
    text = " ".join(tokens)
    text = re.sub(r" ([.,!?;:)]|'\w)", r"\1", text)
    text = re.sub(r"(\w') ", r"\1", text)
    return text.replace("( ", "(")


@dataclass(frozen=True)
class TranslationConfig(Validated):
    """Which pairs, which direction, and how the splits are drawn."""

    data_dir: str | None = None
    """Dataset root holding ``eng-fra/fra.txt`` (None: the CLI fills in ``$MNEME_DATA``)."""
    direction: Literal["fra-eng", "eng-fra"] = "fra-eng"
    subset: Literal["prefixes", "all"] = "prefixes"
    """``prefixes``: the tutorial's filtered ~11k pairs; ``all``: every short pair."""
    max_length: int = field(default=10, metadata=at_least(1))
    """Longest sentence kept, in words (punctuation not counted), on both sides."""
    min_count: int = field(default=1, metadata=at_least(1))
    """Words seen fewer times in training become ``<unk>``."""
    valid_fraction: float = field(default=0.05, metadata=in_range(0.0, 0.5, closed="neither"))
    test_fraction: float = field(default=0.05, metadata=in_range(0.0, 0.5, closed="neither"))
    split_seed: int = 1610


class Vocabulary:
    """Tokens to ids with ``<pad>`` 0, ``<unk>`` 1, ``<s>`` 2, ``</s>`` 3."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], min_count: int) -> Vocabulary:
        counts = Counter(t for s in sentences for t in s)
        kept = sorted((t for t, c in counts.items() if c >= min_count),
                      key=lambda t: (-counts[t], t))
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        unk = self.stoi[UNK]
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Tokens of ``ids`` up to the first ``</s>``, without ``<s>``/``<pad>``."""
        out = []
        for i in ids:
            token = self.itos[int(i)]
            if token == EOS:
                break
            if token not in (PAD, BOS):
                out.append(token)
        return out


@dataclass(frozen=True)
class TranslationSpec:
    """What a model needs: the two vocabularies (sizes and special ids)."""

    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_length: int

    @property
    def source_size(self) -> int:
        return len(self.source_vocab)

    @property
    def target_size(self) -> int:
        return len(self.target_vocab)

    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3


def _words(tokens: Sequence[str]) -> int:
    return sum(1 for t in tokens if t[0].isalnum())


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """``(english, french)`` raw pairs of ``fra.txt``.

    Raises:
        MissingDataError: the file does not exist.
        DataFormatError: invalid UTF-8, a line without a tab, or with an empty side (names
            file and line).
    """
    if not path.is_file():
        raise MissingDataError(f"no translation pairs at {path}; {HOW_TO_GET}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(path, line, f"invalid UTF-8 at byte {exc.start}") from None
    pairs = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise DataFormatError(path, lineno, "expected English<TAB>French")
        english, french = parts[0].strip(), parts[1].strip()
        if not english or not french:
            raise DataFormatError(path, lineno, "an empty sentence")
        pairs.append((english, french))
    if not pairs:
        raise DataFormatError(path, 1, "the file holds no sentence pairs")
    return pairs


def find_pairs_file(data_dir: str | None) -> Path:
    """``DATA/eng-fra/fra.txt`` (or ``DATA/fra.txt``).

    Raises:
        MissingDataError: no data directory, or no ``fra.txt`` in it.
    """
    if data_dir is None:
        raise MissingDataError(
            f"translation needs a data directory: pass --data-dir or set MNEME_DATA; {HOW_TO_GET}"
        )
    base = Path(data_dir)
    for candidate in (base / "eng-fra" / "fra.txt", base / "fra.txt"):
        if candidate.is_file():
            return candidate
    raise MissingDataError(f"no eng-fra/fra.txt under {base}; {HOW_TO_GET}")


@register_task("translation", config=TranslationConfig, family="seq2seq", needs_data=True,
               summary="Tatoeba French-English sentence pairs, BLEU (sacrebleu)",
               source="Tatoeba; Bahdanau et al. 2015")
class TranslationTask:
    """Sentence-pair translation: teacher-forced training, token NLL and BLEU.

    A batch's ``inputs`` maps ``source`` ``(B, T_s)`` ids (padded with 0, ``</s>`` last),
    ``source_length`` ``(B,)`` and ``target_in`` ``(B, T_t)`` (``<s>`` then the target); its
    ``targets`` ``(B, T_t)`` are the target followed by ``</s>``, ``mask`` marks real tokens.
    Metrics are per target token: ``nll`` (nats), ``perplexity`` and ``error`` (top-1 under
    teacher forcing); BLEU needs decoding and comes from ``bleu``.
    """

    name = "translation"
    selection_metric = "nll"

    def __init__(self, config: TranslationConfig, pairs: list[tuple[str, str]] | None = None):
        config.validate()
        self.config = config
        raw = pairs if pairs is not None else read_pairs(find_pairs_file(config.data_dir))
        examples: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for english, french in raw:
            if len(english.split()) > 2 * config.max_length:  # cheap pre-filter
                continue
            if config.subset == "prefixes" and not normalise(english).startswith(
                ENGLISH_PREFIXES
            ):
                continue
            eng, fra = tokenize(english, "eng"), tokenize(french, "fra")
            if _words(eng) > config.max_length or _words(fra) > config.max_length:
                continue
            source, target = (fra, eng) if config.direction == "fra-eng" else (eng, fra)
            examples.setdefault(tuple(source), []).append(tuple(target))
        if len(examples) < 20:
            raise UserError(
                f"only {len(examples)} source sentences pass the filters (subset "
                f"{config.subset!r}, max_length {config.max_length}); relax them"
            )
        sources = sorted(examples)
        random.Random(config.split_seed).shuffle(sources)
        n_valid = max(1, round(len(sources) * config.valid_fraction))
        n_test = max(1, round(len(sources) * config.test_fraction))
        groups = {
            "test": sources[:n_test],
            "valid": sources[n_test : n_test + n_valid],
            "train": sources[n_test + n_valid :],
        }
        # Training pairs: every translation of a training source.
        self.pairs = {
            split: [(s, t) for s in group for t in examples[s]] for split, group in groups.items()
        }
        self.references = {
            split: [examples[s] for s in group] for split, group in groups.items()
        }
        self.sources = groups
        train = self.pairs["train"]
        self._set_vocab(Vocabulary.build([s for s, _ in train], config.min_count),
                        Vocabulary.build([t for _, t in train], config.min_count))

    def _set_vocab(self, source_vocab: Vocabulary, target_vocab: Vocabulary) -> None:
        self.spec = TranslationSpec(source_vocab, target_vocab, self.config.max_length)
        self.info = TaskInfo(
            kind="dataset", inputs="structured", input_size=len(source_vocab),
            outputs="structured", output_size=len(target_vocab), readout="none",
            metric="nll", unit="nats per token", selection_metric="nll", family="seq2seq",
            source="Tatoeba eng-fra; Bahdanau et al. 2015")

    def vocab_json(self) -> dict[str, Any]:
        """What a model of this task needs without the data (a run's ``vocab.json``): the
        source and target vocabularies in id order."""
        return {"source": self.spec.source_vocab.itos, "target": self.spec.target_vocab.itos}

    @classmethod
    def from_vocab_json(cls, config: TranslationConfig, data: dict[str, Any]
                        ) -> TranslationTask:
        """The task of ``config`` without its data, from ``vocab_json()``: ``spec``, ``info``
        and ``encode_sources`` (``mneme translate``); its splits are empty.

        Raises:
            UserError: a bad config field. KeyError, TypeError: ``data`` is not what
                ``vocab_json`` wrote.
        """
        config.validate()
        task = cls.__new__(cls)
        task.config = config
        task.pairs, task.references, task.sources = {}, {}, {}
        task._set_vocab(Vocabulary(data["source"]), Vocabulary(data["target"]))
        return task

    # -- batches -------------------------------------------------------------------------------
    @property
    def num_train(self) -> int:
        return len(self.pairs["train"])

    def encode_sources(self, sources: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T_s)`` padded source ids ending in ``</s>``, and their lengths ``(B,)``."""
        vocab = self.spec.source_vocab
        ids = [[*vocab.encode(s), self.spec.eos_id] for s in sources]
        lengths = torch.tensor([len(i) for i in ids])
        out = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
        for row, seq in enumerate(ids):
            out[row, : len(seq)] = torch.tensor(seq)
        return out, lengths

    def _batch(self, pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Batch:
        source, lengths = self.encode_sources([s for s, _ in pairs])
        vocab = self.spec.target_vocab
        targets = [vocab.encode(t) for _, t in pairs]
        width = max(len(t) for t in targets) + 1
        target_in = torch.zeros(len(pairs), width, dtype=torch.long)
        target_out = torch.zeros(len(pairs), width, dtype=torch.long)
        for row, seq in enumerate(targets):
            target_in[row, : len(seq) + 1] = torch.tensor([self.spec.bos_id, *seq])
            target_out[row, : len(seq) + 1] = torch.tensor([*seq, self.spec.eos_id])
        mask = target_out != self.spec.pad_id
        inputs = {"source": source, "source_length": lengths, "target_in": target_in}
        return Batch(inputs, target_out, mask)

    def train_batch(self, indices: torch.Tensor, generator: torch.Generator) -> Batch:
        train = self.pairs["train"]
        return self._batch([train[int(i)] for i in indices])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        if not self.pairs:
            raise MissingDataError("translation: this task was rebuilt from a run's vocab.json, "
                                   "without its data; pass --data-dir or set MNEME_DATA")
        if split not in self.pairs:
            raise UserError(f"unknown split {split!r}; splits: train, valid, test")
        pairs = self.pairs[split]
        for start in range(0, len(pairs), batch_size):
            yield self._batch(pairs[start : start + batch_size])

    # -- loss and metrics ----------------------------------------------------------------------
    def loss(self, output: ModelOutput, batch: Batch) -> torch.Tensor:
        """Mean NLL per target token (nats) under teacher forcing."""
        assert batch.mask is not None
        nll = F.cross_entropy(output.logits.transpose(1, 2), batch.targets, reduction="none")
        loss = (nll * batch.mask).sum() / batch.mask.sum()
        return loss if output.aux_loss is None else loss + output.aux_loss

    def metrics(self, output: ModelOutput, batch: Batch) -> dict[str, float]:
        assert batch.mask is not None
        nll = F.cross_entropy(output.logits.transpose(1, 2), batch.targets, reduction="none")
        wrong = (output.logits.argmax(-1) != batch.targets) & batch.mask
        return {
            "count": float(batch.mask.sum()),
            "nll": float((nll * batch.mask).sum()),
            "error": float(wrong.sum()),
        }

    def finalize_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        return {**metrics, "perplexity": math.exp(min(metrics["nll"], 50.0))}

    def bleu(self, hypotheses: Sequence[Sequence[str]], split: str = "test") -> float:
        """Corpus BLEU (sacrebleu, 0-100) of tokenized ``hypotheses``, one per source of ``split``
        in order, against all translations of each source.

        Raises:
            ValueError: not one hypothesis per source.
        """
        return corpus_bleu(hypotheses, self.references[split])


def corpus_bleu(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]
) -> float:
    """sacrebleu corpus BLEU (0-100) of tokenized hypotheses against tokenized references.

    Both sides are detokenized first and scored with sacrebleu's default 13a tokenizer; a source
    with fewer references than the most has its list padded with ``None`` (sacrebleu's way).

    Raises:
        ValueError: the two lists differ in length.
    """
    import sacrebleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} reference sets")
    most = max(len(r) for r in references)
    streams: list[list[str | None]] = [
        [detokenize(r[k]) if k < len(r) else None for r in references] for k in range(most)
    ]
    hyps = [detokenize(h) for h in hypotheses]
    return float(sacrebleu.corpus_bleu(hyps, streams).score)


def build_translation_task(config: TranslationConfig) -> TranslationTask:
    """The task of ``config`` (the registry builds ``TranslationTask`` itself)."""
    return TranslationTask(config)
