"""bAbI as one word sequence (story oldest first, then the query): the token view composed
models read through ``TaskInfo.to_sequence`` (Weston et al. 2015, section 5, LSTM baseline)."""

from __future__ import annotations

from pathlib import Path

import torch
from tests.babi_fake import write_fake_babi

from mneme.tasks.babi import BabiConfig, BabiTask
from mneme.tasks.babi_sequence import flatten_story_query, story_tokens


def test_flatten_reads_oldest_sentence_first_then_the_query() -> None:
    # Slot 0 is the most recent sentence; slot 2 is empty; nil (0) pads each row.
    story = torch.tensor([[[5, 6, 0], [3, 4, 7], [0, 0, 0]], [[9, 0, 0], [0, 0, 0], [0, 0, 0]]])
    query = torch.tensor([[8, 2, 0], [1, 0, 0]])
    tokens, lengths = flatten_story_query(story, query)
    assert lengths.tolist() == [7, 2]
    assert tokens.tolist() == [[3, 4, 7, 5, 6, 8, 2], [9, 1, 0, 0, 0, 0, 0]]


def test_flatten_drops_nil_words_inside_sentences_and_keeps_their_order() -> None:
    # nil words between real ones (and an empty slot between two sentences) are skipped
    story = torch.tensor([[[0, 4, 0, 5], [0, 0, 0, 0], [1, 0, 2, 3]]])
    query = torch.tensor([[0, 6, 0, 7]])
    tokens, lengths = flatten_story_query(story, query)
    assert lengths.tolist() == [7]
    assert tokens.tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    assert tokens.dtype == story.dtype


def test_flatten_example_without_words_and_empty_batch() -> None:
    story = torch.zeros(2, 3, 4, dtype=torch.long)
    story[0, 1, 2] = 3
    query = torch.zeros(2, 4, dtype=torch.long)
    tokens, lengths = flatten_story_query(story, query)
    assert lengths.tolist() == [1, 0]
    assert tokens.tolist() == [[3], [0]]  # at least one step, nil after each end
    tokens, lengths = flatten_story_query(torch.zeros(0, 3, 4, dtype=torch.long),
                                          torch.zeros(0, 4, dtype=torch.long))
    assert tokens.shape == (0, 1) and lengths.shape == (0,)


def test_story_tokens_is_the_view_of_the_input_mapping() -> None:
    g = torch.Generator().manual_seed(0)
    story = torch.randint(0, 9, (4, 5, 3), generator=g)
    query = torch.randint(0, 9, (4, 3), generator=g)
    tokens, lengths = story_tokens({"story": story, "query": query, "supporting": story[:, 0]})
    expected_tokens, expected_lengths = flatten_story_query(story, query)
    assert torch.equal(tokens, expected_tokens) and torch.equal(lengths, expected_lengths)


def test_the_babi_task_declares_the_token_view(tmp_path: Path) -> None:
    task = BabiTask(BabiConfig(task_id=1, data_dir=str(write_fake_babi(tmp_path / "data"))))
    info = task.info
    assert info.inputs == "structured" and info.to_sequence is story_tokens
    assert info.readout == "last_step" and info.outputs == "classes" and info.composable
    assert info.input_size == info.output_size == len(task.vocab)
    batch = next(task.eval_batches("valid", 8))
    tokens, lengths = info.to_sequence(batch.inputs)
    assert tokens.shape[0] == lengths.shape[0] == batch.size
    assert (lengths >= 1).all() and int(lengths.max()) == tokens.shape[1]
    # every real word of story and query is read once, nothing else
    story, query = batch.inputs["story"], batch.inputs["query"]
    words = story.ne(0).sum((1, 2)) + query.ne(0).sum(1)
    assert torch.equal(lengths, words)
    assert (tokens.ne(0).sum(1) == lengths).all()
