"""The recurrent language model: ``RNNLanguageModel`` (Zaremba, Sutskever & Vinyals 2014, arXiv
1409.2329) and its dropout, ``LockedDropout``.

Embedding -> recurrent stack -> softmax over the vocabulary. ``FUSED_CELLS`` are the cells it runs
on ``torch.nn``'s fused kernels, one module per layer; other cells and recurrent dropout run a
``mneme.cells`` stack (``build_stack``). Its hyper-parameters (``LMConfig``), its registration
(``rnn-lm``) and its recipes are in ``mneme.models.lm``, whose docstring gives the model and its
options.

Legend: B batch, T time, E embedding size, H hidden units, L layers, V vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.decoding.state import reorder_state as _reorder
from mneme.errors import UserError
from mneme.types import ModelOutput

if TYPE_CHECKING:
    from mneme.models.lm import LMConfig

__all__ = ["FUSED_CELLS", "LockedDropout", "RNNLanguageModel"]

FUSED_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
"""Cells run on ``torch.nn``'s fused kernels (``rnn`` is the tanh Elman network)."""


class LockedDropout(nn.Module):
    """Dropout of ``x`` ``(B, T, D)``: one mask per sequence for all T steps (Gal & Ghahramani
    2016) when ``variational``, otherwise an independent mask per element (Zaremba et al.)."""

    def __init__(self, p: float, variational: bool) -> None:
        super().__init__()
        self.p, self.variational = p, variational

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if not self.variational:
            return F.dropout(x, self.p, training=True)
        keep = 1.0 - self.p
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(keep) / keep
        return x * mask


class RNNLanguageModel(nn.Module):
    """Embedding -> L recurrent layers -> linear ``(V, H)`` softmax (Zaremba et al. 2014).

    Args:
        config: the hyper-parameters.
        vocab_size: V.

    The state is a tuple ``(h, c)`` for the fused LSTM, ``(h,)`` for GRU and RNN, each
    ``(L, B, H)``, or a ``mneme.cells`` stack's own state (``RNNState``, ``LSTMState``); the loop
    saves either with ``mneme.types.pack_state``.

    Raises:
        UserError: a bad config field, V < 2, or a cell name neither fused nor in mneme.cells.
    """

    def __init__(self, config: LMConfig, vocab_size: int) -> None:
        super().__init__()
        config.validate()
        if vocab_size < 2:
            raise UserError(f"vocab_size must be >= 2, got {vocab_size}")
        self.config = config
        self.vocab_size = vocab_size
        e, h, layers = config.embedding_size, config.hidden_size, config.num_layers
        self.embedding = nn.Embedding(vocab_size, e)
        self.drop = LockedDropout(config.dropout, config.variational)
        self.fused = config.cell in FUSED_CELLS and config.recurrent_dropout == 0
        if self.fused:
            # one module per layer, so dropout between layers can be variational
            self.layers = nn.ModuleList(
                FUSED_CELLS[config.cell](e if i == 0 else h, h, batch_first=True)
                for i in range(layers))
            self.stack: nn.Module | None = None
        else:
            self.layers = nn.ModuleList()
            self.stack = _build_stack(config, e)
        self.decoder = nn.Linear(h, vocab_size)
        if config.init_scale is not None:
            for p in self.parameters():
                nn.init.uniform_(p, -config.init_scale, config.init_scale)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def forward(self, inputs: Tensor, state: Any = None, *, trace: bool = False) -> ModelOutput:
        """Next-token logits.

        Args:
            inputs: ``(B, T)`` token ids.
            state: the state returned for the previous chunk, or None (zeros).
            trace: accepted for the CLI's plot command; nothing is traced.

        Returns:
            ``ModelOutput(logits (B, T, V), state=tuple)``.
        """
        x = self.drop(self.embedding(inputs))  # (B, T, E)
        if self.stack is not None:
            x, new_state = self.stack(x, state)
        else:
            x, new_state = self._run_fused(x, state)
        return ModelOutput(self.decoder(self.drop(x)), state=new_state)

    def _run_fused(self, x: Tensor, state: tuple[Tensor, ...] | None) -> tuple[Tensor, Any]:
        lstm = self.config.cell == "lstm"
        finals: list[Any] = []
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.drop(x)
            if state is None:
                h0 = None
            elif lstm:
                h0 = (state[0][i : i + 1].contiguous(), state[1][i : i + 1].contiguous())
            else:
                h0 = state[0][i : i + 1].contiguous()
            x, final = layer(x, h0)
            finals.append(final)
        if lstm:
            return x, (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        return x, (torch.cat(finals),)

    def step(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One step for decoding: ``tokens`` ``(B,)`` -> ``(log_probs (B, V), state)``."""
        out = self.forward(tokens[:, None], state)
        return torch.log_softmax(out.logits[:, 0].float(), dim=-1), out.state

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        """The state of rows ``index`` ``(B',)`` (beam search); tensors are ``(L, B, H)``."""
        return _reorder(state, index, batch_dim=1)


def _build_stack(config: LMConfig, input_size: int) -> nn.Module:
    from mneme.cells import build_stack

    try:
        return build_stack(config.cell, input_size, config.hidden_size, config.num_layers,
                           dropout=config.dropout, variational=config.variational,
                           recurrent_dropout=config.recurrent_dropout or None)
    except ValueError as exc:
        raise UserError(f"model.cell {config.cell!r}: {exc}") from None
