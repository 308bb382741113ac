"""The eng-fra translation task: tokenizer, filters, splits by source, batches, BLEU, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks.translation import (
    TranslationConfig,
    TranslationTask,
    corpus_bleu,
    detokenize,
    read_pairs,
    tokenize,
)

PAIRS = [
    ("I am cold.", "J'ai froid."),
    ("I'm cold.", "J'ai froid."),
    ("He is tall.", "Il est grand."),
    ("She is here.", "Elle est ici."),
    ("You are late.", "Tu es en retard."),
    ("We are ready.", "Nous sommes prêts."),
    ("They are happy.", "Ils sont heureux."),
    ("Run!", "Cours !"),
] + [(f"I am number {i}.", f"Je suis le numéro {i}.") for i in range(40)] + [
    ("I am " + "very " * 12 + "tired.", "Je suis " + "très " * 12 + "fatigué."),
]


def test_tokenizer_keeps_punctuation_accents_and_clitics() -> None:
    assert tokenize("Je n'ai pas faim.") == ["je", "n'", "ai", "pas", "faim", "."]
    assert tokenize("Ça alors !") == ["ça", "alors", "!"]
    assert tokenize("I'm my father’s son.", "eng") == ["i", "'m", "my", "father", "'s", "son", "."]
    for text, lang in [("je n'ai pas faim, d'accord?", "fra"), ("i'm his friend's dog.", "eng")]:
        assert detokenize(tokenize(text, lang)) == text


def _task(**kw) -> TranslationTask:
    return TranslationTask(TranslationConfig(**kw), pairs=PAIRS)


def test_prefix_filter_length_filter_and_direction() -> None:
    task = _task()
    everything = [p for split in task.pairs.values() for p in split]
    sources = {s for s, _ in everything}
    assert ("cours", "!") not in sources  # "Run!" lacks the prefixes
    assert not any(len(s) > 12 for s in sources)  # the 15-word pair is cut by max_length 10
    assert ("j'", "ai", "froid", ".") in sources  # French is the source (fra-eng)
    assert len(everything) == len(PAIRS) - 2
    reverse = _task(direction="eng-fra", subset="all")
    assert ("run", "!") in {s for split in reverse.pairs.values() for s, _ in split}


def test_splits_are_by_source_and_keep_all_references() -> None:
    task = _task()
    seen: dict[tuple, str] = {}
    for split, pairs in task.pairs.items():
        for source, _ in pairs:
            assert seen.setdefault(source, split) == split  # one split per source sentence
    # "J'ai froid." has two translations: both are references of its split
    split = seen[("j'", "ai", "froid", ".")]
    index = task.sources[split].index(("j'", "ai", "froid", "."))
    assert sorted(task.references[split][index]) == sorted(
        [("i", "am", "cold", "."), ("i", "'m", "cold", ".")]
    )
    again = _task()
    assert again.sources == task.sources  # the split seed fixes it
    other = _task(split_seed=7)
    assert other.sources["test"] != task.sources["test"]


def test_batches_teacher_forcing_layout() -> None:
    task = _task()
    batch = task.train_batch(torch.arange(3), torch.Generator())
    spec = task.spec
    for row in range(3):
        source, target = task.pairs["train"][row]
        n = len(target)
        assert batch.inputs["target_in"][row, 0] == spec.bos_id
        assert torch.equal(batch.inputs["target_in"][row, 1 : n + 1], batch.targets[row, :n])
        assert batch.targets[row, n] == spec.eos_id
        assert int(batch.mask[row].sum()) == n + 1
        length = int(batch.inputs["source_length"][row])
        assert length == len(source) + 1 and batch.inputs["source"][row, length - 1] == spec.eos_id
        assert spec.source_vocab.decode(batch.inputs["source"][row].tolist()) == list(source)


def test_bleu_is_sacrebleu_on_detokenized_text() -> None:
    refs = [[("i", "'m", "cold", "."), ("i", "am", "cold", ".")], [("he", "is", "tall", ".")]]
    assert corpus_bleu([("i", "am", "cold", "."), ("he", "is", "tall", ".")], refs) == (
        pytest.approx(100.0)
    )
    assert corpus_bleu([("no",), ("match",)], refs) < 1.0
    with pytest.raises(ValueError):
        corpus_bleu([("a",)], refs)


def test_malformed_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "fra.txt"
    bad.write_text("Go.\tVa !\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"fra.txt.*2"):
        read_pairs(bad)
    bad.write_text("Go.\t  \n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="empty"):
        read_pairs(bad)
    with pytest.raises(MissingDataError, match="manythings"):
        TranslationTask(TranslationConfig(data_dir=str(tmp_path / "nowhere")))
    with pytest.raises(UserError, match=r"^TranslationConfig\.max_length must be >= 1 \(got 0\)$"):
        TranslationConfig(max_length=0).validate()
    with pytest.raises(UserError, match=r"^TranslationConfig\.test_fraction must be in \(0, 0\.5\) "
                                        r"\(got 0\.5\)$"):
        TranslationConfig(test_fraction=0.5).validate()


@pytest.mark.skipif(not os.environ.get("MNEME_DATA"), reason="MNEME_DATA is not set")
def test_real_file_subsets() -> None:
    small = TranslationTask(TranslationConfig(data_dir=os.environ["MNEME_DATA"]))
    sizes = {k: len(v) for k, v in small.pairs.items()}
    assert 11_000 < sum(sizes.values()) < 14_000  # the tutorial's filtered subset is ~11-12k
    assert sizes["test"] > 500
