"""``build_stack``: a recurrent stack of any cell of ``mneme.cells``, by its name in ``CELLS``.

It sits above both sides: ``mneme.cells.stacks`` holds the ``RecurrentStack`` base the cells
(``rnn``, ``lstm``, ``gru``) subclass, and this module imports the cells, so none of them imports
it back.
"""

from __future__ import annotations

from typing import Any

from mneme.cells.gru import GRU, LayerNormGRU
from mneme.cells.lstm import LSTM, VariantLSTM
from mneme.cells.rnn import IRNN, ElmanRNN
from mneme.cells.stacks import Merge, RecurrentStack

__all__ = ["CELLS", "build_stack"]

CELLS: dict[str, str] = {
    "rnn": "Elman RNN, tanh (fused torch.nn.RNN)",
    "irnn": "ReLU RNN with identity-initialised recurrence, Le et al. 2015 (fused)",
    "lstm": "LSTM with forget gate, Hochreiter & Schmidhuber 1997 (fused torch.nn.LSTM)",
    "gru": "GRU, Cho et al. 2014 (fused torch.nn.GRU)",
    "peephole": "LSTM with peephole connections, Gers & Schmidhuber 2000",
    "coupled": "LSTM with coupled input and forget gates, f = 1 - i (Greff et al. 2017, CIFG)",
    "no-forget": "LSTM without forget gate, f = 1 (Greff et al. 2017, NFG)",
    "no-output": "LSTM without output gate, o = 1 (Greff et al. 2017, NOG)",
    "ln-lstm": "layer-normalised LSTM, Ba et al. 2016",
    "ln-gru": "layer-normalised GRU (Ba et al. 2016's recipe on the GRU)",
}
"""The cell names ``build_stack`` knows, with what each is."""


def build_stack(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    bidirectional: bool = False,
    merge: Merge = "concat",
    dropout: float = 0.0,
    variational: bool = False,
    recurrent_dropout: float | None = None,
    **cell_options: Any,
) -> RecurrentStack:
    """A stack of ``num_layers`` layers of the cell named ``cell`` (see ``CELLS``).

    Args:
        cell: one of ``CELLS``: ``rnn``, ``irnn``, ``lstm``, ``gru``, ``peephole``, ``coupled``,
            ``no-forget``, ``no-output``, ``ln-lstm``, ``ln-gru``.
        input_size: D; this and the following arguments as in ``RecurrentStack``.
        hidden_size: H.
        num_layers: L.
        bidirectional: see ``RecurrentStack``.
        merge: see ``RecurrentStack``.
        dropout: see ``RecurrentStack``.
        variational: see ``RecurrentStack``.
        recurrent_dropout: see ``RecurrentStack``.
        **cell_options: passed to the cell class: ``forget_bias`` (LSTMs),
            ``recurrent_init`` (``rnn``, ``irnn``), ``eps`` (layer-normalised cells).

    Returns:
        An ``ElmanRNN``, ``IRNN``, ``LSTM``, ``GRU``, ``VariantLSTM`` or ``LayerNormGRU``.

    Raises:
        ValueError: an unknown cell name (the message lists the known ones) or a bad argument.
    """
    common: dict[str, Any] = dict(bidirectional=bidirectional, merge=merge, dropout=dropout,
                                  variational=variational, recurrent_dropout=recurrent_dropout,
                                  **cell_options)
    args = (input_size, hidden_size, num_layers)
    variants = {"peephole": "peephole", "coupled": "coupled", "no-forget": "no-forget",
                "no-output": "no-output", "ln-lstm": "layer-norm"}
    if cell == "rnn":
        return ElmanRNN(*args, nonlinearity="tanh", **common)
    if cell == "irnn":
        return IRNN(*args, **common)
    if cell == "lstm":
        return LSTM(*args, **common)
    if cell == "gru":
        return GRU(*args, **common)
    if cell in variants:
        return VariantLSTM(*args, variant=variants[cell], **common)  # type: ignore[arg-type]
    if cell == "ln-gru":
        return LayerNormGRU(*args, **common)
    raise ValueError(f"unknown cell {cell!r}; choose one of: {', '.join(CELLS)}")
