"""Decoding a trained sequence-to-sequence run: decode-based evaluation, one-sentence translation.

``evaluate_decoding`` decodes every source of a split (greedy, beam or sampled) and scores the
outputs: exact match against the references, BLEU for translation (sacrebleu corpus BLEU through
``TranslationTask.bleu``), and exact match per source length for reversal. ``translate_text``
turns one typed sentence into the output and its alignment (Bahdanau et al. 2015, figure 3;
drawn by ``mneme.viz.alignment``); ``mneme.commands.translate`` is the command that prints it.

Translation data: Tatoeba sentences (CC-BY 2.0 FR), from "www.manythings.org/anki and
tatoeba.org".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mneme.errors import UserError

ATTRIBUTION = (
    "Translation data: Tatoeba sentence pairs (CC-BY 2.0 FR) from www.manythings.org/anki and "
    "tatoeba.org."
)
UNK = "<unk>"


def _check_seq2seq(model: Any, what: str) -> None:
    if not hasattr(model, "translate"):
        raise UserError(f"{what} needs a sequence-to-sequence run (model seq2seq)")


def decode_sources(model: Any, task: Any, sources: Sequence[Sequence[str]], *,
                   strategy: str = "greedy", beam_width: int = 5, length_penalty: float = 0.0,
                   batch_size: int = 100, max_length: int | None = None,
                   generator: torch.Generator | None = None) -> list[list[str]]:
    """Output tokens of every source (token sequences), decoded in batches of similar length;
    the order of ``sources`` is kept. Arguments as in ``evaluate_decoding``."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    vocab = task.spec.target_vocab
    out: list[list[str]] = [[] for _ in sources]
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        source, lengths = task.encode_sources([sources[i] for i in chunk])
        result = model.translate(source.to(device), lengths, strategy=strategy,
                                 beam_width=beam_width, length_penalty=length_penalty,
                                 max_length=max_length, generator=generator)
        for i, ids in zip(chunk, result.tokens, strict=True):
            out[i] = vocab.decode(ids)
    return out


def evaluate_decoding(
    model: Any,
    task: Any,
    split: str = "test",
    *,
    strategy: str = "greedy",
    beam_width: int = 5,
    length_penalty: float = 0.0,
    batch_size: int = 100,
    max_length: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Decode every source of ``split`` and score the outputs.

    Args:
        model: a ``Seq2Seq`` (anything with ``translate``).
        task: a ``TranslationTask`` or ``ReversalTask`` (``sources``, ``references``,
            ``encode_sources``, ``spec``).
        split: ``valid`` or ``test``.
        strategy: ``greedy``, ``beam`` or ``sample``.
        beam_width, length_penalty: beam search's width and GNMT alpha.
        batch_size: sources decoded at once.
        max_length: most output tokens; None: the model's default (2 T_s + 10).
        seed: the generator seed of ``sample``.

    Returns:
        ``exact_match`` (fraction of outputs equal to a reference), ``count`` (sources),
        ``bleu`` (0-100, translation), and for reversal ``exact_match_len{n}`` with ``n_len{n}``
        per source length n.

    Raises:
        UserError: not a sequence-to-sequence model, or an unknown split.
    """
    _check_seq2seq(model, "decoding")
    if split not in task.sources:
        raise UserError(f"unknown split {split!r}; splits: {', '.join(task.sources)}")
    sources = task.sources[split]
    generator = torch.Generator().manual_seed(seed) if strategy == "sample" else None
    hyps = decode_sources(model, task, sources, strategy=strategy, beam_width=beam_width,
                          length_penalty=length_penalty, batch_size=batch_size,
                          max_length=max_length, generator=generator)
    return score_outputs(task, split, hyps)


def score_outputs(task: Any, split: str, hyps: Sequence[Sequence[str]]) -> dict[str, float]:
    """The metrics of ``evaluate_decoding`` for given outputs, one per source of ``split``."""
    sources, references = task.sources[split], task.references[split]
    hits = [tuple(h) in {tuple(r) for r in refs} for h, refs in zip(hyps, references, strict=True)]
    out: dict[str, float] = {"exact_match": sum(hits) / max(len(hits), 1),
                             "count": float(len(hits))}
    if hasattr(task, "bleu"):
        out["bleu"] = task.bleu(hyps, split)
    if getattr(task, "length_groups", False):
        groups: dict[int, list[bool]] = {}
        for source, hit in zip(sources, hits, strict=True):
            groups.setdefault(len(source), []).append(hit)
        for n, group in sorted(groups.items()):
            out[f"exact_match_len{n}"] = sum(group) / len(group)
            out[f"n_len{n}"] = float(len(group))
    return out


@dataclass(frozen=True)
class TextTranslation:
    """One translated sentence.

    Attributes:
        source: the source tokens as the model reads them (unknown words as ``<unk>``), then
            ``</s>``.
        unknown: the typed words outside the source vocabulary.
        output: the output tokens (``</s>`` not included).
        text: the output as text.
        attention: ``(len(output) + 1, len(source))`` weights (the last row: ``</s>``), or None
            without attention.
        finished: whether the model ended the output with ``</s>``.
    """

    source: list[str]
    unknown: list[str]
    output: list[str]
    text: str
    attention: torch.Tensor | None
    finished: bool


def tokenize_source(task: Any, text: str) -> list[str]:
    """The source-side tokens of ``text``: the translation tokenizer, else whitespace."""
    config = getattr(task, "config", None)
    direction = getattr(config, "direction", None)
    if direction is None:
        return text.split()
    from mneme.tasks.translation import tokenize

    return tokenize(text, "fra" if direction == "fra-eng" else "eng")


def _detokenize(task: Any, tokens: Sequence[str]) -> str:
    if hasattr(task, "bleu"):
        from mneme.tasks.translation import detokenize

        return detokenize(tokens)
    return " ".join(tokens)


def translate_text(task: Any, model: Any, text: str, *, strategy: str = "greedy",
                   beam_width: int = 5, length_penalty: float = 0.0) -> TextTranslation:
    """Translate one sentence.

    Raises:
        UserError: empty input (nothing to translate), or not a sequence-to-sequence model.
    """
    _check_seq2seq(model, "translate")
    tokens = tokenize_source(task, text)
    if not tokens:
        raise UserError("nothing to translate: give a sentence, e.g. \"je suis content .\"")
    vocab = task.spec.source_vocab
    unknown = [t for t in tokens if t not in vocab.stoi]
    source, lengths = task.encode_sources([tokens])
    device = next(model.parameters()).device
    result = model.translate(source.to(device), lengths, strategy=strategy,
                             beam_width=beam_width, length_penalty=length_penalty)
    output = task.spec.target_vocab.decode(result.tokens[0])
    shown = [t if t in vocab.stoi else UNK for t in tokens] + ["</s>"]
    attention = None if result.attention is None else result.attention[0].cpu()
    return TextTranslation(shown, unknown, output, _detokenize(task, output), attention,
                           result.finished[0])
