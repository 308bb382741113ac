"""Variational dropout: one mask per sequence, on inputs, between layers and on h_{t-1}."""

from __future__ import annotations

import pytest
import torch

import mneme.cells.stacks as stacks
from mneme.cells import ElmanRNN, RNNState, VariationalDropout, build_stack, embedding_dropout
from mneme.cells.reference import gru_reference, lstm_reference, rnn_reference


def test_variational_dropout_one_mask_per_sequence():
    torch.manual_seed(0)
    drop = VariationalDropout(0.5)
    y = drop(torch.ones(8, 6, 50))
    assert set(y.unique().tolist()) <= {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same units at every time step
    assert len({tuple(row.tolist()) for row in y[:, 0]}) == 8  # sequences differ
    assert 0.3 < (y == 0).float().mean() < 0.7
    big = drop(torch.ones(200, 2, 100))
    assert abs(big.mean().item() - 1.0) < 0.05  # unbiased in expectation
    drop.eval()
    x = torch.randn(2, 3, 4)
    assert torch.equal(drop(x), x)
    assert torch.equal(VariationalDropout(0.0)(x), x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        VariationalDropout(1.0)
    with pytest.raises(ValueError, match="B, T, D"):
        VariationalDropout(0.5)(torch.ones(2, 3))


def test_embedding_dropout_drops_word_types():
    torch.manual_seed(1)
    weight = torch.randn(10, 5)
    tokens = torch.tensor([[1, 2, 1, 3, 2, 1], [3, 3, 1, 2, 4, 4]])
    out = embedding_dropout(weight, tokens, 0.5)
    for v in range(10):
        rows = out[tokens == v]
        if len(rows):  # every occurrence of a word type is dropped or kept together
            assert torch.equal(rows, rows[:1].expand_as(rows))
            assert torch.all(rows == 0) or torch.allclose(rows[0], 2 * weight[v])
    assert torch.equal(embedding_dropout(weight, tokens, 0.5, training=False), weight[tokens])


def test_recurrent_mask_is_one_per_sequence_for_every_step():
    """h_t = relu(x_t + m * h_{t-1}) with W = I: a dropped unit restarts at 1 every step, a kept
    one (m = 2) accumulates 1, 3, 7, 15, ...; never a mixture, so the mask is fixed over T."""
    torch.manual_seed(2)
    core = ElmanRNN(6, 6, nonlinearity="relu", recurrent_init=1.0, variational=True,
                    recurrent_dropout=0.5)
    with torch.no_grad():
        core.rnn.weight_ih_l0.copy_(torch.eye(6))
    core.train()
    y, _ = core(torch.ones(16, 5, 6))
    kept = torch.tensor([1.0, 3, 7, 15, 31])
    for b in range(16):
        for u in range(6):
            seq = y[b, :, u]
            assert torch.equal(seq, torch.ones(5)) or torch.equal(seq, kept)
    patterns = {tuple((y[b, -1] > 1).tolist()) for b in range(16)}
    assert len(patterns) > 1  # different sequences get different masks
    core.eval()  # no mask: h_t = 1 + h_{t-1}
    counting = torch.arange(1.0, 6.0)[None, :, None].expand(2, 5, 6)
    torch.testing.assert_close(core(torch.ones(2, 5, 6))[0], counting)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "coupled"])
def test_variational_stack_applies_its_masks_like_the_reference(cell, monkeypatch):
    """Record the masks the stack draws and replay them in the reference equations."""
    torch.manual_seed(3)
    drawn: list[torch.Tensor] = []
    real = stacks.variational_mask

    def recording(shape, p, like):
        m = real(shape, p, like)
        drawn.append(m)
        return m

    monkeypatch.setattr(stacks, "variational_mask", recording)
    core = build_stack(cell, 3, 4, 2, dropout=0.4, variational=True).double().train()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, state = core(x)
    rec0, between, rec1 = drawn  # layer 0 recurrent, between layers, layer 1 recurrent
    assert rec0.shape == (2, 4) and between.shape == (2, 1, 4)
    inp = x
    for layer, mask in ((0, rec0), (1, rec1)):
        if layer == 1:
            inp = inp * between
        zeros = torch.zeros(2, 4, dtype=torch.float64)
        sfx = f"_l{layer}"
        if cell == "coupled":
            w = [getattr(core, n + sfx) for n in ("weight_ih", "weight_hh", "bias")]
            inp, _, _ = lstm_reference(inp, zeros, zeros, *w, variant="coupled",
                                       recurrent_mask=mask)
            continue
        m = getattr(core, cell)
        w = [getattr(m, n + sfx) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if cell == "rnn":
            inp, _ = rnn_reference(inp, zeros, *w, recurrent_mask=mask)
        elif cell == "lstm":
            inp, _, _ = lstm_reference(inp, zeros, zeros, *w, recurrent_mask=mask)
        else:
            inp, _ = gru_reference(inp, zeros, *w, recurrent_mask=mask)
    torch.testing.assert_close(y, inp)
    assert state.hidden.shape == (2, 2, 4)


def test_variational_stack_is_deterministic_in_eval_and_uses_the_fused_kernel():
    torch.manual_seed(4)
    core = build_stack("lstm", 3, 4, 2, dropout=0.5, variational=True)
    plain = build_stack("lstm", 3, 4, 2)
    plain.load_state_dict(core.state_dict())
    x = torch.randn(2, 5, 3)
    core.eval()
    torch.testing.assert_close(core(x)[0], plain(x)[0])
    assert core.lstm.dropout == 0.0  # variational masks are the stack's, not the kernel's
    core.train()
    assert not torch.allclose(core(x)[0], core(x)[0])  # new masks every call
    zaremba = build_stack("lstm", 3, 4, 2, dropout=0.5)
    assert zaremba.lstm.dropout == 0.5 and zaremba.recurrent_dropout == 0.0
    with pytest.raises(ValueError, match="variational"):
        build_stack("gru", 3, 4, recurrent_dropout=0.2)
    state = RNNState(torch.zeros(1, 2, 4))
    assert ElmanRNN(3, 4)(x, state)[0].shape == (2, 5, 4)
