"""Speed of the classical Hopfield capacity sweep: batched asynchronous dynamics vs naive loops.

The measured job is the Hebbian capacity sweep of ``mneme hopfield capacity`` at one N (default
1000): every default load up to --max-load, --trials networks per load, every stored pattern
used as a cue, asynchronous updates in random order until a fixed point (at most 100 sweeps).
A "pattern update" is one sweep of one cue (N unit updates). The same work per cue is then timed
on a few cues with one-cue-at-a-time implementations, and the rates are compared as ratios:

    naive numpy   the textbook loop: for each unit i, h = W[i] @ s, s[i] = sgn(h)  (NumPy)
    naive torch   the same loop with torch tensors
    recall, 1 cue `mneme.associative.hopfield.recall` called with one cue at a time
    batched       `recall` on all cues of many networks at once (what the sweep runs)

    PYTHONPATH=src python3 benchmarks/hopfield_speed.py [--n 1000] [--trials 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from mneme.associative.hopfield import hebbian, recall
from mneme.commands.hopfield import DEFAULT_LOADS, measure_classical, random_patterns


def naive_numpy(w: np.ndarray, s: np.ndarray, rng: np.random.Generator, max_sweeps: int) -> int:
    """Random-order asynchronous sweeps until nothing changes; returns the sweeps run."""
    for sweep in range(max_sweeps):
        changed = False
        for i in rng.permutation(len(s)):
            h = w[i] @ s
            if h != 0 and (h > 0) != (s[i] > 0):
                s[i] = -s[i]
                changed = True
        if not changed:
            return sweep + 1
    return max_sweeps


def naive_torch(w: torch.Tensor, s: torch.Tensor, g: torch.Generator, max_sweeps: int) -> int:
    for sweep in range(max_sweeps):
        changed = False
        for i in torch.randperm(len(s), generator=g).tolist():
            h = float(w[i] @ s)
            if h != 0 and (h > 0) != (float(s[i]) > 0):
                s[i] = -s[i]
                changed = True
        if not changed:
            return sweep + 1
    return max_sweeps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--max-load", type=float, default=0.2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (the sweep's ops are small)"
    )
    parser.add_argument("--naive-cues", type=int, default=10, help="cues timed per naive loop")
    parser.add_argument("--naive-load", type=float, default=0.14)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n = args.n
    loads = [x for x in DEFAULT_LOADS["hebb"] if x <= args.max_load + 1e-9]

    start = time.perf_counter()
    rows = measure_classical(
        "hebb", n, loads, trials=args.trials, noise=0.0, update="async", max_sweeps=100, seed=0
    )
    seconds = time.perf_counter() - start
    pattern_updates = sum(r["trials"] * r["p"] * r["sweeps_run"] for r in rows)
    cues = sum(r["trials"] * r["p"] for r in rows)

    # the naive loops on a few cues of one network at a load near capacity (several sweeps)
    g = torch.Generator().manual_seed(1)
    x = random_patterns((max(1, round(args.naive_load * n)), n), g)
    w = hebbian(x)
    subset = x[: args.naive_cues]
    timings = {}
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    w_np = w.numpy().astype(np.float32)
    sweeps = sum(naive_numpy(w_np, s.numpy().copy(), rng, 100) for s in subset)
    timings["naive numpy (1 cue at a time)"] = (sweeps, time.perf_counter() - t)
    t = time.perf_counter()
    sweeps = sum(naive_torch(w, s.clone(), g, 100) for s in subset)
    timings["naive torch (1 cue at a time)"] = (sweeps, time.perf_counter() - t)
    t = time.perf_counter()
    sweeps = 0
    for s in subset:
        r = recall(w, s.unsqueeze(0), generator=g, max_sweeps=100)
        sweeps += int((r.sweeps + 1).clamp(max=100).sum())
    timings["recall(), 1 cue at a time"] = (sweeps, time.perf_counter() - t)
    timings["recall(), batched sweep"] = (pattern_updates, seconds)

    print(
        f"Hebbian capacity sweep, N={n}, loads {loads[0]}..{loads[-1]} ({len(loads)} loads), "
        f"{args.trials} trials each: {cues} cues, {pattern_updates:,.0f} pattern updates "
        f"(cue sweeps) in {seconds:.1f} s"
    )
    print(
        f"torch threads: {torch.get_num_threads()}; cores: {os.cpu_count()}; "
        f"load average at the end: {os.getloadavg()[0]:.2f}"
    )
    print(f"naive loops timed on {len(subset)} cues at load {args.naive_load}\n")
    base = timings["naive numpy (1 cue at a time)"]
    base_rate = base[0] / base[1]
    print(f"| {'implementation':<32} | pattern updates/s | unit updates/s | ratio |")
    print(f"|{'-' * 34}|-------------------|----------------|-------|")
    for name, (work, secs) in timings.items():
        rate = work / secs
        print(f"| {name:<32} | {rate:>17,.0f} | {rate * n:>14,.0f} | {rate / base_rate:>5.1f} |")


if __name__ == "__main__":
    main()
