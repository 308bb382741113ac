"""Language models over a token stream: the recurrent LM and the neural n-gram LM.

- ``RNNLanguageModel``: embedding -> recurrent stack -> softmax over the vocabulary, the model of
  Zaremba, Sutskever & Vinyals 2014, "Recurrent Neural Network Regularization" (arXiv 1409.2329):
  dropout on the embedding output, between layers and before the softmax (section 3), parameters
  initialised uniformly in ``[-init_scale, init_scale]`` (small 0.1, medium 0.05, large 0.04).
  Options: ``variational`` dropout, one mask per sequence on every time step (Gal & Ghahramani
  2016, "A Theoretically Grounded Application of Dropout in RNNs", arXiv 1512.05287; here on the
  non-recurrent connections, so the fused kernels stay usable); ``tie_weights``, the softmax
  weight shared with the embedding (Press & Wolf 2017, arXiv 1608.05859; Inan et al. 2017, arXiv
  1611.01462). ``lstm``, ``gru`` and ``rnn`` (tanh) run on ``torch.nn``'s fused kernels; other
  cell names (``peephole``, ``ln-lstm``, ``irnn``, ...; see ``mneme.cells.CELLS``) and recurrent
  dropout use ``mneme.cells.build_stack``.
- ``NGramLM``: Bengio, Ducharme, Vincent & Jauvin 2003, "A Neural Probabilistic Language Model"
  (JMLR 3), section 2: ``y = b + W x + U tanh(d + H x)``, x the concatenated embeddings of the
  previous n-1 words (``W``, the direct connections, optional). In the stream setting its state is
  the last n-1 tokens of the previous chunk, so it sees its full context across chunk boundaries.

Both return ``ModelOutput(logits (B, T, V), state=...)`` from ``forward(inputs (B, T), state)``,
with a state of tensors (tuples, or a stack's registered state dataclass: checkpoints pack it
with ``mneme.types.pack_state`` and load with ``weights_only=True``), and offer
``step(tokens (B,), state) -> (log_probs (B, V), state)`` and ``reorder_state(state, index)`` for
``mneme.decoding``.

Legend: B batch, T time, E embedding size, H hidden units, L layers, V vocabulary, n the n-gram
order.

Where it lives: the recurrent model (``RNNLanguageModel``, ``LockedDropout``, ``FUSED_CELLS``) in
``mneme.models.lm_rnn``; both configs (``LMConfig``, ``NGramConfig``), ``NGramLM``, the
registrations and the recipes here. Every public name is importable from this module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from mneme.config import TrainConfig
from mneme.decoding.state import reorder_state as _reorder
from mneme.errors import UserError
from mneme.models.lm_rnn import FUSED_CELLS, LockedDropout, RNNLanguageModel
from mneme.registry import register_model
from mneme.types import ModelOutput
from mneme.validation import Validated, at_least, in_range, invalid

__all__ = [
    "FUSED_CELLS",
    "LMConfig",
    "LockedDropout",
    "NGramConfig",
    "NGramLM",
    "RNNLanguageModel",
    "build_lm",
    "build_ngram",
    "lm_recipe",
    "zaremba",
]


@dataclass(frozen=True)
class LMConfig(Validated):
    """Recurrent language model hyper-parameters (defaults: Zaremba et al.'s small model).

    Attributes:
        cell: ``lstm``, ``gru``, ``rnn`` (fused ``torch.nn``), or a ``mneme.cells`` stack name.
        embedding_dim: E; None means ``hidden_size`` (Zaremba et al. use E = H).
        hidden_size: H per layer (small 200, medium 650, large 1500).
        num_layers: L.
        dropout: probability on the embedding output, between layers and before the softmax
            (small 0, medium 0.5, large 0.65).
        variational: one dropout mask per sequence shared by all time steps (Gal & Ghahramani).
        recurrent_dropout: with ``variational``, also drop h_{t-1} in every layer's recurrence
            with one mask per sequence (Gal & Ghahramani's full scheme); > 0 runs the
            ``mneme.cells`` stack's per-step path instead of the fused kernel.
        tie_weights: the softmax weight is the embedding matrix (needs E == H).
        init_scale: every parameter uniform in ``[-init_scale, init_scale]``; None keeps
            PyTorch's initialisation.
    """

    cell: str = "lstm"
    embedding_dim: int | None = field(default=None, metadata=at_least(1))
    hidden_size: int = field(default=200, metadata=at_least(1))
    num_layers: int = field(default=2, metadata=at_least(1))
    dropout: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))
    variational: bool = False
    recurrent_dropout: float = field(default=0.0, metadata=in_range(0.0, 1.0, closed="left"))
    tie_weights: bool = False
    init_scale: float | None = field(default=0.1, metadata=at_least(0.0))

    @property
    def embedding_size(self) -> int:
        """E, with None resolved to H."""
        return self.hidden_size if self.embedding_dim is None else self.embedding_dim

    def check(self) -> None:
        if not self.cell:
            raise invalid(self, "cell", "must name a cell (lstm, gru, rnn, ...)")
        if self.recurrent_dropout > 0 and not self.variational:
            raise invalid(self, "recurrent_dropout", "needs variational=True, one mask per "
                          "sequence (Gal & Ghahramani 2016)")
        if self.tie_weights and self.embedding_size != self.hidden_size:
            raise invalid(self, "tie_weights", "needs embedding_dim == hidden_size",
                          got=f"{self.embedding_size} and {self.hidden_size}")


@dataclass(frozen=True)
class NGramConfig(Validated):
    """Neural n-gram LM hyper-parameters (Bengio et al. 2003).

    Attributes:
        order: n; the model reads the previous n - 1 tokens (the paper's best: 5 or 6).
        embedding_dim: m, the word feature size (the paper: 30 to 100).
        hidden_size: h, tanh hidden units (the paper: 0 to 100; more on larger data).
        direct: the direct connections ``W x`` from the embeddings to the output.
        dropout: on the embeddings and the hidden layer (not in the paper; PTB is small).
        init_scale: every parameter uniform in ``[-init_scale, init_scale]``; None: PyTorch's.
    """

    order: int = field(default=5, metadata=at_least(2))
    embedding_dim: int = field(default=100, metadata=at_least(1))
    hidden_size: int = field(default=200, metadata=at_least(1))
    direct: bool = False
    dropout: float = field(default=0.3, metadata=in_range(0.0, 1.0, closed="left"))
    init_scale: float | None = field(default=0.05, metadata=at_least(0.0))


class NGramLM(nn.Module):
    """``y = b + W x + U tanh(d + H x)`` over the previous n - 1 tokens (Bengio et al. 2003).

    Args:
        config: the hyper-parameters.
        vocab_size: V.
        pad_id: the token assumed before the stream's start (``<eos>``: a sentence start).

    The state is ``(B, n - 1)`` long: the last n - 1 tokens seen.
    """

    def __init__(self, config: NGramConfig, vocab_size: int, pad_id: int = 0) -> None:
        super().__init__()
        config.validate()
        if vocab_size < 2:
            raise UserError(f"vocab_size must be >= 2, got {vocab_size}")
        self.config = config
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.context = config.order - 1
        width = self.context * config.embedding_dim
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)  # C
        self.hidden = nn.Linear(width, config.hidden_size)  # H, d
        self.output = nn.Linear(config.hidden_size, vocab_size)  # U, b
        self.direct = nn.Linear(width, vocab_size, bias=False) if config.direct else None  # W
        self.drop = nn.Dropout(config.dropout)
        if config.init_scale is not None:
            for p in self.parameters():
                nn.init.uniform_(p, -config.init_scale, config.init_scale)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> Tensor:
        """``(B, n - 1)`` of ``pad_id``."""
        return torch.full((batch_size, self.context), self.pad_id, dtype=torch.long,
                          device=device)

    def windows(self, inputs: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The n - 1 tokens each prediction reads: ``(B, T, n - 1)``, and the new state.

        Window t is the n - 1 tokens ending with ``inputs[:, t]`` (earlier ones from ``state``).
        """
        if state is None:
            state = self.initial_state(inputs.shape[0], inputs.device)
        context = torch.cat([state.to(inputs.device), inputs], dim=1)  # (B, n-1+T)
        windows = context.unfold(1, self.context, 1)[:, 1:]  # (B, T, n-1)
        return windows, context[:, -self.context :]

    def forward(self, inputs: Tensor, state: Tensor | None = None, *,
                trace: bool = False) -> ModelOutput:
        """Next-token logits ``(B, T, V)`` for ``inputs`` ``(B, T)``; state ``(B, n - 1)``."""
        windows, new_state = self.windows(inputs, state)
        x = self.drop(self.embedding(windows).flatten(2))  # (B, T, (n-1) m)
        hidden = self.drop(torch.tanh(self.hidden(x)))
        logits = self.output(hidden)
        if self.direct is not None:
            logits = logits + self.direct(x)
        return ModelOutput(logits, state=new_state)

    def step(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step for decoding: ``tokens`` ``(B,)`` -> ``(log_probs (B, V), state)``."""
        out = self.forward(tokens[:, None], state)
        return torch.log_softmax(out.logits[:, 0].float(), dim=-1), out.state

    def reorder_state(self, state: Tensor, index: Tensor) -> Tensor:
        """The state of rows ``index`` ``(B',)``."""
        return _reorder(state, index, batch_dim=0)


@register_model("rnn-lm", config=LMConfig, tasks=("lm",),
                summary="recurrent LM, --model.cell lstm|gru|rnn|... (dropout, tied weights)",
                source="Zaremba, Sutskever & Vinyals 2014, arXiv 1409.2329")
def build_lm(config: LMConfig, spec: Any) -> RNNLanguageModel:
    """An ``RNNLanguageModel`` sized by the task's ``spec.vocab_size``."""
    return RNNLanguageModel(config, int(spec.vocab_size))


@register_model("ngram", config=NGramConfig, tasks=("lm",),
                summary="neural n-gram language model, an MLP over n-1 word embeddings",
                source="Bengio, Ducharme, Vincent & Jauvin 2003")
def build_ngram(config: NGramConfig, spec: Any) -> NGramLM:
    """An ``NGramLM`` sized by ``spec.vocab_size``, padding the stream start with
    ``spec.boundary_id``."""
    return NGramLM(config, int(spec.vocab_size), int(getattr(spec, "boundary_id", 0)))


@dataclass(frozen=True)
class ZarembaRecipe:
    """One of Zaremba et al.'s PTB configurations: model, training, and the chunk length T."""

    model: LMConfig
    train: TrainConfig
    seq_len: int


def zaremba(size: str = "small", *, eval_batch_size: int = 10) -> ZarembaRecipe:
    """Zaremba et al. 2014, section 4.1 (and their code): the PTB LSTMs.

    All: 2 layers, SGD without momentum on the cost summed over T and averaged over the batch of
    20, gradient norm clipped, T steps of truncated backpropagation. small: 200 units, no
    dropout, init 0.1, 13 epochs, lr 1 halved every epoch after the 4th, clip 5, T 20. medium:
    650 units, dropout 0.5, init 0.05, 39 epochs, lr 1 divided by 1.2 every epoch after the 6th,
    clip 5, T 35. large: 1500 units, dropout 0.65, init 0.04, 55 epochs, lr 1 divided by 1.15
    after the 14th, clip 10, T 35.

    ``eval_batch_size``: they validate at the training batch size and test at batch 1; mneme
    uses one size for both, with the state carried across chunks (see ``mneme.tasks.text``).

    Raises:
        UserError: an unknown size.
    """
    table = {
        "small": (200, 0.0, 0.1, 13, 4, 0.5, 5.0, 20),
        "medium": (650, 0.5, 0.05, 39, 6, 1 / 1.2, 5.0, 35),
        "large": (1500, 0.65, 0.04, 55, 14, 1 / 1.15, 10.0, 35),
    }
    if size not in table:
        raise UserError(f"unknown Zaremba et al. size {size!r}; choose {', '.join(table)}")
    hidden, dropout, init, epochs, start, decay, clip, seq_len = table[size]
    model = LMConfig(cell="lstm", hidden_size=hidden, num_layers=2, dropout=dropout,
                     init_scale=init)
    train = TrainConfig(epochs=epochs, batch_size=20, optimizer="sgd", lr=1.0,
                        lr_schedule="step", lr_decay=decay, lr_decay_every=1,
                        lr_decay_start=start, clip_norm=clip, eval_batch_size=eval_batch_size)
    return ZarembaRecipe(model, train, seq_len)


def lm_recipe(task_name: str, model_name: str, task_config: Any,
              model_config: Any) -> tuple[Any, TrainConfig]:
    """Training recipes of the language models (a row of ``mneme.models.recipes.RECIPES``).

    - PTB, ``lstm`` / ``rnn-lm``: Zaremba et al.'s small model (see ``zaremba``); 13 epochs.
    - characters, ``lstm`` / ``rnn-lm``: after char-rnn's defaults (Karpathy 2015: parameters
      uniform in +-0.08, lr 2e-3, gradient norm clipped at 5), with Adam, a 2 x 512 LSTM with
      dropout 0.2 (char-rnn suggests dropout for nets this size), 64-d character embeddings,
      batch 32 of T = 100; ``CHARS_EPOCHS`` epochs, the learning rate halved every epoch for
      the last two.
    - ``ngram``: Bengio et al.'s MLP (n = 5, m = 100, h = 200), trained with Adam (lr 2e-3)
      instead of their SGD, batch 64 of T = 20 (T only groups predictions: the model reads
      n - 1 tokens); ``NGRAM_EPOCHS`` epochs, the rate halved every epoch from the third.
      Measured: validation perplexity 233 after the first epoch (batch 20 at lr 1e-3: 245).

    Budgets (CPU time of one core, measured on a loaded machine): PTB small LSTM ~4.3 min an
    epoch (~1 h for 13), n-gram ~4 min an epoch (~16 min), characters ~3.3 min an epoch
    (~27 min); wall-clock time grows with contention.
    """
    if model_name == "ngram":
        train = TrainConfig(epochs=NGRAM_EPOCHS, batch_size=64, optimizer="adam", lr=2e-3,
                            lr_schedule="step", lr_decay=0.5, lr_decay_every=1,
                            lr_decay_start=2, clip_norm=5.0, eval_batch_size=10)
        return model_config, train
    if task_name == "ptb":
        return model_config, zaremba("small").train
    model = dataclasses.replace(model_config, hidden_size=512, num_layers=2, dropout=0.2,
                                embedding_dim=64, init_scale=0.08)
    train = TrainConfig(epochs=CHARS_EPOCHS, batch_size=32, optimizer="adam", lr=2e-3,
                        lr_schedule="step", lr_decay=0.5, lr_decay_every=1,
                        lr_decay_start=CHARS_EPOCHS - 2, clip_norm=5.0, eval_batch_size=16)
    return model, train


NGRAM_EPOCHS = 4
"""About 4 CPU-minutes an epoch (929k tokens)."""
CHARS_EPOCHS = 8
"""About 3.3 CPU-minutes an epoch (1.0M characters at ~5k characters per CPU-second)."""
