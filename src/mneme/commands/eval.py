"""``mneme eval RUN``: evaluate a run's best checkpoint.

    mneme eval RUN [--json] [--split test] [--decode greedy|beam] [--task.FIELD VALUE ...]

``--task.*`` are the fields of the run's task config, so ``EvalArgs`` is generic in its type:
``parse_eval`` reads the run's config first, then parses argv once with the run's task as the
default.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from mneme.commands.parsing import HELP, RunDir, check_run_given, env_data_dirs, parse
from mneme.errors import UserError

TaskT = TypeVar("TaskT")
DESCRIPTION = "Evaluate a run's best checkpoint."


@dataclass(frozen=True)
class EvalArgs(Generic[TaskT]):
    """The options of ``mneme eval RUN``."""

    run_dir: RunDir
    """The run directory."""
    task: TaskT
    """Overrides of the run's task config (``--task.FIELD``; shown with mneme eval RUN --help)."""
    split: str = "test"
    """train, valid or test."""
    json: bool = False
    """Print the metrics as JSON (errors as fractions)."""
    data_dir: str | None = None
    """Dataset root holding babi/, ptb/, ...; None: $MNEME_DATA, then the one the run
    recorded."""
    batch_size: int = 500
    """Evaluation batch size."""
    decode: str | None = None
    """seq2seq runs: also decode (greedy or beam) for exact match and BLEU."""
    device: str = "cpu"
    """auto, cpu, cuda, cuda:N or mps (auto: CUDA if available, else MPS, else the CPU)."""


@dataclass(frozen=True)
class NoTask:
    """The run's task config: its fields show with mneme eval RUN --help."""


@functools.cache
def eval_args_type(task_config: type) -> Any:
    """``EvalArgs`` for one task config type, built once."""
    return EvalArgs[task_config]  # type: ignore[valid-type]


def parse_eval(argv: Sequence[str]) -> tuple[Any, EvalArgs]:
    """The run's config and the parsed options (``--task.*`` default to the run's task config).

    Raises:
        UserError: no run directory, or one that holds no readable run.
    """
    from mneme.train.run import read_config

    check_run_given(argv, "eval")
    if argv[0] in HELP:
        blank = eval_args_type(NoTask)
        parse(blank, argv, "mneme eval", DESCRIPTION)  # prints the options, exits 0
    config = read_config(Path(argv[0]))
    args_type = eval_args_type(type(config.task))
    default = args_type(run_dir=Path(argv[0]), task=config.task)
    return config, parse(args_type, argv, "mneme eval", DESCRIPTION, default=default)


def run(config: Any, args: EvalArgs) -> int:
    """Evaluate ``args.run_dir`` (its task overridden where the options differ from ``config``)."""
    from mneme.train.loop import evaluate
    from mneme.train.run import load_run

    overrides = {
        f.name: getattr(args.task, f.name)
        for f in dataclasses.fields(args.task)
        if getattr(args.task, f.name) != getattr(config.task, f.name)
    }
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.split not in ("train", "valid", "test"):
        raise UserError(f"--split must be train, valid or test (got {args.split!r})")
    _, task, model = load_run(args.run_dir, overrides=overrides, data_dirs=env_data_dirs(),
                              device=args.device)
    metrics = evaluate(model, task, args.split, args.batch_size,
                       next(model.parameters()).device)
    if args.decode is not None:
        from mneme.models.translate import evaluate_decoding

        if args.decode not in ("greedy", "beam"):
            raise UserError(f"--decode must be greedy or beam (got {args.decode!r})")
        decoded = evaluate_decoding(model, task, args.split, strategy=args.decode)
        metrics.update({f"{args.decode}_{k}": v for k, v in decoded.items()})
    out = {f"{args.split}_{k}": v for k, v in metrics.items()}
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    # JSON keeps fractions; the table shows errors in % and counts as integers.
    for key, value in sorted(out.items()):
        if "error" in key:
            shown = f"{100 * value:.2f}%"
        elif key.endswith("count") or "_n_" in key:
            shown = f"{value:.0f}"
        else:
            shown = f"{value:.4f}"
        print(f"{key:>28}  {shown}")
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme eval ARGV``."""
    return run(*parse_eval(argv))
