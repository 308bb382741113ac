"""``mneme hopfield capacity`` and ``mneme hopfield recall``: the experiments behind the pictures.

capacity: for each rule, N and load P/N, store P random +-1 patterns in each of ``trials``
independent networks, start the dynamics from every stored pattern (with a fraction ``noise`` of
its units flipped) and measure how many end exactly on their pattern, how many patterns are
fixed points, and the final overlap m = s.x/N. Patterns depend only on (seed, N, load), so all
rules see the same ones. The modern network recalls a random subset of ``modern_cues`` patterns
per trial, sgn of xi after iterating xi <- X^T softmax(beta X xi) to a fixed point.

recall: store a few 8x8 digits (class means of scikit-learn's digits, binarised) or random
patterns, recall from corrupted cues, and draw cue -> intermediate states -> recalled pattern.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.associative.hopfield import STORAGE_RULES, flip_noise, overlap, recall
from mneme.associative.modern_hopfield import modern_retrieve
from mneme.commands.hopfield_capacity import (
    DEFAULT_LOADS,
    RETRIEVED,
    WEIGHT_BUDGET,
    _generator,
    _sgn,
    _write_capacity,
    format_capacity,
    measure_classical,
    measure_modern,
    random_patterns,
    summarize,
    theory_loads,
)
from mneme.commands.parsing import subcommand
from mneme.errors import UserError

__all__ = [
    "DEFAULT_LOADS",
    "RETRIEVED",
    "RULES",
    "SUBCOMMANDS",
    "WEIGHT_BUDGET",
    "CapacityArgs",
    "RecallArgs",
    "digit_prototypes",
    "format_capacity",
    "main",
    "measure_classical",
    "measure_modern",
    "random_patterns",
    "run",
    "run_capacity",
    "run_recall",
    "summarize",
    "theory_loads",
]

RULES = ("hebb", "storkey", "pinv", "modern")


@dataclass(frozen=True)
class CapacityArgs:
    """Sweep the load P/N and measure recall for each storage rule."""

    n: tuple[int, ...] = (100, 200, 500)
    """Network sizes N (space-separated: --n 100 200 500)."""
    rule: tuple[str, ...] = ("hebb", "storkey", "pinv", "modern")
    """Rules (space-separated): hebb, storkey, pinv, modern."""
    trials: int = 20
    """Independent networks (pattern sets) per point."""
    loads: tuple[float, ...] | None = None
    """Loads P/N (space-separated); default: a grid per rule around its capacity."""
    noise: float = 0.0
    """Fraction of the cue's units flipped (0: start from the stored pattern)."""
    update: str = "async"
    """Dynamics of the classical rules: async (random order) or sync."""
    beta: float = 1.0
    """Inverse temperature of the modern network (patterns are +-1, |x|^2 = N)."""
    max_sweeps: int = 100
    """At most this many sweeps (async) or steps (sync); modern: iterations."""
    modern_cues: int = 100
    """Modern rule: stored patterns recalled per trial (a random subset)."""
    seed: int = 0
    """Seed of the patterns, cues and update orders."""
    out: str = "hopfield-out/capacity"
    """Directory for capacity.png, capacity.csv and capacity.json."""
    threads: int = 1
    """Torch threads: the asynchronous sweep is a long chain of small ops, fastest on one."""
    progress: bool = True
    """Show a progress bar."""


@dataclass(frozen=True)
class RecallArgs:
    """Store patterns, recall them from corrupted cues, draw every step."""

    patterns: str = "digits"
    """digits (8x8 class means, needs scikit-learn) or random."""
    noise: float = 0.2
    """Fraction of each cue's units flipped."""
    rule: str = "pinv"
    """hebb, storkey, pinv or modern (digits are correlated: hebb mixes them)."""
    count: int = 5
    """Patterns stored (digits: classes 0..count-1, at most 10)."""
    n: int = 100
    """Units per random pattern (drawn as a square image when N is a square)."""
    update: str = "async"
    """async or sync (classical rules)."""
    beta: float = 1.0
    """Inverse temperature of the modern network."""
    columns: int = 4
    """Intermediate states drawn per row."""
    seed: int = 0
    """Seed of the patterns, noise and update order."""
    out: str = "hopfield-recall.png"
    """The PNG to write."""


# -- parsing and checks -------------------------------------------------------------------------
def _check_rules(rules: Sequence[str], option: str = "rule") -> None:
    for rule in rules:
        if rule not in RULES:
            raise UserError(f"--{option}: unknown rule {rule!r} (choose from {', '.join(RULES)})")


def _check_common(noise: float, update: str, beta: float) -> None:
    if not 0.0 <= noise <= 0.5:
        raise UserError(f"--noise must be in [0, 0.5], got {noise}")
    if update not in ("async", "sync"):
        raise UserError(f"--update must be async or sync, got {update!r}")
    if not beta > 0:
        raise UserError(f"--beta must be > 0, got {beta}")


# -- capacity ----------------------------------------------------------------------------------
def run_capacity(args: CapacityArgs) -> dict[str, Any]:
    """Validate ``args``, run the sweep, write capacity.{png,csv,json} and return the results.

    Raises:
        UserError: a bad option (named in the message).
    """
    ns, rules = list(args.n), list(args.rule)
    if not ns or not rules:
        raise UserError("--n and --rule need at least one value each")
    _check_rules(rules)
    if any(n < 2 for n in ns):
        raise UserError(f"--n: every N must be >= 2, got {' '.join(map(str, ns))}")
    loads = None if args.loads is None else list(args.loads)
    if loads is not None and (not loads or any(not x > 0 for x in loads)):
        raise UserError(f"--loads: every load must be > 0, got {' '.join(map(str, loads))}")
    classical = any(r in ("hebb", "storkey", "pinv") for r in rules)
    if loads is not None and classical and max(loads) > 2:
        raise UserError("--loads: the classical rules take loads up to 2 (P <= 2 N)")
    if args.trials < 1 or args.max_sweeps < 1 or args.modern_cues < 1 or args.threads < 1:
        raise UserError("--trials, --max-sweeps, --modern-cues and --threads must be >= 1")
    _check_common(args.noise, args.update, args.beta)
    plan = [(r, n, sorted(set(loads or DEFAULT_LOADS[r]))) for r in rules for n in ns]
    from tqdm import tqdm

    bar = tqdm(total=sum(len(p[2]) for p in plan), disable=not args.progress, unit="point")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        start = time.perf_counter()
        rows = _sweep(plan, args, bar)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    bar.close()
    result = {
        "config": asdict(args),
        "seconds": seconds,
        "torch_threads": args.threads,
        "theory": {r: {n: theory_loads(r, n, args.noise) for n in ns} for r in rules},
        "rows": rows,
        "summary": summarize(rows),
    }
    _write_capacity(result, Path(args.out))
    return result


def _sweep(plan: list[tuple[str, int, list[float]]], args: CapacityArgs, bar: Any) -> list[dict]:
    rows: list[dict[str, Any]] = []
    for rule, n, rule_loads in plan:
        bar.set_description(f"{rule} N={n}")
        common = {"trials": args.trials, "noise": args.noise, "seed": args.seed}
        if rule == "modern":
            rows += measure_modern(
                n, rule_loads, beta=args.beta, max_iter=args.max_sweeps,
                cues_per_trial=args.modern_cues, on_load=bar.update, **common,
            )  # fmt: skip
        else:
            rows += measure_classical(
                rule, n, rule_loads, update=args.update, max_sweeps=args.max_sweeps,
                on_load=bar.update, **common,
            )  # fmt: skip
    return rows


# -- recall picture ----------------------------------------------------------------------------
def digit_prototypes(count: int) -> Tensor:
    """(count, 64) +-1: the mean image of digit classes 0..count-1 in scikit-learn's 8x8 digits,
    +1 where the mean intensity exceeds 6 (of 16).

    Raises:
        UserError: scikit-learn is missing, or count not in 1..10.
    """
    if not 1 <= count <= 10:
        raise UserError(f"--count must be 1..10 with --patterns digits, got {count}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError(
            "--patterns digits needs scikit-learn: pip install 'mneme[digits]' "
            "(or pip install scikit-learn)"
        ) from None
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).reshape(-1, 64)
    labels = torch.tensor(data.target)
    means = torch.stack([images[labels == c].mean(0) for c in range(count)])
    return torch.where(means > 6, 1.0, -1.0)


def _snapshots(length: int, columns: int) -> list[int]:
    """``columns`` distinct indices strictly between 0 and ``length`` (fewer if it is short)."""
    picks = sorted({round(length * j / (columns + 1)) for j in range(1, columns + 1)})
    return [i for i in picks if 0 < i < length]


def run_recall(args: RecallArgs) -> dict[str, Any]:
    """Validate ``args``, recall every stored pattern from a corrupted cue, write the PNG grid.

    Returns {"path", "exact", "count", "overlap"}. Raises UserError for a bad option.
    """
    if args.patterns not in ("digits", "random"):
        raise UserError(f"--patterns must be digits or random, got {args.patterns!r}")
    _check_rules([args.rule])
    _check_common(args.noise, args.update, args.beta)
    if args.count < 1 or args.columns < 0 or args.n < 2:
        raise UserError("--count must be >= 1, --n >= 2 and --columns >= 0")
    gen = _generator(args.seed, 7)
    if args.patterns == "digits":
        x, shape = digit_prototypes(args.count), (8, 8)
    else:
        from mneme.viz.patterns import image_side

        x, shape = random_patterns((args.count, args.n), gen), image_side(args.n)
    cues = flip_noise(x, args.noise, gen)
    if args.rule == "modern":
        out = modern_retrieve(x, cues, args.beta, max_iter=20, tol=1e-5, keep_states=True)
        hist, energies, final = out.history, out.energy, _sgn(out.state)
        ends = [out.steps + 1] * len(x)
        unit = "iterations"
    else:
        w = STORAGE_RULES[args.rule](x)
        asyn = args.update == "async"
        res = recall(
            w, cues, update=args.update, max_sweeps=50, generator=gen,
            per_update=asyn, keep_states=True,
        )  # fmt: skip
        hist, final = res.history, res.states
        energies = res.update_energy if asyn else res.energy
        step = x.shape[1] if asyn else 1
        ends = [int(min(s + 1, 50)) * step + 1 for s in res.sweeps]
        unit = "unit updates" if asyn else "synchronous steps"
    from mneme.viz.patterns import RecallRow, plot_recall_grid

    rows = []
    m = overlap(final, x).diagonal()
    for k in range(len(x)):
        h = hist[k, : ends[k]]
        changes = (h[1:] != h[:-1]).any(-1).nonzero()
        last = int(changes.max()) + 1 if changes.numel() else 0
        picks = _snapshots(last, args.columns)
        images = [("cue", cues[k])] + [(f"t={i}", h[i]) for i in picks]
        images += [("recalled", final[k]), ("stored", x[k])]
        exact = bool((final[k] == x[k]).all())
        rows.append(
            RecallRow(
                [(lab, img.reshape(shape).numpy()) for lab, img in images],
                energies[k, : ends[k]].tolist(), unit,
                "exact" if exact else f"m = {float(m[k]):.2f}",
            )
        )  # fmt: skip
    n_exact = int((final == x).all(-1).sum())
    title = (
        f"{args.rule} rule, {args.count} {args.patterns} patterns, {args.noise:.0%} of units "
        f"flipped: {n_exact}/{len(x)} recalled exactly"
    )
    path = plot_recall_grid(rows, args.out, title)
    return {"path": str(path), "exact": n_exact, "count": len(x), "overlap": float(m.mean())}


SUBCOMMANDS = {"capacity": CapacityArgs, "recall": RecallArgs}


def run(args: CapacityArgs | RecallArgs) -> int:
    """Run the sweep or the recall and say what was written."""
    if isinstance(args, CapacityArgs):
        result = run_capacity(args)
        print(format_capacity(result))
        print(f"wrote {Path(args.out) / 'capacity.png'}, capacity.csv, capacity.json")
    else:
        result = run_recall(args)
        print(f"{result['exact']}/{result['count']} recalled exactly; wrote {result['path']}")
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme hopfield capacity|recall ARGV`` (tyro subcommands)."""
    return run(subcommand(argv, SUBCOMMANDS, "mneme hopfield", "recall"))
