"""``mneme translate RUN TEXT``: translate one typed sentence with a sequence-to-sequence run.

Prints the output (``mneme.models.translate.translate_text``) and, with ``plot``, saves the
alignment heatmap (Bahdanau et al. 2015, figure 3; drawn by ``mneme.viz.alignment``).

Translation data: Tatoeba sentences (CC-BY 2.0 FR), from "www.manythings.org/anki and
tatoeba.org".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated

import tyro

from mneme.commands.parsing import HELP, RunDir, check_run_given, env_data_dirs, parse
from mneme.errors import UserError
from mneme.models.translate import ATTRIBUTION, UNK, _check_seq2seq, translate_text


@dataclass(frozen=True)
class TranslateArgs:
    """Translate a sentence with a seq2seq run."""

    run_dir: RunDir
    """The run directory (a seq2seq run)."""
    text: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="SENTENCE")]
    """The sentence to translate, e.g. "je suis content ."."""
    strategy: str = "greedy"
    """greedy or beam."""
    beam_width: int = 5
    """Hypotheses kept by beam search."""
    length_penalty: float = 0.0
    """Beam search's length penalty alpha (GNMT)."""
    plot: str | None = None
    """Also save the alignment heatmap to this PNG."""
    data_dir: str | None = None
    """Dataset root holding eng-fra/; only read by runs without vocab.json (None:
    $MNEME_DATA, then the recorded one)."""
    device: str = "cpu"
    """auto, cpu, cuda, cuda:N or mps (auto: CUDA if available, else MPS, else the CPU)."""


def run(args: TranslateArgs) -> int:
    """Print the translation (``translate_command``)."""
    return translate_command(args.run_dir, args.text, sys.stdout, strategy=args.strategy,
                             beam_width=args.beam_width, length_penalty=args.length_penalty,
                             plot=args.plot, data_dir=args.data_dir, device=args.device)


def main(argv: Sequence[str]) -> int:
    """``mneme translate ARGV``."""
    check_run_given(argv, "translate")
    if len(argv) < 2 and argv[0] not in HELP:
        raise UserError('translate needs a sentence: mneme translate RUN "je suis content ."')
    args = parse(TranslateArgs, argv, "mneme translate",
                 f"Translate a sentence with a seq2seq run. {ATTRIBUTION}")
    return run(args)


def translate_command(run_dir: Path, text: str, out: IO[str], *, strategy: str = "greedy",
                      beam_width: int = 5, length_penalty: float = 0.0,
                      plot: str | None = None, data_dir: str | None = None,
                      device: str = "cpu") -> int:
    """``mneme translate RUN TEXT``: print the translation, optionally save the alignment PNG.

    Raises:
        UserError: a run that is not seq2seq, empty text, a bad strategy or width.
    """
    from mneme.train.run import load_run

    if strategy not in ("greedy", "beam", "sample"):
        raise UserError(f"--strategy must be greedy, beam or sample (got {strategy!r})")
    if beam_width < 1:
        raise UserError(f"--beam-width must be >= 1 (got {beam_width})")
    if not text.strip():
        raise UserError("nothing to translate: give a sentence, e.g. \"je suis content .\"")
    overrides = {"data_dir": data_dir} if data_dir else None
    config, task, model = load_run(Path(run_dir), overrides=overrides,
                                   data_dirs=env_data_dirs(), need_data=False, device=device)
    _check_seq2seq(model, "translate")
    result = translate_text(task, model, text, strategy=strategy, beam_width=beam_width,
                            length_penalty=length_penalty)
    if result.unknown:
        out.write(f"note: unknown word(s) read as {UNK}: {', '.join(result.unknown)}\n")
    out.write(result.text + "\n")
    if not result.finished:
        out.write("note: the output was cut at the length limit (no </s>)\n")
    if plot:
        if result.attention is None:
            out.write("note: this model has no attention; no alignment to plot\n")
        else:
            from mneme.viz.alignment import plot_alignment

            title = f"{config.model_name} ({config.model.attention}, {strategy})"
            path = plot_alignment(result.source, [*result.output, "</s>"], result.attention,
                                  Path(plot), title=title)
            out.write(f"alignment plot: {path}\n")
    return 0
