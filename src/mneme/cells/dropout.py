"""Variational dropout: one mask per sequence, shared by every time step.

Gal & Ghahramani 2016, "A Theoretically Grounded Application of Dropout in Recurrent Neural
Networks" (arXiv 1512.05287): dropping the same units at every time step of a sequence
(on the inputs, the outputs and the recurrent connections) is approximate variational inference
in a Bayesian RNN; their word embedding dropout drops whole word types of the vocabulary.
Zaremba et al. 2014 (arXiv 1409.2329) instead drop each element independently, and only on the
non-recurrent connections: ``torch.nn.Dropout``.

Every mask is scaled by ``1 / (1 - p)`` ("inverted" dropout), so evaluation is the identity.

Legend: B batch, T time, D features, V vocabulary, E embedding size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["VariationalDropout", "embedding_dropout", "variational_mask"]


def _check_p(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")


def variational_mask(shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """A dropout mask of ``shape``: 0 with probability ``p``, else ``1 / (1 - p)``.

    Args:
        shape: e.g. ``(B, 1, D)`` to share it over T, or ``(B, H)`` for a recurrent mask.
        p: drop probability in [0, 1).
        like: gives the device and dtype.

    Raises:
        ValueError: ``p`` outside [0, 1).
    """
    _check_p(p)
    keep = 1.0 - p
    return like.new_empty(shape).bernoulli_(keep).div_(keep)


class VariationalDropout(nn.Module):
    """Dropout of ``x`` ``(B, T, D)`` with one mask ``(B, 1, D)`` per sequence for all T steps.

    Different sequences of the batch get different masks; a new mask is drawn at every call (a
    truncated-BPTT chunk is a new "sequence"). Identity in eval mode or with ``p = 0``.

    Args:
        p: drop probability in [0, 1).

    Raises:
        ValueError: ``p`` outside [0, 1); at call time, ``x`` not 3-D.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        _check_p(p)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(B, T, D)`` -> same shape."""
        if x.dim() != 3:
            raise ValueError(f"VariationalDropout expects (B, T, D), got shape {tuple(x.shape)}")
        if not self.training or self.p == 0.0:
            return x
        return x * variational_mask((x.shape[0], 1, x.shape[2]), self.p, x)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(weight: Tensor, inputs: Tensor, p: float, training: bool = True) -> Tensor:
    """Look up ``inputs`` in an embedding matrix whose word types are dropped as wholes.

    Gal & Ghahramani 2016 (embedding dropout): a dropped word type is zero at every position it
    occurs in the batch (one mask over the vocabulary, drawn per call), kept rows are scaled by
    ``1 / (1 - p)``.

    Args:
        weight: ``(V, E)`` the embedding matrix (e.g. ``nn.Embedding.weight``).
        inputs: token ids of any shape ``S``.
        p: drop probability of a word type, in [0, 1).
        training: False returns the plain lookup.

    Returns:
        ``S + (E,)`` embeddings.

    Raises:
        ValueError: ``p`` outside [0, 1).
    """
    _check_p(p)
    if not training or p == 0.0:
        return F.embedding(inputs, weight)
    mask = variational_mask((weight.shape[0], 1), p, weight)
    return F.embedding(inputs, weight * mask)

