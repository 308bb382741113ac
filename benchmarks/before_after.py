"""Speed before and after a change: the benchmarks of two source trees, side by side.

    python3 benchmarks/before_after.py [--before DIR] [--after DIR] [--rounds 3] [--quick]
        [--only ntm,memn2n,babi,rnn,fast_weights,attention] [--clock cpu|wall] [--threads 1]
        [--recheck 2] [--data-dir DIR] [--timeout 300] [--nice 0] [--all] [--json PATH]

    # the pre-refactor commit (a temporary tree) against this checkout:
    git worktree add --detach /tmp/mneme-before caf75a1
    python3 benchmarks/before_after.py --before /tmp/mneme-before --json /tmp/before_after.json

``--before`` defaults to /work/base-wt, ``--after`` to the tree holding this script. Each tree
runs *its own copy* of each benchmark script in a subprocess with ``PYTHONPATH=TREE/src``,
``OMP_NUM_THREADS = MKL_NUM_THREADS = --threads`` (1) and ``--threads`` where the script takes
it; a bootstrap checks that ``mneme`` was imported from ``TREE/src``, not from an installed copy.
The runs are interleaved: every round runs every benchmark once per tree, before then after in
even rounds and after then before in odd ones (ABBA), so a change of load hits both trees alike;
each tree's number is the best of its rounds (max throughput, min time), per case. A benchmark
with a SLOWER row gets up to ``--recheck`` (2) more rounds, one at a time, while a row stays
SLOWER: most false alarms on a shared machine are one unlucky run. A run that fails (exit
status, timeout, no numbers in its output) is left out; when every round of a tree fails, the
benchmark's row shows the last line of the error, and the other benchmarks go on.

``--clock cpu`` (the default) makes ``time.perf_counter``, which every script times with, read
the process's CPU time (``time.process_time``; one thread, so busy time): on a machine shared
with other jobs it leaves out the time a run waits for a core, which the wall clock charges to
whichever tree was running then. It does not remove the slowdown of sharing caches, memory
bandwidth and the host with neighbours: on a 2-core VM with the other core busy, single runs of
the same code still differ by 10-20% and a best-of-3 same-code ratio by up to 0.82-1.20 in the
noisiest rows (bAbI LSTM, fast-weight matrix); hence the rechecks, and for the record a quiet
machine (the load averages are printed), more ``--rounds``, or ``--nice -5`` (root: the runs go
ahead of other jobs). ``--clock wall`` leaves the scripts' wall clock as it is.

A default run (3 rounds, 36 runs) takes about 5 minutes on a 2-core machine with a core free
and 10 with both shared; ``--quick`` (2 rounds of the shorter configurations in brackets below)
about 2 and 4 minutes; a recheck round adds 10-25 s per benchmark.

Benchmarks (configurations of the scripts in ``benchmarks/``) and their numbers:

* ``ntm``: ``ntm_speed.py --batch 1,16 --steps 20 [6] --rounds 2 [1]``: NTM training
  sequences/s on copy (lengths 1-20; forward, backward, clipping, RMSProp) at B = 1 and 16; the
  same step of the 3 x 256 ``torch.nn.LSTM`` baseline in the ``SequenceModel`` wrapper at B = 16;
  the NTM's top-level ATen ops per time step (a profiler count: deterministic, whatever the
  load). ``--all`` adds the NTM's sequences per CPU second at B = 16 (the script's own count).
* ``memn2n``: ``memn2n_forward_speed.py --steps 300 [100]``: ms per batch (B = 32, synthetic
  bAbI-shaped batches) of a MemN2N training step in train mode (random time noise on) and in
  eval mode, and of a no-grad forward.
* ``babi``: ``babi_speed.py``'s ``examples_per_second`` for 3 s [1 s] per model on bAbI task 2
  (1k): training examples/s of the trainer's real step (``Trainer._train_step``), MemN2N and
  the LSTM baseline, 1 thread (the script's 2-thread rows are not run). Needs the bAbI data:
  ``--data-dir``, else $MNEME_DATA, else ``AFTER/../shared/data``; skipped without it.
* ``rnn``: ``rnn_speed.py --repeats 3 --iters 8 [3]``: tokens/s (B = 20, T = 20, H = 200) of
  mneme's cells (fused, per-step and variant paths; not the readable references), as the
  geometric mean over the cells both trees have, forward + backward (and, with ``--all``,
  forward only); and bare ``torch.nn.LSTM``: a control, the same torch code in both trees, so
  its ratio shows the noise of the run.
* ``fast_weights``: ``fast_weights_speed.py``'s ``speed([50], steps=100 [30], rounds=2 [1])``:
  training sequences/s (B = 128, T = 11, R = 50, Adam) of the fast-weight classifier with the
  matrix and with the attention retrieval form, and of the LSTM classifier.
* ``attention``: ``attention_speed.py --repeats 5 [3 --batch 16]``: median ms, as the geometric
  mean over the cases both trees have, of every score's forward + backward; of ``Attention`` and
  ``MultiHeadAttention`` forward + backward (readable with and without weights, fused SDPA); of
  a seq2seq training step (GRU, with and without attention). ``--all`` adds the forward-only
  geometric means.

Columns: ``before`` and ``after`` are each tree's best over the rounds, in the metric's unit;
``speed`` is after / before for throughputs and before / after for times and op counts, so that
> 1.00 always means faster (or fewer ops) after; ``verdict`` is ``ok`` when ``speed`` >= 0.90
(within 10% or faster) and ``SLOWER`` below; control rows read ``(control)``. The second table
gives, per benchmark and tree, the mean wall seconds per run (start-up included), the mean CPU
/ wall of the runs (near 1.0 for one thread on an idle core; lower means the run waited for a
core: the machine was loaded) and the runs that failed. The thread count and
``os.getloadavg()`` at the start and the end are printed above and below the tables.
``--json PATH`` writes all of it, with every run's raw numbers and each tree's best per case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THRESHOLD = 0.90  # speed (> 1 is faster after) at or above which the verdict is "ok"

# Runs a benchmark script of one tree: checks where mneme comes from, then either runs the script
# as __main__ with the given arguments ("main") or loads it as a module and executes a snippet
# with its namespace as ``ns`` ("call").
BOOTSTRAP = r"""
import os, runpy, sys
from pathlib import Path
src, script, mode, *rest = sys.argv[1:]
sys.path[0] = str(Path(script).resolve().parent)
import mneme
where = Path(mneme.__file__).resolve()
if Path(src).resolve() not in where.parents:
    raise SystemExit(f"mneme imported from {where}, not from {src}")
if os.environ.get("BEFORE_AFTER_CLOCK") == "cpu":  # every script times with time.perf_counter
    import time
    time.perf_counter = time.process_time
if mode == "main":
    sys.argv = [script, *rest]
    runpy.run_path(script, run_name="__main__")
else:
    import torch
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    ns = runpy.run_path(script, run_name="bench_module")
    exec(rest[0], {"ns": ns})
"""


# -- output parsing ------------------------------------------------------------------------------
def md_tables(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """Markdown tables of ``text`` as (heading above, rows as header -> cell)."""
    tables: list[tuple[str, list[dict[str, str]]]] = []
    heading, header, rows = "", None, None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            heading, header, rows = s.lstrip("#").strip(), None, None
        elif s.startswith("|") and s.endswith("|") and len(s) > 1:
            cells = [c.strip() for c in s[1:-1].split("|")]
            if rows is None or header is None:
                header, rows = cells, []
                tables.append((heading, rows))
            elif not all(set(c) <= set("-: ") for c in cells):
                rows.append(dict(zip(header, cells)))
        elif not s:  # a blank line ends a table; other lines (profiler chatter) do not
            header, rows = None, None
    return tables


def number(cell: str) -> float:
    match = re.search(r"-?\d[\d,]*(\.\d+)?([eE][-+]?\d+)?", cell)
    if match is None:
        raise ValueError(f"no number in {cell!r}")
    return float(match.group(0).replace(",", ""))


def read_json(path: Path | None) -> Any:
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


# -- benchmarks ----------------------------------------------------------------------------------
@dataclass
class Metric:
    """One row of the table: the geometric mean of the selected cases both trees have."""

    label: str
    unit: str
    higher_is_better: bool
    select: Callable[[str], bool]
    headline: bool = True
    control: bool = False


@dataclass
class Bench:
    name: str
    script: str
    # (quick, out json path, threads, data dir) -> (mode, args)
    command: Callable[[bool, Path, int, str | None], tuple[str, list[str]]]
    # (stdout, json written by the run or None) -> case -> value
    extract: Callable[[str, Any], dict[str, float]]
    metrics: list[Metric]
    needs_data: bool = False


def _key(*names: str) -> Callable[[str], bool]:
    return lambda k: k in names


def _prefix(prefix: str, *, exclude: tuple[str, ...] = ()) -> Callable[[str], bool]:
    return lambda k: k.startswith(prefix) and not any(e in k for e in exclude)


def _ntm_command(quick: bool, out: Path, threads: int, _: str | None) -> tuple[str, list[str]]:
    steps, rounds = ("6", "1") if quick else ("20", "2")
    return "main", ["--batch", "1,16", "--steps", steps, "--rounds", rounds,
                    "--threads", str(threads), "--json", str(out)]


def _ntm_extract(stdout: str, data: Any) -> dict[str, float]:
    vals: dict[str, float] = {}
    if isinstance(data, dict) and "seq_per_s" in data:
        for key, field_name in (("ntm", "seq_per_s"), ("ntm_cpu", "seq_per_s_cpu"),
                                ("lstm", "lstm_seq_per_s"), ("ops", "ops_per_step_by_batch")):
            for b, v in (data.get(field_name) or {}).items():
                vals[f"{key}|{b}"] = float(v)
        return vals
    for _, rows in md_tables(stdout):
        for row in rows:
            if "NTM seq/s" in row and "batch" in row:
                b = str(int(number(row["batch"])))
                vals[f"ntm|{b}"] = number(row["NTM seq/s"])
                if "LSTM seq/s" in row:
                    vals[f"lstm|{b}"] = number(row["LSTM seq/s"])
                if "ops/step" in row:
                    vals[f"ops|{b}"] = number(row["ops/step"])
    return vals


def _memn2n_command(quick: bool, out: Path, threads: int, _: str | None,
                    ) -> tuple[str, list[str]]:
    return "main", ["--steps", "100" if quick else "300", "--threads", str(threads)]


def _memn2n_extract(stdout: str, data: Any) -> dict[str, float]:
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^\s*(\S.*?)\s+([\d.]+) ms/batch", stdout, re.MULTILINE)}


def _babi_command(quick: bool, out: Path, threads: int, data_dir: str | None,
                  ) -> tuple[str, list[str]]:
    seconds = 1.0 if quick else 3.0
    snippet = f"""
import json
task = ns["BabiTask"](ns["BabiConfig"](task_id=2, data_dir={data_dir!r}))
rows = [{{"model": m, "threads": {threads},
          "examples_per_s": ns["examples_per_second"](m, task, {threads}, {seconds})}}
        for m in ("memn2n", "lstm")]
for r in rows:
    print(f"{{r['model']:<8}} {{r['threads']:>7}} {{r['examples_per_s']:>11.0f}}")
open({str(out)!r}, "w").write(json.dumps({{"rows": rows}}))
"""
    return "call", [snippet]


def _babi_extract(stdout: str, data: Any) -> dict[str, float]:
    rows = data.get("rows", []) if isinstance(data, dict) else []
    if not rows:  # the script's own table: model, threads, examples/s, ratio
        rows = [{"model": m.group(1), "threads": int(m.group(2)), "examples_per_s": m.group(3)}
                for m in re.finditer(r"^(\w+)\s+(\d+)\s+([\d.]+)", stdout, re.MULTILINE)]
    return {f"{r['model']}|{r['threads']}": float(r["examples_per_s"]) for r in rows}


def _rnn_command(quick: bool, out: Path, threads: int, _: str | None) -> tuple[str, list[str]]:
    return "main", ["--repeats", "3", "--iters", "3" if quick else "8",
                    "--threads", str(threads), "--json", str(out)]


def _rnn_extract(stdout: str, data: Any) -> dict[str, float]:
    vals: dict[str, float] = {}
    if isinstance(data, dict) and "cells" in data:
        for name, c in data["cells"].items():
            vals[f"train|{c.get('path', '')}|{name}"] = float(c["train_tokens_per_s"])
            vals[f"forward|{c.get('path', '')}|{name}"] = float(c["forward_tokens_per_s"])
        return vals
    for _, rows in md_tables(stdout):
        for row in rows:
            if "cell" in row and "fwd+bwd tok/s" in row:
                path = row.get("path", "")
                vals[f"train|{path}|{row['cell']}"] = number(row["fwd+bwd tok/s"])
                vals[f"forward|{path}|{row['cell']}"] = number(row["forward tok/s"])
    return vals


def _fw_command(quick: bool, out: Path, threads: int, _: str | None) -> tuple[str, list[str]]:
    steps, rounds = (30, 1) if quick else (100, 2)
    return "call", [f"ns['speed']([50], steps={steps}, rounds={rounds})"]


def _fw_extract(stdout: str, data: Any) -> dict[str, float]:
    vals: dict[str, float] = {}
    columns = {"lstm": "LSTM seq/s", "matrix": "FW matrix seq/s",
               "attention": "FW attention seq/s"}
    for _, rows in md_tables(stdout):
        for row in rows:
            if "R" in row and "LSTM seq/s" in row:
                r = str(int(number(row["R"])))
                for key, col in columns.items():
                    if col in row:
                        vals[f"{key}|{r}"] = number(row[col])
    return vals


def _attention_command(quick: bool, out: Path, threads: int, _: str | None,
                       ) -> tuple[str, list[str]]:
    size = ["--repeats", "3", "--batch", "16"] if quick else ["--repeats", "5"]
    return "main", [*size, "--threads", str(threads), "--json", str(out)]


def _attention_part(heading: str) -> str:
    for word, part in (("score", "scores"), ("fused", "fused"), ("seq2seq", "seq2seq")):
        if word in heading.lower():
            return part
    return heading


def _attention_extract(stdout: str, data: Any) -> dict[str, float]:
    vals: dict[str, float] = {}

    def case(part: str, phase: str, name: str, ms: float) -> None:
        # seq2seq case names carry their tokens/s ("dot: 1993 target tok/s"): keep the name
        vals[f"{part}|{phase}|{name.split(':')[0].strip()}"] = ms

    if isinstance(data, dict) and "sections" in data:
        for section in data["sections"]:
            for row in section.get("rows", []):
                case(section.get("part", section.get("title", "")), row["phase"], row["name"],
                     float(row["median_ms"]))
        return vals
    for heading, rows in md_tables(stdout):
        for row in rows:
            if "case" in row and "median ms" in row:
                case(_attention_part(heading), row.get("phase", ""), row["case"],
                     number(row["median ms"]))
    return vals


BENCHES: list[Bench] = [
    Bench("ntm", "ntm_speed.py", _ntm_command, _ntm_extract, [
        Metric("NTM train seq/s, B=1", "seq/s", True, _key("ntm|1")),
        Metric("NTM train seq/s, B=16", "seq/s", True, _key("ntm|16")),
        Metric("LSTM 3x256 baseline (SequenceModel) seq/s, B=16", "seq/s", True,
               _key("lstm|16")),
        Metric("NTM top-level ATen ops per time step, B=16", "ops", False, _key("ops|16")),
        Metric("NTM train seq/s of CPU time, B=16", "seq/s", True, _key("ntm_cpu|16"),
               headline=False),
    ]),
    Bench("memn2n", "memn2n_forward_speed.py", _memn2n_command, _memn2n_extract, [
        Metric("MemN2N train step, train mode (RN), ms/batch", "ms", False,
               _key("step, random noise")),
        Metric("MemN2N train step, eval mode, ms/batch", "ms", False, _key("step, eval mode")),
        Metric("MemN2N forward no_grad, ms/batch", "ms", False, _key("forward, no_grad")),
    ]),
    Bench("babi", "babi_speed.py", _babi_command, _babi_extract, [
        Metric("bAbI 2 MemN2N trainer step examples/s", "ex/s", True, _key("memn2n|1")),
        Metric("bAbI 2 LSTM trainer step examples/s", "ex/s", True, _key("lstm|1")),
    ], needs_data=True),
    Bench("rnn", "rnn_speed.py", _rnn_command, _rnn_extract, [
        Metric("mneme cells fwd+bwd tok/s", "tok/s", True,
               _prefix("train|", exclude=("|baseline|", "reference"))),
        Metric("mneme cells forward tok/s", "tok/s", True,
               _prefix("forward|", exclude=("|baseline|", "reference"))),
        Metric("torch.nn.LSTM fwd+bwd tok/s", "tok/s", True, _prefix("train|baseline|"),
               control=True),
        Metric("torch.nn.LSTM forward tok/s", "tok/s", True, _prefix("forward|baseline|"),
               headline=False, control=True),
    ]),
    Bench("fast_weights", "fast_weights_speed.py", _fw_command, _fw_extract, [
        Metric("fast weights (matrix) train seq/s, R=50", "seq/s", True, _key("matrix|50")),
        Metric("fast weights (attention) train seq/s, R=50", "seq/s", True,
               _key("attention|50")),
        Metric("LSTM classifier train seq/s, R=50", "seq/s", True, _key("lstm|50")),
    ]),
    Bench("attention", "attention_speed.py", _attention_command, _attention_extract, [
        Metric("scores fwd+bwd ms", "ms", False, _prefix("scores|forward+backward|")),
        Metric("Attention/MHA fwd+bwd ms", "ms", False, _prefix("fused|forward+backward|")),
        Metric("seq2seq train step ms", "ms", False, _prefix("seq2seq|")),
        Metric("scores forward ms", "ms", False, _prefix("scores|forward|"), headline=False),
        Metric("Attention/MHA forward ms", "ms", False, _prefix("fused|forward|"),
               headline=False),
    ]),
]


# -- running -------------------------------------------------------------------------------------
@dataclass
class Run:
    bench: str
    side: str
    round: int
    ok: bool = False
    error: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    values: dict[str, float] = field(default_factory=dict)


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def run_one(bench: Bench, side: str, tree: Path, rnd: int, args: argparse.Namespace,
            data_dir: str | None, scratch: Path) -> Run:
    run = Run(bench.name, side, rnd)
    script = tree / "benchmarks" / bench.script
    if not script.exists():
        run.error = f"no {script}"
        return run
    out = scratch / f"{bench.name}-{side}-{rnd}.json"
    mode, extra = bench.command(args.quick, out, args.threads, data_dir)
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "BEFORE_AFTER_CLOCK": args.clock,
           "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    argv = [sys.executable, "-c", BOOTSTRAP, str(tree / "src"), str(script), mode, *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=scratch, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=(lambda: os.nice(args.nice)) if args.nice else None)
    try:
        stdout, stderr = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's own process group only
        stdout, stderr = proc.communicate()
        run.error = f"timed out after {args.timeout:g} s"
    run.wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if run.error:
        return run
    if proc.returncode != 0:
        run.error = last_line(stderr) or last_line(stdout) or f"exit status {proc.returncode}"
        return run
    try:
        run.values = bench.extract(stdout, read_json(out))
    except (KeyError, TypeError, ValueError) as exc:
        run.error = f"could not read the output: {exc!r}"
        return run
    if not run.values:
        run.error = "no numbers in the output: " + (last_line(stdout) or last_line(stderr))
        return run
    run.ok = True
    return run


def best_values(runs: list[Run], bench: Bench) -> dict[str, float]:
    """Each case's best over the successful runs (max of throughputs, min of times)."""
    best: dict[str, float] = {}
    for run in runs:
        if not run.ok:
            continue
        for key, value in run.values.items():
            higher = next((m.higher_is_better for m in bench.metrics if m.select(key)), True)
            if key not in best:
                best[key] = value
            else:
                best[key] = max(best[key], value) if higher else min(best[key], value)
    return best


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def compare(bench: Bench, runs: list[Run], show_all: bool) -> list[dict[str, Any]]:
    sides = {s: [r for r in runs if r.side == s] for s in ("before", "after")}
    best = {s: best_values(rs, bench) for s, rs in sides.items()}
    errors = {s: next((r.error for r in reversed(rs) if r.error), "") for s, rs in sides.items()}
    rows = []
    for s in ("before", "after"):
        if not any(r.ok for r in sides[s]):  # one row for the whole benchmark
            return [{"benchmark": bench.name, "metric": "(all metrics)", "unit": "",
                     "higher_is_better": True, "control": False, "cases": [],
                     "before": None, "after": None, "before_error": errors["before"],
                     "after_error": errors["after"], "speed": None, "verdict": "n/a"}]
    for metric in bench.metrics:
        if not metric.headline and not show_all:
            continue
        keys = {s: sorted(k for k in best[s] if metric.select(k) and best[s][k] > 0)
                for s in best}
        common = sorted(set(keys["before"]) & set(keys["after"]))
        label = metric.label + (f" (geomean of {len(common)})" if len(common) > 1 else "")
        row: dict[str, Any] = {"benchmark": bench.name, "metric": label, "unit": metric.unit,
                               "higher_is_better": metric.higher_is_better,
                               "control": metric.control, "cases": common}
        for s in ("before", "after"):
            use = common or keys[s]
            row[s] = geomean([best[s][k] for k in use]) if use else None
            row[f"{s}_error"] = "" if use else (errors[s] or "no such case in the output")
        if row["before"] is not None and row["after"] is not None and common:
            ratio = row["after"] / row["before"]
            row["speed"] = ratio if metric.higher_is_better else 1 / ratio
            if metric.control:
                row["verdict"] = "(control)"
            else:
                row["verdict"] = "ok" if row["speed"] >= THRESHOLD else "SLOWER"
        else:
            row["speed"], row["verdict"] = None, "n/a"
        rows.append(row)
    return rows


# -- report --------------------------------------------------------------------------------------
def fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def cell(row: dict[str, Any], side: str) -> str:
    if row[side] is not None:
        return fmt(row[side])
    error = row[f"{side}_error"]
    if not error:  # this side ran, the other one failed: its numbers are in the JSON
        return "ran"
    return "error: " + (error if len(error) <= 120 else error[:117] + "...")


def print_report(report: dict[str, Any]) -> None:
    print(f"\n## Before / after: {report['before']} -> {report['after']}\n")
    threads = report["threads"]
    load = " ".join(f"{x:.2f}" for x in report["loadavg_start"])
    quick = ", quick" if report["quick"] else ""
    nice = f", nice {report['nice']:+d}" if report["nice"] else ""
    print(f"threads {threads} (OMP_NUM_THREADS = MKL_NUM_THREADS = {threads}), "
          f"{report['clock']} clock, best of "
          f"{report['rounds']} interleaved round(s) (+ up to {report['recheck']} for a SLOWER "
          f"benchmark){quick}{nice}; {report['cpus']} CPUs; "
          f"load average at start {load}\n")
    print("| benchmark | metric | before | after | speed (after vs before) | verdict |")
    print("|---|---|---|---|---|---|")
    for row in report["rows"]:
        speed = "-" if row["speed"] is None else f"{row['speed']:.2f}"
        print(f"| {row['benchmark']} | {row['metric']} | {cell(row, 'before')} | "
              f"{cell(row, 'after')} | {speed} | {row['verdict']} |")
    for name, why in report["skipped"].items():
        print(f"| {name} | - | - | - | - | skipped: {why} |")
    print("\n| benchmark | rounds | s/run before | s/run after | CPU/wall before "
          "| CPU/wall after | failed runs |")
    print("|---|---|---|---|---|---|---|")
    for name, b in report["benchmarks"].items():
        stats = {}
        for side in ("before", "after"):
            rs = [r for r in b["runs"] if r["side"] == side]
            wall = sum(r["wall_s"] for r in rs) / max(len(rs), 1)
            share = sum(r["cpu_s"] / r["wall_s"] for r in rs if r["wall_s"] > 0) / max(len(rs), 1)
            failed = sum(not r["ok"] for r in rs)
            stats[side] = (wall, share, failed, len(rs))
        failed = ", ".join(f"{s} {stats[s][2]}" for s in stats)
        print(f"| {name} | {stats['after'][3]} | {stats['before'][0]:.1f} | "
              f"{stats['after'][0]:.1f} | "
              f"{stats['before'][1]:.2f} | {stats['after'][1]:.2f} | {failed} |")
    checked = [r for r in report["rows"] if not r["control"] and r["speed"] is not None]
    slower = [r for r in checked if r["verdict"] == "SLOWER"]
    missing = [r for r in report["rows"] if r["speed"] is None]
    controls = [r["speed"] for r in report["rows"] if r["control"] and r["speed"] is not None]
    print(f"\n{len(checked) - len(slower)}/{len(checked)} metrics within 10% or faster"
          + (f"; SLOWER: {', '.join(r['benchmark'] + ' ' + r['metric'] for r in slower)}"
             if slower else "")
          + (f"; {len(missing)} without a comparison" if missing else "")
          + ("; controls (same torch code in both trees) at "
             + ", ".join(f"{c:.2f}" for c in controls) if controls else "") + ".")
    print("load average at end " + " ".join(f"{x:.2f}" for x in report["loadavg_end"])
          + f"; {report['elapsed_s']:.0f} s in all.")


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=Path("/work/base-wt"),
                        help="source tree before the change (holds src/ and benchmarks/)")
    parser.add_argument("--after", type=Path, default=here,
                        help="source tree after the change (default: this script's tree)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per tree (default 3, 2 with --quick)")
    parser.add_argument("--only", default=None,
                        help="comma-separated subset of " + ",".join(b.name for b in BENCHES))
    parser.add_argument("--quick", action="store_true", help="shorter configurations")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every run")
    parser.add_argument("--data-dir", default=None,
                        help="holds babi/ (default: $MNEME_DATA, else AFTER/../shared/data)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--recheck", type=int, default=2,
                        help="extra interleaved rounds, one at a time, of the benchmarks that "
                        "have a SLOWER row (0: none)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="what the scripts' time.perf_counter reads in the runs")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness increment of the runs; negative (root) raises their "
                        "priority over other load on the machine, e.g. -5")
    parser.add_argument("--all", action="store_true", help="also the secondary metrics")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 3)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for side, tree in trees.items():
        if not (tree / "src" / "mneme").is_dir():
            parser.error(f"--{side} {tree} holds no src/mneme")
    benches = BENCHES
    if args.only:
        wanted = {w.strip().removesuffix(".py") for w in args.only.split(",") if w.strip()}
        known = {b.name for b in BENCHES} | {b.script.removesuffix(".py") for b in BENCHES}
        if wanted - known:
            parser.error(f"unknown benchmark(s) {sorted(wanted - known)}; known: "
                         + ", ".join(b.name for b in BENCHES))
        benches = [b for b in BENCHES
                   if b.name in wanted or b.script.removesuffix(".py") in wanted]
    data_dir = args.data_dir or os.environ.get("MNEME_DATA")
    if data_dir is None and (trees["after"].parent / "shared" / "data").is_dir():
        data_dir = str(trees["after"].parent / "shared" / "data")
    skipped = {}
    if data_dir is None or not (Path(data_dir) / "babi").is_dir():
        skipped = {b.name: f"no bAbI data ({data_dir or 'set --data-dir or MNEME_DATA'})"
                   for b in benches if b.needs_data}
        benches = [b for b in benches if not b.needs_data]

    load_start, started = os.getloadavg(), time.perf_counter()
    runs: dict[str, list[Run]] = {b.name: [] for b in benches}
    total, done = rounds * 2 * len(benches), 0

    def slower(bench: Bench) -> bool:
        return any(r["verdict"] == "SLOWER" for r in compare(bench, runs[bench.name], True))

    with tempfile.TemporaryDirectory(prefix="before_after-") as tmp:
        for rnd in range(rounds + args.recheck):
            todo = benches if rnd < rounds else [b for b in benches if slower(b)]
            if rnd >= rounds:
                total += 2 * len(todo)
            order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
            for bench in todo:
                for side in order:
                    run = run_one(bench, side, trees[side], rnd, args, data_dir, Path(tmp))
                    runs[bench.name].append(run)
                    done += 1
                    status = "ok" if run.ok else f"FAILED: {run.error}"
                    print(f"[{done}/{total}] {'recheck ' if rnd >= rounds else ''}round "
                          f"{rnd + 1} {bench.name} {side}: {run.wall_s:.1f} s, {status}",
                          file=sys.stderr, flush=True)
    rows = [row for bench in benches for row in compare(bench, runs[bench.name], args.all)]
    report: dict[str, Any] = {
        "before": str(trees["before"]), "after": str(trees["after"]), "rounds": rounds,
        "recheck": args.recheck,
        "quick": args.quick, "clock": args.clock, "threads": args.threads, "threshold": THRESHOLD,
        "cpus": os.cpu_count(), "nice": args.nice, "python": platform.python_version(),
        "host": platform.node(),
        "data_dir": data_dir, "loadavg_start": list(load_start),
        "loadavg_end": list(os.getloadavg()), "elapsed_s": time.perf_counter() - started,
        "rows": rows, "skipped": skipped,
        "benchmarks": {
            b.name: {"script": b.script,
                     "best": {s: best_values([r for r in runs[b.name] if r.side == s], b)
                              for s in ("before", "after")},
                     "runs": [r.__dict__ for r in runs[b.name]]}
            for b in benches},
    }
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
