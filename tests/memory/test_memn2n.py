"""End-To-End Memory Network: equations, tying, masking, linear start, random noise, learning."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from mneme.errors import UserError
from mneme.memory.memn2n import (
    MemN2N,
    MemN2NConfig,
    build_memn2n,
    memn2n_reference,
    position_encoding,
)


@dataclass(frozen=True)
class Sizes:
    vocab_size: int
    sentence_size: int
    memory_size: int


def random_inputs(
    batch: int,
    slots: int,
    width: int,
    vocab: int,
    generator: torch.Generator,
    min_sentences: int = 1,
) -> dict[str, torch.Tensor]:
    """Left-aligned random sentences of 1..width words in slots 0..n-1, the rest empty."""
    story = torch.randint(1, vocab, (batch, slots, width), generator=generator)
    lengths = torch.randint(1, width + 1, (batch, slots), generator=generator)
    story[torch.arange(width) >= lengths.unsqueeze(-1)] = 0
    n = torch.randint(min_sentences, slots + 1, (batch,), generator=generator)
    story[torch.arange(slots) >= n.unsqueeze(1)] = 0
    query = torch.randint(1, vocab, (batch, width), generator=generator)
    q_len = torch.randint(1, width + 1, (batch,), generator=generator)
    query[torch.arange(width) >= q_len.unsqueeze(1)] = 0
    return {"story": story, "query": query}


def make_model(vocab: int = 17, memory: int = 6, sentence: int = 16, *, linear: bool = False,
               **overrides) -> MemN2N:
    """A small MemN2N; ``linear`` puts it in linear mode (what the LinearStart hook does)."""
    config = replace(MemN2NConfig(embedding_dim=8), **overrides)
    model = MemN2N(config, vocab_size=vocab, memory_size=memory, sentence_size=sentence)
    model.set_linear(linear)
    return model


ALL_VARIANTS = list(
    itertools.product(["adjacent", "layerwise"], ["position", "bow"], [True, False], [True, False])
)


# -- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hops", 0),
        ("embedding_dim", 0),
        ("random_noise", -0.1),
        ("random_noise", 1.0),
        ("init_std", 0.0),
        ("linear_start_epochs", -1),
        ("weight_tying", "sideways"),
        ("encoding", "onehot"),
    ],
)
def test_config_validate_names_the_bad_field(field: str, value: object) -> None:
    config = replace(MemN2NConfig(), **{field: value})
    message = rf"^MemN2NConfig\.{field} must .* \(got {re.escape(repr(value))}\)$"
    with pytest.raises(UserError, match=message):
        config.validate()
    with pytest.raises(UserError, match=message):
        MemN2N(config, vocab_size=10, memory_size=5)


def test_defaults_are_the_paper_recipe() -> None:
    c = MemN2NConfig()
    assert (c.embedding_dim, c.hops, c.weight_tying, c.encoding) == (20, 3, "adjacent", "position")
    assert c.temporal_encoding and c.linear_start and c.random_noise == 0.1 and c.init_std == 0.1
    c.validate()


def test_build_memn2n_takes_sizes_from_spec() -> None:
    model = build_memn2n(MemN2NConfig(), Sizes(vocab_size=30, sentence_size=7, memory_size=50))
    assert model.embedding.shape == (30, 4, 20)
    assert model.temporal is not None and model.temporal.shape == (55, 4, 20)  # 50 + ceil(5)


# -- position encoding ------------------------------------------------------------------------


def test_position_encoding_hand_computed() -> None:
    # l_kj = (1 - j/J) - (k/d)(1 - 2j/J), J = 3, d = 2:
    # j=1: k=1 2/3 - 1/2*1/3 = 1/2, k=2 2/3 - 1/3 = 1/3
    # j=2: k=1 1/3 + 1/2*1/3 = 1/2, k=2 1/3 + 1/3 = 2/3
    # j=3: k=1 0 + 1/2 = 1/2,       k=2 0 + 1 = 1
    expected = torch.tensor([[1 / 2, 1 / 3], [1 / 2, 2 / 3], [1 / 2, 1.0]], dtype=torch.float64)
    got = position_encoding(torch.tensor([3]), max_len=3, dim=2, dtype=torch.float64)
    assert got.shape == (1, 3, 2)
    torch.testing.assert_close(got[0], expected)


def test_position_encoding_uses_each_sentence_length_and_zeroes_padding() -> None:
    lengths = torch.tensor([[1, 4], [0, 2]])
    got = position_encoding(lengths, max_len=5, dim=3, dtype=torch.float64)
    assert got.shape == (2, 2, 5, 3)
    for idx in itertools.product(range(2), range(2)):
        length = int(lengths[idx])
        for j in range(1, 6):
            for k in range(1, 4):
                want = 0.0
                if j <= length:
                    want = (1 - j / length) - (k / 3) * (1 - 2 * j / length)
                assert got[idx][j - 1, k - 1].item() == pytest.approx(want, abs=1e-12)
    # J = 1: the single word gets l_k1 = k/d.
    one = position_encoding(torch.tensor(1), max_len=1, dim=4, dtype=torch.float64)
    torch.testing.assert_close(one[0], torch.arange(1, 5, dtype=torch.float64) / 4)


# -- the fast forward against the literal equations ------------------------------------------


@pytest.mark.parametrize(("tying", "encoding", "temporal", "linear"), ALL_VARIANTS)
def test_fast_forward_equals_reference(tying, encoding, temporal, linear) -> None:
    torch.manual_seed(0)
    model = make_model(
        weight_tying=tying, encoding=encoding, temporal_encoding=temporal, linear=linear
    ).double()
    model.eval()
    inputs = random_inputs(5, 6, 4, 17, torch.Generator().manual_seed(1))
    fast = model(inputs, trace=True)
    ref = memn2n_reference(model, inputs)
    assert fast.logits.shape == (5, 17)
    torch.testing.assert_close(fast.logits, ref.logits, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast.trace.attention, ref.trace.attention, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast.trace.scores, ref.trace.scores, rtol=1e-10, atol=1e-10)
    assert fast.trace.linear == ref.trace.linear == linear
    torch.testing.assert_close(fast.trace.answer_input, ref.trace.answer_input)


def test_bow_memory_is_the_plain_sum_of_embeddings() -> None:
    torch.manual_seed(0)
    model = make_model(encoding="bow", temporal_encoding=False, linear=True, hops=1)
    model.eval()
    inputs = random_inputs(3, 6, 5, 17, torch.Generator().manual_seed(2))
    story, query = inputs["story"], inputs["query"]
    # Plain sums by Python loops: u = sum_j B q_j, m_i = sum_j A x_ij; the scores are u . m_i.
    want = torch.zeros(3, 6)
    for b in range(3):
        u = sum(model.B()[w] for w in query[b].tolist() if w != 0)
        for i in range(6):
            words = [w for w in story[b, i].tolist() if w != 0]
            if words:
                want[b, i] = torch.dot(u, sum(model.A(1)[w] for w in words))
    trace = model(inputs, trace=True).trace
    torch.testing.assert_close(trace.scores[:, 0], want.detach(), rtol=1e-5, atol=1e-6)
    # What is shown is their softmax over the real sentences, even in linear mode.
    real = story.ne(0).any(-1)
    shown = torch.softmax(want.masked_fill(~real, float("-inf")), -1)
    torch.testing.assert_close(trace.attention[:, 0], shown.detach(), rtol=1e-5, atol=1e-6)


# -- masking and batch composition ------------------------------------------------------------


def test_attention_sums_to_one_on_real_slots_and_is_exactly_zero_on_padding() -> None:
    torch.manual_seed(0)
    model = make_model(memory=8, linear_start=False, hops=3).eval()
    inputs = random_inputs(6, 8, 5, 17, torch.Generator().manual_seed(3))
    out = model(inputs, trace=True)
    attention, real = out.trace.attention, inputs["story"].ne(0).any(-1)
    assert attention.shape == (6, 3, 8)
    assert torch.equal(out.trace.memory_mask, real)
    assert (attention[~real.unsqueeze(1).expand_as(attention)] == 0).all()  # exactly zero
    # With the null memory (the default) the real slots and the null memory share the mass.
    null = out.trace.null_attention
    assert null.shape == (6, 3) and (null > 0).all()
    torch.testing.assert_close(attention.sum(-1) + null, torch.ones(6, 3))
    plain = make_model(memory=8, linear_start=False, hops=3, null_memory=False).eval()
    plain_attention = plain(inputs, trace=True).trace.attention
    torch.testing.assert_close(plain_attention.sum(-1), torch.ones(6, 3))
    assert plain(inputs, trace=True).trace.null_attention is None
    # Linear mode: the model reads the raw scores, but the attention shown is a distribution.
    model.set_linear(True)
    trace = model(inputs, trace=True).trace
    lin, scores = trace.attention, trace.scores
    assert trace.linear
    assert (lin[~real.unsqueeze(1).expand_as(lin)] == 0).all()
    assert (lin >= 0).all()
    torch.testing.assert_close(lin.sum(-1), torch.ones(6, 3))
    assert (scores[~real.unsqueeze(1).expand_as(scores)] == 0).all()
    assert not torch.allclose(scores.sum(-1), torch.ones(6, 3))


def test_story_without_sentences_gives_finite_logits() -> None:
    model = make_model(linear_start=False).eval()
    inputs = {
        "story": torch.zeros(2, 6, 4, dtype=torch.long),
        "query": torch.tensor([[1, 2, 0, 0]] * 2),
    }
    out = model(inputs, trace=True)
    assert torch.isfinite(out.logits).all()
    assert (out.trace.attention == 0).all()


@pytest.mark.parametrize(("tying", "encoding", "temporal", "linear"), ALL_VARIANTS)
def test_result_does_not_depend_on_batch_composition(tying, encoding, temporal, linear) -> None:
    torch.manual_seed(0)
    model = make_model(
        memory=9,
        weight_tying=tying,
        encoding=encoding,
        temporal_encoding=temporal,
        linear=linear,
    ).eval()
    gen = torch.Generator().manual_seed(4)
    short = random_inputs(1, 3, 3, 17, gen)  # alone: 3 slots, 3 words
    long = random_inputs(1, 9, 6, 17, gen, min_sentences=9)
    # The short example padded to 9 slots and 6 words, batched after the long one.
    story = torch.zeros(2, 9, 6, dtype=torch.long)
    story[0] = long["story"][0]
    story[1, :3, :3] = short["story"][0]
    query = torch.zeros(2, 6, dtype=torch.long)
    query[0] = long["query"][0]
    query[1, :3] = short["query"][0]
    alone = model(short, trace=True)
    batched = model({"story": story, "query": query}, trace=True)
    torch.testing.assert_close(batched.logits[1], alone.logits[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        batched.trace.attention[1, :, :3], alone.trace.attention[0], rtol=1e-5, atol=1e-6
    )
    assert (batched.trace.attention[1, :, 3:] == 0).all()


def test_story_longer_than_memory_is_refused() -> None:
    model = make_model(memory=4)
    inputs = random_inputs(2, 5, 3, 17, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="memory_size"):
        model(inputs)


# -- weight tying -----------------------------------------------------------------------------


def _same_storage(x: torch.Tensor, y: torch.Tensor) -> bool:
    return x.data_ptr() == y.data_ptr() and x.shape == y.shape and x.stride() == y.stride()


def test_adjacent_tying_shares_the_matrices() -> None:
    hops = 3
    model = make_model(hops=hops)
    assert model.embedding.shape == (17, hops + 1, 8)  # K + 1 embedding matrices
    assert model.H is None and model.answer is None
    assert _same_storage(model.B(), model.A(1))  # B = A^1
    for k in range(1, hops):
        assert _same_storage(model.A(k + 1), model.C(k))  # A^{k+1} = C^k
        assert _same_storage(model.TA(k + 1), model.TC(k))  # T_A tied like A
    assert _same_storage(model.W(), model.C(hops))  # W^T = C^K
    assert len({model.A(k).data_ptr() for k in range(1, hops + 1)}) == hops
    with torch.no_grad():  # writing one writes the other
        model.C(1)[3, 2] = 7.0
    assert model.A(2)[3, 2].item() == 7.0


def test_adjacent_answer_is_last_output_embedding() -> None:
    torch.manual_seed(0)
    model = make_model(linear_start=False).eval()
    inputs = random_inputs(4, 6, 4, 17, torch.Generator().manual_seed(5))
    out = model(inputs, trace=True)
    ref = memn2n_reference(model, inputs)  # its u^{K+1} = u^K + o^K, built hop by hop
    torch.testing.assert_close(out.trace.answer_input, ref.trace.answer_input)
    torch.testing.assert_close(out.logits, ref.trace.answer_input @ model.C(model.config.hops).T)


def test_layerwise_tying_shares_a_and_c_across_hops_and_has_h() -> None:
    torch.manual_seed(0)
    model = make_model(weight_tying="layerwise", hops=3)
    assert model.H is not None and model.H.shape == (8, 8)
    assert model.answer is not None and model.answer.shape == (17, 8)
    assert model.embedding.shape == (17, 3, 8)  # A, C, B
    for k in (2, 3):
        assert _same_storage(model.A(k), model.A(1))
        assert _same_storage(model.C(k), model.C(1))
        assert _same_storage(model.TA(k), model.TA(1))
    assert model.B().data_ptr() != model.A(1).data_ptr()
    assert model.W() is model.answer
    model.eval()
    inputs = random_inputs(3, 6, 4, 17, torch.Generator().manual_seed(6))
    before = model(inputs).logits
    with torch.no_grad():
        model.H.add_(0.5 * torch.eye(8))
    assert not torch.allclose(model(inputs).logits, before)


# -- nil word, linear start, random noise ----------------------------------------------------


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_nil_embedding_stays_zero_after_optimizer_steps(tying: str, optimizer: str) -> None:
    torch.manual_seed(0)
    model = make_model(weight_tying=tying, linear_start=False)
    assert (model.embedding[0] == 0).all()
    opt = (
        torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.01)
        if optimizer == "sgd"
        else torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.01)
    )
    gen = torch.Generator().manual_seed(7)
    for _ in range(3):
        inputs = random_inputs(4, 6, 4, 17, gen)
        target = torch.randint(0, 17, (4,), generator=gen)  # includes the nil class 0
        target[0] = 0
        loss = F.cross_entropy(model(inputs).logits, target)
        opt.zero_grad()
        loss.backward()
        assert (model.embedding.grad[0] == 0).all()
        assert model.embedding.grad[1:].abs().sum() > 0
        opt.step()
    assert (model.embedding[0] == 0).all()


def test_a_user_built_memn2n_attends_with_softmax_even_with_linear_start_configured() -> None:
    # Linear start is a training schedule (the LinearStart hook), not the module's default.
    model = make_model(linear_start=True).eval()
    assert not model.linear
    inputs = random_inputs(3, 6, 4, 17, torch.Generator().manual_seed(8))
    torch.testing.assert_close(model(inputs, trace=True).trace.attention.sum(-1)
                               + model(inputs, trace=True).trace.null_attention,
                               torch.ones(3, 3))


def test_linear_mode_toggles_and_survives_state_dict() -> None:
    torch.manual_seed(0)
    model = make_model(linear=True).eval()
    assert model.linear
    inputs = random_inputs(3, 6, 4, 17, torch.Generator().manual_seed(8))
    linear_out = model(inputs).logits
    model.set_linear(False)
    assert not model.linear
    softmax_out = model(inputs).logits
    assert not torch.allclose(linear_out, softmax_out)
    state = model.state_dict()
    assert "linear_flag" in state
    fresh = make_model(linear=True).eval()
    fresh.load_state_dict(state)
    assert not fresh.linear
    torch.testing.assert_close(fresh(inputs).logits, softmax_out)
    model.linear = True
    torch.testing.assert_close(model(inputs).logits, linear_out)


def test_random_noise_is_off_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = make_model(memory=8, random_noise=0.5).eval()
    inputs = random_inputs(4, 8, 4, 17, torch.Generator().manual_seed(9))
    first = model(inputs, trace=True)
    second = model(inputs, trace=True)
    assert first.trace.attention.shape == (4, 3, 8)
    torch.testing.assert_close(first.logits, second.logits, rtol=0, atol=0)
    torch.testing.assert_close(first.logits, memn2n_reference(model, inputs).logits)


def test_random_noise_adds_the_expected_empty_memories_in_training() -> None:
    torch.manual_seed(0)
    slots = 20
    model = make_model(
        memory=slots, random_noise=0.1, linear_start=False, noise_mode="empty_memories"
    ).train()
    inputs = random_inputs(16, slots, 4, 17, torch.Generator().manual_seed(10))
    n_real = inputs["story"].ne(0).any(-1).sum(1)
    out = model(inputs, trace=True)
    extra = math.ceil(0.1 * slots)
    assert out.trace.attention.shape == (16, 3, slots + extra)
    want = n_real + torch.ceil(n_real * 0.1).long()
    assert torch.equal(out.trace.memory_mask.sum(1), want)
    # Blanks take (softmax) attention; padding never does.
    assert (out.trace.attention[:, :, slots:].sum((1, 2)) > 0).all()
    assert (out.trace.attention * ~out.trace.memory_mask.unsqueeze(1) == 0).all()
    # Without noise the memory does not grow in training either.
    quiet = make_model(memory=slots, random_noise=0.0).train()
    assert quiet(inputs, trace=True).trace.attention.shape == (16, 3, slots)


def test_random_noise_time_indices_keep_sentence_order() -> None:
    model = make_model(memory=30, random_noise=0.2, noise_mode="empty_memories")
    gen = torch.Generator().manual_seed(11)
    slot_mask = torch.arange(30).unsqueeze(0) < torch.tensor([[30], [17], [1], [0], [5]])
    for _ in range(20):
        time, mask, extra = model._random_noise(slot_mask, gen)
        assert extra == 6 and time.shape == (5, 36) and mask.shape == (5, 36)
        for b in range(5):
            n = int(slot_mask[b].sum())
            r = math.ceil(0.2 * n - 1e-9)
            real_t = time[b, :n].tolist()
            blank_t = time[b, 30 : 30 + r].tolist()
            assert real_t == sorted(real_t)  # sentences keep their order
            assert sorted(real_t + blank_t) == list(range(n + r))  # n + r distinct times
            assert mask[b, 30 : 30 + r].all() and not mask[b, 30 + r :].any()
        assert time.max() < model.temporal_size
    # Same generator state, same noise.
    a = model._random_noise(slot_mask, torch.Generator().manual_seed(3))
    b = model._random_noise(slot_mask, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0])


def test_time_gap_noise_shifts_time_indices_only() -> None:
    """The Matlab code's RN: 0..ceil(0.2 n) gaps per example, uniformly; no extra memories."""
    model = make_model(memory=30, random_noise=0.2)
    assert model.config.noise_mode == "time_gaps"
    gen = torch.Generator().manual_seed(5)
    slot_mask = torch.arange(30).unsqueeze(0) < torch.tensor([[30], [17], [1], [0], [5]])
    gaps_seen: dict[int, set[int]] = {b: set() for b in range(5)}
    for _ in range(200):
        time, mask, extra = model._random_noise(slot_mask, gen)
        assert extra == 0 and time.shape == (5, 30) and torch.equal(mask, slot_mask)
        for b in range(5):
            n = int(slot_mask[b].sum())
            real_t = time[b, :n].tolist()
            assert all(x < y for x, y in itertools.pairwise(real_t))  # order kept, distinct
            assert real_t[:1] in ([], [0], [1], [2], [3], [4], [5], [6])
            gaps = (real_t[-1] + 1 - n) if n else 0
            assert 0 <= gaps <= math.ceil(0.2 * n - 1e-9)
            gaps_seen[b].add(gaps)
    # Every count 0..ceil(0.2 n) occurs (n = 30: 0..6; n = 17: 0..4; n = 5: 0..1).
    assert gaps_seen[0] == set(range(7)) and gaps_seen[1] == set(range(5))
    assert gaps_seen[4] == {0, 1} and gaps_seen[3] == {0}
    # In a forward pass the memory keeps its size.
    model.train()
    inputs = random_inputs(4, 30, 4, 17, torch.Generator().manual_seed(2))
    assert model(inputs, trace=True).trace.attention.shape == (4, 3, 30)


# -- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tying", "encoding", "linear"),
    [
        ("adjacent", "position", False),
        ("adjacent", "bow", True),
        ("layerwise", "position", True),
        ("layerwise", "bow", False),
    ],
)
def test_gradcheck_float64(tying: str, encoding: str, linear: bool) -> None:
    torch.manual_seed(0)
    model = MemN2N(
        MemN2NConfig(
            embedding_dim=3,
            hops=2,
            weight_tying=tying,
            encoding=encoding,
            init_std=0.5,
        ),
        vocab_size=7,
        memory_size=4,
    ).double()
    model.set_linear(linear)
    model.eval()
    inputs = random_inputs(2, 4, 3, 7, torch.Generator().manual_seed(12))
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())

    def logits(*values: torch.Tensor) -> torch.Tensor:
        return functional_call(model, dict(zip(names, values)), (inputs,)).logits

    assert torch.autograd.gradcheck(logits, params, eps=1e-6, atol=1e-5)


# -- learning ---------------------------------------------------------------------------------

PEOPLE, PLACES, SLOTS = 4, 6, 10
GO, WHERE = 1, 2  # vocabulary: 0 nil, 1 go, 2 where, people, then places


def where_is(batch: int, generator: torch.Generator):
    """Stories of 'p{i} go l{j}' (slot 0 most recent); 'where p{i}' -> its latest place."""
    n = torch.randint(2, SLOTS + 1, (batch,), generator=generator)
    person = torch.randint(0, PEOPLE, (batch, SLOTS), generator=generator)
    place = torch.randint(0, PLACES, (batch, SLOTS), generator=generator)
    real = torch.arange(SLOTS).unsqueeze(0) < n.unsqueeze(1)
    story = torch.stack([3 + person, torch.full_like(person, GO), 3 + PEOPLE + place], -1)
    story = story * real.unsqueeze(-1)
    asked = person.gather(1, (torch.rand(batch, generator=generator) * n).long().unsqueeze(1))
    query = torch.cat([torch.full_like(asked, WHERE), 3 + asked, torch.zeros_like(asked)], 1)
    latest = ((person == asked) & real).float().argmax(1, keepdim=True)  # first = most recent
    answer = 3 + PEOPLE + place.gather(1, latest).squeeze(1)
    return {"story": story, "query": query}, answer


def test_learns_where_is_with_linear_start() -> None:
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(), vocab_size=3 + PEOPLE + PLACES, memory_size=SLOTS)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    model.set_linear(True)  # what the LinearStart hook does at the start of training
    for step in range(1000):
        if step == 300:
            model.set_linear(False)  # re-insert the softmax (section 4.2)
        inputs, answer = where_is(32, gen)
        loss = F.cross_entropy(model(inputs).logits, answer)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    inputs, answer = where_is(2000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        error = (model(inputs).logits.argmax(1) != answer).float().mean().item()
    assert error < 0.05, f"test error {error:.3f}"


def test_code_position_formula_hand_computed() -> None:
    """The authors' code: l_kj = 1 + 4(k - (d+1)/2)(j - (J'+1)/2)/(d J'), J' = sentence_size + 1."""
    # d = 2, sentence_size = 3 -> J' = 4: l_kj = 1 + (k - 1.5)(j - 2.5)/2.
    got = position_encoding(
        torch.tensor([3, 2]), max_len=3, dim=2, dtype=torch.float64, formula="code",
        sentence_size=3,
    )
    want_full = torch.tensor(
        [[1.375, 0.625], [1.125, 0.875], [0.875, 1.125]], dtype=torch.float64
    )
    torch.testing.assert_close(got[0], want_full)
    # A shorter sentence keeps the same weights on its words (J' is global) and 0 past its end.
    torch.testing.assert_close(got[1, :2], want_full[:2])
    assert torch.equal(got[1, 2], torch.zeros(2, dtype=torch.float64))


def test_sentence_wider_than_sentence_size_is_refused() -> None:
    model = make_model(sentence=4)
    inputs = random_inputs(2, 6, 5, 17, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="sentence_size is 4"):
        model(inputs)


def test_null_memory_weight_hand_computed() -> None:
    """One real memory with score s and the null memory with logit log N: p = e^s / (e^s + N)."""
    torch.manual_seed(0)
    model = make_model(
        memory=4, sentence=3, linear_start=False, hops=1, temporal_encoding=False,
        encoding="bow",
    ).eval()
    inputs = {"story": torch.tensor([[[3, 4, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]]),
              "query": torch.tensor([[5, 6, 0]])}
    out = model(inputs, trace=True)
    with torch.no_grad():
        u = model.B()[5] + model.B()[6]  # bag of words: l = 1
        m = model.A(1)[3] + model.A(1)[4]
        s = torch.dot(u, m)
    expected = torch.exp(s) / (torch.exp(s) + 4.0)
    torch.testing.assert_close(out.trace.attention[0, 0, 0], expected)
    torch.testing.assert_close(out.trace.null_attention[0, 0], 1.0 - expected)
    assert (out.trace.attention[0, 0, 1:] == 0).all()
