"""Gradient flow through time: how strongly the loss at the last step reaches back to each state.

Back-propagation through time multiplies Jacobians: for an Elman cell
``h_t = f(W_hh h_{t-1} + W_ih x_t + b)``, ``dh_t/dh_{t-1} = diag(f'(a_t)) W_hh``, so

    ||dL/dh_s|| <= ||dL/dh_t|| * (sigma_max(W_hh) * gamma) ** (t - s)

with ``gamma`` the bound on ``|f'|`` (tanh: 1, ReLU: 1 on active units and 0 elsewhere, sigmoid:
1/4). Below 1 the gradient vanishes geometrically; above 1 it may explode (Hochreiter 1991;
Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, section 2). Gated cells (LSTM,
GRU) add a path through the cell state whose per-step factor is the forget (update) gate, which
is why they carry gradients further.

``mneme diagnose gradients`` measures the cells at initialisation (and trained runs) on
adding-problem inputs, prints a table, and plots the curves on one log-scale figure.

Where it lives: the measurement (``gradient_norms_by_lag``, ``fit_rate``, ``sigma_max``,
``recurrent_weight``, ``default_inputs``) in ``mneme.commands.diagnose_norms``; the options, the
curves (``GradientFlow``), the cores of cells and runs, the table, the figure, ``run`` and
``main`` here. Every public name is importable from this module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mneme.commands.diagnose_norms import (
    default_inputs,
    fit_rate,
    gradient_norms_by_lag,
    recurrent_weight,
    sigma_max,
)
from mneme.commands.parsing import subcommand
from mneme.errors import UserError

__all__ = [
    "DiagnoseGradientsArgs",
    "GradientFlow",
    "find_core",
    "fit_rate",
    "format_table",
    "gradient_norms_by_lag",
    "plot_flows",
    "recurrent_weight",
    "run_gradients",
    "sigma_max",
]

DERIVATIVE_BOUND: dict[str, float] = {"rnn": 1.0, "irnn": 1.0}
"""gamma, the bound on the nonlinearity's derivative, for the Elman cells (tanh and ReLU: 1).
Gated cells have no single-matrix bound and are absent."""

TABLE_LAGS = (1, 10, 50, 100)


@dataclass(frozen=True)
class DiagnoseGradientsArgs:
    """Measure ||dL/dh_s|| against the lag T-1-s for cells at init and trained runs."""

    models: tuple[str, ...] = ("rnn", "irnn", "lstm", "gru")
    """Cells to measure at initialisation (space-separated: --models rnn lstm; none: no cell)."""
    hidden_size: int = 100
    """H of the cells measured at initialisation."""
    seq_len: int = 200
    """T, steps of the adding-problem inputs fed to every model."""
    batch_size: int = 32
    """Sequences averaged over (root-mean-square of the per-sequence norms)."""
    seed: int = 0
    """Seed of the initial weights, the inputs and the loss projection."""
    runs: tuple[str, ...] = ()
    """Trained run directories to measure after training (their best checkpoint)."""
    out: str = "gradient-flow.png"
    """The figure (PNG)."""
    json: str | None = None
    """Also write the curves and the table as JSON here."""
    threads: int = 1
    """Torch threads."""


@dataclass(frozen=True)
class GradientFlow:
    """One measured curve.

    Attributes:
        label: legend text, ``"lstm (init)"``.
        cell: the cell name.
        source: ``"init"`` or the run directory.
        norms: RMS ``||dL/dstate||`` at lags 0..T (lag 0: ``||dL/dy_{T-1}|| = 1``).
        sigma_max: largest singular value of the first layer's recurrent matrix (None: none
            found).
        gamma: the derivative bound of the cell's nonlinearity, when the Elman bound applies.
        rate: fitted per-step factor ``r`` of ``norm_k ~ c r^k`` (lags 1..T, least squares on
            log norms; NaN when fewer than two lags are nonzero).
    """

    label: str
    cell: str
    source: str
    norms: list[float]
    sigma_max: float | None
    gamma: float | None
    rate: float

    @property
    def bound(self) -> float | None:
        """``sigma_max * gamma``: the per-step factor no Elman cell's gradient can exceed."""
        if self.sigma_max is None or self.gamma is None:
            return None
        return self.sigma_max * self.gamma


# -- measurement --------------------------------------------------------------------------------
def measure(core: nn.Module, cell: str, source: str, inputs: Tensor, seed: int) -> GradientFlow:
    """The ``GradientFlow`` of ``core`` on ``inputs``."""
    result = gradient_norms_by_lag(core, seed=seed, inputs=inputs)
    weight = recurrent_weight(core)
    label = f"{cell} ({'init' if source == 'init' else 'trained: ' + Path(source).name})"
    return GradientFlow(label, cell, source, result["norms"],
                        None if weight is None else sigma_max(weight),
                        DERIVATIVE_BOUND.get(cell), result["rate"])


# -- models and runs ----------------------------------------------------------------------------
def find_core(model: nn.Module) -> nn.Module:
    """The recurrent core of a task-facing model: ``model.core``, else the first submodule with
    ``initial_state`` and ``step``.

    Raises:
        UserError: no such submodule.
    """
    core = getattr(model, "core", None)
    if isinstance(core, nn.Module) and hasattr(core, "initial_state"):
        return core
    for module in model.modules():
        if hasattr(module, "initial_state") and callable(getattr(module, "step", None)):
            return module
    raise UserError(f"{type(model).__name__} has no recurrent core (a submodule with "
                    "initial_state and step) to diagnose")


def init_core(cell: str, hidden_size: int, seed: int) -> nn.Module:
    """The core of a freshly initialised adding-problem regressor with ``cell``."""
    from mneme.cells import build_stack

    torch.manual_seed(seed)
    return build_stack(cell, 2, hidden_size)


def run_core(run_dir: str, seq_len: int, batch_size: int, seed: int
             ) -> tuple[str, nn.Module, Tensor]:
    """The cell name, the trained core and ``(B, T, D)`` core inputs drawn from a run's task."""
    from mneme.train.run import load_run, read_config

    config = read_config(Path(run_dir))
    names = {f.name for f in dataclasses.fields(config.task)}
    overrides = {"seq_len": seq_len} if "seq_len" in names else None
    config, task, model = load_run(Path(run_dir), overrides=overrides)
    sample = getattr(task, "sample", None)
    if not callable(sample):
        raise UserError(f"{run_dir}: task {config.task_name!r} does not generate sequences; "
                        "diagnose needs a generated task (adding, copy, ...)")
    inputs = sample(batch_size, torch.Generator().manual_seed(seed)).inputs
    if not isinstance(inputs, Tensor):
        raise UserError(f"{run_dir}: task {config.task_name!r} has structured inputs")
    embedding = getattr(model, "embedding", None)
    if not inputs.is_floating_point():
        if embedding is None:
            raise UserError(f"{run_dir}: integer inputs and no embedding to feed the core")
        with torch.no_grad():
            inputs = embedding(inputs)
    cell = str(getattr(config.model, "cell", config.model_name))
    return cell, find_core(model), inputs


def run_gradients(args: DiagnoseGradientsArgs) -> list[GradientFlow]:
    """Measure every ``args.models`` cell at init and every run of ``args.runs``.

    Raises:
        UserError: an unknown cell name (listing the known ones), bad sizes, a bad run directory.
    """
    from mneme.cells import CELLS

    for name in ("hidden_size", "seq_len", "batch_size", "threads"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    cells = [m.strip() for m in args.models if m.strip()]
    known = tuple(CELLS)
    for cell in cells:
        if cell not in known:
            raise UserError(f"unknown model {cell!r} for --models; known cells: "
                            f"{', '.join(known)}")
    if not cells and not args.runs:
        raise UserError("nothing to measure: give --models and/or --runs")
    if not args.out.lower().endswith(".png"):
        raise UserError(f"--out must be a .png path (got {args.out!r})")
    from mneme.train.run import read_config

    for run in args.runs:
        read_config(Path(run))  # a missing or corrupt run fails before anything is measured
    torch.set_num_threads(args.threads)
    inputs = default_inputs(args.batch_size, args.seq_len, 2, args.seed)
    flows = [measure(init_core(c, args.hidden_size, args.seed), c, "init", inputs, args.seed)
             for c in cells]
    for run in args.runs:
        cell, core, run_inputs = run_core(run, args.seq_len, args.batch_size, args.seed)
        flows.append(measure(core, cell, run, run_inputs, args.seed))
    return flows


# -- report -------------------------------------------------------------------------------------
def format_table(flows: Sequence[GradientFlow]) -> str:
    """The table: cell, source, sigma_max(W_hh), bound sigma_max * gamma, norms at lags 1, 10,
    50, 100 and the fitted per-step rate."""

    def num(v: float | None) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"

    width = max([len("model"), *(len(f.label) for f in flows)])
    head = (f"{'model':<{width}} {'sigma_max':>9} {'bound':>7} "
            + " ".join(f"{'lag ' + str(k):>9}" for k in TABLE_LAGS) + f" {'rate/step':>9}")
    lines = [head, "-" * len(head)]
    for f in flows:
        lags = " ".join(f"{num(f.norms[k] if k < len(f.norms) else None):>9}" for k in TABLE_LAGS)
        lines.append(f"{f.label:<{width}} {num(f.sigma_max):>9} {num(f.bound):>7} {lags} "
                     f"{num(f.rate):>9}")
    lines.append("lag k: RMS ||dL/dstate_(T-1-k)|| for L = <u, y_(T-1)>, ||u|| = 1 (lag 0 = 1); "
                 "rate/step: fitted geometric factor")
    lines.append("bound: sigma_max(W_hh) * gamma, the per-step ceiling of an Elman cell (tanh, "
                 "ReLU: gamma = 1; sigmoid: 1/4); none for gated cells")
    return "\n".join(lines)


def plot_flows(flows: Sequence[GradientFlow], path: str | Path) -> Path:
    """One figure, log-scale y: norm against lag, a color per cell, dashed at init."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = sorted({f.cell for f in flows})
    colors = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(cells)}
    fig, ax = plt.subplots(figsize=(8, 5))
    for f in flows:
        points = [(k, v) for k, v in enumerate(f.norms) if v > 0 and math.isfinite(v)]
        if not points:
            continue
        ks, vs = zip(*points, strict=True)
        ax.plot(ks, vs, color=colors[f.cell], linestyle="--" if f.source == "init" else "-",
                label=f.label)
    ax.set_yscale("log")
    ax.set_xlabel("lag T-1-s (steps)")
    ax.set_ylabel("||dL/dstate_s||  (||dL/dy_(T-1)|| = 1)")
    ax.set_title("Gradient flow through time (adding-problem inputs)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_json(flows: Sequence[GradientFlow], args: DiagnoseGradientsArgs, path: str | Path
               ) -> Path:
    """The curves, sizes and table values as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"args": dataclasses.asdict(args),
            "curves": [{**dataclasses.asdict(f), "bound": f.bound} for f in flows]}
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    return path


def run(args: DiagnoseGradientsArgs) -> int:
    """Measure, print the table, write the figure (and the JSON)."""
    flows = run_gradients(args)
    print(format_table(flows))
    print(f"wrote {plot_flows(flows, args.out)}")
    if args.json:
        print(f"wrote {write_json(flows, args, args.json)}")
    return 0


def main(argv: Sequence[str]) -> int:
    """``mneme diagnose gradients ARGV`` (tyro subcommands)."""
    return run(subcommand(argv, {"gradients": DiagnoseGradientsArgs}, "mneme diagnose",
                          "gradients"))
