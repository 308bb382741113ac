"""Decoding trained seq2seq runs: evaluate_decoding, ``mneme translate``, plots, eval --decode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mneme.cli import main
from mneme.errors import UserError
from mneme.models.seq2seq import Translation
from mneme.models.translate import ATTRIBUTION, evaluate_decoding, translate_text
from mneme.tasks.reversal import ReversalConfig, ReversalTask
from mneme.tasks.translation import TranslationConfig, TranslationTask
from mneme.viz.alignment import plot_alignment

PAIRS = [(f"I am number {i}.", f"Je suis le numéro {i}.") for i in range(30)] + [
    ("I am happy.", "Je suis content."), ("I am happy.", "Je suis heureux."),
    ("He is tall.", "Il est grand."), ("She is here.", "Elle est ici."),
    ("We are ready.", "Nous sommes prêts."), ("They are cold.", "Ils ont froid."),
]


class Lookup(nn.Module):
    """A stand-in model whose ``translate`` returns a fixed output per source (ids)."""

    def __init__(self, table: dict[tuple[int, ...], list[int]]) -> None:
        super().__init__()
        self.table = table
        self.unused = nn.Parameter(torch.zeros(1))

    def translate(self, source, lengths, **kw) -> Translation:
        rows = [self.table.get(tuple(source[i, : int(n)].tolist()), [])
                for i, n in enumerate(lengths)]
        return Translation(rows, None, [True] * len(rows), [0.0] * len(rows))


def _oracle(task, split: str, *, corrupt: int = -1) -> Lookup:
    table = {}
    for k, (source, refs) in enumerate(zip(task.sources[split], task.references[split],
                                           strict=True)):
        ids, lengths = task.encode_sources([source])
        out = task.spec.target_vocab.encode(refs[0])
        table[tuple(ids[0, : int(lengths[0])].tolist())] = out[:-1] if k == corrupt else out
    return Lookup(table)


def test_evaluate_decoding_scores_exact_match_by_length_for_reversal():
    task = ReversalTask(ReversalConfig(symbols=4, max_length=5, test_lengths=(2, 6),
                                       valid_size=3, test_size=5))
    perfect = evaluate_decoding(_oracle(task, "test"), task, "test")
    assert perfect["exact_match"] == 1.0 and perfect["count"] == 10
    assert perfect["exact_match_len2"] == perfect["exact_match_len6"] == 1.0
    assert perfect["n_len6"] == 5 and "bleu" not in perfect
    one_off = evaluate_decoding(_oracle(task, "test", corrupt=7), task, "test")
    assert one_off["exact_match_len6"] == pytest.approx(0.8)
    assert one_off["exact_match_len2"] == 1.0
    with pytest.raises(UserError, match="seq2seq"):
        evaluate_decoding(nn.Linear(1, 1), task, "test")
    with pytest.raises(UserError, match="split"):
        evaluate_decoding(_oracle(task, "test"), task, "train")


def test_evaluate_decoding_bleu_for_translation():
    task = TranslationTask(TranslationConfig(), pairs=PAIRS)
    perfect = evaluate_decoding(_oracle(task, "train"), task, "train")
    assert perfect["bleu"] == pytest.approx(100.0)
    assert perfect["exact_match"] == 1.0
    empty = evaluate_decoding(Lookup({}), task, "train")
    assert empty["bleu"] == 0.0 and empty["exact_match"] == 0.0


@pytest.fixture(scope="module")
def reversal_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seq2seq") / "reversal"
    code = main(["train", "--task", "reversal", "--model", "seq2seq", "--task.max-length", "6",
                 "--task.test-lengths", "3", "6", "--task.valid-size", "20",
                 "--task.test-size", "4", "--model.hidden-size", "16",
                 "--model.embedding-dim", "8", "--train.epochs", "1", "--train.epoch-steps",
                 "20", "--train.no-progress", "--train.no-tensorboard", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("data")
    (data / "eng-fra").mkdir()
    (data / "eng-fra" / "fra.txt").write_text(
        "".join(f"{e}\t{f}\n" for e, f in PAIRS), encoding="utf-8")
    out = data.parent / "translation-run"
    code = main(["train", "--task", "translation", "--model", "seq2seq", "--data-dir", str(data),
                 "--task.valid-fraction", "0.1", "--task.test-fraction", "0.1",
                 "--model.hidden-size", "8", "--model.embedding-dim", "8", "--train.epochs",
                 "2", "--train.batch-size", "8", "--train.no-progress",
                 "--train.no-tensorboard", "--out", str(out)])
    assert code == 0
    return out, data


def test_translate_prints_and_plots(reversal_run: Path, tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["translate", str(reversal_run), "a b c"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) >= 1 and all(t in "abcdefghijklmnopqrst" for t in out[0].split())
    png = tmp_path / "align.png"
    assert main(["translate", str(reversal_run), "a b c d", "--strategy", "beam",
                 "--beam-width", "3", "--plot", str(png)]) == 0
    assert png.stat().st_size > 0
    assert f"alignment plot: {png}" in capsys.readouterr().out
    assert main(["translate", str(reversal_run), "a zz b"]) == 0
    assert "unknown word(s) read as <unk>: zz" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "needle"), [
    (["translate", "RUN", ""], "nothing to translate"),
    (["translate", "RUN", "   "], "nothing to translate"),
    (["translate", "RUN"], "needs a sentence"),
    (["translate", "RUN", "a b", "--strategy", "viterbi"], "--strategy"),
    (["translate", "RUN", "a b", "--beam-width", "0"], "--beam-width"),
    (["translate", "no/such/run", "a b"], "no such run directory"),
])
def test_translate_user_errors_exit_2(reversal_run: Path, capsys, argv, needle) -> None:
    argv = [str(reversal_run) if a == "RUN" else a for a in argv]
    capsys.readouterr()
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_translate_help_shows_the_attribution(reversal_run: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["translate", str(reversal_run), "--help"]) == 0
    assert ATTRIBUTION in capsys.readouterr().out


def test_translate_a_french_sentence(translation_run, capsys) -> None:
    run, data = translation_run
    capsys.readouterr()
    assert main(["translate", str(run), "je suis content .", "--data-dir", str(data)]) == 0
    printed = capsys.readouterr().out
    assert printed.strip()
    from mneme.train.run import load_run

    _, task, model = load_run(run, overrides={"data_dir": str(data)})
    result = translate_text(task, model, "Je suis Xylophone.")
    assert result.source[-1] == "</s>" and "<unk>" in result.source
    assert result.unknown == ["xylophone"]
    assert result.attention.shape == (len(result.output) + int(result.finished),
                                      len(result.source))
    with pytest.raises(UserError, match="nothing to translate"):
        translate_text(task, model, "")


def test_plot_run_draws_alignments_and_curves(reversal_run: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["plot", str(reversal_run), "--examples", "2"]) == 0
    written = capsys.readouterr().out.split()
    names = sorted(Path(p).name for p in written)
    assert names == ["alignment-0.png", "alignment-1.png", "curves.png"]
    assert all(Path(p).stat().st_size > 0 for p in written)


def test_eval_decode_adds_exact_match(reversal_run: Path, capsys) -> None:
    import json

    capsys.readouterr()
    assert main(["eval", str(reversal_run), "--json", "--decode", "greedy"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["test_greedy_exact_match"] <= 1.0
    assert result["test_greedy_n_len6"] == 4
    assert main(["eval", str(reversal_run), "--decode", "sideways"]) == 2


def test_plot_alignment_checks_the_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="len"):
        plot_alignment(["a", "</s>"], ["b", "</s>"], torch.zeros(3, 2), tmp_path / "x.png")
    path = plot_alignment(["a", "</s>"], ["b", "</s>"], torch.eye(2), tmp_path / "x.png",
                          title="t")
    assert path.stat().st_size > 0
