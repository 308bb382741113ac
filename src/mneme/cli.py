"""The ``mneme`` command: the only place that reads argv and the environment.

    mneme train --task babi --task.task-id 1 --model memn2n [--train.epochs 20] [--out RUN]
    mneme train --resume RUN
    mneme eval RUN [--json] [--split test] [--task.FIELD VALUE ...]
    mneme bench --suite quick|babi-1k|babi-10k [--out DIR] [--jobs 2]
    mneme plot RUN
    mneme ask RUN [--plot PNG]
    mneme generate RUN --prompt "the meaning of" [--strategy greedy|sample|beam] [--max-tokens 30]
    mneme translate RUN "je suis content ." [--strategy greedy|beam] [--beam-width 5] [--plot PNG]
    mneme data babi --from PATH_OR_URL
    mneme diagnose gradients [--models rnn,irnn,lstm,gru] [--runs RUN ...] [--out PNG]

User mistakes print one line ``mneme: error: ...`` and exit with code 2; an interrupted training
exits with 130 after saving a checkpoint to resume from.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mneme import __version__
from mneme.errors import NonFiniteLossError, UserError

DATA_ENV = "MNEME_DATA"

USAGE = f"""mneme {__version__}: neural sequence models with memory, and their benchmark.

commands:
  train   train a model on a task:  mneme train --task babi --task.task-id 1 --model memn2n
  eval    evaluate a run's best checkpoint:  mneme eval RUN [--json]
  bench   run a benchmark suite:  mneme bench --suite quick   (list: mneme bench --list)
  plot    learning curves and attention heatmaps of a run:  mneme plot RUN
  ask     answer questions about your own story:  mneme ask RUN
  generate  continue a prompt with a language model:  mneme generate RUN --prompt "the market"
  translate  translate a sentence with a seq2seq run:  mneme translate RUN "je suis content ."
  data    install a dataset:  mneme data babi --from tasks_1-20_v1-2.tar.gz
  hopfield associative memory:  mneme hopfield capacity --n 100,200   mneme hopfield recall
  diagnose gradient flow through time:  mneme diagnose gradients --models rnn,lstm

`mneme COMMAND --help` shows a command's options. Datasets are read from --data-dir, else
${DATA_ENV}.
"""


def default_data_dir(given: str | None) -> str | None:
    """``--data-dir`` if given, else ``$MNEME_DATA``, else None."""
    return given if given is not None else os.environ.get(DATA_ENV) or None


def _opt(kind: Any, help: str) -> Any:
    """A field type with its --help text (for dataclasses made on the fly)."""
    from typing import Annotated

    import tyro

    return Annotated[kind, tyro.conf.arg(help=help)]


DATA_HELP = "dataset root holding babi/, ptb/, ...; None: $MNEME_DATA"


def _tyro(cls: type, args: Sequence[str], default: Any, prog: str, description: str) -> Any:
    import tyro

    return tyro.cli(cls, args=list(args), default=default, prog=prog, description=description)


# -- train ----------------------------------------------------------------------------------
def _train_args_class(task_cls: type, model_cls: type) -> type:
    from mneme.config import TrainConfig

    return dataclasses.make_dataclass(
        "TrainArgs",
        [
            ("task", task_cls, field(default_factory=task_cls)),
            ("model", model_cls, field(default_factory=model_cls)),
            ("train", TrainConfig, field(default_factory=TrainConfig)),
            ("out", _opt(str | None, "run directory (default: runs/TASK-MODEL-TIME)"), None),
            ("data_dir", _opt(str | None, DATA_HELP), None),
        ],
        frozen=True,
    )


def _with_data_dir(task_cfg: Any, data_dir: str | None) -> Any:
    names = {f.name for f in dataclasses.fields(task_cfg)}
    if "data_dir" in names and task_cfg.data_dir is None:
        return dataclasses.replace(task_cfg, data_dir=default_data_dir(data_dir))
    return task_cfg


def cmd_train(argv: Sequence[str]) -> int:
    from mneme import registry
    from mneme.models.build import model_entry
    from mneme.models.recipes import recipe
    from mneme.train.run import RunConfig, read_config, train_run

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--task")
    pre.add_argument("--model")
    pre.add_argument("--resume")
    known, rest = pre.parse_known_args(list(argv))
    if known.resume:
        if rest or known.task or known.model:
            raise UserError(
                "train --resume RUN takes no other options (the run's config.json is used)"
            )
        run_dir = Path(known.resume)
        config = read_config(run_dir)
        dist = _distributed(config.train.device)
        summary = train_run(config, run_dir, resume=True, distributed=dist)
        return _report_training(summary, run_dir, dist)
    wants_help = any(a in ("-h", "--help") for a in rest)
    if not known.task or not known.model:
        registry.load()
        tasks = ", ".join(sorted(registry.TASKS))
        models = ", ".join(sorted(registry.MODELS))
        cores = ", ".join(sorted(registry.CORES))
        message = (
            f"train needs --task NAME and --model NAME (tasks: {tasks}; task-facing models: "
            f"{models}; cores, which run on every sequence task: {cores}); "
            "e.g. mneme train --task babi --task.task-id 1 --model memn2n"
        )
        if wants_help:
            print(message)
            return 0
        raise UserError(message)
    task_entry = registry.task_entry(known.task)
    entry = model_entry(known.model, known.task)
    args_cls = _train_args_class(task_entry.config, entry.config)
    prog = f"mneme train --task {known.task} --model {known.model}"
    description = f"Train {entry.summary} on {task_entry.summary}."
    # Pass 1 reads the task and model fields; the recipe for that pair then supplies defaults
    # that pass 2 lets every explicit flag override.
    first = _tyro(args_cls, [a for a in rest if a not in ("-h", "--help")], None, prog, description)
    model_cfg, train_cfg = recipe(known.task, known.model, first.task, first.model)
    defaults = args_cls(task=first.task, model=model_cfg, train=train_cfg)
    args = _tyro(args_cls, rest, defaults, prog, description)
    task_cfg = _with_data_dir(args.task, args.data_dir)
    config = RunConfig(known.task, task_cfg, known.model, args.model, args.train)
    config.validate()
    run_dir = Path(args.out) if args.out else _default_run_dir(known.task, task_cfg, known.model)
    dist = _distributed(config.train.device)
    if dist.world_size > 1 and not args.out:
        raise UserError("with torchrun, pass --out RUN_DIR so that every rank uses the same run")
    summary = train_run(config, run_dir, distributed=dist)
    return _report_training(summary, run_dir, dist)


def _distributed(device: str) -> Any:
    """This process's rank under ``torchrun`` (read from the environment), else one process."""
    from mneme.train.distributed import from_environment

    return from_environment(os.environ, device)


def _default_run_dir(task_name: str, task_cfg: Any, model_name: str) -> Path:
    tag = task_name
    if getattr(task_cfg, "joint", False):
        tag += "-joint"
    elif hasattr(task_cfg, "task_id"):
        tag += str(task_cfg.task_id)
    return Path("runs") / f"{tag}-{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"


_HEADLINE = ("perplexity", "bpc", "bits", "mse", "error")
"""The metric ``train`` prints, the first a run has: each task's paper unit."""


def _report_training(summary: dict[str, Any], run_dir: Path, dist: Any = None) -> int:
    if dist is not None and not dist.is_main:
        return 130 if summary.get("interrupted") else 0
    if summary.get("interrupted"):
        print(f"interrupted; checkpoint saved. Resume with: mneme train --resume {run_dir}")
        return 130
    test, valid = summary["test"], summary["valid"]
    name = next((m for m in _HEADLINE if m in valid), "error")

    def show(value: float) -> str:
        return f"{100 * value:.2f}%" if name == "error" else f"{value:.4g}"

    print(
        f"{run_dir}: valid {name} {show(valid.get(name, float('nan')))}, "
        f"test {name} {show(test.get(name, float('nan')))} "
        f"(best epoch {summary['best_epoch']}, {summary['steps']} steps, "
        f"{summary['seconds']:.1f} s)"
    )
    return 0


# -- eval -----------------------------------------------------------------------------------
def cmd_eval(argv: Sequence[str]) -> int:
    from mneme.train.loop import evaluate
    from mneme.train.run import load_run, read_config

    run_dir = _positional_run(argv, "eval")
    config = read_config(run_dir)
    task_cls = type(config.task)
    args_cls = dataclasses.make_dataclass(
        "EvalArgs",
        [
            ("task", task_cls, field(default_factory=task_cls)),
            ("split", _opt(str, "train, valid or test"), "test"),
            ("json", _opt(bool, "print the metrics as JSON (errors as fractions)"), False),
            ("data_dir", _opt(str | None, DATA_HELP), None),
            ("batch_size", _opt(int, "evaluation batch size"), 500),
            ("decode", _opt(str | None, "seq2seq runs: also decode (greedy or beam) for "
                            "exact match and BLEU"), None),
        ],
        frozen=True,
    )
    defaults = args_cls(task=config.task)
    args = _tyro(args_cls, argv[1:], defaults, f"mneme eval {run_dir}", "Evaluate a run.")
    overrides = {
        f.name: getattr(args.task, f.name)
        for f in dataclasses.fields(args.task)
        if getattr(args.task, f.name) != getattr(config.task, f.name)
    }
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.split not in ("train", "valid", "test"):
        raise UserError(f"--split must be train, valid or test (got {args.split!r})")
    _, task, model = load_run(run_dir, overrides=overrides)
    metrics = evaluate(model, task, args.split, args.batch_size)
    if args.decode is not None:
        from mneme.models.translate import evaluate_decoding

        if args.decode not in ("greedy", "beam"):
            raise UserError(f"--decode must be greedy or beam (got {args.decode!r})")
        decoded = evaluate_decoding(model, task, args.split, strategy=args.decode)
        metrics.update({f"{args.decode}_{k}": v for k, v in decoded.items()})
    out = {f"{args.split}_{k}": v for k, v in metrics.items()}
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
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


def _positional_run(argv: Sequence[str], command: str) -> Path:
    if not argv or argv[0].startswith("-"):
        if argv and argv[0] in ("-h", "--help"):
            print(
                f"usage: mneme {command} RUN_DIR [options]  (options: mneme {command} RUN --help)"
            )
            raise SystemExit(0)
        raise UserError(f"{command} needs a run directory: mneme {command} RUN_DIR")
    return Path(argv[0])


# -- bench ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchArgs:
    """Run a benchmark suite; finished cells in --out are skipped, so a rerun resumes."""

    suite: str = "quick"
    """Suite name (see --list)."""
    out: str | None = None
    """Output directory (default: bench-out/SUITE)."""
    jobs: int = 2
    """Cells trained at once, one torch thread each."""
    data_dir: str | None = None
    """Dataset root (default: $MNEME_DATA)."""
    list: bool = False
    """List the suites and exit."""
    report_only: bool = False
    """Write the reports from the cells finished so far; train nothing."""


def cmd_bench(argv: Sequence[str]) -> int:
    from mneme.bench.runner import run_suite
    from mneme.bench.suites import SUITES, get_suite

    args = _tyro(BenchArgs, argv, None, "mneme bench", "Run a benchmark suite.")
    if args.list:
        for name, suite in SUITES.items():
            print(f"{name:<12} {suite.description}")
        return 0
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1 (got {args.jobs})")
    suite = get_suite(args.suite)
    out = Path(args.out) if args.out else Path("bench-out") / suite.name
    return run_suite(
        suite,
        out,
        data_dir=default_data_dir(args.data_dir),
        jobs=args.jobs,
        report_only=args.report_only,
    )


# -- plot -----------------------------------------------------------------------------------
def cmd_plot(argv: Sequence[str]) -> int:
    from mneme.viz.run import plot_run

    run_dir = _positional_run(argv, "plot")
    args_cls = dataclasses.make_dataclass(
        "PlotArgs",
        [
            ("examples", _opt(int, "test examples to draw attention heatmaps for"), 3),
            ("data_dir", _opt(str | None, DATA_HELP), None),
        ],
        frozen=True,
    )
    args = _tyro(args_cls, argv[1:], None, f"mneme plot {run_dir}", "Plot a run.")
    for path in plot_run(run_dir, examples=args.examples, data_dir=args.data_dir):
        print(path)
    return 0


# -- ask ------------------------------------------------------------------------------------
def cmd_ask(argv: Sequence[str]) -> int:
    from mneme.commands.ask import ask_loop

    run_dir = _positional_run(argv, "ask")
    args_cls = dataclasses.make_dataclass(
        "AskArgs",
        [
            ("plot", _opt(str | None, "also save each attention heatmap to this PNG"), None),
            ("data_dir", _opt(str | None, DATA_HELP), None),
        ],
        frozen=True,
    )
    args = _tyro(args_cls, argv[1:], None, f"mneme ask {run_dir}", "Ask a memory network.")
    overrides = {"data_dir": args.data_dir} if args.data_dir else None
    return ask_loop(run_dir, sys.stdin, sys.stdout, plot=args.plot, overrides=overrides)


# -- translate ------------------------------------------------------------------------------
def cmd_translate(argv: Sequence[str]) -> int:
    from mneme.commands.translate import translate_command
    from mneme.models.translate import ATTRIBUTION

    run_dir = _positional_run(argv, "translate")
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        if len(argv) >= 2:
            print(f'usage: mneme translate RUN_DIR "SENTENCE" [options]\n\n{ATTRIBUTION}')
            return 0
        raise UserError('translate needs a sentence: mneme translate RUN "je suis content ."')
    args_cls = dataclasses.make_dataclass(
        "TranslateArgs",
        [
            ("strategy", _opt(str, "greedy or beam"), "greedy"),
            ("beam_width", _opt(int, "hypotheses kept by beam search"), 5),
            ("length_penalty", _opt(float, "beam search's length penalty alpha (GNMT)"), 0.0),
            ("plot", _opt(str | None, "also save the alignment heatmap to this PNG"), None),
            ("data_dir", _opt(str | None, DATA_HELP), None),
        ],
        frozen=True,
    )
    args = _tyro(args_cls, argv[2:], None, f'mneme translate {run_dir} "SENTENCE"',
                 f"Translate a sentence with a seq2seq run. {ATTRIBUTION}")
    return translate_command(run_dir, argv[1], sys.stdout, strategy=args.strategy,
                             beam_width=args.beam_width, length_penalty=args.length_penalty,
                             plot=args.plot, data_dir=args.data_dir)


# -- generate -------------------------------------------------------------------------------
def cmd_generate(argv: Sequence[str]) -> int:
    from mneme.commands.generate import GenerateOptions, generate_run

    run_dir = _positional_run(argv, "generate")
    args_cls = dataclasses.make_dataclass(
        "GenerateArgs",
        [
            ("prompt", _opt(str, "text to continue (words for PTB, characters for chars)"), ""),
            ("strategy", _opt(str, "greedy, sample or beam"), "sample"),
            ("temperature", _opt(float, "sampling temperature (0: greedy)"), 1.0),
            ("top_k", _opt(int, "sample among the k most probable tokens (0: all)"), 0),
            ("beam_width", _opt(int, "hypotheses kept by beam search"), 5),
            ("length_penalty", _opt(float, "beam search's length penalty alpha (GNMT)"), 0.6),
            ("n_best", _opt(int, "beam search: print the n best continuations"), 1),
            ("max_tokens", _opt(int, "most tokens generated"), 30),
            ("seed", _opt(int, "sampling seed"), 0),
            ("stop_at_eos", _opt(bool, "word level: stop at the end of the sentence"), True),
            ("data_dir", _opt(str | None, DATA_HELP), None),
        ],
        frozen=True,
    )
    args = _tyro(args_cls, argv[1:], None, f"mneme generate {run_dir}",
                 "Continue a prompt with a trained language model.")
    options = GenerateOptions(**{f.name: getattr(args, f.name)
                                 for f in dataclasses.fields(GenerateOptions)})
    overrides = {"data_dir": args.data_dir} if args.data_dir else None
    result = generate_run(run_dir, options, overrides=overrides)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for text, score in zip(result.texts, result.scores, strict=True):
        prefix = f"[{score:.3f}] " if options.strategy == "beam" and options.n_best > 1 else ""
        print(prefix + text)
    return 0


# -- data -----------------------------------------------------------------------------------
def cmd_data(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mneme data",
        description="Install a dataset into the data directory (--data-dir, else $MNEME_DATA).",
    )
    parser.add_argument("dataset", choices=["babi"])
    parser.add_argument("--from", dest="source", required=True, help="archive path or URL")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(list(argv))
    from mneme.tasks.babi_archive import install_babi_archive

    root = default_data_dir(args.data_dir)
    if root is None:
        raise UserError(f"data: pass --data-dir DIR or set ${DATA_ENV} to say where data goes")
    dest = Path(root) / "babi"
    install_babi_archive(args.source, dest)
    print(f"bAbI installed in {dest}")
    return 0


# -- hopfield -------------------------------------------------------------------------------
def cmd_hopfield(argv: Sequence[str]) -> int:
    from mneme.commands import hopfield as ex

    subcommands = {"capacity": ex.CapacityArgs, "recall": ex.RecallArgs}
    if not argv or argv[0] not in subcommands:
        if argv and argv[0] in ("-h", "--help"):
            print("usage: mneme hopfield capacity|recall [options]  (options: --help after it)")
            return 0
        raise UserError("hopfield needs a subcommand: capacity or recall (mneme hopfield recall)")
    name, cls = argv[0], subcommands[argv[0]]
    args = _tyro(cls, argv[1:], None, f"mneme hopfield {name}", cls.__doc__ or name)
    if name == "capacity":
        result = ex.run_capacity(args)
        print(ex.format_capacity(result))
        print(f"wrote {Path(args.out) / 'capacity.png'}, capacity.csv, capacity.json")
    else:
        result = ex.run_recall(args)
        print(f"{result['exact']}/{result['count']} recalled exactly; wrote {result['path']}")
    return 0


# -- diagnose -------------------------------------------------------------------------------
def cmd_diagnose(argv: Sequence[str]) -> int:
    from mneme.commands import diagnose

    subcommands = {"gradients": diagnose.DiagnoseGradientsArgs}
    if not argv or argv[0] not in subcommands:
        if argv and argv[0] in ("-h", "--help"):
            print("usage: mneme diagnose gradients [options]  (options: --help after it)")
            return 0
        raise UserError("diagnose needs a subcommand: gradients (mneme diagnose gradients)")
    name, cls = argv[0], subcommands[argv[0]]
    args = _tyro(cls, argv[1:], None, f"mneme diagnose {name}", cls.__doc__ or name)
    flows = diagnose.run_gradients(args)
    print(diagnose.format_table(flows))
    print(f"wrote {diagnose.plot_flows(flows, args.out)}")
    if args.json:
        print(f"wrote {diagnose.write_json(flows, args, args.json)}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "plot": cmd_plot,
    "ask": cmd_ask,
    "generate": cmd_generate,
    "translate": cmd_translate,
    "data": cmd_data,
    "hopfield": cmd_hopfield,
    "diagnose": cmd_diagnose,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"mneme {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(
            f"mneme: error: unknown command {args[0]!r}; commands: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        return command(args[1:])
    except UserError as exc:
        print(f"mneme: error: {exc}", file=sys.stderr)
        return 2
    except NonFiniteLossError as exc:
        print(f"mneme: training stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mneme: interrupted", file=sys.stderr)
        return 130
