"""Counting languages and memorisation (Joulin & Mikolov 2015, section 4.1)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tests.learning import train_steps

from mneme import registry
from mneme.config import TrainConfig
from mneme.errors import ConfigError, UserError
from mneme.models.build import build_model
from mneme.models.sequence import composed_config
from mneme.tasks.base import reduce_metrics
from mneme.tasks.counting import (
    LANGUAGES,
    CountingConfig,
    CountingCurriculum,
    CountingTask,
    draw_string,
    string_of,
)
from mneme.train.checkpoint import load_checkpoint
from mneme.train.evaluate import evaluate
from mneme.train.run import RunConfig, train_run
from mneme.types import ModelOutput

F_, T_ = False, True


@pytest.mark.parametrize(("language", "n", "part", "tokens", "predictable"), [
    ("anbn", 3, (), [0, 0, 0, 1, 1, 1], [F_, F_, F_, F_, T_, T_]),
    ("anbn", 1, (), [0, 1], [F_, F_]),
    ("anbncn", 2, (), [0, 0, 1, 1, 2, 2], [F_, F_, F_, T_, T_, T_]),
    ("anbncndn", 1, (), [0, 1, 2, 3], [F_, F_, T_, T_]),
    ("anb2n", 2, (), [0, 0, 1, 1, 1, 1], [F_, F_, F_, T_, T_, T_]),
    # a^3 b^1 c^4: the a's, the b and the first c are not predictable
    ("anbmcnm", 4, 1, [0, 0, 0, 1, 2, 2, 2, 2], [F_, F_, F_, F_, F_, T_, T_, T_]),
    ("anbmcnm", 2, 1, [0, 1, 2, 2], [F_, F_, F_, T_]),
    # X = bc, separator a, X reversed = cb
    ("memorisation", 2, (1, 2), [1, 2, 0, 2, 1], [F_, F_, F_, T_, T_]),
])
def test_strings_and_predictable_symbols_by_hand(language, n, part, tokens, predictable) -> None:
    assert string_of(language, n, part) == (tokens, predictable)


@pytest.mark.parametrize(("language", "n", "part"), [
    ("anbmcnm", 3, 0), ("anbmcnm", 3, 3), ("anbmcnm", 1, 1), ("memorisation", 2, (1, 0)),
    ("memorisation", 2, (1,)), ("anbn", 0, ()), ("anbnbn", 2, ()),
])
def test_bad_strings_are_refused(language, n, part) -> None:
    with pytest.raises(UserError):
        string_of(language, n, part)


def test_drawn_strings_keep_their_shape() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        tokens, _ = draw_string("anbmcnm", 6, generator)
        a, b, c = (tokens.count(s) for s in range(3))
        assert a >= 1 and b >= 1 and a + b == 6 and c == 6 and tokens == sorted(tokens)
        tokens, _ = draw_string("memorisation", 5, generator)
        assert tokens[5] == 0 and tokens[:5] == tokens[6:][::-1] and 0 not in tokens[:5]


def _split(row: list[int]) -> list[list[int]]:
    """A stream of counting strings cut where an ``a`` follows another letter."""
    strings, current = [], [row[0]]
    for prev, s in itertools.pairwise(row):
        if s == 0 and prev != 0:
            strings.append(current)
            current = []
        current.append(s)
    return [*strings, current]


@pytest.mark.parametrize("language", ["anbn", "anbncndn", "anb2n"])
def test_training_examples_are_whole_strings(language: str) -> None:
    task = CountingTask(CountingConfig(language=language, train_length=30))
    task.current_max = 7
    batch = task.sample(16, torch.Generator().manual_seed(1))
    lengths = batch.mask.sum(1).long()
    for i in range(batch.size):
        row = batch.targets[i, :lengths[i]].tolist()
        assert batch.inputs[i, 0] == LANGUAGES[language].symbols - 1  # the last letter first
        assert batch.inputs[i, 1:lengths[i]].tolist() == row[:-1]
        strings = _split(row)
        assert len(row) >= 30 and len(row) - len(strings[-1]) < 30  # stops once 30 are there
        flags: list[bool] = []
        for k, s in enumerate(strings):
            n = s.count(0)
            assert 2 <= n <= 7
            expected, predictable = string_of(language, n)
            assert s == expected
            flags += [k > 0, *predictable[1:]]  # a string's first a ends the string before
        assert batch.meta["predictable"][i, :lengths[i]].tolist() == flags
        assert not batch.meta["predictable"][i, lengths[i]:].any()


def test_test_range_is_sixty_values_of_n() -> None:
    for language, rows, first in [("anbn", 60, 1), ("anbmcnm", sum(range(1, 61)), 2),
                                  ("memorisation", 600, 1)]:
        task = CountingTask(CountingConfig(language=language))
        ns = [n for b in task.eval_batches("test", 128) for n in b.meta["n"]]
        assert len(ns) == rows and sorted(set(ns)) == list(range(first, first + 60))
    test = CountingTask(CountingConfig(test_min=2)).eval_batches("test", 100)
    assert next(test).meta["n"] == list(range(2, 62))
    valid = CountingTask(CountingConfig()).eval_batches("valid", 100)
    assert next(valid).meta["n"] == list(range(2, 20))


def _score(task: CountingTask, flip=lambda batch: None, batch_size: int = 7
           ) -> dict[str, float]:
    """Metrics of a predictor that is right except where ``flip(batch)`` ``(B, T)`` is True."""
    sums: dict[str, float] = {}
    for batch in task.eval_batches("test", batch_size):
        predicted = batch.targets.clone()
        wrong = flip(batch)
        if wrong is not None:
            predicted[wrong] = (predicted[wrong] + 1) % task.spec.symbols
        logits = 5.0 * F.one_hot(predicted, task.spec.symbols).float()
        for key, value in task.metrics(ModelOutput(logits), batch).items():
            sums[key] = sums.get(key, 0.0) + value
    return task.finalize_metrics(reduce_metrics(sums))


def _at(n: int, step: int, row=lambda inputs: True):
    """A ``flip`` for the target ``step`` of the rows with this n (and ``row(inputs)``)."""
    def flip(batch):
        wrong = torch.zeros_like(batch.targets, dtype=torch.bool)
        for i, k in enumerate(batch.meta["n"]):
            if k == n and row(batch.inputs[i]):
                wrong[i, step] = True
        return wrong
    return flip


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_perfect_predictor_solves_every_n(language: str) -> None:
    metrics = _score(CountingTask(CountingConfig(language=language, strings_per_n=2)))
    assert metrics["unsolved"] == 0.0 and metrics["solved"] == 1.0
    assert metrics["symbol_error"] == 0.0


def test_one_wrong_predictable_symbol_fails_that_n_only() -> None:
    task = CountingTask(CountingConfig(language="anbn"))
    # anbn n = 5: the last b (target 9 of 11) is predictable
    metrics = _score(task, _at(5, 9))
    assert metrics["unsolved"] == pytest.approx(1 / 60) and metrics["wrong_n5"] == 1.0
    # the next string's first a (the last target) counts too
    metrics = _score(task, _at(8, 16))
    assert metrics["unsolved"] == pytest.approx(1 / 60) and metrics["wrong_n8"] == 1.0
    # one wrong split of a^i b^m c^(i+m) (m = 2 of n = 7) fails its n, the other splits
    # notwithstanding; target 10 is the fourth c
    task = CountingTask(CountingConfig(language="anbmcnm"))
    metrics = _score(task, _at(7, 10, lambda inputs: inputs[:8].tolist().count(1) == 2))
    assert metrics["unsolved"] == pytest.approx(1 / 60)
    assert metrics["wrong_n7"] == pytest.approx(1 / 6)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_unpredictable_symbols_do_not_count(language: str) -> None:
    task = CountingTask(CountingConfig(language=language, strings_per_n=2))
    metrics = _score(task, lambda batch: ~batch.meta["predictable"] & batch.mask.bool())
    assert metrics["unsolved"] == 0.0
    assert metrics["nll"] > 0.5  # they are wrong, and the loss sees them


def test_curriculum_raises_the_largest_n_and_restores_it() -> None:
    task = CountingTask(CountingConfig(min_n=2, max_n=6))
    hook = CountingCurriculum(task, every=2)
    hook.start(None)
    assert task.current_max == 2

    class Trainer:
        epoch = 0

    seen = []
    for epoch in range(1, 12):
        Trainer.epoch = epoch
        hook.on_epoch_end(Trainer, None)
        seen.append(task.current_max)
    assert seen == [2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 6]
    other = CountingTask(CountingConfig(min_n=2, max_n=6))
    again = CountingCurriculum(other, every=2)
    again.load_state_dict(hook.state_dict())
    assert other.current_max == 6
    assert CountingTask(CountingConfig(curriculum=False)).training_hooks() == []


def _run_config() -> RunConfig:
    task = CountingConfig(language="anbncn", max_n=9, train_length=12)
    model = composed_config(registry.core_entry("lstm"))(hidden_size=8)
    train = TrainConfig(epochs=5, epoch_steps=3, batch_size=4, optimizer="adam", lr=1e-2,
                        progress=False, tensorboard=False)
    return RunConfig("counting", task, "lstm", model, train)


def test_sigint_then_resume_is_bit_identical(tmp_path: Path) -> None:
    cfg = _run_config()
    full = train_run(cfg, tmp_path / "full", task=CountingTask(cfg.task), progress=False)

    def ctrl_c(trainer) -> None:
        if trainer.step == 7:  # inside epoch 3, whose largest n is 4
            os.kill(os.getpid(), signal.SIGINT)

    cut = train_run(cfg, tmp_path / "cut", task=CountingTask(cfg.task), progress=False,
                    callbacks=[ctrl_c])
    assert cut["interrupted"]
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["hooks"] == [{"current": 4}]
    fresh = CountingTask(cfg.task)  # its curriculum starts at 2: resume must restore 4
    resumed = train_run(cfg, tmp_path / "cut", task=fresh, resume=True, progress=False)
    assert resumed["test"] == full["test"]
    a = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    b = load_checkpoint(tmp_path / "cut/checkpoints/last.pt")
    assert a["hooks"] == b["hooks"] == [{"current": 7}]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_lstm_learns_anbn() -> None:
    """Fixed seed, one thread: an LSTM of 16 units, Adam 1e-2, 300 steps of 16 examples on
    a^n b^n with n = 1..8 predicts every predictable symbol for every n of the training range
    (about 2 s); untrained, it fails most of them."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task = CountingTask(CountingConfig(language="anbn", min_n=1, max_n=8, curriculum=False,
                                           train_length=30))
        config = composed_config(registry.core_entry("lstm"))(hidden_size=16)
        model = build_model("lstm", config, task)
        assert evaluate(model, task, "valid", 64)["unsolved"] > 0.5
        train_steps(model, task, torch.optim.Adam(model.parameters(), lr=1e-2), 300,
                    batch_size=16, clip_norm=1.0)
        valid = evaluate(model, task, "valid", 64)
    finally:
        torch.set_num_threads(threads)
    assert valid["unsolved"] == 0.0 and valid["symbol_error"] == 0.0


def test_rounding_cell_differs_from_the_plain_one_only_in_eval_mode() -> None:
    from mneme.bench.suites import get_suite

    cells = {c.key: c for c in get_suite("joulin").build(None)}
    assert len(cells) == 24
    plain, rounded = cells["stack-rnn-anbn"], cells["stack-rnn-rounding-anbn"]
    assert dataclasses.replace(rounded.model, rounding=False) == plain.model
    assert rounded.model.rounding and rounded.train == plain.train
    assert (plain.model.hidden_size, plain.model.num_stacks, plain.model.read_top) == (40, 10, 2)


@pytest.mark.parametrize("fields", [{"language": "anbmcnm", "min_n": 1},
                                    {"min_n": 5, "max_n": 3}, {"language": "anbnbn"},
                                    {"language": "anbmcnm", "test_min": 1}])
def test_bad_configs_are_config_errors(fields) -> None:
    with pytest.raises(ConfigError, match="CountingConfig"):
        CountingConfig(**fields).validate()
