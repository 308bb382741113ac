"""Sequence to sequence with and without attention: shapes, masks, decoding, and learning."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mneme.decoding import beam_search, greedy
from mneme.errors import UserError
from mneme.models.build import model_entry
from mneme.models.recipes import recipe
from mneme.models.seq2seq import ATTENTIONS, Seq2Seq, Seq2SeqConfig, build_seq2seq
from mneme.models.translate import evaluate_decoding
from mneme.tasks.reversal import ReversalConfig, ReversalTask

V_S, V_T = 13, 11


def _model(attention="additive", *, seed=0, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(attention=attention, hidden_size=8, embedding_dim=6, **kw)
    return Seq2Seq(V_S, V_T, config).eval()


def _inputs(lengths=(5, 3, 1, 4), t_out=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    b, t = len(lengths), max(lengths)
    source = torch.randint(4, V_S, (b, t), generator=g)
    for i, n in enumerate(lengths):
        source[i, n - 1] = 3  # </s>
        source[i, n:] = 0
    target_in = torch.randint(4, V_T, (b, t_out), generator=g)
    target_in[:, 0] = 2
    return {"source": source, "source_length": torch.tensor(lengths), "target_in": target_in}


def _stepped(model: Seq2Seq, inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities and attention of the decoder stepped token by token."""
    state = model.encode(inputs["source"], inputs["source_length"])
    log_probs, weights = [], []
    for t in range(inputs["target_in"].shape[1]):
        lp, state = model.step(inputs["target_in"][:, t], state)
        log_probs.append(lp)
        weights.append(state.weights)
    return torch.stack(log_probs, 1), torch.stack(weights, 1)


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_shapes_and_trace(attention, cell):
    model = _model(attention, cell=cell)
    inputs = _inputs()
    out = model(inputs, trace=True)
    assert out.logits.shape == (4, 6, V_T)
    if attention == "none":
        assert out.trace is None
    else:
        assert out.trace.shape == (4, 6, 5)
    assert model(inputs).trace is None


@pytest.mark.parametrize("attention", [a for a in ATTENTIONS if a != "none"])
def test_padding_never_attended_and_weights_sum_to_one(attention):
    model = _model(attention)
    inputs = _inputs()
    weights = model(inputs, trace=True).trace
    lengths = inputs["source_length"]
    for i, n in enumerate(lengths.tolist()):
        assert torch.all(weights[i, :, n:] == 0.0)  # exactly 0, not tiny
        assert torch.all(weights[i, :, :n] > 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 6))


@pytest.mark.parametrize("attention", ["additive", "dot", "none"])
def test_padding_does_not_change_a_sentence(attention):
    """A padded row is encoded and decoded exactly as the same source alone (packing, masks)."""
    model = _model(attention)
    inputs = _inputs(lengths=(5, 2))
    alone = {"source": inputs["source"][1:, :2], "source_length": torch.tensor([2]),
             "target_in": inputs["target_in"][1:]}
    torch.testing.assert_close(model(inputs).logits[1:], model(alone).logits, atol=1e-6,
                               rtol=1e-5)


@pytest.mark.parametrize("attention", ["additive", "dot", "scaled_dot", "bilinear",
                                       "location", "none"])
@pytest.mark.parametrize("input_feeding", [False, True])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_teacher_forced_forward_equals_stepping(attention, input_feeding, cell):
    model = _model(attention, input_feeding=input_feeding, cell=cell,
                   context_every_step=attention == "none" and not input_feeding)
    inputs = _inputs()
    out = model(inputs, trace=True)
    log_probs, weights = _stepped(model, inputs)
    torch.testing.assert_close(out.logits.log_softmax(-1), log_probs, atol=1e-5, rtol=1e-5)
    if out.trace is not None:
        torch.testing.assert_close(out.trace, weights, atol=1e-6, rtol=1e-5)


def test_input_feeding_and_fixed_context_change_the_decoder_input():
    e, h = 6, 8
    assert _model().decoder.input_size == e
    assert _model(input_feeding=True).decoder.input_size == e + h
    assert _model("none").decoder.input_size == e + 2 * h  # Cho et al.: c at every step
    assert _model("none", context_every_step=False).decoder.input_size == e
    assert _model("none", context_every_step=False).combine.in_features == h
    assert _model(bidirectional=False).memory_size == h
    # input feeding really feeds: the first step is unchanged, later steps differ
    fed, plain = _model(input_feeding=True, seed=3), _model(seed=3)
    with torch.no_grad():
        fed.decoder.weight_ih_l0[:, :e].copy_(plain.decoder.weight_ih_l0)
    fed.load_state_dict({k: v for k, v in plain.state_dict().items()
                         if k != "decoder.weight_ih_l0"}, strict=False)
    inputs = _inputs()
    a, b = fed(inputs).logits, plain(inputs).logits
    torch.testing.assert_close(a[:, 0], b[:, 0])  # h~_0 fed is zero
    assert not torch.allclose(a[:, 1:], b[:, 1:])


def test_the_bottleneck_reads_the_source_only_through_its_summary():
    """Without attention, outputs depend on the source (via s_0) but not on its padding."""
    model = _model("none", context_every_step=False)
    inputs = _inputs()
    other = dict(inputs, source=inputs["source"].clone())
    other["source"][0, 0] = 4 if int(inputs["source"][0, 0]) != 4 else 5
    assert not torch.allclose(model(inputs).logits[0], model(other).logits[0])
    torch.testing.assert_close(model(inputs).logits[1:], model(other).logits[1:])


@pytest.mark.parametrize("attention", ["additive", "none"])
def test_beam_width_one_equals_greedy(attention):
    model = _model(attention, seed=5)
    inputs = _inputs()
    source, lengths = inputs["source"], inputs["source_length"]
    start = torch.full((4,), 2, dtype=torch.long)
    state = model.encode(source, lengths)
    g = greedy(model.step, state, start, 12, eos=3)
    b = beam_search(model.step, state, start, 12, 1, eos=3).best
    for i in range(4):
        assert g.sequence(i) == b.sequence(i)
    torch.testing.assert_close(g.scores, b.scores)
    greedy_out = model.translate(source, lengths, max_length=12)
    beam_out = model.translate(source, lengths, strategy="beam", beam_width=1, max_length=12)
    assert greedy_out.tokens == beam_out.tokens


def test_translate_attention_matches_the_decoding_steps():
    model = _model("additive", seed=2)
    inputs = _inputs()
    source, lengths = inputs["source"], inputs["source_length"]
    result = model.translate(source, lengths, max_length=7)
    state = model.encode(source, lengths)
    tokens = torch.full((4,), 2, dtype=torch.long)
    rows = []
    for _ in range(7):
        log_probs, state = model.step(tokens, state)
        tokens = log_probs.argmax(-1)
        rows.append(state.weights)
    stepped = torch.stack(rows, 1)
    for i, weights in enumerate(result.attention):
        n_out, n_src = weights.shape
        assert n_src == int(lengths[i])
        assert n_out == len(result.tokens[i]) + int(result.finished[i])
        torch.testing.assert_close(weights, stepped[i, :n_out, :n_src], atol=1e-6, rtol=1e-5)
    assert model.training is False
    model.train()
    model.translate(source, lengths, strategy="sample", max_length=3,
                    generator=torch.Generator().manual_seed(0))
    assert model.training is True  # the mode is restored
    with pytest.raises(UserError, match="strategy"):
        model.translate(source, lengths, strategy="viterbi")


def test_teacher_forcing_zero_feeds_the_greedy_predictions():
    model = _model("additive", teacher_forcing=0.0, seed=4).train()
    inputs = _inputs()
    logits = model(inputs).logits
    model.eval()
    result = model.translate(inputs["source"], inputs["source_length"], max_length=6)
    for i, row in enumerate(result.tokens):
        fed = logits[i].argmax(-1).tolist()
        n = len(row) + int(result.finished[i])
        produced = row + [3] * int(result.finished[i])
        assert fed[:n] == produced[:n]


def test_gradcheck_in_float64():
    torch.manual_seed(0)
    config = Seq2SeqConfig(attention="additive", hidden_size=3, embedding_dim=2,
                           input_feeding=True)
    model = Seq2Seq(7, 6, config).double().eval()
    inputs = _inputs(lengths=(3, 2), t_out=3)
    inputs["source"] = inputs["source"].clamp(max=6)
    inputs["target_in"] = inputs["target_in"].clamp(max=5)
    names = ["attention.score.v.weight", "combine.weight", "bridge.bias", "encoder.weight_hh_l0"]
    params = dict(model.named_parameters())

    def logits(*values):
        replaced = dict(zip(names, values, strict=True))
        out = torch.func.functional_call(model, {**params, **replaced}, (inputs,))
        return out.logits

    leaves = [params[n].detach().clone().requires_grad_(True) for n in names]
    assert torch.autograd.gradcheck(logits, leaves, eps=1e-6, atol=1e-5)


def test_config_validation_registry_and_recipe():
    with pytest.raises(UserError, match=r"^Seq2SeqConfig\.attention must be one of 'none', "
                                        r"'additive', .* \(got 'cosine'\)$"):
        Seq2SeqConfig(attention="cosine").validate()  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^Seq2SeqConfig\.hidden_size must be >= 1 \(got 0\)$"):
        Seq2SeqConfig(hidden_size=0).validate()
    with pytest.raises(UserError, match=r"^Seq2SeqConfig\.teacher_forcing must be in \[0, 1\] "
                                        r"\(got 1\.5\)$"):
        Seq2SeqConfig(teacher_forcing=1.5).validate()
    with pytest.raises(UserError, match=r"^Seq2SeqConfig\.dropout must be in \[0, 1\) "
                                        r"\(got 1\.0\)$"):
        Seq2SeqConfig(dropout=1.0).validate()
    with pytest.raises(UserError, match=r"^Seq2SeqConfig\.cell must be one of 'gru', 'lstm'"):
        Seq2SeqConfig(cell="rnn").validate()  # type: ignore[arg-type]
    entry = model_entry("seq2seq", "reversal")
    assert entry.config_class() is Seq2SeqConfig
    with pytest.raises(UserError, match="built for"):
        model_entry("seq2seq", "babi")
    task = ReversalTask(ReversalConfig(valid_size=4, test_size=2))
    model = entry.build(Seq2SeqConfig(hidden_size=8, embedding_dim=4), task.spec)
    assert model.output.out_features == task.spec.target_size == 24
    model_cfg, train = recipe("translation", "seq2seq", None, Seq2SeqConfig())
    assert (train.optimizer, train.lr, train.batch_size, train.clip_norm) == ("adam", 1e-3, 64,
                                                                              5.0)
    assert model_cfg.dropout == 0.2
    model_cfg, train = recipe("reversal", "seq2seq", None,
                                       Seq2SeqConfig(attention="none"))
    assert model_cfg.attention == "none" and train.early_stop == 0.0


def test_location_score_refuses_longer_sources():
    model = _model("location", max_source_length=4)
    with pytest.raises(UserError, match="max_source_length"):
        model(_inputs())


def test_attention_learns_reversal_where_the_bottleneck_degrades_with_length():
    """Fixed seed, 300 Adam steps each: with attention, length-10 reversals are decoded exactly;
    through the fixed vector, short ones are but length 10 mostly fails (Bahdanau et al. 2015,
    figure 2, on a toy task)."""
    task = ReversalTask(ReversalConfig(symbols=10, min_length=1, max_length=10,
                                       test_lengths=(4, 10), test_size=100, valid_size=10))
    accuracy = {}
    for attention in ("additive", "none"):
        torch.manual_seed(0)
        model = build_seq2seq(Seq2SeqConfig(attention=attention, hidden_size=64,
                                            embedding_dim=32), task.spec)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        generator = torch.Generator().manual_seed(0)
        for _ in range(300):
            batch = task.sample(64, generator)
            loss = task.loss(model(batch.inputs), batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        accuracy[attention] = evaluate_decoding(model.eval(), task, "test")
    att, fixed = accuracy["additive"], accuracy["none"]
    assert att["exact_match_len10"] > 0.8, att
    assert att["exact_match_len4"] > 0.9, att
    assert fixed["exact_match_len4"] > 0.8, fixed
    assert fixed["exact_match_len10"] < 0.3, fixed
    assert fixed["exact_match_len10"] < att["exact_match_len10"] - 0.5


def test_dataclass_state_reorders_for_beam_search():
    model = _model("additive")
    inputs = _inputs()
    state = model.encode(inputs["source"], inputs["source_length"])
    picked = model.reorder_state(state, torch.tensor([2, 2, 0]))
    for field in dataclasses.fields(state):
        assert getattr(picked, field.name).shape[0] == 3
    torch.testing.assert_close(picked.values[0], state.values[2])
