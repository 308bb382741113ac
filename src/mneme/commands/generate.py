"""``mneme generate RUN``: continue a prompt with a trained language model.

The prompt is encoded like the training data (PTB: lowercased words, numbers as ``N``, unknown
words as ``<unk>`` with a note; characters: each character, unknown ones dropped with a note). The
model reads the boundary token (``<eos>``, or a newline for characters: the stream's unit
separator) and the prompt to warm its state, then decodes from the prompt's last token with
``mneme.decoding``: ``greedy``, ``sample`` (temperature, top-k) or ``beam`` (width, GNMT length
penalty, n best). Word-level generation stops at ``<eos>`` unless told not to.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from mneme.commands.parsing import RunDir, check_run_given, env_data_dirs, parse
from mneme.decoding import beam_search, greedy, sample
from mneme.errors import UserError
from mneme.tasks.text import EOS, UNK
from mneme.validation import Validated, at_least, invalid, one_of

__all__ = ["STRATEGIES", "GenerateArgs", "GenerateOptions", "Generation", "encode_prompt",
           "generate", "generate_run", "main", "run"]

STRATEGIES = ("greedy", "sample", "beam")
_NUMBER = re.compile(r"^[+-]?\d[\d,.]*%?$")


@dataclass(frozen=True)
class GenerateOptions(Validated):
    """How to decode.

    Attributes:
        prompt: the text to continue (may be empty).
        strategy: ``greedy``, ``sample`` or ``beam``.
        temperature: sampling temperature (0: greedy).
        top_k: sample among the k most probable tokens (0: all).
        beam_width: live hypotheses of beam search.
        length_penalty: GNMT alpha of beam search (0: none).
        n_best: hypotheses beam search prints.
        max_tokens: most tokens generated.
        seed: sampling seed.
        stop_at_eos: word level: stop at the end of the sentence (``<eos>``).
    """

    prompt: str = ""
    strategy: str = field(default="sample", metadata=one_of(*STRATEGIES))
    temperature: float = field(default=1.0, metadata=at_least(0.0))
    top_k: int = field(default=0, metadata=at_least(0))
    beam_width: int = field(default=5, metadata=at_least(1))
    length_penalty: float = field(default=0.6, metadata=at_least(0.0))
    n_best: int = field(default=1, metadata=at_least(1))
    max_tokens: int = field(default=30, metadata=at_least(1))
    seed: int = 0
    stop_at_eos: bool = True

    def check(self) -> None:
        if self.n_best > self.beam_width:
            raise invalid(self, "n_best", f"must be <= beam_width = {self.beam_width}")


@dataclass(frozen=True)
class Generation:
    """What ``generate`` produced.

    Attributes:
        texts: the prompt with each continuation (one; beam search: the n best, best first).
        scores: each continuation's log-probability (nats; beam: the length-normalised score).
        notes: remarks on the prompt's encoding (unknown words mapped to ``<unk>``, ...).
    """

    texts: list[str]
    scores: list[float]
    notes: list[str] = field(default_factory=list)


def encode_prompt(task: Any, prompt: str) -> tuple[list[int], list[str]]:
    """Token ids of ``prompt`` for ``task``'s vocabulary, and notes on what was changed."""
    vocab, notes = task.vocab, []
    if task.spec.level == "char":
        unknown = sorted({c for c in prompt if c not in vocab})
        if unknown:
            notes.append(f"characters not in the training text dropped: {''.join(unknown)!r}")
        return [vocab.id(c) for c in prompt if c in vocab], notes
    words = []
    for word in prompt.lower().split():
        if word not in vocab and _NUMBER.match(word) and "N" in vocab:
            word = "N"  # PTB writes every number as N
        words.append(word)
    unknown = sorted({w for w in words if w not in vocab})
    if unknown:
        if vocab.unk is None:
            raise UserError(f"words not in the vocabulary: {', '.join(unknown)}")
        notes.append(f"not in the vocabulary, read as {UNK}: {', '.join(unknown)}")
    return vocab.encode(words), notes


def _render(task: Any, prompt: str, ids: list[int], eos: int | None) -> str:
    tokens = task.vocab.decode(ids)
    if task.spec.level == "char":
        return prompt + "".join(tokens)
    if eos is not None and ids and ids[-1] == eos:
        tokens = tokens[:-1]
    words = " ".join("\n" if t == EOS else t for t in tokens)
    text = " ".join(filter(None, [prompt.strip(), words]))
    return re.sub(r" ?\n ?", "\n", text)


@torch.no_grad()
def generate(model: Any, task: Any, options: GenerateOptions) -> Generation:
    """Continue ``options.prompt`` with ``model`` (eval mode) on ``task``'s vocabulary.

    Raises:
        UserError: a bad option, or (vocabularies without ``<unk>``) unknown words.
    """
    options.validate()
    ids, notes = encode_prompt(task, options.prompt)
    boundary = int(task.spec.boundary_id)
    context = [boundary, *ids]
    state = None
    device = next(model.parameters()).device
    if len(context) > 1:
        state = model(torch.tensor([context[:-1]], device=device), state=None).state
    start = torch.tensor([context[-1]], device=device)
    eos = boundary if task.spec.level == "word" and options.stop_at_eos else None
    n = options.max_tokens
    if options.strategy == "beam":
        result = beam_search(model.step, state, start, n, options.beam_width, eos=eos,
                             length_penalty=options.length_penalty, n_best=options.n_best,
                             reorder_state=model.reorder_state)
        hyps = [(result.sequence(0, r), float(result.scores[0, r]))
                for r in range(options.n_best) if int(result.lengths[0, r]) > 0]
    else:
        if options.strategy == "greedy":
            out = greedy(model.step, state, start, n, eos=eos)
        else:
            gen = torch.Generator(device).manual_seed(options.seed)  # seeded per device type
            out = sample(model.step, state, start, n, temperature=options.temperature,
                         top_k=options.top_k or None, eos=eos, generator=gen)
        hyps = [(out.sequence(0), float(out.scores[0]))]
    texts = [_render(task, options.prompt, seq, eos) for seq, _ in hyps]
    return Generation(texts, [score for _, score in hyps], notes)


def generate_run(run_dir: Path, options: GenerateOptions,
                 overrides: dict[str, Any] | None = None, device: str = "cpu") -> Generation:
    """Load the language model of ``run_dir`` (its best checkpoint) and ``generate``.

    Raises:
        UserError: not a run directory, not a language-model run, a bad option.
    """
    from mneme.tasks.text import CharsConfig, PTBConfig
    from mneme.train.device import resolve_device
    from mneme.train.run import load_run, read_config

    options.validate()
    resolve_device(device, label="device")  # named before the run is read
    config = read_config(Path(run_dir))
    if not isinstance(config.task, PTBConfig | CharsConfig):
        raise UserError(f"{run_dir}: generate needs a language-model run (task ptb or chars), "
                        f"this one is {config.task_name}")
    _, task, model = load_run(Path(run_dir), overrides=overrides, data_dirs=env_data_dirs(),
                              need_data=False, device=device)
    return generate(model, task, options)


@dataclass(frozen=True)
class GenerateArgs:
    """Continue a prompt with a trained language model."""

    run_dir: RunDir
    """The run directory (a ptb or chars run)."""
    decoding: Annotated[GenerateOptions, tyro.conf.OmitArgPrefixes] = GenerateOptions()
    """How to decode (--prompt, --strategy, ...)."""
    data_dir: str | None = None
    """Dataset root holding ptb/, ...; only read by runs without vocab.json (None:
    $MNEME_DATA, then the recorded one)."""
    device: str = "cpu"
    """auto, cpu, cuda, cuda:N or mps (auto: CUDA if available, else MPS, else the CPU)."""


def run(args: GenerateArgs) -> int:
    """Print each continuation (beam search with --n-best > 1: with its score)."""
    options = args.decoding
    overrides = {"data_dir": args.data_dir} if args.data_dir else None
    result = generate_run(args.run_dir, options, overrides=overrides, device=args.device)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for text, score in zip(result.texts, result.scores, strict=True):
        prefix = f"[{score:.3f}] " if options.strategy == "beam" and options.n_best > 1 else ""
        print(prefix + text)
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme generate ARGV``."""
    check_run_given(argv, "generate")
    return run(parse(GenerateArgs, argv, "mneme generate"))
