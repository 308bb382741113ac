"""``mneme ask RUN``: answer questions about your own story with a trained memory network.

Input, typed or piped, one sentence per line as in bAbI: statements build the story; a line ending
in ``?`` is a question about the story so far, answered with each sentence's attention weight in
every hop (for models that trace attention); an empty line starts a new story.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from mneme.commands.parsing import RunDir, check_run_given, env_data_dirs, parse
from mneme.errors import UserError
from mneme.viz.heatmaps import plot_attention


@dataclass(frozen=True)
class AskArgs:
    """Ask a memory network: type a story, then questions about it."""

    run_dir: RunDir
    """The run directory (a bAbI run)."""
    plot: str | None = None
    """Also save each attention heatmap to this PNG."""
    data_dir: str | None = None
    """Dataset root holding babi/; only read by runs without vocab.json (None: $MNEME_DATA,
    then the recorded one)."""
    device: str = "cpu"
    """auto, cpu, cuda, cuda:N or mps (auto: CUDA if available, else MPS, else the CPU)."""


def run(args: AskArgs) -> int:
    """Answer the questions read from stdin (``ask_loop``)."""
    overrides = {"data_dir": args.data_dir} if args.data_dir else None
    return ask_loop(args.run_dir, sys.stdin, sys.stdout, plot=args.plot, overrides=overrides,
                    device=args.device)


def main(argv: Sequence[str]) -> int:
    """``mneme ask ARGV``."""
    check_run_given(argv, "ask")
    return run(parse(AskArgs, argv, "mneme ask"))


def answer(
    task: Any, model: torch.nn.Module, story: Sequence[str], question: str
) -> tuple[str, torch.Tensor | None]:
    """The predicted answer and, if the model traces it, the attention ``(K, S)`` over the story.

    The attention columns follow ``story`` order (oldest first); only the ``memory_size`` most
    recent sentences are in memory, older ones get weight 0. With a null memory (MemN2N's
    default) a last column ``(K, S+1)`` holds the weight of attending to nothing.

    Raises:
        UserError: unknown words, or a sentence longer than the model was trained on.
    """
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in task.encode_story(list(story), question).items()}
    with torch.no_grad():
        output = model(inputs, trace=True)
    word = task.vocab.decode([int(output.logits[0].argmax())])[0]
    trace = output.trace
    if trace is None or not hasattr(trace, "attention"):
        return word, None
    attention = trace.attention[0].cpu()  # (K, N'), slot 0 = most recent sentence
    shown = min(len(story), attention.shape[-1])
    weights = torch.zeros(attention.shape[0], len(story))
    # Slot i holds story[-1 - i]: reverse the first ``shown`` slots into story order.
    weights[:, len(story) - shown :] = attention[:, :shown].flip(-1)
    null = getattr(trace, "null_attention", None)
    if null is not None:
        weights = torch.cat([weights, null[0].cpu().unsqueeze(1)], 1)
    return word, weights


def format_answer(story: Sequence[str], question: str, word: str, weights: Any) -> str:
    """A text table: the answer, then each sentence with its attention in every hop."""
    lines = [f"Q: {question}", f"A: {word}"]
    if weights is not None:
        hops = weights.shape[0]
        lines.append("  ".join(f"hop {k + 1}" for k in range(hops)) + "  sentence")
        rows = list(story) + ["(nothing: the null memory)"] * (weights.shape[1] - len(story))
        for i, sentence in enumerate(rows):
            cols = "  ".join(f"{float(weights[k, i]):5.3f}" for k in range(hops))
            lines.append(f"{cols}  {sentence}")
    return "\n".join(lines)


def ask_loop(
    run_dir: Path,
    stdin: IO[str],
    stdout: IO[str],
    *,
    plot: str | None = None,
    overrides: dict[str, Any] | None = None,
    device: str = "cpu",
) -> int:
    """Read stories and questions from ``stdin``, write answers to ``stdout``.

    Returns:
        0, or 2 when a question could not be answered (unknown words) in non-interactive input.
    """
    from mneme.train.run import load_run

    _, task, model = load_run(Path(run_dir), overrides=overrides, data_dirs=env_data_dirs(),
                              need_data=False, device=device)
    if not hasattr(task, "encode_story"):
        raise UserError(f"{run_dir}: ask needs a question-answering run (bAbI)")
    interactive = stdin.isatty()
    if getattr(model, "linear", False):
        stdout.write("(saved during linear start: the model reads unnormalised scores; the "
                     "weights shown are their softmax)\n")
    if interactive:
        stdout.write(
            "Type a story, one sentence per line; a line ending in '?' asks a question; an empty "
            "line starts a new story; Ctrl-D quits.\n"
        )
    story: list[str] = []
    failed = False
    asked = 0
    for raw in stdin:
        line = raw.strip()
        if not line:
            story = []
            continue
        if not line.endswith("?"):
            story.append(line)
            continue
        try:
            word, weights = answer(task, model, story, line)
        except UserError as exc:
            print(f"mneme: error: {exc}", file=stdout if interactive else sys.stderr)
            failed = True
            continue
        asked += 1
        stdout.write(format_answer(story, line, word, weights) + "\n\n")
        if plot and weights is not None:
            path = Path(plot)
            if asked > 1:
                path = path.with_name(f"{path.stem}-{asked}{path.suffix}")
            plot_attention(story, line, word, weights, path)
            stdout.write(f"attention plot: {path}\n\n")
    if asked == 0 and not failed:
        raise UserError("no question found: end a line with '?' to ask about the story")
    return 2 if failed and not interactive else 0
