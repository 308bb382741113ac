"""The recipe table: the papers' training recipes, and which row a (task, model) pair gets."""

from __future__ import annotations

import dataclasses

import pytest

from mneme import registry
from mneme.config import TrainConfig
from mneme.models import recipes
from mneme.models.build import model_entry
from mneme.models.recipes import DEFAULT, DEFAULT_SOURCE, RECIPES, Recipe, recipe, recipe_source
from mneme.models.recipes_algorithmic import (
    NTM_PAPER_SIZES,
    NTM_PAPER_TRAINING,
    NTM_SORT_MODEL,
    NTM_WEIGHTING_GRAD_CLIP,
    PAPER_BUDGET_SEQUENCES,
    PAPER_LR,
    PAPER_LSTM_SIZES,
    algorithmic_recipe,
    paper_training,
    sort_training,
)
from mneme.train.session import learning_rate

ALGORITHMIC = ("copy", "repeat-copy", "associative-recall", "priority-sort")


def _config(model_name: str, task_name: str, **values) -> object:
    return model_entry(model_name, task_name).config(**values)


# -- the NTM paper's numbers ---------------------------------------------------------------------
def test_paper_tables():
    # Graves et al. 2014, Table 3: units per layer of the 3-layer LSTM baseline
    assert PAPER_LSTM_SIZES == {"copy": 256, "repeat-copy": 512, "associative-recall": 256,
                                "priority-sort": 128}
    # Tables 1-3: learning rates at batch 1; both NTM controllers alike
    assert PAPER_LR["ntm"] == {"copy": 1e-4, "repeat-copy": 1e-4, "associative-recall": 1e-4,
                               "priority-sort": 3e-5}
    assert PAPER_LR["lstm"] == {"copy": 3e-5, "repeat-copy": 3e-5, "associative-recall": 1e-4,
                                "priority-sort": 3e-5}
    assert set(PAPER_BUDGET_SEQUENCES) == set(ALGORITHMIC)
    # Tables 1-2: where the paper's NTM differs from NTMConfig's defaults
    assert NTM_PAPER_SIZES[("priority-sort", "feedforward")] == {
        "read_heads": 8, "write_heads": 8, "controller_size": 512}
    assert NTM_PAPER_SIZES[("associative-recall", "feedforward")]["controller_size"] == 256


def test_algorithmic_recipe_values():
    # ten times the paper's batch-1 rates (Tables 1-3) at batch 16
    assert algorithmic_recipe("priority-sort", "ntm").lr == pytest.approx(3e-4)
    assert algorithmic_recipe("copy", "ntm").lr == pytest.approx(1e-3)
    assert algorithmic_recipe("copy", "lstm").lr == pytest.approx(3e-4)
    assert algorithmic_recipe("associative-recall", "lstm").lr == pytest.approx(1e-3)
    assert algorithmic_recipe("copy", "lstm").lr == 3e-4  # rounded: config.json stays readable
    assert algorithmic_recipe("unknown-task", "ntm").lr == pytest.approx(1e-3)
    for name in ALGORITHMIC:
        for model in ("ntm", "lstm"):
            train = algorithmic_recipe(name, model)
            assert train.optimizer == "rmsprop" and train.momentum == 0.9
            assert train.clip_value == 10.0 and train.clip_norm is None
            assert train.early_stop == 0.01 and train.lr_schedule == "constant"
            assert (train.batch_size, train.epoch_steps) == (16, 100)
            sequences = train.epoch_steps * train.batch_size * train.epochs
            assert sequences <= PAPER_BUDGET_SEQUENCES[name] <= sequences + 1600
            train.validate()


# -- the table ------------------------------------------------------------------------------------
def test_every_row_names_its_source_and_a_known_task():
    registry.load()
    families = {e.family for e in registry.TASKS.values()}
    for row in RECIPES:
        assert row.source and row.source != DEFAULT_SOURCE
        assert row.task in registry.TASKS or row.task in families or row.task == "*"
        assert row.model in registry.MODELS or row.model in registry.CORES or row.model == "*"
    pairs = [(row.task, row.model) for row in RECIPES]
    assert len(pairs) == len(set(pairs))  # one row per pair: the lookup is unambiguous


@pytest.mark.parametrize(("task", "model"), [("copy", "self-attention"), ("copy", "fast-weights"),
                                             ("copy", "gru"), ("ptb", "lstm"),
                                             ("no-such-task", "lstm")])
def test_a_pair_without_a_row_gets_the_default_recipe(task, model):
    assert recipe_source(task, model) == DEFAULT_SOURCE == "default recipe"
    config = _config(model, "copy", hidden_size=24)
    got, train = recipe(task, model, None, config)
    assert got is config  # the model config is left as it is
    assert train == DEFAULT
    assert (train.optimizer, train.lr, train.clip_norm) == ("adam", 1e-3, 1.0)


def test_most_specific_row_wins():
    # a task-facing model's row beats the task's any-model row
    assert recipe_source("babi", "memn2n").startswith("Sukhbaatar")
    assert recipe_source("babi", "memnn").startswith("Weston et al. 2014")
    assert recipe_source("babi", "lstm").startswith("Weston et al. 2015")
    assert recipe_source("babi", "ntm") == recipe_source("babi", "lstm")
    # the family row (algorithmic) for each of its tasks; the model's own row
    for name in ALGORITHMIC:
        assert recipe_source(name, "ntm").startswith("Graves et al. 2014, section 4.6")
        assert recipe_source(name, "lstm").startswith("Graves et al. 2014, Table 3")
    assert recipe_source("sort", "ptr-net").startswith("Vinyals")
    assert recipe_source("reversal", "seq2seq").startswith("Bahdanau")


def test_lookup_order_task_then_model(monkeypatch):
    """Task name before task family before ``*``; within one, model name before core family
    before ``*``."""

    def row(task: str, model: str) -> Recipe:
        return Recipe(task, model, lambda t, m, tc, mc: (mc, DEFAULT), f"{task}/{model}")

    rows = (row("algorithmic", "lstm"), row("algorithmic", "cell"), row("algorithmic", "*"),
            row("copy", "*"), row("*", "ntm"), row("*", "*"))
    monkeypatch.setattr(recipes, "RECIPES", rows)
    assert recipe_source("copy", "lstm") == "copy/*"  # the task's name outranks the model's
    assert recipe_source("repeat-copy", "lstm") == "algorithmic/lstm"
    assert recipe_source("repeat-copy", "gru") == "algorithmic/cell"  # gru's core family
    assert recipe_source("repeat-copy", "ntm") == "algorithmic/*"
    assert recipe_source("adding", "ntm") == "*/ntm"
    assert recipe_source("adding", "gru") == "*/*"
    # a task-facing model has no core family: "cell" never matches it
    assert recipe_source("repeat-copy", "memn2n") == "algorithmic/*"


def test_algorithmic_lstm_row_is_three_layers_of_the_paper_sizes():
    for name in ALGORITHMIC:
        config, train = recipe(name, "lstm", None, _config("lstm", name))
        assert (config.num_layers, config.hidden_size) == (3, PAPER_LSTM_SIZES[name])
        assert type(config) is model_entry("lstm", name).config
        assert train == algorithmic_recipe(name, "lstm")
        assert config.embedding_dim is None and config.head_size is None  # features, linear


def test_ntm_row_applies_the_paper_sizes_per_controller():
    sort_ff, train = recipe("priority-sort", "ntm", None,
                            _config("ntm", "priority-sort", controller="feedforward"))
    assert (sort_ff.read_heads, sort_ff.write_heads, sort_ff.controller_size) == (8, 8, 512)
    assert sort_ff.controller == "feedforward"
    assert train == algorithmic_recipe("priority-sort", "ntm")
    assert train.lr == pytest.approx(3e-4)
    assert sort_ff.memory_init == "constant"  # the learned memory was measured with the LSTM
    sort_lstm, _ = recipe("priority-sort", "ntm", None, _config("ntm", "priority-sort"))
    assert (sort_lstm.read_heads, sort_lstm.write_heads, sort_lstm.controller_layers) == (5, 5, 2)
    assert sort_lstm.controller_size == 100
    recall_ff, recall_train = recipe("associative-recall", "ntm", None,
                                     _config("ntm", "associative-recall", controller="feedforward"))
    assert (recall_ff.read_heads, recall_ff.controller_size) == (4, 256)
    assert recall_train == paper_training("associative-recall")  # NTM_PAPER_TRAINING
    _, recall_lstm = recipe("associative-recall", "ntm", None,
                            _config("ntm", "associative-recall"))
    assert recall_lstm == paper_training("associative-recall")  # both controllers
    copy = _config("ntm", "copy", memory_size=64)
    got, _ = recipe("copy", "ntm", None, copy)
    assert got == copy  # the copy NTM is NTMConfig's default: nothing to change
    assert got.clip_weighting_grad is None  # the LSTM controller's cells were measured without


def test_paper_training_is_section_4_6_at_batch_1():
    train = paper_training("associative-recall")
    assert (train.batch_size, train.lr, train.optimizer, train.momentum) == (
        1, 1e-4, "rmsprop-graves", 0.9)
    assert (train.clip_value, train.clip_norm, train.early_stop) == (10.0, None, 0.01)
    assert train.epochs * train.epoch_steps == PAPER_BUDGET_SEQUENCES["associative-recall"]
    assert paper_training("priority-sort").lr == PAPER_LR["ntm"]["priority-sort"] == 3e-5
    assert paper_training("copy", "lstm").lr == 3e-5
    assert {("associative-recall", "feedforward"), ("associative-recall", "lstm"),
            ("repeat-copy", "lstm")} == NTM_PAPER_TRAINING
    _, repeat_train = recipe("repeat-copy", "ntm", None, _config("ntm", "repeat-copy"))
    assert repeat_train == paper_training("repeat-copy")  # 500 epochs of 1000 updates
    assert repeat_train.epochs * repeat_train.epoch_steps == 500_000
    _, repeat_ff = recipe("repeat-copy", "ntm", None,
                          _config("ntm", "repeat-copy", controller="feedforward"))
    assert repeat_ff == algorithmic_recipe("repeat-copy", "ntm")  # not measured at batch 1
    _, copy_train = recipe("copy", "ntm", None, _config("ntm", "copy"))
    assert copy_train == algorithmic_recipe("copy", "ntm")  # the other tasks: batch 16
    train.validate()


def test_the_algorithmic_recipes_are_still_importable_from_recipes():
    from mneme.models import recipes_algorithmic

    for name in recipes_algorithmic.__all__:
        assert getattr(recipes, name) is getattr(recipes_algorithmic, name), name


def test_the_lstm_ntm_sorts_with_a_learned_memory_and_an_annealed_rate():
    config, train = recipe("priority-sort", "ntm", None, _config("ntm", "priority-sort"))
    assert config.memory_init == NTM_SORT_MODEL["memory_init"] == "learned"
    assert train == sort_training()
    assert (train.batch_size, train.epoch_steps, train.optimizer, train.momentum) == (
        16, 100, "rmsprop-graves", 0.9)
    assert (train.clip_value, train.early_stop) == (10.0, 0.01)
    # 1e-3 for 200 epochs (320k sequences), then halved every 50 to 6.25e-5 at 640k
    schedule = {"base_lr": train.lr, "phase_start": 0}
    rates = [learning_rate(train, schedule, e) for e in (0, 199, 200, 249, 250, 399)]
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 6.25e-5])
    assert train.epochs * train.epoch_steps * train.batch_size == 640_000
    assert "priority sort" in recipe_source("priority-sort", "ntm")
    train.validate()


def test_feedforward_ntm_clips_the_weighting_gradient():
    for task in ("copy", "associative-recall", "priority-sort"):
        config = _config("ntm", task, controller="feedforward", memory_size=64)
        got, _ = recipe(task, "ntm", None, config)
        assert got.clip_weighting_grad == NTM_WEIGHTING_GRAD_CLIP == 10.0
        assert got.memory_size == 64


def test_retrieval_row_sets_any_cores_width_and_the_papers_classifier():
    for name in ("lstm", "irnn", "fast-weights", "delta-rule", "alstm", "ntm", "hopfield"):
        entry = registry.core_entry(name)
        config, train = recipe("retrieval", name, None, _config(name, "retrieval"))
        # Ba et al. 2016, section 4.1: 100-d embedding, R = 20, a 100-unit ReLU layer
        assert getattr(config, entry.size) == 20
        assert (config.embedding_dim, config.head_size) == (100, 100)
        assert (train.optimizer, train.batch_size, train.lr, train.clip_norm) == (
            "adam", 128, 1e-3, 5.0)
    ntm, _ = recipe("retrieval", "ntm", None, _config("ntm", "retrieval"))
    assert ntm.controller_size == 20 and ntm.memory_size == 128  # the width field only


def test_babi_row_for_any_core_and_the_memn2n_row():
    config, train = recipe("babi", "lstm", None, _config("lstm", "babi"))
    assert (config.hidden_size, config.embedding_dim, config.head_size) == (100, 50, None)
    assert (train.optimizer, train.lr, train.clip_norm) == ("adam", 1e-3, 5.0)
    fw, _ = recipe("babi", "fast-weights", None, _config("fast-weights", "babi"))
    assert (fw.hidden_size, fw.embedding_dim) == (100, 50)
    memn2n_cls = model_entry("memn2n", "babi").config
    config, train = recipe("babi", "memn2n", None, memn2n_cls())
    assert type(config) is memn2n_cls
    assert (train.optimizer, train.clip_norm, train.loss_reduction) == ("sgd", 40.0, "sum")


def test_adding_row_keeps_the_cores_width():
    config = _config("irnn", "adding", hidden_size=32)
    got, train = recipe("adding", "irnn", None, config)
    assert got == config
    assert (train.optimizer, train.lr, train.batch_size, train.clip_norm) == (
        "adam", 1e-3, 50, 1.0)
    assert isinstance(train, TrainConfig) and train.epoch_steps == 250


def test_recipe_sets_only_fields_the_config_has():
    @dataclasses.dataclass(frozen=True)
    class Narrow:
        hidden_size: int = 7

    got = recipes._set(Narrow(), "hidden_size", 20, embedding_dim=100, head_size=100)
    assert got == Narrow(20)
    assert recipes._set(Narrow(), None, 20) == Narrow()
