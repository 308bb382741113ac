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

import csv
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mneme.associative.hopfield import (
    STORAGE_RULES,
    flip_noise,
    is_fixed_point,
    overlap,
    recall,
    storage_weights,
)
from mneme.associative.modern_hopfield import modern_retrieve, modern_update
from mneme.commands.parsing import subcommand
from mneme.errors import UserError

RULES = ("hebb", "storkey", "pinv", "modern")
DEFAULT_LOADS = {
    "hebb": (
        0.02,
        0.03,
        0.04,
        0.05,
        0.06,
        0.08,
        0.1,
        0.11,
        0.12,
        0.13,
        0.14,
        0.15,
        0.16,
        0.18,
        0.2,
        0.25,
    ),
    "storkey": (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6),
    "pinv": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    "modern": (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
}
# a cue counts as retrieved when its final overlap exceeds this (the retrieval state of the
# Hebbian network keeps m >= 0.967 up to alpha_c = 0.138, Amit, Gutfreund & Sompolinsky 1985)
RETRIEVED = 0.9
WEIGHT_BUDGET = 1 << 30  # bytes of weights simulated at once (networks of several loads batched)


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


def _generator(seed: int, *parts: float) -> torch.Generator:
    key = seed
    for p in parts:
        key = (key * 1_000_003 + round(p * 10_000)) % (1 << 62)
    return torch.Generator().manual_seed(key)


def random_patterns(shape: Sequence[int], generator: torch.Generator) -> Tensor:
    """Uniform random +-1 patterns, float32."""
    return torch.randint(0, 2, tuple(shape), generator=generator).float() * 2 - 1


def theory_loads(rule: str, n: int, noise: float = 0.0) -> list[tuple[float, str]]:
    """Published capacity marks as loads P/N, with a label."""
    if rule == "hebb":
        return [(0.138, "0.138 (AGS 1985)"), (1 / (4 * math.log(n)), f"N/(4 ln N), N={n}")]
    if rule == "storkey":
        return [(1 / math.sqrt(2 * math.log(n)), f"N/sqrt(2 ln N), N={n}")]
    if rule == "pinv":
        return [(1.0, "P = N")]
    if rule == "modern" and noise > 0:
        # A cue keeps overlap N(1 - 2 noise) with its pattern; another random pattern's overlap
        # is ~ Normal(0, N). With beta large enough the cue is retrieved unless one of the other
        # P - 1 beats it, so half the cues are lost at P Q(sqrt(N)(1 - 2 noise)) = ln 2.
        tail = 0.5 * math.erfc(math.sqrt(n) * (1 - 2 * noise) / math.sqrt(2))
        return [(math.log(2) / tail / n, f"half lost: P Q(sqrt(N)(1-2p)) = ln 2, N={n}")]
    return []


# -- capacity ----------------------------------------------------------------------------------
def _row(rule: str, n: int, load: float, p: int, trials: int, **values: float) -> dict[str, Any]:
    return {"rule": rule, "n": n, "load": load, "p": p, "trials": trials, **values}


def measure_classical(
    rule: str,
    n: int,
    loads: Sequence[float],
    *,
    trials: int,
    noise: float,
    update: str,
    max_sweeps: int,
    seed: int,
    on_load: Callable[[int], None] = lambda k: None,
) -> list[dict[str, Any]]:
    """Capacity points of a classical rule at size N; one dict per load (see module doc).

    Networks of several loads run in one batched `recall` call (up to WEIGHT_BUDGET bytes of
    weights), so the slowest cue of a batch sets the time once, not once per load.
    """
    rows: list[dict[str, Any]] = []
    chunk: list[tuple[float, int, Tensor, Tensor, Tensor]] = []
    per_load = trials * n * n * 4

    def flush() -> None:
        weights = torch.cat([c[3] for c in chunk])
        cues = torch.cat([c[4].reshape(-1, n) for c in chunk])
        network = torch.cat(
            [torch.arange(trials).repeat_interleave(c[1]) + j * trials for j, c in enumerate(chunk)]
        )
        gen = _generator(seed, n, chunk[0][0], 1)
        start = time.perf_counter()
        result = recall(
            weights, cues, update=update, max_sweeps=max_sweeps, generator=gen, network=network
        )
        seconds = time.perf_counter() - start
        offset = 0
        for load, p, x, w, _ in chunk:
            k = trials * p
            states = result.states[offset : offset + k].reshape(trials, p, n)
            exact = (states == x).all(-1)
            m = (states * x).sum(-1) / n
            sweeps = result.sweeps[offset : offset + k]
            run = (sweeps + 1).clamp(max=max_sweeps).float()  # the last sweep confirms
            rows.append(
                _row(
                    rule, n, load, p, trials,
                    recall=float(exact.float().mean()),
                    fixed=float(is_fixed_point(w, x).float().mean()),
                    all_recalled=float(exact.all(-1).float().mean()),
                    overlap=float(m.mean()),
                    retrieved=float((m > RETRIEVED).float().mean()),
                    overlap_min=float(m.min()),
                    sweeps=float(sweeps.float().mean()),
                    sweeps_run=float(run.mean()),
                    converged=float(result.converged[offset : offset + k].float().mean()),
                    seconds=seconds * k / cues.shape[0],
                )
            )  # fmt: skip
            offset += k
        on_load(len(chunk))
        chunk.clear()

    for load in loads:
        p = max(1, round(load * n))
        gen = _generator(seed, n, load)
        x = random_patterns((trials, p, n), gen)
        cues = flip_noise(x, noise, gen)
        w = storage_weights(x, rule)
        if chunk and per_load * (len(chunk) + 1) > WEIGHT_BUDGET:
            flush()
        chunk.append((load, p, x, w, cues))
    if chunk:
        flush()
    return rows


def measure_modern(
    n: int,
    loads: Sequence[float],
    *,
    trials: int,
    noise: float,
    beta: float,
    max_iter: int,
    cues_per_trial: int,
    seed: int,
    on_load: Callable[[int], None] = lambda k: None,
) -> list[dict[str, Any]]:
    """Capacity points of the modern network at size N (one trial at a time: P can be 50 N)."""
    rows = []
    for load in loads:
        p = max(1, round(load * n))
        gen = _generator(seed, n, load)
        exact, fixed, ms, steps = [], [], [], []
        start = time.perf_counter()
        for _ in range(trials):
            x = random_patterns((p, n), gen)
            target = x[torch.randperm(p, generator=gen)[: min(p, cues_per_trial)]]
            cue = flip_noise(target, noise, gen)
            fixed.append((_sgn(modern_update(x, target, beta)[0]) == target).all(-1))
            out = modern_retrieve(x, cue, beta, max_iter=max_iter, tol=1e-5)
            s = _sgn(out.state)
            exact.append((s == target).all(-1))
            ms.append((s * target).sum(-1) / n)
            steps.append(out.steps)
        e, m = torch.stack(exact), torch.stack(ms)
        rows.append(
            _row(
                "modern", n, load, p, trials,
                recall=float(e.float().mean()),
                fixed=float(torch.stack(fixed).float().mean()),
                all_recalled=float(e.all(-1).float().mean()),
                overlap=float(m.mean()),
                retrieved=float((m > RETRIEVED).float().mean()),
                overlap_min=float(m.min()),
                sweeps=float(sum(steps) / len(steps)),
                sweeps_run=float(sum(steps) / len(steps)),
                converged=float("nan"),
                seconds=time.perf_counter() - start,
            )
        )  # fmt: skip
        on_load(1)
    return rows


def _sgn(t: Tensor) -> Tensor:
    return torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (rule, N): the largest load before exact recall first drops below 99% (and the first
    load where it did), the largest with every pattern of every trial recalled, the first load
    whose mean final overlap is below 0.9, and the load where the fraction of cues retrieved
    (m > 0.9) crosses 1/2, interpolated linearly (None if it never does)."""
    out = []
    keys = list(dict.fromkeys((r["rule"], r["n"]) for r in rows))
    for rule, n in keys:
        mine = sorted(
            (r for r in rows if (r["rule"], r["n"]) == (rule, n)), key=lambda r: r["load"]
        )
        first_bad = next((r["load"] for r in mine if r["recall"] < 0.99), None)
        good = [r["load"] for r in mine if first_bad is None or r["load"] < first_bad]
        perfect = [r["load"] for r in mine if r["all_recalled"] == 1.0]
        low_m = next((r["load"] for r in mine if r["overlap"] < 0.9), None)
        half = None
        for a, b in itertools.pairwise(mine):
            if a["retrieved"] >= 0.5 > b["retrieved"]:
                t = (a["retrieved"] - 0.5) / (a["retrieved"] - b["retrieved"])
                half = round(a["load"] + t * (b["load"] - a["load"]), 4)
                break
        out.append(
            {
                "rule": rule, "n": n,
                "last_load_recall_99": max(good) if good else None,
                "first_load_recall_below_99": first_bad,
                "last_load_all_recalled": max(perfect) if perfect else None,
                "first_load_overlap_below_0.9": low_m,
                "load_half_retrieved": half,
            }
        )  # fmt: skip
    return out


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


def _write_capacity(result: dict[str, Any], out: Path) -> None:
    from mneme.viz.patterns import plot_capacity

    out.mkdir(parents=True, exist_ok=True)
    rows = result["rows"]
    with open(out / "capacity.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "capacity.json").write_text(json.dumps(result, indent=1) + "\n")
    theory: dict[str, list[tuple[float, str]]] = {}
    for rule, per_n in result["theory"].items():
        seen = set()
        for marks in per_n.values():
            for load, label in marks:
                if label not in seen:
                    seen.add(label)
                    theory.setdefault(rule, []).append((load, label))
    cfg = result["config"]
    title = (
        f"Capacity: {cfg['trials']} trials per point, cue noise {cfg['noise']}, "
        f"{cfg['update']} updates (classical), beta {cfg['beta']} (modern)"
    )
    plot_capacity(rows, theory, out / "capacity.png", title)


def format_capacity(result: dict[str, Any]) -> str:
    """The table printed by ``mneme hopfield capacity``."""
    lines = [
        f"{'rule':<8}{'N':>6}{'P/N':>8}{'P':>7}{'fixed':>8}{'recall':>8}{'all':>7}"
        f"{'overlap':>9}{'m>0.9':>7}{'sweeps':>8}"
    ]
    for r in result["rows"]:
        lines.append(
            f"{r['rule']:<8}{r['n']:>6}{r['load']:>8.3g}{r['p']:>7}{r['fixed']:>8.3f}"
            f"{r['recall']:>8.3f}{r['all_recalled']:>7.2f}{r['overlap']:>9.3f}"
            f"{r['retrieved']:>7.3f}{r['sweeps']:>8.2f}"
        )
    lines.append("")
    lines.append("breakdown (loads P/N): last with >= 99% exact recall | first below | last with")
    lines.append("all patterns of all trials recalled | first with mean overlap < 0.9 | where")
    lines.append("half the cues are retrieved (m > 0.9), interpolated")
    for s in result["summary"]:
        vals = [s[k] for k in list(s)[2:]]
        text = " | ".join("-" if v is None else f"{v:g}" for v in vals)
        lines.append(f"{s['rule']:<8}{s['n']:>6}  {text}")
    lines.append(f"{result['seconds']:.1f} s on {result['torch_threads']} torch thread(s)")
    return "\n".join(lines)


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
