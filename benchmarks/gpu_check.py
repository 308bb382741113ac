"""GPU check: every core on CUDA against CPU float64, the quick matrix trained on CUDA, and
training speed on CUDA against the CPU, printed as one report with the card's name.

    python benchmarks/gpu_check.py [--device cuda] [--out bench-out/gpu-check]
        [--budget-s 420] [--batches 64,256,1024] [--jobs 8] [--skip-train]

Three parts, in this order, within ``--budget-s`` seconds of wall time (8 minutes with the
default; a part that would start past the budget is skipped and says so):

(a) **Agreement.** Every registered core (``registry.CORES``, default config, D = 8) and the
    MemN2N: forward and backward of a fixed random batch (B = 4, T = 12) in float32 on the device
    against the same weights in float64 on the CPU. Reported: the largest error of the outputs
    and of the parameter gradients, relative to the largest magnitude of the reference; a row
    passes below ``--tol`` (1e-3: float32 with TF32 matmuls off).
(b) **Training.** The quick matrix (``mneme.bench.matrix.quick_cells``: 7 cores x 5 tasks) with
    ``TrainConfig.device`` set to the device, one seed each, trained by ``--jobs`` processes
    sharing the device into ``OUT/cells`` (re-running reuses finished cells). Reported: each
    cell's test metric and wall time.
(c) **Speed.** Training sequences per second (forward, loss, backward, Adam step) of the NTM
    (128 x 20 memory, 100-unit LSTM controller), the LSTM core (256 units), fast weights (R = 50)
    and MemN2N (3 hops, 50 memories) at each batch size, on the device and on the CPU (all CPU
    threads), side by side. T = 20 for the sequence cores.

Without CUDA, ``--device cpu`` runs the same code on the CPU (a check of the script itself); the
report says which device ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- (a) agreement ------------------------------------------------------------------------------
def _models() -> dict[str, nn.Module]:
    from mneme import registry
    from mneme.memory import MemN2N, MemN2NConfig

    registry.load()
    models: dict[str, nn.Module] = {}
    for name in sorted(registry.CORES):
        entry = registry.core_entry(name)
        torch.manual_seed(0)
        models[name] = entry.build(entry.config(), 8)
    torch.manual_seed(0)
    models["memn2n"] = MemN2N(MemN2NConfig(hops=3, random_noise=0.0), vocab_size=30,
                              memory_size=10, sentence_size=6)
    return models


def _inputs(name: str) -> Any:
    gen = torch.Generator().manual_seed(1)
    if name == "memn2n":
        return {"story": torch.randint(1, 30, (4, 10, 6), generator=gen),
                "query": torch.randint(1, 30, (4, 6), generator=gen)}
    return torch.randn(4, 12, 8, generator=gen, dtype=torch.float64)


def _output(model: nn.Module, inputs: Any) -> torch.Tensor:
    out = model(inputs)
    return out.logits if hasattr(out, "logits") else out[0]


def _move(inputs: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if isinstance(inputs, dict):
        return {k: v.to(device) for k, v in inputs.items()}
    return inputs.to(device=device, dtype=dtype)


def agreement(device: torch.device, tol: float) -> list[dict[str, Any]]:
    """Rows: core, output error, gradient error (relative to the reference's max), pass."""
    rows = []
    for name, model in _models().items():
        model.eval()  # no dropout, no random memories, argmax hard reads
        reference = model.double()
        inputs = _inputs(name)
        ref_out = _output(reference, _move(inputs, torch.device("cpu"), torch.float64))
        ref_out.square().mean().backward()
        ref_grads = [p.grad.clone() if p.grad is not None else None
                     for p in reference.parameters()]
        reference.zero_grad(set_to_none=True)
        candidate = model.float().to(device)
        out = _output(candidate, _move(inputs, device, torch.float32))
        out.square().mean().backward()
        out = out.detach().double().cpu()
        out_err = float((out - ref_out.detach()).abs().max() / ref_out.detach().abs().max())
        # Gradients: the largest error of any parameter over the largest reference gradient of
        # all (a parameter whose gradient is ~0 would make a per-parameter ratio meaningless).
        pairs = [(p.grad.double().cpu(), ref) for p, ref in zip(candidate.parameters(), ref_grads)
                 if ref is not None and p.grad is not None]
        scale = max((float(ref.abs().max()) for _, ref in pairs), default=1.0) or 1.0
        grad_err = max((float((g - ref).abs().max()) for g, ref in pairs), default=0.0) / scale
        rows.append({"core": name, "output_err": out_err, "grad_err": grad_err,
                     "ok": out_err < tol and grad_err < tol})
    return rows


# -- (b) training -------------------------------------------------------------------------------
def _train_cell(cell: Any, out: str) -> dict[str, Any]:
    from mneme.bench.runner import run_cell

    start = time.monotonic()
    _, summary, missing = run_cell(cell, out)
    if summary is None:
        return {"cell": cell.key, "status": f"no data: {missing}"}
    test = summary.get("test", {})
    metric = next((k for k in ("bits", "error", "mse") if k in test), None)
    return {"cell": cell.key, "status": "ok", "metric": metric,
            "value": test.get(metric) if metric else None, "seconds": time.monotonic() - start}


def train_quick(device: torch.device, out: Path, deadline: float, jobs: int
                ) -> list[dict[str, Any]]:
    """Train the quick matrix's cells on ``device`` in ``jobs`` processes sharing it; cells not
    started by ``deadline`` (time.monotonic) are skipped."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from mneme.bench.matrix import quick_cells

    cells = [dataclasses.replace(c, train=dataclasses.replace(c.train, device=str(device)))
             for c in quick_cells()]
    rows: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        pending = list(cells)
        running: dict[Any, Any] = {}
        while pending or running:
            while pending and len(running) < jobs and time.monotonic() < deadline:
                cell = pending.pop(0)
                running[pool.submit(_train_cell, cell, str(out))] = cell
            if not running:
                break
            done = next(iter(f for f in running if f.done()), None)
            if done is None:
                time.sleep(0.2)
                continue
            cell = running.pop(done)
            try:
                rows[cell.key] = done.result()
            except Exception as exc:  # a failing cell is a finding, not the end of the check
                rows[cell.key] = {"cell": cell.key, "status": f"failed: {exc!r}"[:200]}
        for cell in pending:
            rows[cell.key] = {"cell": cell.key, "status": "skipped (budget)"}
    return [rows[c.key] for c in cells]


# -- (c) speed ----------------------------------------------------------------------------------
def _speed_model(name: str) -> tuple[nn.Module, Any]:
    from mneme import registry
    from mneme.memory import MemN2N, MemN2NConfig

    registry.load()
    if name == "memn2n":
        model = MemN2N(MemN2NConfig(hops=3), vocab_size=180, memory_size=50, sentence_size=8)
        return model, None
    sizes = {"ntm": {}, "lstm": {"hidden_size": 256}, "fast-weights": {"hidden_size": 50}}
    entry = registry.core_entry(name)
    core = entry.build(entry.config(**sizes[name]), 9)
    return core, nn.Linear(core.output_size, 8)


def seq_per_s(name: str, device: torch.device, batch: int, steps: int = 3) -> float:
    """Training sequences per second, best of ``steps`` timed steps after one warm-up step."""
    torch.manual_seed(0)
    model, head = _speed_model(name)
    model = model.to(device)
    params = list(model.parameters())
    if head is not None:
        head = head.to(device)
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    if head is None:
        inputs = {"story": torch.randint(1, 180, (batch, 50, 8), generator=gen).to(device),
                  "query": torch.randint(1, 180, (batch, 8), generator=gen).to(device)}
        target = torch.randint(0, 180, (batch,), generator=gen).to(device)
    else:
        inputs = torch.randn(batch, 20, 9, generator=gen).to(device)
        target = torch.randn(batch, 20, 8, generator=gen).to(device)
    best = float("inf")
    for i in range(steps + 1):
        sync(device)
        start = time.perf_counter()
        if head is None:
            loss = nn.functional.cross_entropy(model(inputs).logits, target)
        else:
            loss = nn.functional.mse_loss(head(model(inputs)[0]), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(device)
        if i:
            best = min(best, time.perf_counter() - start)
    return batch / best


def speed(device: torch.device, batches: list[int], deadline: float) -> list[dict[str, Any]]:
    rows = []
    for name in ("ntm", "lstm", "fast-weights", "memn2n"):
        for batch in batches:
            if time.monotonic() > deadline:
                rows.append({"model": name, "batch": batch, "status": "skipped (budget)"})
                continue
            on_device = seq_per_s(name, device, batch)
            on_cpu = seq_per_s(name, torch.device("cpu"), batch) if device.type != "cpu" \
                else on_device
            rows.append({"model": name, "batch": batch, "device": on_device, "cpu": on_cpu,
                         "ratio": on_device / on_cpu})
    return rows


# -- report ---------------------------------------------------------------------------------------
def report(name: str, parts: dict[str, Any], tol: float) -> str:
    lines = [f"# GPU check on {name} (torch {torch.__version__})", ""]
    if "agreement" in parts:
        lines += ["## (a) float32 on the device vs float64 on the CPU (relative max error)", "",
                  f"| core | output | gradients | within {tol:g} |", "|---|---|---|---|"]
        lines += [f"| {r['core']} | {r['output_err']:.1e} | {r['grad_err']:.1e} | "
                  f"{'yes' if r['ok'] else '**no**'} |" for r in parts["agreement"]]
        lines.append("")
    if "training" in parts:
        lines += ["## (b) the quick matrix trained on the device", "",
                  "| cell | test | seconds |", "|---|---|---|"]
        for r in parts["training"]:
            if r["status"] != "ok":
                lines.append(f"| {r['cell']} | {r['status']} | |")
                continue
            value = "n/a" if r["value"] is None else f"{r['metric']} {r['value']:.4g}"
            lines.append(f"| {r['cell']} | {value} | {r['seconds']:.1f} |")
        lines.append("")
    if "speed" in parts:
        lines += ["## (c) training sequences/s, device vs CPU", "",
                  "| model | batch | device seq/s | CPU seq/s | ratio |", "|---|---|---|---|---|"]
        for r in parts["speed"]:
            if "ratio" not in r:
                lines.append(f"| {r['model']} | {r['batch']} | {r['status']} | | |")
                continue
            lines.append(f"| {r['model']} | {r['batch']} | {r['device']:,.0f} | {r['cpu']:,.0f} "
                         f"| {r['ratio']:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="bench-out/gpu-check")
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--batches", default="64,256,1024")
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--jobs", type=int, default=max(1, min(8, (os.cpu_count() or 2) // 2)),
                        help="processes training quick-matrix cells at once on the device")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: CUDA is not available in this PyTorch build or machine; "
                         "use --device cpu to check the script on the CPU")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    start = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts: dict[str, Any] = {"agreement": agreement(device, args.tol)}
    # training gets two thirds of what is left, speed the rest
    if not args.skip_train:
        left = args.budget_s - (time.monotonic() - start)
        parts["training"] = train_quick(device, out, time.monotonic() + 2 * left / 3,
                                        args.jobs)
    batches = [int(b) for b in args.batches.split(",")]
    parts["speed"] = speed(device, batches, start + args.budget_s)
    text = report(device_name(device), parts, args.tol)
    (out / "report.md").write_text(text + "\n")
    (out / "report.json").write_text(json.dumps(parts, indent=1) + "\n")
    print(text)
    print(f"\nwall time {time.monotonic() - start:.0f} s; written to {out}/report.md")


if __name__ == "__main__":
    main()
