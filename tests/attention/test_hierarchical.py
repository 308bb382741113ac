"""Hierarchical attention (Yang et al. 2016): word pooling per sentence, then sentence pooling."""

from __future__ import annotations

import pytest
import torch

from mneme.attention import AttentionPooling, HierarchicalAttention

D64 = torch.float64
# document 0: sentences of 2, 1 and 0 words (the last is padding); document 1: 4, 3, 2 words
WORDS = torch.tensor([[[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]],
                      [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]]], dtype=torch.bool)


def _model(seed=0) -> HierarchicalAttention:
    torch.manual_seed(seed)
    return HierarchicalAttention(5, word_hidden=3, sentence_hidden=4, attention_dim=6).double()


def test_attention_pooling_is_yangs_equations() -> None:
    torch.manual_seed(0)
    pool = AttentionPooling(4, 3).double()
    x = torch.randn(2, 5, 4, dtype=D64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    pooled, w = pool(x, mask)
    for b, n in ((0, 3), (1, 5)):
        u = torch.tanh(x[b, :n] @ pool.proj.weight.T + pool.proj.bias)  # eq. 5
        alpha = torch.softmax(u @ pool.context, 0)  # eq. 6
        torch.testing.assert_close(w[b, :n], alpha)
        torch.testing.assert_close(pooled[b], (alpha[:, None] * x[b, :n]).sum(0))  # eq. 7
    assert (w[0, 3:] == 0).all()
    assert torch.autograd.gradcheck(lambda x: pool(x, mask)[0], (x.requires_grad_(),))


def test_shapes_weights_and_padding_never_attended() -> None:
    model = _model()
    x = torch.randn(2, 3, 4, 5, dtype=D64)
    out = model(x, WORDS)
    assert out.document.shape == (2, 8) and out.sentences.shape == (2, 3, 6)
    assert out.word_weights.shape == (2, 3, 4) and out.sentence_weights.shape == (2, 3)
    assert (out.word_weights[~WORDS] == 0).all()
    assert (out.sentence_weights[0, 2] == 0).all() and (out.sentences[0, 2] == 0).all()
    torch.testing.assert_close(out.word_weights.sum(-1), WORDS.any(-1).to(D64))
    torch.testing.assert_close(out.sentence_weights.sum(-1), torch.ones(2, dtype=D64))
    # whatever the padding holds, nothing changes
    noisy = torch.where(WORDS[..., None], x, 100 * torch.randn_like(x))
    again = model(noisy, WORDS)
    torch.testing.assert_close(again.document, out.document)
    torch.testing.assert_close(again.word_weights, out.word_weights)


def test_equals_running_each_sentence_alone() -> None:
    """The packed, batched encoder against one unpadded sentence and document at a time."""
    model = _model()
    x = torch.randn(2, 3, 4, 5, dtype=D64)
    out = model(x, WORDS)
    for b in range(2):
        vectors = []
        for s in range(3):
            n = int(WORDS[b, s].sum())
            if n == 0:
                continue
            h, _ = model.word_encoder.gru(x[b, s, :n].unsqueeze(0))
            vec, _ = model.word_attention(h)
            vectors.append(vec)
        h, _ = model.sentence_encoder.gru(torch.stack(vectors, 1))
        doc, alpha = model.sentence_attention(h)
        torch.testing.assert_close(out.document[b], doc[0])
        torch.testing.assert_close(out.sentence_weights[b, : len(vectors)], alpha[0])


def test_explicit_sentence_mask_and_gradcheck() -> None:
    model = _model()
    x = torch.randn(2, 3, 4, 5, dtype=D64)
    sentences = torch.tensor([[1, 0, 0], [1, 1, 1]], dtype=torch.bool)
    out = model(x, WORDS, sentences)
    assert (out.word_weights[0, 1:] == 0).all() and out.sentence_weights[0, 0] == 1
    small = HierarchicalAttention(2, 2, 2, 2).double()
    xs = torch.randn(1, 2, 3, 2, dtype=D64, requires_grad=True)
    mask = torch.tensor([[[1, 1, 0], [1, 0, 0]]], dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda x: small(x, mask).document, (xs,))


def test_hierarchical_errors() -> None:
    model = _model()
    x = torch.randn(2, 3, 4, 5, dtype=D64)
    holes = WORDS.clone()
    holes[1, 0, 1] = False  # a hole in a sentence: not right-padded
    with pytest.raises(ValueError, match="right-padded"):
        model(x, holes)
    with pytest.raises(ValueError, match="sentence_mask must be right-padded"):
        model(x, WORDS, torch.tensor([[1, 0, 1], [1, 1, 1]], dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, S, T, D\)"):
        model(x[0])
    with pytest.raises(ValueError, match="word_mask"):
        model(x, WORDS[:, :, :3])
