"""The ``mneme`` command: the entry point, the dispatch table and the error handling.

    mneme train --task babi --task.task-id 1 --model memn2n [--train.epochs 20] [--out RUN]
    mneme train --resume RUN
    mneme eval RUN [--json] [--split test] [--task.FIELD VALUE ...]
    mneme bench --suite quick|babi-1k|babi-10k [--out DIR] [--jobs 2]
    mneme plot RUN
    mneme ask RUN [--plot PNG]
    mneme generate RUN --prompt "the meaning of" [--strategy greedy|sample|beam] [--max-tokens 30]
    mneme translate RUN "je suis content ." [--strategy greedy|beam] [--beam-width 5] [--plot PNG]
    mneme data babi|ptb|tinyshakespeare|eng-fra --from PATH_OR_URL [--sha256 HEX]
    mneme diagnose gradients [--models rnn irnn lstm gru] [--runs RUN ...] [--out PNG]

User mistakes print one line ``mneme: error: ...`` and exit with code 2; an interrupted training
exits with 130 after saving a checkpoint to resume from.

Each command is a module of ``mneme.commands`` (the dispatch table ``COMMANDS``) with one frozen
dataclass of its options, ``run(args) -> int`` and ``main(argv) -> int``; ``--help`` is tyro's.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from mneme import __version__
from mneme.commands.parsing import DATA_ENV
from mneme.errors import NonFiniteLossError, UserError

USAGE = f"""mneme {__version__}: neural sequence models with memory, and their benchmark.

commands:
  train   train a model on a task:  mneme train --task babi --task.task-id 1 --model memn2n
  eval    evaluate a run's best checkpoint:  mneme eval RUN [--json]
  bench   run a benchmark suite:  mneme bench --suite quick   (list: mneme bench --list)
  plot    learning curves and attention heatmaps of a run:  mneme plot RUN
  ask     answer questions about your own story:  mneme ask RUN
  generate  continue a prompt with a language model:  mneme generate RUN --prompt "the market"
  translate  translate a sentence with a seq2seq run:  mneme translate RUN "je suis content ."
  data    install babi, ptb, tinyshakespeare or eng-fra:  mneme data ptb --from simple-examples.tgz
  hopfield associative memory:  mneme hopfield capacity --n 100 200  mneme hopfield recall
  diagnose gradient flow through time:  mneme diagnose gradients --models rnn lstm

`mneme COMMAND --help` shows a command's options. Datasets are read from --data-dir, else
${DATA_ENV}.
"""

COMMANDS = {
    "train": "mneme.commands.train",
    "eval": "mneme.commands.eval",
    "bench": "mneme.commands.bench",
    "plot": "mneme.commands.plot",
    "ask": "mneme.commands.ask",
    "generate": "mneme.commands.generate",
    "translate": "mneme.commands.translate",
    "data": "mneme.commands.data",
    "hopfield": "mneme.commands.hopfield",
    "diagnose": "mneme.commands.diagnose",
}
"""Command name -> its module, imported only when run (``mneme --help`` imports no torch)."""


def run_command(name: str, argv: Sequence[str]) -> int:
    """``mneme NAME ARGV``: the command module's ``main``; ``--help`` returns 0."""
    module = importlib.import_module(COMMANDS[name])
    try:
        return int(module.main(list(argv)))
    except SystemExit as exc:
        if exc.code in (0, None):  # tyro's --help
            return 0
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"mneme {__version__}")
        return 0
    if args[0] not in COMMANDS:
        print(
            f"mneme: error: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        return run_command(args[0], args[1:])
    except UserError as exc:
        print(f"mneme: error: {exc}", file=sys.stderr)
        return 2
    except NonFiniteLossError as exc:
        print(f"mneme: training stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mneme: interrupted", file=sys.stderr)
        return 130
