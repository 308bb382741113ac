"""Any core on any sequence task: ``SequenceModel`` = input adapter + core + head.

What the composition must do (``mneme.models.sequence``, ``mneme.models.build``), and what it
replaced: the NTM paper's networks and LSTM baseline on the algorithmic tasks (``AlignedModel``),
the fast-weights paper's retrieval classifier (``SequenceClassifier``), the adding regressor and
the bAbI LSTM baseline (``LSTMQA``), each now ``--model CORE`` composed with the task.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from tests.babi_fake import write_fake_babi
from tests.learning import train_steps
from torch import Tensor, nn

from mneme import registry
from mneme.cli import main
from mneme.config import TrainConfig
from mneme.errors import UserError
from mneme.memory.memn2n import MemN2N
from mneme.models.build import build_model, is_composed, model_entry, model_names
from mneme.models.recipes import PAPER_LSTM_SIZES, recipe
from mneme.models.sequence import (
    DEFAULT_EMBEDDING_DIM,
    SequenceModel,
    compose,
    composed_config,
    core_config,
)
from mneme.tasks.adding import AddingConfig, AddingTask
from mneme.tasks.algorithmic import CopyConfig, CopyTask, PrioritySortConfig, PrioritySortTask
from mneme.tasks.babi_sequence import story_tokens
from mneme.tasks.retrieval import RetrievalConfig, build_retrieval_task
from mneme.train.checkpoint import atomic_write_text, save_checkpoint
from mneme.train.loop import evaluate
from mneme.train.run import RunConfig, load_run, train_run
from mneme.types import TaskInfo

registry.load()
CORES = sorted(registry.CORES)
SMALL = RetrievalConfig(train_size=256, valid_size=64, test_size=64)


def small(name: str, **values) -> object:
    """A small composed config of core ``name`` (width 8)."""
    entry = registry.core_entry(name)
    sizes: dict[str, object] = {entry.size: 8}
    if name == "ntm":
        sizes.update(memory_size=6, word_size=4)
    if name == "self-attention":
        sizes.update(num_heads=2, num_layers=1)
    return composed_config(entry)(**{**sizes, **values})


def info(inputs: str = "tokens", readout: str = "last_step", outputs: str = "classes", *,
         input_size: int = 11, output_size: int = 7, **extra) -> TaskInfo:
    if inputs == "structured":
        extra.setdefault("to_sequence", story_tokens)
    return TaskInfo(kind="generated", inputs=inputs, input_size=input_size, outputs=outputs,
                    output_size=output_size, readout=readout, metric="error", unit="%",
                    selection_metric="error", **extra)


def stories(batch: int, slots: int, width: int, vocab: int, seed: int = 0) -> dict[str, Tensor]:
    """bAbI-shaped inputs with nil words and empty slots, so lengths differ."""
    g = torch.Generator().manual_seed(seed)
    story = torch.randint(1, vocab, (batch, slots, width), generator=g)
    story = story * (torch.rand(batch, slots, width, generator=g) < 0.6)
    query = torch.randint(1, vocab, (batch, width), generator=g)
    return {"story": story, "query": query}


def babi_model(name: str = "lstm", vocab: int = 15, **values) -> SequenceModel:
    torch.manual_seed(0)
    config = small(name, **{"embedding_dim": 6, "hidden_size": 9, **values}) \
        if name == "lstm" else small(name, **values)
    return compose(registry.core_entry(name), config,
                   info("structured", input_size=vocab, output_size=vocab)).eval()


# -- the composition, on a stand-in core ----------------------------------------------------------
@dataclass(frozen=True)
class FakeState:
    log_prob: Tensor | None


class FakeCore(nn.Module):
    """y = x W (B, T, 5); the state carries a log-probability; the trace holds the inputs."""

    output_size = 5

    def __init__(self, d: int, stochastic: bool | None) -> None:
        super().__init__()
        self.proj = nn.Linear(d, 5)
        if stochastic is not None:
            self.stochastic = stochastic

    def forward(self, x: Tensor, state: object = None, *, trace: bool = False):
        y = self.proj(x)
        new = FakeState(y.sum((1, 2)))
        return (y, new, {"seen": x}) if trace else (y, new)


def test_every_step_head_log_prob_baseline_and_trace():
    x = torch.randn(3, 7, 4)
    model = SequenceModel(FakeCore(4, stochastic=True), info("features", "every_step", "bits",
                                                             input_size=4, output_size=2))
    out = model(x)
    assert out.logits.shape == (3, 7, 2)
    assert torch.allclose(out.logits, model.head(model.core.proj(x)))
    assert out.log_prob is not None and out.log_prob.shape == (3,)
    assert torch.allclose(out.log_prob, model.core.proj(x).sum((1, 2)))
    expected = model.baseline(model.core.proj(x).mean(1)).squeeze(-1)
    assert out.baseline.shape == (3,) and torch.allclose(out.baseline, expected)
    assert out.trace is None and isinstance(out.state, FakeState)
    # the baseline reads a detached core output: its loss trains only its own layer
    out.baseline.sum().backward()
    assert model.core.proj.weight.grad is None and model.baseline.weight.grad is not None
    traced = model(x, trace=True)
    assert traced.trace["seen"] is x and torch.allclose(traced.logits, out.logits)


@pytest.mark.parametrize("stochastic", [False, None])
def test_a_deterministic_core_gets_no_policy_and_no_baseline(stochastic):
    # a soft core's state may carry a (zero) log-probability: it is no policy to reinforce
    model = SequenceModel(FakeCore(4, stochastic), info("features", "every_step", "bits",
                                                        input_size=4, output_size=2))
    out = model(torch.randn(3, 7, 4))
    assert not model.stochastic and model.baseline is None
    assert out.log_prob is None and out.baseline is None


def test_state_is_returned_and_a_split_sequence_resumes():
    """Stream tasks carry the core's state across batches (truncated BPTT)."""
    model = compose(registry.core_entry("lstm"), small("lstm"), info("tokens", "every_step"))
    x = torch.randint(0, 11, (2, 9))
    whole = model(x)
    first = model(x[:, :4])
    second = model(x[:, 4:], first.state)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), whole.logits)
    torch.testing.assert_close(second.state.hidden, whole.state.hidden)


# -- shapes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("outputs", ["classes", "bits", "real"])
@pytest.mark.parametrize("readout", ["every_step", "last_step"])
@pytest.mark.parametrize("inputs", ["features", "tokens", "structured"])
def test_shapes_for_every_input_and_readout_kind(inputs, readout, outputs):
    task = info(inputs, readout, outputs)
    model = compose(registry.core_entry("lstm"), small("lstm"), task)
    if inputs == "features":
        x, steps = torch.randn(3, 5, 11), 5
    elif inputs == "tokens":
        x, steps = torch.randint(0, 11, (3, 5)), 5
    else:
        x = stories(3, 4, 3, 11)
        steps = int(story_tokens(x)[1].max())
    out = model(x)
    assert out.logits.shape == ((3, steps, 7) if readout == "every_step" else (3, 7))
    out.logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", CORES)
def test_every_core_builds_and_classifies_retrieval(name):
    task = build_retrieval_task(SMALL)
    entry = model_entry(name, "retrieval")
    model = build_model(name, small(name, embedding_dim=12, head_size=10), task)
    assert isinstance(model, SequenceModel) and type(small(name)) is entry.config
    batch = next(task.eval_batches("valid", 16))
    out = model(batch.inputs)
    assert out.logits.shape == (16, 37)
    task.loss(out, batch).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", CORES)
def test_every_core_reads_an_algorithmic_task_step_by_step(name):
    task = CopyTask(CopyConfig(max_length=4))
    model = build_model(name, small(name), task)
    batch = task.sample(3, torch.Generator().manual_seed(0))
    out = model(batch.inputs)
    assert out.logits.shape == batch.targets.shape
    assert torch.isfinite(task.loss(out, batch))


# -- the last-step readout ------------------------------------------------------------------------
@pytest.mark.parametrize("name", CORES)
def test_last_step_reads_each_sequences_real_last_step(name):
    """Reading the padded batch at each sequence's last real step equals running the core on
    that sequence alone, unpadded: the padding after it is never read."""
    model = babi_model(name)
    inputs = stories(4, 5, 3, 15, seed=3)
    tokens, lengths = story_tokens(inputs)
    assert len(set(lengths.tolist())) > 1  # the test needs sequences of several lengths
    with torch.no_grad():
        logits = model(inputs).logits
        for i, n in enumerate(lengths.tolist()):
            y, _ = model.core(model.embedding(tokens[i : i + 1, :n]))[:2]
            torch.testing.assert_close(logits[i : i + 1], model.head(y[:, -1]),
                                       rtol=1e-5, atol=1e-5)


def test_tokens_without_lengths_read_the_last_step():
    model = compose(registry.core_entry("gru"), small("gru", embedding_dim=5),
                    info("tokens", "last_step"))
    x = torch.randint(0, 11, (3, 6))
    y, _ = model.core(model.embedding(x))
    torch.testing.assert_close(model(x).logits, model.head(y[:, -1]))


# -- input adapters -------------------------------------------------------------------------------
def test_features_go_to_the_core_as_they_are():
    model = compose(registry.core_entry("lstm"), small("lstm", embedding_dim=50),
                    info("features", "every_step", "bits", input_size=9, output_size=8))
    assert model.embedding is None  # embedding_dim is ignored for features
    assert model.core.input_size == 9
    x = torch.randn(2, 4, 9)
    torch.testing.assert_close(model(x).logits, model.head(model.core(x)[0]))


def test_tokens_are_embedded():
    model = compose(registry.core_entry("irnn"), small("irnn", embedding_dim=13),
                    info("tokens", "every_step", input_size=11))
    assert isinstance(model.embedding, nn.Embedding)
    assert (model.embedding.num_embeddings, model.embedding.embedding_dim) == (11, 13)
    assert model.core.input_size == 13
    x = torch.randint(0, 11, (2, 4))
    torch.testing.assert_close(model(x).logits, model.head(model.core(model.embedding(x))[0]))
    default = compose(registry.core_entry("irnn"), small("irnn"), info("tokens"))
    assert default.embedding.embedding_dim == DEFAULT_EMBEDDING_DIM == 64
    assert default.core.input_size == DEFAULT_EMBEDDING_DIM


def test_structured_inputs_read_their_token_view():
    model = babi_model("gru", embedding_dim=6)
    assert model.embedding.num_embeddings == 15 and model.core.input_size == 6
    inputs = stories(3, 4, 3, 15, seed=1)
    tokens, lengths = story_tokens(inputs)
    y, _ = model.core(model.embedding(tokens))
    expected = model.head(y[torch.arange(3), lengths - 1])
    torch.testing.assert_close(model(inputs).logits, expected)
    # structured inputs without a token view cannot be composed
    no_view = dataclasses.replace(info("structured"), to_sequence=None)
    assert not no_view.composable
    with pytest.raises(UserError, match="sequence view"):
        compose(registry.core_entry("gru"), small("gru"), no_view)


# -- the head --------------------------------------------------------------------------------------
def test_head_size_adds_a_relu_layer():
    core = registry.core_entry("lstm")
    linear = compose(core, small("lstm"), info())
    assert isinstance(linear.head, nn.Linear)
    assert (linear.head.in_features, linear.head.out_features) == (8, 7)
    relu = compose(core, small("lstm", head_size=10), info())
    assert [type(m) for m in relu.head] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (relu.head[0].in_features, relu.head[0].out_features) == (8, 10)
    assert (relu.head[2].in_features, relu.head[2].out_features) == (10, 7)


@pytest.mark.parametrize("head_size", [None, 10])
def test_output_bias_is_the_declared_target_mean_for_real_outputs(head_size):
    core = registry.core_entry("rnn")
    config = small("rnn", head_size=head_size)

    def last(model: SequenceModel) -> nn.Linear:
        return model.head[-1] if isinstance(model.head, nn.Sequential) else model.head

    real = compose(core, config, info("features", outputs="real", output_size=1,
                                      output_bias=1.0))
    assert torch.equal(last(real).bias, torch.ones(1))
    # classes and bits ignore a declared mean: their head keeps PyTorch's initialisation
    for outputs in ("classes", "bits"):
        other = compose(core, config, info("features", outputs=outputs, output_bias=3.0))
        bias = last(other).bias
        assert not torch.equal(bias, torch.full_like(bias, 3.0)) and bias.abs().sum() > 0


def test_a_seed_gives_the_weights_of_the_01_models():
    """``compose`` builds embedding, core, head in the order of 0.1's ``SequenceClassifier``
    (and core, head of its ``AlignedModel``), so 0.1 runs are reproduced bit for bit."""
    from mneme.associative.fast_weights import FastWeightRNN
    from mneme.tasks.retrieval import RetrievalConfig, build_retrieval_task

    task = build_retrieval_task(RetrievalConfig(stream=True, valid_size=2, test_size=2))
    config = model_entry("fast-weights", "retrieval").config(hidden_size=20, embedding_dim=100,
                                                             head_size=100)
    torch.manual_seed(0)
    new = build_model("fast-weights", config, task).state_dict()
    torch.manual_seed(0)
    old = nn.ModuleDict({
        "embedding": nn.Embedding(37, 100), "core": FastWeightRNN(100, 20),
        "head": nn.Sequential(nn.Linear(20, 100), nn.ReLU(), nn.Linear(100, 37))}).state_dict()
    assert list(new) == list(old)  # the same order: clipping sums the gradient norms in it
    assert all(torch.equal(new[k], old[k]) for k in new)


def test_adding_regressor_starts_at_the_mean():
    """The adding problem (Le et al. 2015): features -> core -> linear on the last step, the
    bias at the target mean 1, so training starts at the predict-1 baseline."""
    task = AddingTask(AddingConfig(seq_len=8, valid_size=16, test_size=16))
    assert task.info.output_bias == 1.0 and task.info.readout == "last_step"
    model = build_model("lstm", model_entry("lstm", "adding").config(hidden_size=8), task)
    assert model.embedding is None and isinstance(model.head, nn.Linear)
    assert torch.equal(model.head.bias, torch.ones(1))
    with torch.no_grad():
        model.head.weight.zero_()
    batch = next(task.eval_batches("valid", 16))
    out = model(batch.inputs)
    assert out.logits.shape == (16, 1)
    torch.testing.assert_close(out.logits, torch.ones(16, 1))
    assert torch.isfinite(task.loss(out, batch))


# -- a stochastic core: the NTM's hard reads ------------------------------------------------------
def test_stochastic_ntm_gets_a_baseline_and_a_log_prob():
    task = CopyTask(CopyConfig(max_length=4))
    hard = build_model("ntm", small("ntm", addressing="hard"), task)
    assert hard.stochastic and isinstance(hard.baseline, nn.Linear)
    assert (hard.baseline.in_features, hard.baseline.out_features) == (hard.core.output_size, 1)
    batch = task.sample(3, torch.Generator().manual_seed(0))
    hard.eval()  # greedy reads: the same choices on every run
    out = hard(batch.inputs)
    y, state = hard.core(batch.inputs)
    torch.testing.assert_close(out.log_prob, state.log_prob)
    torch.testing.assert_close(out.baseline, hard.baseline(y.mean(1)).squeeze(-1))
    hard.train()
    out = hard(batch.inputs)
    assert out.log_prob.shape == out.baseline.shape == (3,)
    task.loss(out, batch).backward()
    assert hard.baseline.weight.grad is not None and hard.core.head.weight.grad is not None
    soft = build_model("ntm", small("ntm"), task)
    out = soft(batch.inputs)
    assert not soft.stochastic and soft.baseline is None
    assert out.log_prob is None and out.baseline is None
    assert "baseline.weight" in hard.state_dict() and "baseline.weight" not in soft.state_dict()


# -- composed configs ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CORES)
def test_composed_config_is_the_cores_fields_plus_embedding_dim_and_head_size(name):
    entry = registry.core_entry(name)
    cls = composed_config(entry)
    assert composed_config(entry) is cls  # one class per core
    assert issubclass(cls, entry.config) and cls.__name__.endswith("ModelConfig")
    core_fields = [f.name for f in dataclasses.fields(entry.config)]
    assert [f.name for f in dataclasses.fields(cls)] == [*core_fields, "embedding_dim",
                                                         "head_size"]
    config = cls()
    assert config.embedding_dim is None and config.head_size is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.head_size = 3  # type: ignore[misc]
    # every task gets the same class for the core: lstm is one thing everywhere
    for task_name in ("retrieval", "copy", "adding", "babi", "ptb"):
        assert model_entry(name, task_name).config is cls
    # the core's own config drops the two composition fields
    composed = small(name, embedding_dim=5, head_size=6)
    own = core_config(entry, composed)
    assert type(own) is entry.config
    assert dataclasses.asdict(own) == {k: v for k, v in dataclasses.asdict(composed).items()
                                       if k in core_fields}
    # config.json round trip
    again = registry.config_from_dict(cls, registry.to_dict(composed), "test")
    assert again == composed


def test_compose_rejects_bad_composition_sizes():
    core = registry.core_entry("lstm")
    with pytest.raises(UserError, match=r"^LSTMCoreModelConfig\.embedding_dim must be >= 1 "
                                        r"\(got 0\)$"):
        compose(core, small("lstm", embedding_dim=0), info())
    with pytest.raises(UserError, match=r"^LSTMCoreModelConfig\.head_size must be >= 1 "
                                        r"\(got -2\)$"):
        compose(core, small("lstm", head_size=-2), info())
    with pytest.raises(UserError, match=r"^LSTMCoreModelConfig\.variant must be one of "):
        compose(core, small("lstm", variant="gated"), info())
    with pytest.raises(UserError, match=r"^AssociativeLSTMModelConfig\.hidden_size must be even "
                                        r"\(got 7\)$"):
        compose(registry.core_entry("alstm"), small("alstm", hidden_size=7), info())


@pytest.mark.parametrize(
    ("field", "value"),
    [("embedding_dim", 0), ("hidden_size", 0), ("num_layers", 0), ("dropout", 1.0)],
)
def test_bad_field_is_a_user_error_naming_it(field, value):
    """The bAbI LSTM's fields (LSTMQAConfig's) on the composed LSTM config."""
    config = dataclasses.replace(model_entry("lstm", "babi").config(), **{field: value})
    with pytest.raises(UserError, match=field):
        compose(registry.core_entry("lstm"), config, info("structured"))


def test_classifier_rejects_bad_sizes():
    task = build_retrieval_task(SMALL)
    with pytest.raises(UserError, match="hidden_size"):
        build_model("alstm", model_entry("alstm", "retrieval").config(hidden_size=7), task)
    with pytest.raises(UserError, match="head_size"):
        build_model("lstm", model_entry("lstm", "retrieval").config(head_size=0), task)


# -- model_entry and build_model -------------------------------------------------------------------
def test_lstm_is_one_core_on_every_task():
    lstm = registry.core_entry("lstm")
    for task_name in (None, "retrieval", "babi", "copy", "adding"):
        entry = model_entry("lstm", task_name)
        assert entry.config is composed_config(lstm)
        assert (entry.name, entry.kind, entry.family, entry.size) == ("lstm", "model", "cell",
                                                                       "hidden_size")
    assert is_composed("lstm") and is_composed("ntm") and not is_composed("memn2n")
    names = model_names("babi")
    assert names[:2] == ["memn2n", "memnn"] and set(names[2:]) == set(CORES)
    assert "memn2n" not in model_names("retrieval")


def test_unknown_model_name_lists_models_and_cores():
    for task_name in (None, "copy"):
        with pytest.raises(UserError, match="unknown model 'nope'") as caught:
            model_entry("nope", task_name)
        assert "task-facing models: memn2n" in str(caught.value)
        assert "cores: alstm, delta-rule" in str(caught.value)
    with pytest.raises(UserError, match="unknown model"):
        build_model("nope", None, CopyTask(CopyConfig()))
    # the delta-rule core's old model name is gone (old run directories map it: see below)
    with pytest.raises(UserError, match="unknown model 'delta-fw'"):
        model_entry("delta-fw", "retrieval")


def test_task_facing_model_on_the_wrong_task():
    with pytest.raises(UserError, match="built for task\\(s\\) babi, not 'retrieval'") as caught:
        model_entry("memn2n", "retrieval")
    assert "models for retrieval: " in str(caught.value) and "lstm" in str(caught.value)
    with pytest.raises(UserError, match="built for task\\(s\\) pointer"):
        model_entry("ptr-net", "copy")
    with pytest.raises(UserError, match="built for task\\(s\\) lm"):
        model_entry("rnn-lm", "adding")
    with pytest.raises(UserError, match="built for task"):
        build_model("memn2n", model_entry("memn2n").config(), build_retrieval_task(SMALL))


def _no_view_task(name: str) -> object:
    if name == "translation":
        from mneme.tasks.translation import TranslationConfig, TranslationTask

        pairs = [(f"I am number {i}.", f"Je suis le numéro {i}.") for i in range(20)]
        return TranslationTask(TranslationConfig(), pairs=pairs)
    entry = registry.task_entry(name)
    return entry.build(entry.config())


@pytest.mark.parametrize("task_name", ["translation", "sort"])
def test_a_core_on_a_task_without_a_sequence_view(task_name):
    task = _no_view_task(task_name)
    assert not task.info.composable
    config = model_entry("lstm", task_name).config(hidden_size=8)  # the name is known
    with pytest.raises(UserError, match="declares no sequence view"):
        build_model("lstm", config, task)
    with pytest.raises(UserError, match="declares no sequence view"):
        model_entry("lstm", task_name).build(config, task)
    with pytest.raises(UserError, match="sequence view"):
        compose(registry.core_entry("lstm"), config, task.info)
    with pytest.raises(UserError, match="sequence view"):
        SequenceModel(FakeCore(4, False), task.info)


@dataclass(frozen=True)
class Sizes:
    vocab_size: int
    sentence_size: int
    memory_size: int


def test_registry_builds_both_qa_models():
    """On bAbI, ``memn2n`` is the task-facing model; ``lstm`` is the core composed with the
    task's story-then-question token view (Weston et al. 2015's LSTM baseline)."""
    spec = Sizes(vocab_size=12, sentence_size=4, memory_size=6)
    task = SimpleNamespace(name="babi", spec=spec,
                           info=info("structured", input_size=12, output_size=12))
    story = torch.randint(1, 12, (2, 6, 4))
    for name, cls in (("memn2n", MemN2N), ("lstm", SequenceModel)):
        model = build_model(name, model_entry(name, "babi").config(), task)
        assert isinstance(model, cls)
        assert model({"story": story, "query": story[:, 0]}).logits.shape == (2, 12)


# -- old run directories still load ------------------------------------------------------------
CLASSIFIER_COMMON = {"embedding.weight": (37, 100), "head.0.weight": (100, 20),
                     "head.0.bias": (100,), "head.2.weight": (37, 100), "head.2.bias": (37,)}
OLD_CLASSIFIER_CORES = {
    # SequenceClassifier's core.* keys and shapes (Ba et al.'s sizes: E 100, R 20, head 100)
    "lstm": {"core.lstm.weight_ih_l0": (80, 100), "core.lstm.weight_hh_l0": (80, 20),
             "core.lstm.bias_ih_l0": (80,), "core.lstm.bias_hh_l0": (80,)},
    "irnn": {"core.rnn.weight_ih_l0": (20, 100), "core.rnn.weight_hh_l0": (20, 20),
             "core.rnn.bias_ih_l0": (20,), "core.rnn.bias_hh_l0": (20,)},
    "fast-weights": {"core.recurrent_weight": (20, 20), "core.input_weight.weight": (20, 100),
                     "core.input_weight.bias": (20,), "core.norm.weight": (20,),
                     "core.norm.bias": (20,)},
    "delta-rule": {"core.input_weight.weight": (61, 100), "core.input_weight.bias": (61,),
                   "core.recurrent_weight.weight": (61, 20), "core.norm.weight": (20,),
                   "core.norm.bias": (20,)},
    "alstm": {"core.permutation": (4, 20), "core.input_weight.weight": (90, 100),
              "core.input_weight.bias": (90,), "core.recurrent_weight.weight": (90, 20)},
}


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _old_checkpoint(model: nn.Module, shapes: dict[str, tuple[int, ...]]) -> dict[str, Tensor]:
    """A state dict with the old keys and shapes: random floats; integer buffers (the A-LSTM's
    fixed permutations) a copy of the model's own, reversed."""
    g = torch.Generator().manual_seed(0)
    own = model.state_dict()
    return {k: torch.randn(shape, generator=g) if own[k].is_floating_point()
            else own[k].flip(-1).clone() for k, shape in shapes.items()}


@pytest.mark.parametrize("name", sorted(OLD_CLASSIFIER_CORES))
def test_retrieval_classifier_keeps_the_old_classifiers_state_dict(name):
    """``embedding.*``, ``core.*``, ``head.0/head.2``: SequenceClassifier's names and shapes."""
    task = build_retrieval_task(SMALL)
    config, _ = recipe("retrieval", name, SMALL, model_entry(name, "retrieval").config())
    model = build_model(name, config, task)
    old = {**CLASSIFIER_COMMON, **OLD_CLASSIFIER_CORES[name]}
    assert _shapes(model) == old
    saved = _old_checkpoint(model, old)
    model.load_state_dict(saved)  # strict
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())


def test_algorithmic_lstm_and_adding_regressor_keep_their_state_dicts():
    copy = build_model("lstm", model_entry("lstm", "copy").config(hidden_size=8, num_layers=2),
                       CopyTask(CopyConfig()))
    layer = {"weight_ih_l{}": (32, 8), "weight_hh_l{}": (32, 8), "bias_ih_l{}": (32,),
             "bias_hh_l{}": (32,)}
    aligned = {f"core.lstm.{k.format(i)}": s for i in (0, 1) for k, s in layer.items()}
    aligned["core.lstm.weight_ih_l0"] = (32, 9)
    assert _shapes(copy) == {**aligned, "head.weight": (8, 8), "head.bias": (8,)}
    adding = build_model("lstm", model_entry("lstm", "adding").config(hidden_size=8),
                         AddingTask(AddingConfig()))
    assert _shapes(adding) == {"core.lstm.weight_ih_l0": (32, 2), "core.lstm.weight_hh_l0": (32, 8),
                               "core.lstm.bias_ih_l0": (32,), "core.lstm.bias_hh_l0": (32,),
                               "head.weight": (1, 8), "head.bias": (1,)}


def test_an_old_delta_fw_retrieval_run_directory_loads(tmp_path: Path):
    """A run directory written before composition: model ``delta-fw`` with
    DeltaClassifierConfig's fields, a checkpoint with SequenceClassifier's keys."""
    run = tmp_path / "old"
    task_cfg = RetrievalConfig(train_size=32, valid_size=16, test_size=16)
    old_model = {"embedding_dim": 100, "hidden_size": 20, "head_size": 100, "layer_norm": True}
    config = {"mneme_version": "0.1.0",
              "task": {"name": "retrieval", "config": registry.to_dict(task_cfg)},
              "model": {"name": "delta-fw", "config": old_model},
              "train": registry.to_dict(TrainConfig())}
    atomic_write_text(run / "config.json", json.dumps(config))
    old = {**CLASSIFIER_COMMON, **OLD_CLASSIFIER_CORES["delta-rule"]}
    g = torch.Generator().manual_seed(0)
    saved = {k: torch.randn(shape, generator=g) for k, shape in old.items()}
    save_checkpoint(run / "checkpoints" / "best.pt", {"model": saved})
    loaded, task, model = load_run(run)
    assert loaded.model_name == "delta-rule"
    assert type(loaded.model) is model_entry("delta-rule", "retrieval").config
    assert dataclasses.asdict(loaded.model) == old_model
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    batch = next(task.eval_batches("test", 4))
    assert model(batch.inputs).logits.shape == (4, 37)


# -- the NTM paper's LSTM baseline (was AlignedModel + AlgorithmicLSTMConfig) ---------------------
def test_composed_lstm_on_the_copy_task():
    task = CopyTask(CopyConfig())
    model = build_model("lstm", model_entry("lstm", "copy").config(hidden_size=8, num_layers=2),
                        task)
    batch = task.sample(4, torch.Generator().manual_seed(0))
    out = model(batch.inputs)
    assert out.logits.shape == batch.targets.shape and out.trace is None
    assert out.log_prob is None and out.baseline is None
    traced = model(batch.inputs, trace=True)  # the core's gates, same logits
    assert traced.trace is not None and torch.allclose(traced.logits, out.logits, atol=1e-5)
    # causal: a step's output does not depend on later inputs (padding cannot leak backwards)
    changed = batch.inputs.clone()
    changed[:, -1] += 1.0
    assert torch.allclose(model(changed).logits[:, :-1], out.logits[:, :-1])


def test_paper_sizes_and_parameter_counts():
    task = CopyTask(CopyConfig())
    config, _ = recipe("copy", "lstm", task.config, model_entry("lstm", "copy").config())
    copy = build_model("lstm", config, task)
    core = copy.core
    assert (core.hidden_size, core.num_layers, core.input_size) == (256, 3, 9)
    # Table 3 lists 1,352,969 parameters for copy; ours lacks the paper's learned initial state
    # and its output connections from every layer, so it is within 2% below
    n = sum(p.numel() for p in copy.parameters())
    assert 0.98 * 1_352_969 < n < 1_352_969
    sort_task = PrioritySortTask(PrioritySortConfig())
    config, _ = recipe("priority-sort", "lstm", sort_task.config,
                       model_entry("lstm", "priority-sort").config())
    sort = build_model("lstm", config, sort_task)
    assert sort.core.hidden_size == PAPER_LSTM_SIZES["priority-sort"] == 128
    with pytest.raises(UserError, match="hidden_size"):
        model_entry("lstm", "copy").config(hidden_size=0).validate()


@pytest.mark.parametrize("name", ["copy", "repeat-copy", "associative-recall", "priority-sort"])
def test_every_algorithmic_task_composes_with_the_lstm(name):
    entry = registry.task_entry(name)
    task = entry.build(entry.config())
    model = build_model("lstm", model_entry("lstm", name).config(hidden_size=4), task)
    batch = task.sample(2, torch.Generator().manual_seed(0))
    assert model(batch.inputs).logits.shape == batch.targets.shape
    assert model.embedding is None and model.core.input_size == task.info.input_size


def test_lstm_learns_copy_of_short_sequences():
    torch.manual_seed(0)
    task = CopyTask(CopyConfig(min_length=1, max_length=3, test_lengths=(), valid_size=200))
    model = build_model("lstm", model_entry("lstm", "copy").config(hidden_size=64), task)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3, momentum=0.9)
    before = evaluate(model, task, "valid", 200)
    train_steps(model, task, optimizer, 250)
    after = evaluate(model, task, "valid", 200)
    # chance is 8 bits per sequence (16 bits on average, half guessed right)
    assert before["bits"] > 6.0
    assert after["bits"] < 2.0 and after["cost"] < 6.0


def test_cli_trains_and_evaluates_copy_with_the_lstm(tmp_path: Path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--task", "copy", "--model", "lstm", "--model.hidden-size", "8",
                 "--task.max-length", "3", "--task.test-lengths", "2", "6",
                 "--task.valid-size", "20", "--task.test-size", "10",
                 "--task.generalisation-size", "4", "--train.epochs", "1",
                 "--train.epoch-steps", "3", "--train.no-progress", "--train.no-tensorboard",
                 "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["optimizer"] == "rmsprop" and config["train"]["clip_value"] == 10.0
    assert config["model"]["config"]["num_layers"] == 3  # the recipe's
    assert config["model"]["config"]["hidden_size"] == 8  # the flag's
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert record["step"] == 3 and "valid_bits" in record and "valid_cost" in record
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["n_len6"] == 4 and "bits_len6" in summary["test"]
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_bits_len2"] == pytest.approx(summary["test"]["bits_len2"])
    assert result["test_count"] == 10


def test_irnn_learns_a_short_adding_problem():
    """Le et al. 2015's IRNN, composed with the adding problem at T = 10: far below the
    predict-the-mean baseline (MSE 1/6) within a few hundred steps."""
    torch.manual_seed(0)
    task = AddingTask(AddingConfig(seq_len=10, valid_size=500, test_size=500))
    model = build_model("irnn", model_entry("irnn", "adding").config(hidden_size=32), task)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    train_steps(model, task, optimizer, 400, clip_norm=1.0)
    after = evaluate(model, task, "valid", 500)
    assert after["mse"] < 0.1 / 6, after


# -- the fast-weights paper's retrieval classifier (was SequenceClassifier) -----------------------
def test_fast_weights_trace_through_the_classifier():
    task = build_retrieval_task(SMALL)
    model = build_model("fast-weights", model_entry("fast-weights").config(hidden_size=8), task)
    batch = next(task.eval_batches("valid", 4))
    out = model(batch.inputs, trace=True)
    assert out.trace.attention.shape == (4, 11, 11)
    assert model(batch.inputs).trace is None


def test_fast_weights_learn_two_pair_retrieval(tmp_path: Path):
    """K = 2 retrieval learned in a CI budget: 1,500 steps of 64 fresh sequences."""
    torch.manual_seed(0)
    task_cfg = RetrievalConfig(num_pairs=2, stream=True, valid_size=1000, test_size=2000)
    model_cfg, _ = recipe("retrieval", "fast-weights", task_cfg,
                          model_entry("fast-weights", "retrieval").config())
    assert (model_cfg.hidden_size, model_cfg.embedding_dim, model_cfg.head_size) == (20, 100, 100)
    config = RunConfig(
        "retrieval", task_cfg, "fast-weights", model_cfg,
        TrainConfig(seed=0, epochs=6, epoch_steps=250, batch_size=64, optimizer="adam", lr=3e-3,
                    lr_schedule="constant", clip_norm=5.0, progress=False, tensorboard=False,
                    eval_batch_size=1000),
    )
    summary = train_run(config, tmp_path / "run", progress=False)
    # chance is 1 - 1/2 when the model knows the answer is one of the two values, 0.9 otherwise
    assert summary["test"]["error"] < 0.10, summary["test"]


def test_cli_trains_plots_and_evaluates_a_retrieval_run(tmp_path: Path, capsys):
    run = tmp_path / "fw"
    code = main(["train", "--task", "retrieval", "--model", "fast-weights",
                 "--task.train-size", "512", "--task.valid-size", "128", "--task.test-size",
                 "128", "--model.hidden-size", "8", "--model.embedding-dim", "12",
                 "--train.epochs", "1", "--out", str(run),
                 "--train.no-tensorboard", "--train.no-progress"])
    assert code == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["batch_size"] == 128 and saved["train"]["optimizer"] == "adam"
    model = saved["model"]["config"]
    assert (model["hidden_size"], model["embedding_dim"], model["head_size"]) == (8, 12, 100)
    assert main(["plot", str(run)]) == 0
    assert (run / "plots" / "curves.png").is_file()
    assert (run / "plots" / "fast-weights-0.png").is_file()
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["test_error"] <= 1.0


def test_model_for_another_task_is_a_user_error(capsys):
    assert main(["train", "--task", "retrieval", "--model", "memn2n"]) == 2
    err = capsys.readouterr().err
    assert "built for task(s) babi" in err and "models for retrieval: " in err
    assert "Traceback" not in err
    assert main(["train", "--task", "sort", "--model", "lstm", "--train.no-progress",
                 "--train.no-tensorboard"]) == 2
    err = capsys.readouterr().err
    assert "declares no sequence view" in err and "Traceback" not in err


# -- bAbI's LSTM baseline (was LSTMQA): the core on the story-then-question view ------------------
def test_babi_shapes_and_trace():
    model = build_model("lstm", model_entry("lstm", "babi").config(),
                        SimpleNamespace(name="babi", info=info("structured", input_size=21,
                                                               output_size=21)))
    story = torch.randint(1, 21, (3, 5, 4))
    query = torch.randint(1, 21, (3, 4))
    out = model({"story": story, "query": query}, trace=True)
    assert out.logits.shape == (3, 21)
    assert out.trace is not None  # the core's trace (its gates) over the 24 words
    assert model({"story": story, "query": query}).trace is None


def test_padding_slots_words_and_empty_slots_are_ignored():
    model = babi_model(num_layers=2)
    story = torch.tensor([[[1, 2, 0], [3, 0, 0]]])
    query = torch.tensor([[4, 5, 0]])
    base = model({"story": story, "query": query}).logits
    # The same example with more empty slots (one between its sentences) and wider rows.
    padded = torch.zeros(1, 5, 6, dtype=torch.long)
    padded[0, 0, :2] = torch.tensor([1, 2])
    padded[0, 2, :1] = torch.tensor([3])
    wide_query = torch.tensor([[4, 5, 0, 0, 0, 0]])
    again = model({"story": padded, "query": wide_query}).logits
    torch.testing.assert_close(again, base, rtol=1e-5, atol=1e-6)
    # The order matters: the model does read the sequence.
    swapped = torch.tensor([[[3, 0, 0], [1, 2, 0]]])
    assert not torch.allclose(model({"story": swapped, "query": query}).logits, base)


def test_result_does_not_depend_on_batch_composition():
    model = babi_model()
    gen = torch.Generator().manual_seed(1)
    short_story = torch.randint(1, 15, (1, 2, 3), generator=gen)
    short_query = torch.randint(1, 15, (1, 3), generator=gen)
    long_story = torch.randint(1, 15, (1, 7, 5), generator=gen)
    long_query = torch.randint(1, 15, (1, 5), generator=gen)
    story = torch.zeros(3, 7, 5, dtype=torch.long)
    query = torch.zeros(3, 5, dtype=torch.long)
    story[0], query[0] = long_story[0], long_query[0]
    story[1, :2, :3], query[1, :3] = short_story[0], short_query[0]
    story[2], query[2] = long_story[0], long_query[0]
    alone = model({"story": short_story, "query": short_query}).logits
    batched = model({"story": story, "query": query}).logits
    torch.testing.assert_close(batched[1], alone[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batched[0], batched[2])


def test_example_without_words_does_not_crash():
    model = babi_model()
    story = torch.zeros(2, 3, 4, dtype=torch.long)
    story[0, 0, 0] = 3
    query = torch.zeros(2, 4, dtype=torch.long)
    assert torch.isfinite(model({"story": story, "query": query}).logits).all()


def test_one_babi_batch_is_learnable():
    model = babi_model().train()
    gen = torch.Generator().manual_seed(2)
    story = torch.randint(0, 15, (8, 4, 3), generator=gen)
    query = torch.randint(1, 15, (8, 3), generator=gen)
    target = torch.randint(1, 15, (8,), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        loss = F.cross_entropy(model({"story": story, "query": query}).logits, target)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_cli_trains_and_evaluates_babi_with_a_composed_core(tmp_path: Path, capsys):
    data = write_fake_babi(tmp_path / "data")
    out = tmp_path / "run"
    code = main(["train", "--task", "babi", "--task.task-id", "1", "--model", "lstm",
                 "--model.hidden-size", "16", "--data-dir", str(data), "--out", str(out),
                 "--train.epochs", "2", "--train.no-progress", "--train.no-tensorboard"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["name"] == "lstm"
    # the bAbI row (Weston et al. 2015's baseline): 50-d embedding, Adam, clip 5; the flag wins
    model = config["model"]["config"]
    assert (model["embedding_dim"], model["hidden_size"], model["head_size"]) == (50, 16, None)
    assert config["train"]["optimizer"] == "adam" and config["train"]["clip_norm"] == 5.0
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["test_error"] <= 1.0
