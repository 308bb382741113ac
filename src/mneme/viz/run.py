"""``mneme plot RUN``: learning curves from ``metrics.jsonl`` and attention heatmaps as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mneme.errors import UserError
from mneme.train.logging import read_metrics


def plot_curves(records: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Train/valid loss and valid error (%) against epoch, one figure with two panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("train_loss", "train"), ("valid_loss", "valid"),
                       ("valid_nll", "valid (NLL)")):
        points = [(e, r[key]) for e, r in zip(epochs, records) if key in r]
        if points:
            left.plot(*zip(*points), label=label)
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy (nats)")
    left.set_yscale("log")
    left.legend()
    points = [(e, 100 * r["valid_error"]) for e, r in zip(epochs, records) if "valid_error" in r]
    if points:
        right.plot(*zip(*points), color="C1")
    right.set_xlabel("epoch")
    right.set_ylabel("validation error %")
    right.set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(run_dir: Path, *, examples: int = 3, data_dir: str | None = None) -> list[Path]:
    """Write ``RUN/plots/curves.png`` and, for models that trace attention, one heatmap per test
    example (``RUN/plots/attention-{i}.png``). Returns the written paths.

    Raises:
        UserError: not a run directory, or no metrics yet.
    """
    import torch

    from mneme.train.run import load_run, read_config, selected_dir
    from mneme.viz.heatmaps import plot_attention

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    source = selected_dir(run_dir)
    records = read_metrics(source)
    if not records:
        raise UserError(f"{source}: no metrics.jsonl records yet (has training started?)")
    title = f"{config.model_name} on {config.task_name} ({source.name})"
    written = [plot_curves(records, run_dir / "plots" / "curves.png", title)]
    overrides = {"data_dir": data_dir} if data_dir else None
    _, task, model = load_run(run_dir, overrides=overrides)
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
