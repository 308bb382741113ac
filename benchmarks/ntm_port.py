"""Neural Turing Machine: training speed on copy against the common PyTorch port of the NTM
(loudinthecloud/pytorch-ntm), side by side on the same batches.

    OMP_NUM_THREADS=1 python benchmarks/ntm_port.py --port DIR [--batch 1,64] [--length 10]
        [--threads 1] [--steps 10] [--rounds 3] [--compile [--chunk 3]] [--json PATH]

``--port`` is a checkout of https://github.com/loudinthecloud/pytorch-ntm (not part of this
repository; nothing of it is copied here): its modules are imported from DIR.

One port step is its own ``train.train_batch`` on the network, loss and optimiser that its
``tasks.copytask.CopyTaskModelTraining`` builds with its copy defaults (``EncapsulatedNTM``: LSTM
controller of 100 units, 1 layer, one read and one write head, 128 x 20 memory; ``BCELoss`` on
its sigmoid outputs; RMSprop lr 1e-4, momentum 0.9, alpha 0.95): ``init_sequence(B)``, one call
per input step (L vectors and the delimiter, time-major ``(L + 1, B, 9)``), L calls with no
input, the loss, backward, its ``clip_grads`` (every gradient clamped to [-10, 10]), the
optimiser step, and the bit-error cost its ``train_batch`` also computes (binarised with a
Python lambda per element, ``Tensor.apply_``).

One step of ours is ``ntm_speed.make_step``: what ``mneme train`` does for ``--task copy
--model ntm`` (the ``("algorithmic", "ntm")`` recipe: forward of the ``SequenceModel`` over the
T = 2L + 1 steps of ``(B, T, 9)``, the task's loss, backward, elementwise clipping to (-10, 10),
RMSProp lr 1e-3 with momentum 0.9). Both sides therefore run 2L + 1 NTM steps per sequence on
the same bits; they differ in what else they compute, none of which changes the work much:
    loss          ours: binary cross-entropy on logits, summed over bits and output steps, mean
                  over sequences; the port: ``BCELoss`` of the sigmoid outputs, mean over all
                  output elements (the same quantity divided by 8 L).
    optimiser     ours lr 1e-3 and alpha 0.99 (torch's default), the port lr 1e-4, alpha 0.95.
    model         ours clamps the emitted head parameters to [-20, 20] and learns its initial
                  reads; the port learns its initial LSTM state and draws fixed random initial
                  reads and memory.
    metrics       the port's step also computes its bit-error cost; ours none.

Batches: ``--steps`` copy batches of exactly ``--length`` vectors per batch size, drawn once
with ``CopyTask`` (8 bits, delimiter on channel 8) and handed to the port sliced into its own
layout (inputs: steps 0..L, time-major; targets: steps L+1..2L).

Columns:
    T             time steps per sequence, 2L + 1 (L + 1 fed, L read, for the port).
    port, ours    training sequences per second (wall clock), best of ``--rounds`` interleaved
                  rounds of ``--steps`` steps (a change of load hits both alike).
    ours / port   the speed-up of ours.
    cpu           the same per CPU-second of this process (``time.process_time``), which is
                  what an unloaded machine would show on a shared one.
    ops/step      top-level ATen ops (``torch.profiler``; an op called inside another op is not
                  counted) of one whole training step (forward, backward, clipping, optimiser).
    --compile     also ours through ``torch.compile`` (``--train.compile``: ``NTM.compile_steps``,
                  ``--chunk`` steps per compiled graph, 3 by default), timed in the same rounds,
                  in a second table: seq/s, against the port, and the seconds its first step
                  took (compiling).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import ntm_speed as bench  # the sibling script (benchmarks/ is on sys.path when run)


# -- the port ------------------------------------------------------------------------------------
@contextmanager
def _port_import_shims() -> Iterator[None]:
    """What importing the port (written for PyTorch 0.4, 2018) needs today; nothing in torch 2.x
    needed a patch. Both shims hold only while its modules are imported:
    - attrs >= 19.2 dropped ``attr.ib(convert=...)`` (now ``converter=``), which its
      ``CopyTaskParams`` uses for every field;
    - ``train.py`` imports ``argcomplete`` (shell completion of its command line, unused here):
      an empty stand-in when it is not installed.
    """
    import attr

    original = attr.attrib

    def attrib(*args: Any, convert: Any = None, **kwargs: Any) -> Any:
        if convert is not None:
            kwargs["converter"] = convert
        return original(*args, **kwargs)

    stub = None
    if importlib.util.find_spec("argcomplete") is None:
        stub = types.ModuleType("argcomplete")
        stub.autocomplete = lambda *args, **kwargs: None  # type: ignore[attr-defined]
        sys.modules["argcomplete"] = stub
    attr.attrib = attr.ib = attrib  # type: ignore[assignment]
    try:
        yield
    finally:
        attr.attrib = attr.ib = original  # type: ignore[assignment]
        if stub is not None and sys.modules.get("argcomplete") is stub:
            del sys.modules["argcomplete"]


def load_port(port: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """The port's ``tasks.copytask`` and ``train`` modules, imported from the checkout ``port``."""
    port = port.resolve()
    if not (port / "ntm" / "aio.py").is_file() or not (port / "train.py").is_file():
        raise SystemExit(f"--port {port}: not a pytorch-ntm checkout (no ntm/aio.py, train.py)")
    sys.path.insert(0, str(port))
    with _port_import_shims():
        copytask = importlib.import_module("tasks.copytask")
        train = importlib.import_module("train")

    for module in (copytask, train):
        if not Path(module.__file__ or "").resolve().is_relative_to(port):
            raise SystemExit(f"{module.__name__} was imported from {module.__file__}, not {port}")
    return copytask, train


def port_model(copytask: types.ModuleType, batch: int, length: int) -> Any:
    """The port's copy-task model (net, criterion, optimiser), its defaults but the lengths."""
    torch.manual_seed(0)
    params = copytask.CopyTaskParams(batch_size=batch, sequence_min_len=length,
                                     sequence_max_len=length)
    return copytask.CopyTaskModelTraining(params=params)


def make_port_step(train: types.ModuleType, model: Any
                   ) -> Callable[[tuple[torch.Tensor, torch.Tensor]], None]:
    """One training step as the port's ``train.py`` runs it."""

    def step(xy: tuple[torch.Tensor, torch.Tensor]) -> None:
        train.train_batch(model.net, model.criterion, model.optimizer, *xy)

    return step


def to_port(batch: Any, length: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``copy_batch`` of one length L ``(B, 2L + 1, W + 1)`` in the port's layout: inputs
    ``(L + 1, B, W + 1)`` (the vectors, then the delimiter on channel W), targets ``(L, B, W)``."""
    inputs, targets, mask = batch.inputs, batch.targets, batch.mask
    steps = 2 * length + 1
    assert inputs.shape[1:] == (steps, width + 1), inputs.shape
    assert targets.shape[1:] == (steps, width), targets.shape
    x = inputs[:, : length + 1].transpose(0, 1).contiguous()
    y = targets[:, length + 1 :].transpose(0, 1).contiguous()
    # exactly what the port's own copy dataloader yields, and nothing left out of it
    assert bool((x[:length, :, width] == 0).all()) and bool((x[length, :, width] == 1).all())
    assert bool((x[length, :, :width] == 0).all()) and bool((inputs[:, length + 1 :] == 0).all())
    assert bool((y == x[:length, :, :width]).all())
    assert bool(mask[:, length + 1 :].all()) and not bool(mask[:, : length + 1].any())
    return x, y


# -- measurement ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pair:
    """One copy batch in both layouts; ``size`` for ``ntm_speed.time_rounds``."""

    ours: Any
    port: tuple[torch.Tensor, torch.Tensor]
    size: int


def _on(step: Callable[[Any], None], side: str) -> Callable[[_Pair], None]:
    """``step`` taking a ``_Pair``: it trains on the pair's batch in its ``side``'s layout."""
    return lambda pair: step(getattr(pair, side))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=Path, required=True,
                        help="a checkout of loudinthecloud/pytorch-ntm")
    parser.add_argument("--batch", default="1,64", help="comma-separated batch sizes")
    parser.add_argument("--length", type=int, default=10, help="copy length L (vectors)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true",
                        help="also time ours through torch.compile, in the same rounds")
    parser.add_argument("--chunk", type=int, default=3, help="time steps per compiled graph")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from mneme.tasks.algorithmic import CopyConfig, CopyTask

    copytask, train = load_port(args.port)
    torch.set_num_threads(args.threads)
    length = args.length
    task = CopyTask(CopyConfig(min_length=length, max_length=length, valid_size=1, test_size=1))
    width = task.config.width
    sizes = [int(x) for x in args.batch.split(",")]
    load = os.getloadavg()
    print(f"\n## NTM training speed on copy, length {length} (T = {2 * length + 1}): mneme against "
          f"pytorch-ntm ({args.port}), {torch.get_num_threads()} thread(s), best of "
          f"{args.rounds} rounds of {args.steps} steps; torch {torch.__version__}, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| batch | T | port seq/s | ours seq/s | ours / port | port cpu seq/s | ours cpu seq/s "
          "| ours / port (cpu) | port ops/step | ours ops/step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results: dict[str, Any] = {
        "port": str(args.port), "length": length, "steps_per_sequence": 2 * length + 1,
        "threads": torch.get_num_threads(), "rounds": args.rounds, "steps": args.steps,
        "torch": torch.__version__, "loadavg": list(load),
        "port_seq_per_s": {}, "seq_per_s": {}, "speedup": {},
        "port_seq_per_s_cpu": {}, "seq_per_s_cpu": {}, "speedup_cpu": {},
        "port_ops_per_step": {}, "ops_per_step": {}, "params": {}, "port_params": {},
    }
    generator = torch.Generator().manual_seed(0)
    for b in sizes:
        ours = bench.build_models(task)["ntm"]
        port = port_model(copytask, b, length)
        steps_fn = {"port": _on(make_port_step(train, port), "port"),
                    "ours": _on(bench.make_step(ours, task), "ours")}
        pairs = []
        for _ in range(args.steps):
            batch = task.sample(b, generator)
            pairs.append(_Pair(batch, to_port(batch, length, width), b))
        if args.compile:
            compiled = bench.build_models(task)["ntm"]
            compiled.core.compile_steps(args.chunk)
            steps_fn["compiled"] = _on(bench.make_step(compiled, task), "ours")
        first: dict[str, float] = {}
        for name, step in steps_fn.items():  # warm up (and compile)
            started = time.perf_counter()
            step(pairs[0])
            first[name] = time.perf_counter() - started
            step(pairs[1])
        ops = {name: bench.count_ops(step, pairs[0]) for name, step in steps_fn.items()}
        best = bench.time_rounds({n: (s, pairs) for n, s in steps_fn.items()}, args.rounds)
        (port_wall, port_cpu), (ours_wall, ours_cpu) = best["port"], best["ours"]
        print(f"| {b} | {2 * length + 1} | {port_wall:.1f} | {ours_wall:.1f} | "
              f"{ours_wall / port_wall:.2f} | {port_cpu:.1f} | {ours_cpu:.1f} | "
              f"{ours_cpu / port_cpu:.2f} | {ops['port']} | {ops['ours']} |", flush=True)
        key = str(b)
        results["port_seq_per_s"][key], results["seq_per_s"][key] = port_wall, ours_wall
        results["speedup"][key] = ours_wall / port_wall
        results["port_seq_per_s_cpu"][key], results["seq_per_s_cpu"][key] = port_cpu, ours_cpu
        results["speedup_cpu"][key] = ours_cpu / port_cpu
        results["port_ops_per_step"][key], results["ops_per_step"][key] = ops["port"], ops["ours"]
        results["port_params"][key] = port.net.calculate_num_params()
        results["params"][key] = sum(p.numel() for p in ours.parameters())
        if args.compile:
            results.setdefault("compiled", {})[key] = {
                "seq_per_s": best["compiled"][0], "seq_per_s_cpu": best["compiled"][1],
                "speedup": best["compiled"][0] / port_wall,
                "speedup_cpu": best["compiled"][1] / port_cpu,
                "first_step_s": first["compiled"], "ops_per_step": ops["compiled"],
                "chunk": args.chunk}
    if args.compile:
        print("\n| batch | port seq/s | compiled seq/s | compiled / port | cpu: compiled / port "
              "| eager / port | first step (compiling) s | compiled ops/step |")
        print("|---|---|---|---|---|---|---|---|")
        for key, c in results["compiled"].items():
            print(f"| {key} | {results['port_seq_per_s'][key]:.1f} | {c['seq_per_s']:.1f} | "
                  f"{c['speedup']:.2f} | {c['speedup_cpu']:.2f} | {results['speedup'][key]:.2f} | "
                  f"{c['first_step_s']:.1f} | {c['ops_per_step']} |")
    results["loadavg_end"] = list(os.getloadavg())
    print(f"\nparameters: port {results['port_params'][str(sizes[0])]}, ours "
          f"{results['params'][str(sizes[0])]}; load average at the end "
          f"{' '.join(f'{x:.2f}' for x in results['loadavg_end'])}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
