"""``mneme generate``: a tiny LSTM LM trained in tmp on a periodic corpus continues the pattern,
with every strategy, through the CLI; user errors exit with code 2 and one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mneme.cli import main
from mneme.commands.generate import GenerateOptions, encode_prompt, generate, generate_run
from mneme.config import TrainConfig
from mneme.models.lm import LMConfig, NGramConfig
from mneme.tasks.text import CharsConfig, PTBConfig
from mneme.train.run import RunConfig, load_run, train_run

CORPUS = " the cat sat on the mat\n a dog ran home\n <unk> is here\n"


def _train(root: Path, task_name: str, task: object, model_name: str, model: object,
           epochs: int) -> Path:
    torch.manual_seed(0)
    train = TrainConfig(epochs=epochs, batch_size=4, optimizer="adam", lr=0.02,
                        lr_schedule="constant", clip_norm=5.0, eval_batch_size=2,
                        progress=False, tensorboard=False)
    run = root / f"{task_name}-{model_name}"
    train_run(RunConfig(task_name, task, model_name, model, train), run, progress=False)
    return run


@pytest.fixture(scope="module")
def ptb_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen")
    folder = root / "data" / "ptb"
    folder.mkdir(parents=True)
    for split, repeats in (("train", 120), ("valid", 8), ("test", 8)):
        (folder / f"ptb.{split}.txt").write_text(CORPUS * repeats)
    task = PTBConfig(str(root / "data"), seq_len=8)
    return _train(root, "ptb", task, "rnn-lm", LMConfig(hidden_size=24, num_layers=1), 6)


def test_generate_continues_the_learned_pattern(ptb_run: Path) -> None:
    for options in (GenerateOptions("the cat", strategy="greedy"),
                    GenerateOptions("the cat", strategy="beam", beam_width=3),
                    GenerateOptions("the cat", strategy="sample", temperature=0.3, seed=1)):
        result = generate_run(ptb_run, options)
        assert result.texts == ["the cat sat on the mat"], options.strategy
        assert result.notes == []
    # after the sentence's <eos> the stream goes on with the other sentence
    result = generate_run(ptb_run, GenerateOptions("mat", strategy="greedy", max_tokens=5,
                                                   stop_at_eos=False))
    assert result.texts == ["mat\na dog ran home"]


def test_generate_beam_n_best_and_prompt_encoding(ptb_run: Path) -> None:
    _, task, model = load_run(ptb_run)
    result = generate(model, task, GenerateOptions("a dog", strategy="beam", beam_width=4,
                                                   n_best=3, length_penalty=0.0))
    assert result.texts[0] == "a dog ran home" and len(result.texts) == 3
    assert result.scores == sorted(result.scores, reverse=True)
    ids, notes = encode_prompt(task, "The CAT 42 zebra")
    assert task.vocab.decode(ids) == ["the", "cat", "<unk>", "<unk>"]  # no N in this corpus
    assert notes == ["not in the vocabulary, read as <unk>: 42, zebra"]


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
def test_generate_cli_strategies(ptb_run: Path, strategy: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", str(ptb_run), "--prompt", "a dog zebra", "--strategy", strategy,
                 "--temperature", "0.5", "--top-k", "2", "--beam-width", "2",
                 "--max-tokens", "6", "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("a dog zebra") and len(out.strip().splitlines()) == 1
    assert "read as <unk>: zebra" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nucleus"],
     "GenerateOptions.strategy must be one of 'greedy', 'sample', 'beam' (got 'nucleus')"),
    (["--temperature", "-1"], "GenerateOptions.temperature must be >= 0 (got -1.0)"),
    (["--max-tokens", "0"], "GenerateOptions.max_tokens must be >= 1 (got 0)"),
    (["--n-best", "9", "--beam-width", "2"],
     "GenerateOptions.n_best must be <= beam_width = 2 (got 9)"),
])
def test_generate_cli_user_errors(ptb_run: Path, args: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(ptb_run), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mneme: error: ") and message in err and err.count("\n") == 1


def test_generate_cli_run_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["generate"]) == 2
    assert "generate needs a run directory" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({
        "task": {"name": "retrieval", "config": {}}, "model": {"name": "lstm", "config": {}},
        "train": {}}))
    assert main(["generate", str(other)]) == 2
    err = capsys.readouterr().err
    assert "needs a language-model run" in err and err.count("\n") == 1


def test_generate_characters_and_ngram(tmp_path: Path) -> None:
    text = tmp_path / "abc.txt"
    text.write_text("abcabd\n" * 200)
    task = CharsConfig(file=str(text), seq_len=10, valid_fraction=0.1, test_fraction=0.1)
    run = _train(tmp_path, "chars", task, "ngram",
                 NGramConfig(order=4, embedding_dim=8, hidden_size=32, dropout=0.0), 3)
    result = generate_run(run, GenerateOptions("cab", strategy="greedy", max_tokens=8))
    assert result.texts == ["cabd\nabcabd"]  # after "cab" comes d, the line, then the pattern
    result = generate_run(run, GenerateOptions("xab", strategy="beam", max_tokens=2,
                                               beam_width=2))
    assert result.notes == ["characters not in the training text dropped: 'x'"]
    assert result.texts[0].startswith("xab")
