"""Language models: the recurrent LM (Zaremba et al. 2014) and the neural n-gram LM (Bengio et al.
2003): shapes, carried state, tied weights, dropout masks, n-gram context, a learning test and
the recipes."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from mneme.config import TrainConfig
from mneme.errors import UserError
from mneme.models import lm as lm_module
from mneme.models.build import model_entry
from mneme.models.lm import (
    LMConfig,
    LockedDropout,
    NGramConfig,
    NGramLM,
    RNNLanguageModel,
    build_lm,
    build_ngram,
    zaremba,
)
from mneme.models.recipes import recipe
from mneme.tasks.text import LMSpec, PTBConfig, PTBTask
from mneme.train.loop import Trainer
from mneme.types import pack_state, unpack_state

V = 13


def tokens(b: int, t: int, seed: int = 0) -> Tensor:
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_state_carried_over_two_chunks_equals_one_long_chunk(cell: str) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(LMConfig(cell=cell, hidden_size=8, embedding_dim=5), V).double()
    model.eval()
    x = tokens(3, 11)
    full = model(x)
    first = model(x[:, :4])
    second = model(x[:, 4:], state=first.state)
    assert full.logits.shape == (3, 11, V)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), full.logits)
    assert isinstance(full.state, tuple)  # plain tuples: checkpoints load with weights_only
    assert len(full.state) == (2 if cell == "lstm" else 1)
    assert all(s.shape == (2, 3, 8) for s in full.state)
    for a, b in zip(second.state, full.state, strict=True):
        torch.testing.assert_close(a, b)


def test_step_matches_forward_and_reorders_rows() -> None:
    torch.manual_seed(1)
    model = RNNLanguageModel(LMConfig(hidden_size=6, num_layers=2), V).double().eval()
    x = tokens(4, 5)
    full = model(x)
    state = None
    for t in range(5):
        log_probs, state = model.step(x[:, t], state)
        torch.testing.assert_close(log_probs, torch.log_softmax(full.logits[:, t], -1).float())
    picked = model.reorder_state(state, torch.tensor([2, 2, 0]))
    assert picked[0].shape == (2, 3, 6)
    torch.testing.assert_close(picked[1][:, 0], state[1][:, 2])
    torch.testing.assert_close(picked[1][:, 2], state[1][:, 0])


def test_tied_weights_share_one_parameter() -> None:
    tied = RNNLanguageModel(LMConfig(hidden_size=7, tie_weights=True), V)
    untied = RNNLanguageModel(LMConfig(hidden_size=7), V)
    assert tied.decoder.weight is tied.embedding.weight
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == V * 7
    with torch.no_grad():
        tied.embedding.weight[3].fill_(0.5)
    assert torch.all(tied.decoder.weight[3] == 0.5)
    with pytest.raises(UserError, match=r"^LMConfig\.tie_weights .* \(got 5 and 7\)$"):
        LMConfig(hidden_size=7, embedding_dim=5, tie_weights=True).validate()


def test_init_scale_and_config_errors() -> None:
    model = RNNLanguageModel(LMConfig(hidden_size=9, init_scale=0.05), V)
    assert all(float(p.detach().abs().max()) <= 0.05 for p in model.parameters())
    assert max(float(p.detach().abs().max()) for p in model.parameters()) > 0.04
    for bad, message in ((dict(hidden_size=0), "LMConfig.hidden_size must be >= 1 (got 0)"),
                         (dict(dropout=1.0), "LMConfig.dropout must be in [0, 1) (got 1.0)"),
                         (dict(init_scale=-1.0), "LMConfig.init_scale must be >= 0 (got -1.0)"),
                         (dict(embedding_dim=0), "LMConfig.embedding_dim must be >= 1 (got 0)"),
                         (dict(cell=""), "LMConfig.cell must name a cell")):
        with pytest.raises(UserError, match=re.escape(message)):
            LMConfig(**bad).validate()  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"model\.cell 'nosuchcell'"):
        RNNLanguageModel(LMConfig(cell="nosuchcell"), V)
    with pytest.raises(UserError, match=r"^NGramConfig\.order must be >= 2 \(got 1\)$"):
        NGramConfig(order=1).validate()


def test_dropout_masks_standard_and_variational() -> None:
    x = torch.ones(4, 50, 30)
    torch.manual_seed(0)
    locked = LockedDropout(0.5, variational=True).train()
    y = locked(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # one mask per sequence for all steps
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    plain = LockedDropout(0.5, variational=False).train()(x)
    assert not torch.equal(plain, plain[:, :1].expand_as(plain))
    assert torch.equal(LockedDropout(0.5, True).eval()(x), x)
    # the model is deterministic in eval mode whatever the dropout
    model = RNNLanguageModel(LMConfig(hidden_size=6, dropout=0.5, variational=True), V).eval()
    inp = tokens(2, 4)
    torch.testing.assert_close(model(inp).logits, model(inp).logits)


# ---------------------------------------------------------------- n-gram


def test_ngram_reads_exactly_the_previous_n_minus_1_tokens() -> None:
    torch.manual_seed(0)
    model = NGramLM(NGramConfig(order=4, embedding_dim=3, hidden_size=5, direct=True), V,
                    pad_id=7).double().eval()
    x = tokens(2, 12)
    base = model(x).logits
    changed = x.clone()
    changed[:, 5] = (changed[:, 5] + 1) % V
    diff = (model(changed).logits - base).abs().amax(dim=(0, 2))
    # prediction t reads tokens t-2..t: changing token 5 moves predictions 5, 6, 7 only
    assert torch.all(diff[5:8] > 0)
    assert torch.all(diff[:5] == 0) and torch.all(diff[8:] == 0)
    # at the stream start the missing context is the pad token
    padded = torch.cat([torch.full((2, 3), 7), x], 1)
    torch.testing.assert_close(model(padded).logits[:, 3:], base)


def test_ngram_state_spans_chunk_boundaries() -> None:
    torch.manual_seed(0)
    model = build_ngram(NGramConfig(order=5, embedding_dim=4, hidden_size=6),
                        LMSpec(V, boundary_id=2)).double().eval()
    x = tokens(3, 10)
    full = model(x)
    a = model(x[:, :2])  # a chunk shorter than the context: state mixes pad and tokens
    assert torch.equal(a.state, torch.cat([torch.full((3, 2), 2), x[:, :2]], 1))
    b = model(x[:, 2:], state=a.state)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), full.logits)
    assert torch.equal(b.state, x[:, -4:])
    log_probs, state = model.step(x[:, 0], None)
    torch.testing.assert_close(log_probs, torch.log_softmax(full.logits[:, 0], -1).float())
    assert torch.equal(model.reorder_state(state, torch.tensor([1])), state[1:2])


def test_ngram_gradients_float64() -> None:
    torch.manual_seed(0)
    model = NGramLM(NGramConfig(order=3, embedding_dim=2, hidden_size=3, direct=True,
                                dropout=0.0), 5).double()
    x = torch.tensor([[1, 4, 0, 2]])

    def f(emb: Tensor, hidden: Tensor) -> Tensor:
        params = {"embedding.weight": emb, "hidden.weight": hidden}
        return torch.func.functional_call(model, params, (x,)).logits

    emb = model.embedding.weight.detach().clone().requires_grad_()
    hid = model.hidden.weight.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (emb, hid))


# ---------------------------------------------------------------- mneme.cells stacks


@dataclass(frozen=True)
class _FakeState:
    hidden: Tensor
    extra: tuple[Tensor, Tensor]


class _FakeStack(nn.Module):
    """A core in the DESIGN.md contract with a nested dataclass state, tensors (1, B, H)."""

    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(d, h, batch_first=True)
        self.h = h

    def initial_state(self, batch_size: int, device: object = None,
                      dtype: object = None) -> _FakeState:
        z = torch.zeros(1, batch_size, self.h, dtype=dtype)  # type: ignore[arg-type]
        return _FakeState(z, (z, z + 1))

    def forward(self, x: Tensor, state: _FakeState | None = None) -> tuple[Tensor, _FakeState]:
        h0 = None if state is None else state.hidden
        y, h = self.rnn(x, h0)
        count = x.new_zeros(1, x.shape[0], self.h) if state is None else state.extra[1]
        return y, _FakeState(h, (h * 2, count + x.shape[1]))


def test_a_stack_state_is_carried_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_build_stack(cell: str, d: int, h: int, layers: int, **kw: object) -> nn.Module:
        assert cell == "fake" and layers == 2
        assert set(kw) == {"dropout", "variational", "recurrent_dropout"}
        return _FakeStack(d, h)

    import mneme.cells

    monkeypatch.setattr(mneme.cells, "build_stack", fake_build_stack, raising=False)
    torch.manual_seed(0)
    model = RNNLanguageModel(LMConfig(cell="fake", hidden_size=5), V).double().eval()
    x = tokens(2, 6)
    full = model(x)
    a = model(x[:, :2])
    assert isinstance(a.state, _FakeState) and isinstance(a.state.extra, tuple)
    b = model(x[:, 2:], state=a.state)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), full.logits)
    assert torch.equal(b.state.extra[1], torch.full((1, 2, 5), 6.0, dtype=torch.float64))
    picked = model.reorder_state(b.state, torch.tensor([1]))
    torch.testing.assert_close(picked.hidden, b.state.hidden[:, 1:])


@pytest.mark.parametrize(("cell", "extra"), [("peephole", {}), ("ln-gru", {}),
                                             ("lstm", {"variational": True,
                                                       "recurrent_dropout": 0.3})])
def test_mneme_cells_stacks_carry_state(cell: str, extra: dict[str, object]) -> None:
    torch.manual_seed(0)
    config = LMConfig(cell=cell, hidden_size=6, embedding_dim=4, dropout=0.2, **extra)
    model = RNNLanguageModel(config, V).double()
    assert model.stack is not None and not model.fused
    model.train()
    model(tokens(2, 3)).logits.sum().backward()  # trains through the per-step path
    model.eval()
    x = tokens(2, 7)
    full = model(x)
    a = model(x[:, :3])
    b = model(x[:, 3:], state=a.state)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), full.logits)
    # the stack's own registered state, which checkpoints pack (mneme.types.pack_state)
    assert type(a.state).__name__ in ("RNNState", "LSTMState")
    back = unpack_state(pack_state(a.state))
    assert type(back) is type(a.state)
    for name in ("hidden", "cell"):
        if hasattr(a.state, name):
            assert torch.equal(getattr(back, name), getattr(a.state, name))
    with pytest.raises(UserError, match=r"^LMConfig\.recurrent_dropout needs .*\(got 0\.2\)$"):
        LMConfig(recurrent_dropout=0.2).validate()


# ---------------------------------------------------------------- learning and recipes


def test_lstm_lm_learns_a_periodic_corpus(tmp_path: Path) -> None:
    """Fixed seed: the stream 'a b c d e <eos>' repeated is predictable after a few steps, so
    perplexity falls from ~V towards 1 (chunk boundaries need the carried state)."""
    folder = tmp_path / "ptb"
    folder.mkdir()
    (folder / "ptb.train.txt").write_text(" a b c d e\n f g h\n" * 150)
    (folder / "ptb.valid.txt").write_text(" a b c d e\n f g h\n" * 10)
    (folder / "ptb.test.txt").write_text(" a b c d e\n f g h\n" * 10)
    task = PTBTask(PTBConfig(str(tmp_path), seq_len=7))
    torch.manual_seed(0)
    model = build_lm(LMConfig(hidden_size=24, num_layers=1), task.spec)
    config = TrainConfig(epochs=6, batch_size=4, optimizer="adam", lr=0.02,
                         lr_schedule="constant", clip_norm=5.0, eval_batch_size=2,
                         progress=False, tensorboard=False)
    result = Trainer(task, model, config, tmp_path / "run").fit()
    assert result.valid["perplexity"] < 1.3
    assert math.isclose(result.test["perplexity"], math.exp(result.test["nll"]))


def test_zaremba_recipes_and_registry() -> None:
    small = zaremba("small")
    assert (small.model.hidden_size, small.model.dropout, small.model.init_scale) == (200, 0, 0.1)
    assert (small.train.epochs, small.train.lr, small.train.lr_decay, small.train.clip_norm,
            small.train.lr_decay_start, small.train.batch_size, small.seq_len) == (
                13, 1.0, 0.5, 5.0, 4, 20, 20)
    medium = zaremba("medium")
    assert (medium.model.hidden_size, medium.model.dropout, medium.train.epochs,
            medium.train.lr_decay_start, medium.seq_len) == (650, 0.5, 39, 6, 35)
    assert math.isclose(medium.train.lr_decay, 1 / 1.2)
    with pytest.raises(UserError):
        zaremba("huge")
    entry = model_entry("rnn-lm", "ptb")
    assert entry.config_class() is LMConfig
    model_cfg, train = recipe("ptb", "rnn-lm", PTBConfig(), LMConfig())
    assert model_cfg == LMConfig() and train == small.train
    assert model_entry("rnn-lm", "chars").config_class() is LMConfig
    assert model_entry("ngram", "ptb").config_class() is NGramConfig
    chars_cfg, chars_train = recipe("chars", "rnn-lm", None, LMConfig())
    assert chars_cfg.hidden_size == 512 and chars_train.optimizer == "adam"
    assert dataclasses.replace(chars_cfg, cell="gru").cell == "gru"
    assert lm_module.FUSED_CELLS.keys() == {"lstm", "gru", "rnn"}
