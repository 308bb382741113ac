"""``mneme plot RUN``: a run's learning curves and attention heatmaps, as PNGs in RUN/plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mneme.commands.parsing import RunDir, check_run_given, env_data_dirs, parse


@dataclass(frozen=True)
class PlotArgs:
    """Plot a run: learning curves and attention heatmaps."""

    run_dir: RunDir
    """The run directory."""
    examples: int = 3
    """Test examples to draw attention heatmaps for."""
    data_dir: str | None = None
    """Dataset root holding babi/, ptb/, ...; None: $MNEME_DATA, then the one the run
    recorded."""
    device: str = "cpu"
    """auto, cpu, cuda, cuda:N or mps (auto: CUDA if available, else MPS, else the CPU)."""


def run(args: PlotArgs) -> int:
    """Write the plots and print their paths."""
    from mneme.viz.run import plot_run

    for path in plot_run(args.run_dir, examples=args.examples, data_dir=args.data_dir,
                         data_dirs=env_data_dirs(), device=args.device):
        print(path)
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme plot ARGV``."""
    check_run_given(argv, "plot")
    return run(parse(PlotArgs, argv, "mneme plot"))
