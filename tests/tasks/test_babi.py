"""bAbI v1.2 (Weston et al. 2015): reader, vocabulary, encoding, task, archive installer.

Real files are read from ``$MNEME_DATA`` (the folder holding ``babi/`` or ``babi`` itself); those
tests skip when it is unset. Everything else runs on small files written to ``tmp_path``.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest
import torch

from mneme.errors import DataFormatError, MissingDataError, UserError
from mneme.tasks.babi import (
    BabiConfig,
    BabiTask,
    Vocabulary,
    babi_file,
    parse_babi,
    per_task_error,
    reference_encode,
    resolve_babi_dir,
    tokenize,
)
from mneme.tasks.babi_archive import babi_files_status, install_babi_archive
from mneme.tasks.base import DatasetTask, ModelOutput, reduce_metrics

# ---------------------------------------------------------------- fixtures and helpers

# Task 1 (tiny): two stories, 5 questions; a question line sits between statements.
QA1_TRAIN = """\
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Sandra moved to the garden.
6 Where is Daniel? \thallway\t4
1 John moved to the office.
2 Where is John? \toffice\t1
3 Mary went to the kitchen.
4 Where is Mary? \tkitchen\t3
5 Where is John? \toffice\t1
"""
QA1_TEST = """\
1 Sandra journeyed to the cinema quickly today.
2 Where is Sandra? \tcinema\t1
"""
# Task 8 (tiny): a multi-word answer is one class.
QA8_TRAIN = """\
1 Mary got the apple there.
2 Mary picked up the football.
3 What is Mary carrying? \tapple,football\t1 2
"""
QA8_TEST = QA8_TRAIN


def _write_task(root: Path, sub: str, task_id: int, train: str | None, test: str | None) -> None:
    for split, text in (("train", train), ("test", test)):
        if text is not None:
            path = babi_file(root, "1k" if sub == "en" else "10k", task_id, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A data dir holding ``babi/en`` with tasks 1 and 8."""
    root = tmp_path / "data" / "babi"
    _write_task(root, "en", 1, QA1_TRAIN, QA1_TEST)
    _write_task(root, "en", 8, QA8_TRAIN, QA8_TEST)
    return tmp_path / "data"


def _real_dir() -> Path:
    env = os.environ.get("MNEME_DATA")
    if not env:
        pytest.skip("MNEME_DATA is not set: the real bAbI files are not available")
    try:
        return resolve_babi_dir(env)
    except MissingDataError:
        pytest.skip(f"no bAbI data under MNEME_DATA={env}")


@pytest.fixture(scope="module")
def real_dir() -> Path:
    return _real_dir()


def _real_file(root: Path, size: str, task_id: int, split: str) -> Path:
    path = babi_file(root, size, task_id, split)
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def _words(vocab: Vocabulary, ids: torch.Tensor) -> list[str]:
    return [w for w in vocab.decode(ids) if w != Vocabulary.NIL]


# ---------------------------------------------------------------- reader on synthetic files


def test_tokenize_lowercases_and_strips_trailing_punctuation() -> None:
    assert tokenize("Where is Mary? ") == ("where", "is", "mary")
    assert tokenize("Mary moved to the bathroom.") == ("mary", "moved", "to", "the", "bathroom")


def test_parse_stories_questions_and_supporting_facts(tmp_path: Path) -> None:
    path = tmp_path / "qa1.txt"
    path.write_text(QA1_TRAIN)
    ex = parse_babi(path, 1)
    assert len(ex) == 5
    # the question on line 3 is not a statement: Daniel's fact (id 4) is story index 2
    assert ex[1].story[2] == ("daniel", "went", "back", "to", "the", "hallway")
    assert len(ex[1].story) == 4 and ex[1].supporting == (2,) and ex[1].line == 6
    # a new story starts at id 1; question lines in between do not enter the story
    assert ex[2].story == (("john", "moved", "to", "the", "office"),)
    assert ex[3].story[-1] == ("mary", "went", "to", "the", "kitchen") and ex[3].supporting == (1,)
    assert ex[4].query == ("where", "is", "john") and ex[4].answer == ("office",)
    assert {e.task_id for e in ex} == {1}


def test_parse_multiword_answer_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "qa8.txt"
    path.write_bytes(QA8_TRAIN.replace("\n", "\r\n").encode())
    (ex,) = parse_babi(path, 8)
    assert ex.answer == ("apple", "football") and ex.answer_word == "apple,football"
    assert ex.supporting == (0, 1) and ex.line == 3


MALFORMED = [
    ("no_id.txt", b"1 Mary went home.\nMary went home.\n", 2, "integer id"),
    ("gap.txt", b"1 Mary went home.\n3 John went home.\n", 2, "does not continue"),
    ("first_id.txt", b"2 Mary went home.\n", 1, "does not continue"),
    ("no_answer.txt", b"1 Mary went home.\n2 Where is Mary?\t\t1\n", 2, "without an answer"),
    ("tab_only.txt", b"1 Mary went home.\n2 Where is Mary?\t\n", 2, "without an answer"),
    ("fields.txt", b"1 Mary went home.\n2 Where is Mary?\thome\t1\tx\n", 2, "4 tab-separated"),
    ("later.txt", b"1 Mary went home.\n2 Where is Mary?\thome\t5\n", 2, "no earlier statement"),
    ("self.txt", b"1 Mary went home.\n2 Where is Mary?\thome\t2\n", 2, "no earlier statement"),
    ("question.txt", b"1 A b.\n2 Where is A?\tb\t1\n3 Where is A?\tb\t2\n", 3, "a question line"),
    ("nonint.txt", b"1 Mary went home.\n2 Where is Mary?\thome\tone\n", 2, "not an integer"),
    ("badutf8.txt", b"1 Mary went home.\n2 J\xffohn went home.\n", 2, "invalid UTF-8"),
    ("empty.txt", b"", None, "empty file"),
    ("blank.txt", b"\n  \n", None, "empty file"),
    ("noquestion.txt", b"1 Mary went home.\n", None, "no question"),
]


@pytest.mark.parametrize(("name", "content", "line", "fragment"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_file_names_file_and_line(tmp_path: Path, name: str, content: bytes,
                                            line: int | None, fragment: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        parse_babi(path, 1)
    message = str(info.value)
    assert info.value.line == line and fragment in message
    assert message.startswith(f"{path}:{line}:" if line is not None else f"{path}:")


def test_missing_file_is_missing_data_error(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"tasks_1-20_v1-2\.tar\.gz"):
        parse_babi(tmp_path / "qa1_single-supporting-fact_train.txt", 1)


# ---------------------------------------------------------------- vocabulary


def test_vocabulary_order_unknown_and_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "qa8.txt"
    path.write_text(QA8_TRAIN)
    vocab = Vocabulary.from_examples(parse_babi(path, 8))
    words = vocab.to_list()
    assert words[:2] == ["<nil>", "<unk>"] and words[2:] == sorted(words[2:])
    assert "apple,football" in vocab and "apple" in vocab and "football" in vocab
    assert vocab.encode(["mary", "zebra"]) == [words.index("mary"), 1]
    assert vocab.decode(torch.tensor([0, words.index("apple")])) == ["<nil>", "apple"]
    again = Vocabulary.from_list(json.loads(json.dumps(vocab.to_list())))
    assert again.to_list() == words and len(again) == len(vocab)
    with pytest.raises(UserError):
        Vocabulary.from_list(["a", "<nil>", "<unk>"])


# ---------------------------------------------------------------- config and data dir


@pytest.mark.parametrize(("changes", "message"), [
    ({"task_id": 0}, "task_id must be in [1, 20] (got 0)"),
    ({"task_id": 21}, "task_id must be in [1, 20] (got 21)"),
    ({"memory_size": 0}, "memory_size must be >= 1 (got 0)"),
    ({"valid_fraction": 0.5}, "valid_fraction must be in [0, 0.5) (got 0.5)"),
    ({"valid_fraction": -0.1}, "valid_fraction must be in [0, 0.5) (got -0.1)"),
    ({"joint": True, "tasks": (1, 21)}, "tasks must all be in [1, 20] (got 21)"),
    ({"joint": True, "tasks": (1, 1)}, "tasks must be distinct task ids (got (1, 1))"),
    ({"tasks": (1, 2)}, "tasks picks the joint-training subset; set joint=True (got (1, 2))"),
    ({"size": "5k"}, "size must be one of '1k', '10k' (got '5k')"),
])
def test_config_validation_names_the_field(changes: dict, message: str) -> None:
    with pytest.raises(UserError, match="^" + re.escape(f"BabiConfig.{message}") + "$"):
        BabiConfig(**changes).validate()


def test_config_task_ids() -> None:
    assert BabiConfig(task_id=7).task_ids() == (7,)
    assert BabiConfig(joint=True).task_ids() == tuple(range(1, 21))
    assert BabiConfig(joint=True, tasks=(8, 1)).task_ids() == (1, 8)


def test_resolve_babi_dir(tiny_dir: Path) -> None:
    with pytest.raises(MissingDataError, match=r"--data-dir.*MNEME_DATA"):
        resolve_babi_dir(None)
    assert resolve_babi_dir(str(tiny_dir)) == tiny_dir / "babi"
    assert resolve_babi_dir(str(tiny_dir / "babi")) == tiny_dir / "babi"
    with pytest.raises(MissingDataError, match=r"babi/en.*tasks_1-20_v1-2\.tar\.gz"):
        resolve_babi_dir(str(tiny_dir / "babi" / "en"))


def test_missing_split_file_names_the_file(tiny_dir: Path) -> None:
    (babi_file(tiny_dir / "babi", "1k", 8, "test")).unlink()
    with pytest.raises(MissingDataError, match=r"qa8_lists-sets_test\.txt"):
        BabiTask(BabiConfig(joint=True, tasks=(1, 8), data_dir=str(tiny_dir)))


# ---------------------------------------------------------------- the task on synthetic data


@pytest.fixture
def tiny_task(tiny_dir: Path) -> BabiTask:
    return BabiTask(BabiConfig(joint=True, tasks=(1, 8), data_dir=str(tiny_dir),
                               memory_size=3, valid_fraction=0.2))


def test_task_shapes_and_protocol(tiny_task: BabiTask) -> None:
    assert isinstance(tiny_task, DatasetTask)
    spec = tiny_task.spec
    # J comes from the longest sentence of any split: the 7-word test statement
    assert spec.sentence_size == 7 and spec.memory_size == 3 and spec.task_ids == (1, 8)
    assert spec.vocab_size == len(tiny_task.vocab)
    # 5 task-1 questions -> 1 held out; 1 task-8 question -> none (round(0.2) == 0)
    assert tiny_task.num_train == 5
    batch = tiny_task.train_batch(torch.arange(5), torch.Generator())
    assert batch.inputs["story"].shape == (5, 3, 7) and batch.inputs["query"].shape == (5, 7)
    assert batch.inputs["story"].dtype == torch.int64 and batch.targets.shape == (5,)
    assert batch.mask is None and batch.meta["task_id"].tolist() == [1, 1, 1, 1, 8]
    assert batch.meta["line"][-1] == 3  # task 8's question is on line 3 of its file
    test = next(tiny_task.eval_batches("test", 10))
    assert test.inputs["story"].shape[1:] == (3, 7)
    # a word never seen in training is <unk>, the padding is <nil>
    assert test.inputs["story"][0, 0].tolist()[-3:] == [1, 1, 1]
    assert test.inputs["story"][0, 1].abs().sum() == 0


def test_memory_is_newest_first_and_truncated(tiny_dir: Path) -> None:
    task = BabiTask(BabiConfig(task_id=1, data_dir=str(tiny_dir), memory_size=3,
                               valid_fraction=0.0))
    batch = next(task.eval_batches("train", 5))
    story, vocab = batch.inputs["story"], task.vocab
    # question 2 has 4 statements: memory keeps the 3 newest, the newest in slot 0
    assert _words(vocab, story[1, 0]) == ["sandra", "moved", "to", "the", "garden"]
    assert _words(vocab, story[1, 1]) == ["daniel", "went", "back", "to", "the", "hallway"]
    assert _words(vocab, story[1, 2]) == ["john", "went", "to", "the", "hallway"]
    # question 3 has 1 statement: slots 1 and 2 are empty
    assert _words(vocab, story[2, 0]) == ["john", "moved", "to", "the", "office"]
    assert story[2, 1:].abs().sum() == 0
    assert _words(vocab, batch.inputs["query"][1]) == ["where", "is", "daniel"]
    assert vocab.decode(batch.targets) == ["bathroom", "hallway", "office", "kitchen", "office"]


def test_multiword_answer_is_one_class(tiny_task: BabiTask) -> None:
    batch = tiny_task.train_batch(torch.tensor([4]), torch.Generator())
    assert tiny_task.vocab.decode(batch.targets) == ["apple,football"]


def test_fast_encoding_equals_reference(tiny_dir: Path, tmp_path: Path) -> None:
    config = BabiConfig(task_id=1, data_dir=str(tiny_dir), memory_size=2, valid_fraction=0.0)
    task = BabiTask(config)
    examples = parse_babi(babi_file(tiny_dir / "babi", "1k", 1, "train"), 1)
    batch = next(task.eval_batches("train", 100))
    for i, ex in enumerate(examples):
        story, query, target = reference_encode(ex, task.vocab, 2, task.sentence_size)
        assert torch.equal(batch.inputs["story"][i], story)
        assert torch.equal(batch.inputs["query"][i], query) and batch.targets[i] == target


def test_validation_split_is_per_task_and_deterministic(tiny_dir: Path) -> None:
    def valid(seed: int) -> torch.Tensor:
        task = BabiTask(BabiConfig(task_id=1, data_dir=str(tiny_dir), split_seed=seed,
                                   valid_fraction=0.4))
        assert task.num_train == 3
        (batch,) = task.eval_batches("valid", 8)
        return torch.cat([batch.inputs["story"].flatten(1), batch.inputs["query"]], 1)

    assert valid(0).shape[0] == 2 and torch.equal(valid(0), valid(0))
    assert any(not torch.equal(valid(0), valid(seed)) for seed in range(1, 6))


def test_eval_batches_cover_split_in_order(tiny_task: BabiTask) -> None:
    sizes = [b.size for b in tiny_task.eval_batches("train", 2)]
    assert sizes == [2, 2, 1]
    index = torch.cat([b.meta["index"] for b in tiny_task.eval_batches("train", 2)])
    assert index.tolist() == list(range(5))
    assert sum(b.size for b in tiny_task.eval_batches("valid", 4)) == 1
    with pytest.raises(UserError, match="split"):
        next(tiny_task.eval_batches("dev", 4))


def test_loss_and_metrics(tiny_task: BabiTask) -> None:
    batch = tiny_task.train_batch(torch.arange(5), torch.Generator())
    logits = torch.zeros(5, len(tiny_task.vocab))
    logits[torch.arange(5), batch.targets] = 10.0
    logits[0] = 0.0
    logits[0, 0] = 10.0  # the first (task 1) answer is wrong
    out = ModelOutput(logits=logits)
    ce = torch.nn.functional.cross_entropy(logits, batch.targets)
    assert torch.allclose(tiny_task.loss(out, batch), ce)
    aux = ModelOutput(logits=logits, aux_loss=torch.tensor(2.0))
    assert torch.allclose(tiny_task.loss(aux, batch), ce + 2.0)
    m = tiny_task.metrics(out, batch)
    assert m["count"] == 5 and m["error"] == 1 and m["loss"] == pytest.approx(5 * float(ce))
    assert (m["error_task1"], m["n_task1"], m["error_task8"], m["n_task8"]) == (1, 4, 0, 1)
    assert per_task_error(m) == {1: 0.25, 8: 0.0}
    reduced = reduce_metrics(m)
    assert reduced["error"] == pytest.approx(0.2) and reduced["error_task1"] == 0.25
    assert reduced["n_task1"] == 4


def test_encode_story(tiny_task: BabiTask) -> None:
    enc = tiny_task.encode_story(["Mary moved to the bathroom.", "", "John went to the hallway."],
                                 "Where is Mary?")
    assert enc["story"].shape == (1, 3, 7) and enc["query"].shape == (1, 7)
    assert _words(tiny_task.vocab, enc["story"][0, 0]) == ["john", "went", "to", "the", "hallway"]
    assert enc["story"][0, 2].abs().sum() == 0
    with pytest.raises(UserError, match=r"unknown words: marry \(did you mean mary\?\)") as e:
        tiny_task.encode_story(["Marry went to the zebra."], "Where is Mary?")
    assert "zebra" in str(e.value) and "known words include" in str(e.value)
    with pytest.raises(UserError, match="longer than 7"):
        tiny_task.encode_story(["Mary moved to the the the the bathroom."], "Where is Mary?")
    with pytest.raises(UserError, match="empty"):
        tiny_task.encode_story(["Mary moved to the bathroom."], " ? ")


def test_describe(tiny_task: BabiTask) -> None:
    text = tiny_task.describe()
    for part in ("train 5", "valid 1", "test 2", f"V={len(tiny_task.vocab)}", "J=7", "N=3"):
        assert part in text


# ---------------------------------------------------------------- the real files


def test_real_qa1_first_example(real_dir: Path) -> None:
    ex = parse_babi(_real_file(real_dir, "1k", 1, "train"), 1)
    assert len(ex) == 1000
    assert ex[0].story == (("mary", "moved", "to", "the", "bathroom"),
                           ("john", "went", "to", "the", "hallway"))
    assert ex[0].query == ("where", "is", "mary") and ex[0].answer == ("bathroom",)
    assert ex[0].supporting == (0,) and ex[0].line == 3


def test_real_en_files_match_manifest(real_dir: Path) -> None:
    manifest = real_dir / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"{manifest} is absent")
    rows = [line.split("\t") for line in manifest.read_text().splitlines()[1:]]
    checked = 0
    for row in rows:
        if not row[0].startswith("en/") or row[-1] != "present":
            continue
        task_id = int(row[0].split("/")[1].split("_")[0][2:])
        ex = parse_babi(real_dir / row[0], task_id)
        assert len(ex) == int(row[4]) == 1000
        assert max(len(e.story) for e in ex) == int(row[5]), row[0]
        checked += 1
    assert checked == 40


def test_real_multiword_answers(real_dir: Path) -> None:
    qa8 = parse_babi(_real_file(real_dir, "1k", 8, "train"), 8)
    assert ("football", "apple") in {e.answer for e in qa8}
    qa19 = parse_babi(_real_file(real_dir, "1k", 19, "train"), 19)
    assert qa19[0].answer == ("s", "e") and ("n", "w") in {e.answer for e in qa19}
    task = BabiTask(BabiConfig(task_id=19, data_dir=str(real_dir)))
    assert {"n,w", "s,e"} <= set(task.vocab.to_list())


def test_real_memory_truncation_on_qa3(real_dir: Path) -> None:
    _real_file(real_dir, "1k", 3, "train")
    task = BabiTask(BabiConfig(task_id=3, data_dir=str(real_dir), valid_fraction=0.0))
    examples = parse_babi(babi_file(real_dir, "1k", 3, "train"), 3)
    i = max(range(len(examples)), key=lambda k: len(examples[k].story))
    ex = examples[i]
    assert len(ex.story) > 50
    batch = task.train_batch(torch.tensor([i]), torch.Generator())
    story = batch.inputs["story"][0]
    assert story.shape == (50, task.sentence_size)
    assert tuple(_words(task.vocab, story[0])) == ex.story[-1]  # slot 0: most recent
    assert tuple(_words(task.vocab, story[49])) == ex.story[-50]
    ref = reference_encode(ex, task.vocab, 50, task.sentence_size)
    assert torch.equal(story, ref[0])


def test_real_validation_split(real_dir: Path) -> None:
    _real_file(real_dir, "1k", 1, "train")
    a = BabiTask(BabiConfig(task_id=1, data_dir=str(real_dir)))
    b = BabiTask(BabiConfig(task_id=1, data_dir=str(real_dir)))
    c = BabiTask(BabiConfig(task_id=1, data_dir=str(real_dir), split_seed=1))
    assert a.num_train == 900
    assert sum(x.size for x in a.eval_batches("valid", 64)) == 100
    assert sum(x.size for x in a.eval_batches("test", 64)) == 1000

    def valid_stories(task: BabiTask) -> torch.Tensor:
        return torch.cat([x.inputs["story"].flatten(1) for x in task.eval_batches("valid", 64)])

    assert torch.equal(valid_stories(a), valid_stories(b))
    assert not torch.equal(valid_stories(a), valid_stories(c))


def test_real_joint_keeps_ten_percent_per_task(real_dir: Path) -> None:
    task = BabiTask(BabiConfig(joint=True, tasks=(1, 2, 19), data_dir=str(real_dir)))
    batches = list(task.eval_batches("valid", 512))
    valid_tasks = torch.cat([b.meta["task_id"] for b in batches])
    assert torch.bincount(valid_tasks, minlength=20)[[1, 2, 19]].tolist() == [100, 100, 100]
    assert task.num_train == 2700 and task.spec.num_tasks == 3
    # a task holds out the same questions alone as in joint training
    alone = BabiTask(BabiConfig(task_id=2, data_dir=str(real_dir)))
    lines = torch.cat([b.meta["line"] for b in batches])[valid_tasks == 2]
    assert torch.equal(lines, torch.cat([b.meta["line"] for b in alone.eval_batches("valid", 64)]))


def test_real_en10k_task3_missing(real_dir: Path) -> None:
    path = babi_file(real_dir, "10k", 3, "train")
    if path.exists():
        pytest.skip(f"{path} is present in this copy of the data")
    with pytest.raises(MissingDataError) as info:
        BabiTask(BabiConfig(task_id=3, size="10k", data_dir=str(real_dir)))
    assert "qa3_three-supporting-facts_train.txt" in str(info.value)
    assert "tasks_1-20_v1-2.tar.gz" in str(info.value)


# ---------------------------------------------------------------- archive installer


def _tar(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def _official_like(tmp_path: Path) -> Path:
    top = "tasks_1-20_v1-2"
    return _tar(tmp_path / "tasks_1-20_v1-2.tar.gz", {
        f"{top}/README.txt": b"readme",
        f"{top}/en/qa1_single-supporting-fact_train.txt": QA1_TRAIN.encode(),
        f"{top}/en/qa1_single-supporting-fact_test.txt": QA1_TEST.encode(),
        f"{top}/en-10k/qa8_lists-sets_train.txt": QA8_TRAIN.encode(),
        f"{top}/hn/qa1_single-supporting-fact_train.txt": QA1_TRAIN.encode(),
    })


def test_install_archive_extracts_only_english(tmp_path: Path) -> None:
    archive = _official_like(tmp_path)
    dest = tmp_path / "data" / "babi"
    written = install_babi_archive(str(archive), dest, progress=False, strict=False)
    assert [p.relative_to(dest).as_posix() for p in written] == [
        "en/qa1_single-supporting-fact_test.txt", "en/qa1_single-supporting-fact_train.txt",
        "en-10k/qa8_lists-sets_train.txt"]
    assert (dest / "en" / "qa1_single-supporting-fact_train.txt").read_text() == QA1_TRAIN
    assert not (dest / "hn").exists() and not (dest / "README.txt").exists()
    assert not list(dest.rglob("*.tmp"))
    present, missing = babi_files_status(dest)
    assert len(present) == 3 and len(missing) == 77
    task = BabiTask(BabiConfig(task_id=1, data_dir=str(tmp_path / "data"), valid_fraction=0.2))
    assert task.num_train + sum(b.size for b in task.eval_batches("valid", 8)) == 5


def test_install_archive_from_file_url_and_report(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    archive = _official_like(tmp_path)
    dest = tmp_path / "babi"
    written = install_babi_archive(archive.as_uri(), dest, progress=True, strict=False)
    assert len(written) == 3
    err = capsys.readouterr().err
    assert "3 of 80 expected files present" in err and "missing in en/ (38)" in err


def test_install_archive_strict_counts(tmp_path: Path) -> None:
    dest = tmp_path / "babi"
    with pytest.raises(DataFormatError, match=r"5 questions, the official v1\.2 file has 1000"):
        install_babi_archive(str(_official_like(tmp_path)), dest, progress=False)
    assert not dest.exists()  # checked before anything is written


def test_install_archive_rejects_malformed_member(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", {
        "t/en/qa1_single-supporting-fact_train.txt": QA1_TRAIN.encode(),
        "t/en/qa1_single-supporting-fact_test.txt": b"1 Where?\tx\t3\n"})
    with pytest.raises(DataFormatError, match=r"t/en/qa1_single-supporting-fact_test.txt:1:"):
        install_babi_archive(str(archive), tmp_path / "babi", progress=False, strict=False)
    assert not (tmp_path / "babi").exists()


def test_install_archive_rejects_non_tar(tmp_path: Path) -> None:
    bogus = tmp_path / "tasks_1-20_v1-2.tar.gz"
    bogus.write_text("this is not an archive\n")
    with pytest.raises(UserError, match="not a readable tar or zip archive"):
        install_babi_archive(str(bogus), tmp_path / "babi", progress=False)
    with pytest.raises(MissingDataError, match="not found"):
        install_babi_archive(str(tmp_path / "nope.tar.gz"), tmp_path / "babi", progress=False)


def test_install_archive_without_babi_files(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", {"t/README.txt": b"hello"})
    with pytest.raises(UserError, match="holds no bAbI files"):
        install_babi_archive(str(archive), tmp_path / "babi", progress=False)


@pytest.mark.parametrize("name", ["../en/qa1_single-supporting-fact_train.txt",
                                  "/tmp/en/qa1_single-supporting-fact_train.txt",
                                  "t/../../evil.txt"])
def test_install_archive_rejects_path_traversal(tmp_path: Path, name: str) -> None:
    archive = _tar(tmp_path / "a.tar.gz", {
        "t/en/qa1_single-supporting-fact_test.txt": QA1_TEST.encode(), name: QA1_TRAIN.encode()})
    with pytest.raises(UserError, match="unsafe member path"):
        install_babi_archive(str(archive), tmp_path / "x" / "babi", progress=False, strict=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "evil.txt").exists()


def test_install_archive_rejects_link_member(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", {}, links=("t/en/qa1_single-supporting-fact_train.txt",))
    with pytest.raises(UserError, match="not a regular file"):
        install_babi_archive(str(archive), tmp_path / "babi", progress=False, strict=False)
