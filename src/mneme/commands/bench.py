"""``mneme bench --suite NAME``: run a benchmark suite (``mneme bench --list`` lists them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mneme.commands.parsing import default_data_dir, parse
from mneme.errors import UserError


@dataclass(frozen=True)
class BenchArgs:
    """Run a suite; a rerun resumes: finished cells are kept, Ctrl-C or SIGTERM checkpoints."""

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
    device: str | None = None
    """Train every cell on this device (auto, cpu, cuda, cuda:N or mps); None: each cell's own
    (the CPU). A finished cell counts whatever device it ran on."""
    compile: bool = False
    """Train the cells of cores with a compiled path (the NTM) through ``torch.compile``
    (``TrainConfig.compile``), the others eagerly. A finished cell counts either way."""


def run(args: BenchArgs) -> int:
    """Run (or list, or report) the suite; the runner's exit code."""
    from mneme.bench.runner import run_suite
    from mneme.bench.suites import SUITES, get_suite

    if args.list:
        for name, suite in SUITES.items():
            print(f"{name:<12} {suite.description}")
        return 0
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1 (got {args.jobs})")
    if args.device is not None:
        from mneme.train.device import resolve_device

        resolve_device(args.device, label="--device")  # before anything is written
    suite = get_suite(args.suite)
    out = Path(args.out) if args.out else Path("bench-out") / suite.name
    return run_suite(suite, out, data_dir=default_data_dir(args.data_dir), jobs=args.jobs,
                     report_only=args.report_only, device=args.device, compile=args.compile)


def main(argv: Sequence[str]) -> int:
    """``mneme bench ARGV``."""
    return run(parse(BenchArgs, argv, "mneme bench"))
