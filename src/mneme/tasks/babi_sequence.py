"""bAbI read as one word sequence: the token view composed models read (``TaskInfo.to_sequence``).

Weston, Bordes, Chopra, Rush, van Merriënboer, Joulin & Mikolov 2015, "Towards AI-Complete Question
Answering" (arXiv 1502.05698), section 5: the LSTM baseline reads the story and then the question
as one word sequence and answers from its last hidden state. Any core of the matrix reads bAbI
the same way (``mneme.models.sequence``), the answer read at each example's last real word.

Legend: B batch, N memory slots, J words per sentence, T flattened words. Inputs follow the bAbI
contract of ``mneme.tasks.babi``: ``story`` ``(B, N, J)`` with slot 0 the most recent sentence,
``query`` ``(B, J)``, word 0 nil.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["flatten_story_query", "story_tokens"]


def flatten_story_query(story: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """One word sequence per example: the story oldest sentence first, then the query.

    Empty slots and nil words are dropped, vectorised: a stable sort moves the real words to the
    front of each row in reading order.

    Args:
        story: ``(B, N, J)`` word ids, slot 0 the most recent sentence.
        query: ``(B, J)`` word ids.

    Returns:
        tokens ``(B, T)`` (T = the longest example, at least 1; nil after each end) and
        lengths ``(B,)``.
    """
    batch, slots, width = story.shape
    sequence = torch.cat([story.flip(1).reshape(batch, slots * width), query], 1)
    present = sequence.ne(0)
    lengths = present.sum(1)
    order = torch.argsort((~present).to(torch.uint8), dim=1, stable=True)
    longest = max(int(lengths.max()), 1) if batch else 1
    return sequence.gather(1, order[:, :longest]), lengths


def story_tokens(inputs: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
    """``TaskInfo.to_sequence`` of bAbI: ``{"story", "query"}`` -> (tokens (B, T), lengths (B,))."""
    return flatten_story_query(inputs["story"], inputs["query"])
