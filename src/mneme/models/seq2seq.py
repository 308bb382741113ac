"""Sequence to sequence with and without attention: RNNsearch against the fixed-vector bottleneck.

An encoder reads the source ``x_1..x_{T_s}`` (ending in ``</s>``) into annotations ``h_j``; a
decoder emits the target one token at a time, reading the previous target token.

- **Encoder** (Bahdanau et al. 2015, "Neural Machine Translation by Jointly Learning to Align and
  Translate", arXiv 1409.0473, section 3.2): a bidirectional GRU (or LSTM), ``h_j = [h->_j;
  h<-_j]`` of size M = 2H (H with ``bidirectional=False``). Padding is packed away, so a padded
  source encodes exactly like the same source alone.
- **Decoder start**: ``s_0 = tanh(W_s [h->_{T_s}; h<-_1])``, both directions' final states (the
  paper's appendix A.2.2 uses h<-_1 alone); an LSTM also gets ``c_0 = W_c [...]``.
- **Attention** (the ``attention`` field names the score, ``mneme.attention.scoring``): Luong,
  Pham & Manning 2015, "Effective Approaches to Attention-based NMT" (arXiv 1508.04025),
  section 3.1, global attention: the decoder state ``h_t`` after reading ``y_{t-1}`` is the
  query, ``a_t = softmax(score(h_t, h_j))`` over the real source positions (padding gets weight
  exactly 0), ``c_t = sum_j a_tj h_j``, and the *attentional vector* ``h~_t = tanh(W_c [c_t;
  h_t])`` feeds the softmax ``p(y_t) = softmax(W_o h~_t)``. ``additive`` is Bahdanau's score
  ``v^T tanh(W h_t + U h_j)``, with ``U h_j`` computed once per sentence
  (``AdditiveScore.precompute_keys``); ``dot`` and ``scaled_dot`` compare ``h_t`` with ``W_k
  h_j`` (a key projection M -> H, also computed once); ``bilinear`` is Luong's "general";
  ``location`` scores positions from ``h_t`` alone (eq. 9). Luong's query ``h_t`` (rather than
  Bahdanau's ``s_{t-1}``) is what lets the teacher-forced decoder run as one fused RNN call; the
  scores are the same functions.
- **Input feeding** (``input_feeding``; Luong et al. 2015, section 3.3): ``h~_{t-1}`` is
  concatenated to the decoder's input at step t, so the decoder knows its past alignments. The
  teacher-forced pass then has to step token by token (slower).
- **No attention** (``attention="none"``): the fixed-vector bottleneck of the encoder-decoder
  (RNNenc in Bahdanau et al.'s experiments). The decoder starts from ``s_0`` above; with
  ``context_every_step`` (the default) the same summary ``c = [h->_{T_s}; h<-_1]`` is also fed to
  every decoder step and to the output layer, ``h~_t = tanh(W_c [c; h_t])``, as in Cho et al.
  2014 ("Learning Phrase Representations using RNN Encoder-Decoder", arXiv 1406.1078, section
  2.2); without it the source reaches the decoder only through ``s_0`` (Sutskever, Vinyals & Le
  2014, "Sequence to Sequence Learning with Neural Networks", arXiv 1409.3215) and ``h~_t =
  tanh(W_c h_t)``.

Training is teacher-forced (``teacher_forcing`` < 1 feeds the model's own greedy prediction
instead of the true previous token with probability 1 - ratio, per row and step). Decoding goes
through ``mneme.decoding`` with ``step(tokens, state)``, the state holding the encoder memory, so
beam search replicates it with the default batch-first ``reorder_state``.

Legend: B batch, T_s source length (with ``</s>``), T_t target length, E embedding size, H
hidden units, M = 2H annotation size, A additive-score size, V_s and V_t vocabularies.

Where it lives: the decoding methods (``step``, ``reorder_state``, ``translate``, in the
``Seq2SeqDecoding`` that ``Seq2Seq`` inherits) and ``Translation`` in
``mneme.models.seq2seq_decoding``; the config, the state, the encoder, attention, teacher forcing,
the registration and the recipe here. Every public name is importable from this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from mneme.attention.attention import Attention
from mneme.attention.scoring import AdditiveScore, build_score
from mneme.config import TrainConfig
from mneme.errors import UserError
from mneme.models.seq2seq_decoding import Seq2SeqDecoding, Translation
from mneme.registry import register_model
from mneme.types import ModelOutput
from mneme.validation import Validated, at_least, in_range, one_of

__all__ = [
    "ATTENTIONS",
    "Seq2Seq",
    "Seq2SeqConfig",
    "Seq2SeqState",
    "Translation",
    "build_seq2seq",
    "seq2seq_recipe",
]

AttentionName = Literal["none", "additive", "dot", "bilinear", "location", "scaled_dot"]
ATTENTIONS = ("none", "additive", "dot", "bilinear", "location", "scaled_dot")


@dataclass(frozen=True)
class Seq2SeqConfig(Validated):
    """Encoder-decoder hyper-parameters.

    Attributes:
        attention: the score (``additive``: Bahdanau et al. 2015), or ``none`` for the
            fixed-vector encoder-decoder.
        hidden_size: H, per encoder direction and of the decoder.
        embedding_dim: E, of source and target embeddings.
        attention_size: A, the additive score's tanh layer (None: H).
        cell: ``gru`` (Bahdanau et al.) or ``lstm`` (Sutskever et al., Luong et al.).
        bidirectional: a bidirectional encoder (M = 2H) or a forward one (M = H).
        input_feeding: feed ``h~_{t-1}`` into the decoder's next input (Luong et al., 3.3).
        context_every_step: with ``attention="none"``, feed the fixed summary vector to every
            decoder step and to the output (Cho et al. 2014); False: only ``s_0`` carries it.
        dropout: on the embeddings and on ``h~_t`` before the output layer.
        teacher_forcing: probability of feeding the true previous token in training.
        max_source_length: the ``location`` score's largest source length (tokens, ``</s>``
            included).
    """

    attention: AttentionName = field(default="additive", metadata=one_of(*ATTENTIONS))
    hidden_size: int = field(default=256, metadata=at_least(1))
    embedding_dim: int = field(default=256, metadata=at_least(1))
    attention_size: int | None = field(default=None, metadata=at_least(1))
    cell: Literal["gru", "lstm"] = field(default="gru", metadata=one_of())
    bidirectional: bool = True
    input_feeding: bool = False
    context_every_step: bool = True
    dropout: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))
    teacher_forcing: float = field(default=1.0, metadata=in_range(0.0, 1.0))
    max_source_length: int = field(default=64, metadata=at_least(1))


@dataclass(frozen=True)
class Seq2SeqState:
    """The decoder's state between steps, every tensor batch-first (beam search picks rows).

    Attributes:
        hidden: ``(B, H)`` decoder state h_{t-1}.
        cell: ``(B, H)`` LSTM memory cell; ``(B, 0)`` for a GRU.
        feed: ``(B, H)`` the previous attentional vector (input feeding); else ``(B, 0)``.
        values: ``(B, T_s, M)`` the annotations h_j (what attention averages).
        keys: ``(B, T_s, D_k)`` what the query is compared with (``W_k h_j`` for dot scores).
        projected: ``(B, T_s, A)`` the additive score's ``U h_j``; ``(B, T_s, 0)`` otherwise.
        source_mask: ``(B, T_s)`` bool, True at real source tokens.
        context: ``(B, M)`` the fixed summary fed every step (no attention); else ``(B, 0)``.
        weights: ``(B, T_s)`` the attention of the last step (zeros before it, or without
            attention).
    """

    hidden: Tensor
    cell: Tensor
    feed: Tensor
    values: Tensor
    keys: Tensor
    projected: Tensor
    source_mask: Tensor
    context: Tensor
    weights: Tensor


class Seq2Seq(Seq2SeqDecoding, nn.Module):
    """Encoder-decoder with optional attention (see the module docstring for the equations);
    ``step``, ``reorder_state`` and ``translate`` are ``Seq2SeqDecoding``'s.

    Args:
        source_size: V_s; target_size: V_t.
        config: the hyper-parameters (validated here).
        pad_id: the padding id (the special ids are shared by both vocabularies).
        bos_id: the begin-of-sequence id.
        eos_id: the end-of-sequence id.
    """

    def __init__(self, source_size: int, target_size: int, config: Seq2SeqConfig | None = None,
                 *, pad_id: int = 0, bos_id: int = 2, eos_id: int = 3) -> None:
        super().__init__()
        config = config or Seq2SeqConfig()
        config.validate()
        if min(source_size, target_size) < 1:
            raise ValueError(f"vocabulary sizes must be >= 1; got {source_size}, {target_size}")
        self.config = config
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        h, e = config.hidden_size, config.embedding_dim
        m = h * (2 if config.bidirectional else 1)
        self.memory_size = m
        self.lstm = config.cell == "lstm"
        rnn = nn.LSTM if self.lstm else nn.GRU
        self.source_embed = nn.Embedding(source_size, e, padding_idx=pad_id)
        self.target_embed = nn.Embedding(target_size, e, padding_idx=pad_id)
        self.encoder = rnn(e, h, batch_first=True, bidirectional=config.bidirectional)
        self.bridge = nn.Linear(m, h * (2 if self.lstm else 1))  # s_0 (and c_0) from the summary
        self.has_attention = config.attention != "none"
        self.fixed_context = not self.has_attention and config.context_every_step
        self.input_feeding = config.input_feeding
        decoder_in = e + (h if self.input_feeding else 0) + (m if self.fixed_context else 0)
        self.decoder = rnn(decoder_in, h, batch_first=True)
        context = m if (self.has_attention or self.fixed_context) else 0
        self.combine = nn.Linear(context + h, h)  # W_c: h~_t = tanh(W_c [c_t; h_t])
        self.output = nn.Linear(h, target_size)  # W_o
        self.dropout = nn.Dropout(config.dropout)
        self.key_proj: nn.Linear | None = None
        self.attention: Attention | None = None
        if self.has_attention:
            name = config.attention
            if name in ("dot", "scaled_dot"):
                self.key_proj = nn.Linear(m, h, bias=False)  # W_k: dot scores need D_k = H
                score = build_score(name, h, h)
            else:
                score = build_score(name, h, m, hidden_dim=config.attention_size or h,
                                    max_keys=config.max_source_length)
            self.attention = Attention(score, fused=False)

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, source: Tensor, lengths: Tensor) -> Seq2SeqState:
        """Encode a batch and return the decoder state before its first step.

        Args:
            source: ``(B, T_s)`` long ids, padded after each row's ``lengths``.
            lengths: ``(B,)`` real tokens per row (``</s>`` included), each >= 1.

        Raises:
            UserError: a source longer than the location score's ``max_source_length``.
        """
        b, t = source.shape
        if self.config.attention == "location" and t > self.config.max_source_length:
            raise UserError(f"a source of {t} tokens is longer than this model's "
                            f"max_source_length {self.config.max_source_length}")
        lengths = lengths.to(source.device)
        mask = torch.arange(t, device=source.device)[None, :] < lengths[:, None]
        embedded = self.dropout(self.source_embed(source))
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.encoder(packed)
        values, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        last = final[0] if self.lstm else final  # (directions, B, H) final states
        summary = last.transpose(0, 1).reshape(b, -1)  # [h->_{T_s}; h<-_1]  (B, M)
        start = self.bridge(summary)
        empty = values.new_zeros(b, 0)
        if self.lstm:
            hidden, cell = start.chunk(2, dim=-1)
            hidden = torch.tanh(hidden)
        else:
            hidden, cell = torch.tanh(start), empty
        keys = values if self.key_proj is None else self.key_proj(values)
        projected = values.new_zeros(b, t, 0)
        if self.attention is not None and isinstance(self.attention.score, AdditiveScore):
            projected = self.attention.precompute_keys(values)  # U h_j, once per sentence
        feed = values.new_zeros(b, self.config.hidden_size) if self.input_feeding else empty
        context = summary if self.fixed_context else empty
        return Seq2SeqState(hidden, cell, feed, values, keys, projected, mask, context,
                            values.new_zeros(b, t))

    # -- attention and output ------------------------------------------------------------------
    def _attend(self, query: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor | None]:
        """``(context (B, T_q, M or 0), weights (B, T_q, T_s) or None)`` for ``(B, T_q, H)``."""
        b, tq = query.shape[:2]
        if self.attention is None:
            if self.fixed_context:
                return state.context[:, None, :].expand(b, tq, -1), None
            return query.new_zeros(b, tq, 0), None
        additive = isinstance(self.attention.score, AdditiveScore)
        return self.attention(query, state.keys, state.values, state.source_mask,
                              projected_keys=state.projected if additive else None)

    def _attentional(self, out: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor | None]:
        """``h~ (B, T_q, H)`` and the weights from decoder outputs ``(B, T_q, H)``."""
        context, weights = self._attend(out, state)
        return torch.tanh(self.combine(torch.cat([context, out], -1))), weights

    def _hx(self, state: Seq2SeqState) -> Tensor | tuple[Tensor, Tensor]:
        hidden = state.hidden.unsqueeze(0).contiguous()
        return (hidden, state.cell.unsqueeze(0).contiguous()) if self.lstm else hidden

    def _decoder_input(self, embedded: Tensor, state: Seq2SeqState) -> Tensor:
        """``(B, T, E)`` target embeddings with the fed vectors appended."""
        parts = [embedded]
        if self.input_feeding:
            parts.append(state.feed[:, None, :].expand(-1, embedded.shape[1], -1))
        if self.fixed_context:
            parts.append(state.context[:, None, :].expand(-1, embedded.shape[1], -1))
        return torch.cat(parts, -1) if len(parts) > 1 else embedded

    def _advance(self, tokens: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
        """One decoder step: ``h~_t (B, H)`` and the new state, reading ``tokens (B,)``."""
        x = self._decoder_input(self.dropout(self.target_embed(tokens))[:, None, :], state)
        out, hx = self.decoder(x, self._hx(state))
        tilde, weights = self._attentional(out, state)
        hidden, cell = (hx[0][0], hx[1][0]) if self.lstm else (hx[0], state.cell)
        new = dataclasses.replace(
            state, hidden=hidden, cell=cell,
            feed=tilde[:, 0] if self.input_feeding else state.feed,
            weights=state.weights if weights is None else weights[:, 0])
        return tilde[:, 0], new

    # -- teacher forcing -----------------------------------------------------------------------
    def teacher_forced(self, state: Seq2SeqState,
                       target_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Logits ``(B, T_t, V_t)`` and attention ``(B, T_t, T_s)`` (None without attention).

        Without input feeding (and with full teacher forcing) the decoder runs as one RNN call
        and attends for all T_t queries at once; otherwise it steps, as ``step`` does (a test
        holds the two equal).
        """
        stepwise = self.input_feeding or (self.training and self.config.teacher_forcing < 1.0)
        if not stepwise:
            x = self._decoder_input(self.dropout(self.target_embed(target_in)), state)
            out, _ = self.decoder(x, self._hx(state))
            tilde, weights = self._attentional(out, state)
            return self.output(self.dropout(tilde)), weights
        logits, weights = [], []
        tokens = target_in[:, 0]
        for t in range(target_in.shape[1]):
            if t > 0:
                tokens = target_in[:, t]
                if self.training and self.config.teacher_forcing < 1.0:
                    own = logits[-1].detach().argmax(-1)
                    keep = torch.rand(tokens.shape, device=tokens.device)
                    tokens = torch.where(keep < self.config.teacher_forcing, tokens, own)
            tilde, state = self._advance(tokens, state)
            logits.append(self.output(self.dropout(tilde)))
            weights.append(state.weights)
        attention = torch.stack(weights, 1) if self.has_attention else None
        return torch.stack(logits, 1), attention

    def forward(self, inputs: Mapping[str, Tensor], *, trace: bool = False) -> ModelOutput:
        """Teacher-forced logits.

        Args:
            inputs: ``source (B, T_s)``, ``source_length (B,)``, ``target_in (B, T_t)`` (``<s>``
                then the target).
            trace: return the attention weights ``(B, T_t, T_s)`` as ``ModelOutput.trace``
                (None without attention).

        Returns:
            ``ModelOutput(logits (B, T_t, V_t), trace)``.
        """
        state = self.encode(inputs["source"], inputs["source_length"])
        logits, weights = self.teacher_forced(state, inputs["target_in"])
        return ModelOutput(logits=logits, trace=weights if trace else None)


@register_model("seq2seq", config=Seq2SeqConfig, tasks=("seq2seq",),
                summary="GRU encoder-decoder, --model.attention additive|dot|...|none",
                source="Bahdanau et al. 2015; Luong et al. 2015; none: Cho et al. 2014")
def build_seq2seq(config: Seq2SeqConfig, spec: Any) -> Seq2Seq:
    """The registry factory: a ``Seq2Seq`` for a task's spec (``source_size``, ``target_size``,
    ``pad_id``, ``bos_id``, ``eos_id``; ``TranslationSpec`` for translation and reversal)."""
    config.validate()
    return Seq2Seq(spec.source_size, spec.target_size, config, pad_id=spec.pad_id,
                   bos_id=spec.bos_id, eos_id=spec.eos_id)


TRANSLATION_EPOCHS = 15
"""About 9 minutes of one unloaded core for the prefixes subset at the default sizes (0.19 s of
CPU a step, 175 steps an epoch)."""
REVERSAL_EPOCHS = 10
REVERSAL_EPOCH_STEPS = 500


def seq2seq_recipe(task_name: str, task_config: Any,
                   model_config: Seq2SeqConfig) -> tuple[Seq2SeqConfig, TrainConfig]:
    """The CPU training recipe of ``seq2seq`` (a row of ``mneme.models.recipes.RECIPES``).

    Adam at 1e-3 (Luong et al. 2015 and most later NMT work use Adam or SGD at 1.0; Adam needs
    no schedule tuning at this budget), batch 64, and the gradient norm clipped at 5 as in
    Sutskever et al. 2014 (section 3.4): recurrent encoder-decoders occasionally produce
    exploding gradients, and rescaling to norm 5 keeps those steps from wrecking the weights.
    Translation: the prefixes subset fits ``TRANSLATION_EPOCHS`` epochs in about 9 minutes of
    one core at H = E = 256, with dropout 0.2 (Luong et al.'s rate; 10k training pairs overfit
    a 4.5M-parameter model within a few epochs otherwise). Reversal: 20 symbols need far
    smaller sizes (H = 128, E = 32), and training stops once the validation token error is 0.
    Explicit ``--model.*`` and ``--train.*`` flags override all of these.
    """
    if task_name == "reversal":
        model = dataclasses.replace(model_config, hidden_size=128, embedding_dim=32)
        return model, TrainConfig(epochs=REVERSAL_EPOCHS, epoch_steps=REVERSAL_EPOCH_STEPS,
                                  batch_size=64, optimizer="adam", lr=1e-3,
                                  lr_schedule="constant", clip_norm=5.0, eval_batch_size=500,
                                  early_stop=0.0)
    model_config = dataclasses.replace(model_config, dropout=0.2)
    return model_config, TrainConfig(epochs=TRANSLATION_EPOCHS, batch_size=64,
                                     optimizer="adam", lr=1e-3, lr_schedule="constant",
                                     clip_norm=5.0, eval_batch_size=500)
