"""``mneme plot RUN``: learning curves from ``metrics.jsonl`` and attention heatmaps as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mneme.errors import UserError
from mneme.train.logging import read_metrics
from mneme.viz.figure import save_figure


def plot_curves(records: list[dict[str, Any]], path: Path, title: str, *, metric: str = "error",
                unit: str = "%", percent: bool = True, solved_below: float | None = None) -> Path:
    """Learning curves: train/validation loss, and the task's own validation metric, by epoch.

    Args:
        records: ``metrics.jsonl`` records (``epoch``, ``train_loss``, ``valid_{metric}``, ...).
        path: the PNG to write; an SVG is written beside it.
        title: the figure's title.
        metric: the headline metric's key (``TaskInfo.metric``: ``bits``, ``error``, ``mse``).
        unit: its unit in words (``TaskInfo.unit``), the right panel's y label.
        percent: the metric is a fraction shown as a percentage.
        solved_below: the task's solved threshold, drawn as a labelled line.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in records]
    scale = 100.0 if percent else 1.0
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("train_loss", "train"), ("valid_loss", "validation"),
                       ("valid_nll", "validation (NLL)")):
        points = [(e, r[key]) for e, r in zip(epochs, records) if r.get(key) is not None]
        if points:
            left.plot(*zip(*points), label=label, marker="." if len(points) < 30 else None)
    left.set_ylabel("loss (the task's training objective)")
    _log_if_wide(left)
    left.legend(fontsize=8)
    key = f"valid_{metric}"
    points = [(e, scale * r[key]) for e, r in zip(epochs, records) if r.get(key) is not None]
    if points:
        right.plot(*zip(*points), color="C1", marker="." if len(points) < 30 else None)
    if solved_below is not None:
        right.axhline(scale * solved_below, color="0.4", linestyle="--", linewidth=0.8,
                      label=f"solved at or below {scale * solved_below:g}")
        right.legend(fontsize=8)
    shown = f"{metric} (%)" if percent else f"{metric} ({unit})"
    right.set_ylabel(f"validation {shown}")
    if percent:
        right.set_ylim(bottom=0)
    else:
        _log_if_wide(right)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _log_if_wide(ax: Any) -> None:
    """A log y axis when the plotted values span more than a factor of 20 and are positive."""
    values = [v for line in ax.get_lines() for v in line.get_ydata()]
    if values and min(values) > 0 and max(values) / min(values) > 20:
        ax.set_yscale("log")


def plot_run(run_dir: Path, *, examples: int = 3, data_dir: str | None = None,
             data_dirs: Sequence[str] = (), device: str = "cpu") -> list[Path]:
    """Write ``RUN/plots/curves.png`` and, for models that trace attention, one heatmap per test
    example (``RUN/plots/attention-{i}.png``); for cores that trace a stack or a tape, one figure
    of it per test example (``stack-{i}.png``, ``tape-{i}.png``). Returns the written paths.

    Raises:
        UserError: not a run directory, no metrics yet, a malformed metrics line (named by file
            and line) or an unreadable checkpoint; nothing is written then.
    """
    import torch

    from mneme.train.run import load_run, read_config, selected_dir
    from mneme.viz.heatmaps import plot_attention
    from mneme.viz.ondevice import OnDevice

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    source = selected_dir(run_dir)
    records = read_metrics(source)
    if not records:
        raise UserError(f"{source}: no metrics.jsonl records yet (has training started?)")
    title = f"{config.model_name} on {config.task_name} ({source.name})"
    overrides = {"data_dir": data_dir} if data_dir else None
    # fails before anything is written; data_dirs: where to look before the recorded one
    _, task, loaded = load_run(run_dir, overrides=overrides, data_dirs=data_dirs, device=device)
    model = OnDevice(loaded)  # the drawing code sees CPU tensors whatever the device
    info = task.info
    metric = info.metric if any(f"valid_{info.metric}" in r for r in records) else "error"
    written = [plot_curves(records, run_dir / "plots" / "curves.png", title, metric=metric,
                           unit=info.unit if metric == info.metric else "%",
                           percent=info.percent if metric == info.metric else True,
                           solved_below=info.solved_below if metric == info.metric else None)]
    from mneme.viz.stacks import plot_memory_run  # stacks and tapes, when the trace has them

    written += plot_memory_run(task, model, run_dir / "plots", examples=examples, title=title)
    if config.model_name == "seq2seq":
        from mneme.viz.alignment import plot_seq2seq_run

        return [*written, *plot_seq2seq_run(task, model, run_dir / "plots", examples=examples,
                                            title=title)]
    if config.task_name in ("sort", "convex-hull", "tsp"):
        from mneme.viz.pointer import plot_pointer_run

        path = run_dir / "plots" / "pointer-examples.png"
        return [*written, plot_pointer_run(config.task_name, task, model, path,
                                           examples=max(examples, 8), title=title)]
    from mneme.viz.ntm import ALGORITHMIC_TASKS, plot_algorithmic_run

    if config.task_name in ALGORITHMIC_TASKS:
        return [*written, *plot_algorithmic_run(task, model, run_dir / "plots",
                                                examples=examples, title=title)]
    batch = next(iter(task.eval_batches("test", max(1, examples))))
    with torch.no_grad():
        output = model(batch.inputs, trace=True)
    attention = getattr(output.trace, "attention", None)
    if attention is not None and config.task_name == "retrieval":
        return written + _plot_retrieval(batch, output, attention, run_dir, examples)
    if attention is None or not hasattr(task, "vocab"):
        return written
    story, query = batch.inputs["story"], batch.inputs["query"]  # type: ignore[index]
    for i in range(min(examples, batch.size)):
        used = int((story[i].abs().sum(-1) > 0).sum())
        sentences = [_words(task, story[i, s]) for s in reversed(range(used))]
        weights = attention[i, :, :used].flip(-1)
        null = getattr(output.trace, "null_attention", None)
        if null is not None:
            weights = torch.cat([weights, null[i].unsqueeze(1)], 1)
        predicted = task.vocab.decode([int(output.logits[i].argmax())])[0]
        truth = task.vocab.decode([int(batch.targets[i])])[0]
        question = _words(task, query[i]) + "?"
        path = run_dir / "plots" / f"attention-{i}.png"
        written.append(
            plot_attention(sentences, f"{question} (truth: {truth})", predicted, weights, path)
        )
    return written


def _plot_retrieval(batch: Any, output: Any, attention: Any, run_dir: Path,
                    examples: int) -> list[Path]:
    """Fast-weight attention over the past of each example (``fast-weights-{i}.png``)."""
    from mneme.tasks.retrieval import VOCAB, decode
    from mneme.viz.heatmaps import plot_attention_over_past

    written = []
    for i in range(min(examples, batch.size)):
        text = decode(batch.inputs[i])
        answer, truth = VOCAB[int(output.logits[i].argmax())], VOCAB[int(batch.targets[i])]
        title = f"{text} -> {answer} (truth {truth}): fast-weight attention"
        path = run_dir / "plots" / f"fast-weights-{i}.png"
        written.append(plot_attention_over_past(list(text), attention[i], title, path))
    return written


def _words(task: Any, ids: Any) -> str:
    return " ".join(task.vocab.decode([int(t) for t in ids if int(t) != 0]))
