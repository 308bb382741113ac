"""LSTM question-answering baseline: flattening, packing, batch independence, the registry."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
import torch
import torch.nn.functional as F

from mneme import registry
from mneme.errors import UserError
from mneme.memory.memn2n import MemN2N
from mneme.models.qa import LSTMQA, LSTMQAConfig, LSTMQATrace, build_lstm_qa, flatten_story_query


@dataclass(frozen=True)
class Sizes:
    vocab_size: int
    sentence_size: int
    memory_size: int


def small_model(**overrides) -> LSTMQA:
    torch.manual_seed(0)
    config = replace(LSTMQAConfig(embedding_dim=6, hidden_size=9), **overrides)
    return LSTMQA(config, vocab_size=15).eval()


@pytest.mark.parametrize(
    ("field", "value"),
    [("embedding_dim", 0), ("hidden_size", 0), ("num_layers", 0), ("dropout", 1.0)],
)
def test_config_validate_names_the_bad_field(field: str, value: object) -> None:
    config = replace(LSTMQAConfig(), **{field: value})
    with pytest.raises(UserError, match=field):
        config.validate()


def test_flatten_reads_oldest_sentence_first_then_the_query() -> None:
    # Slot 0 is the most recent sentence; slot 2 is empty; nil (0) pads each row.
    story = torch.tensor([[[5, 6, 0], [3, 4, 7], [0, 0, 0]], [[9, 0, 0], [0, 0, 0], [0, 0, 0]]])
    query = torch.tensor([[8, 2, 0], [1, 0, 0]])
    tokens, lengths = flatten_story_query(story, query)
    assert lengths.tolist() == [7, 2]
    assert tokens.tolist() == [[3, 4, 7, 5, 6, 8, 2], [9, 1, 0, 0, 0, 0, 0]]


def test_shapes_trace_and_factory() -> None:
    model = build_lstm_qa(LSTMQAConfig(), Sizes(vocab_size=21, sentence_size=4, memory_size=5))
    story = torch.randint(1, 21, (3, 5, 4))
    query = torch.randint(1, 21, (3, 4))
    out = model({"story": story, "query": query}, trace=True)
    assert out.logits.shape == (3, 21)
    assert isinstance(out.trace, LSTMQATrace)
    assert out.trace.tokens.shape == (3, 5 * 4 + 4)
    assert model({"story": story, "query": query}).trace is None


def test_packing_ignores_padding_slots_words_and_empty_slots() -> None:
    model = small_model(num_layers=2)
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


def test_result_does_not_depend_on_batch_composition() -> None:
    model = small_model()
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


def test_example_without_words_does_not_crash() -> None:
    model = small_model()
    story = torch.zeros(2, 3, 4, dtype=torch.long)
    story[0, 0, 0] = 3
    query = torch.zeros(2, 4, dtype=torch.long)
    assert torch.isfinite(model({"story": story, "query": query}).logits).all()


def test_nil_embedding_stays_zero_and_one_batch_is_learnable() -> None:
    model = small_model().train()
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
    assert (model.embedding.weight[0] == 0).all()


def test_registry_builds_both_qa_models() -> None:
    spec = Sizes(vocab_size=12, sentence_size=4, memory_size=6)
    story = torch.randint(1, 12, (2, 6, 4))
    for name, cls in (("memn2n", MemN2N), ("lstm", LSTMQA)):
        entry = registry.model_entry(name)
        model = entry.build(entry.config_class()(), spec)
        assert isinstance(model, cls)
        assert model({"story": story, "query": story[:, 0]}).logits.shape == (2, 12)
