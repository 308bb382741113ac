"""Beam search with length normalisation, batched over B inputs as B * beam_width rows.

At step t every live hypothesis is extended by every token. Of the ``2 * beam_width`` best
extensions of an input (by summed log-probability, which ranks hypotheses of equal length the
same as any length normalisation), those ending in ``eos`` within the best ``beam_width`` are
finished, and the best ``beam_width`` not ending in ``eos`` stay live; so width 1 is greedy
decoding. Finished hypotheses are ranked by ``log P(Y) / lp(|Y|)``, |Y|
counting ``eos``, with

- ``length_norm="gnmt"``: ``lp = ((5 + |Y|) / 6) ** alpha`` (Wu et al. 2016, "Google's Neural
  Machine Translation System", arXiv 1609.08144, section 7; alpha 0.6 to 0.7);
- ``length_norm="power"``: ``lp = |Y| ** alpha`` (alpha 1: the mean log-probability per token);

alpha 0 ranks by log-probability. The search stops when no live hypothesis can still enter an
input's n best: log-probabilities only fall, so the best a live one can reach is its score over
``lp(max_length)``. At ``max_length`` the live hypotheses count as finished (unterminated).
With ``beam_width`` at least the number of candidate sequences the search is exhaustive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from mneme.decoding.greedy import Decoded, check_common
from mneme.decoding.state import ReorderFn, StepFn, expand_rows, reorder_state
from mneme.errors import UserError

__all__ = ["BeamResult", "beam_search", "length_penalty_factor"]


def length_penalty_factor(length: int, alpha: float,
                          norm: Literal["gnmt", "power"] = "gnmt") -> float:
    """``lp(length)``: ``((5 + length) / 6) ** alpha`` (GNMT) or ``length ** alpha``."""
    if norm == "gnmt":
        return ((5.0 + length) / 6.0) ** alpha
    return float(max(length, 1)) ** alpha


@dataclass(frozen=True)
class BeamResult:
    """The n best hypotheses of each input, best first.

    Attributes:
        tokens: ``(B, N, L)`` long generated tokens (start excluded), padded after each end with
            ``eos`` (or 0 without one); N = ``n_best``.
        lengths: ``(B, N)`` tokens per hypothesis (its ``eos`` included); 0 for a missing one.
        scores: ``(B, N)`` the ranking score ``log P / lp(length)``; -inf for a missing one.
        log_probs: ``(B, N)`` summed log-probability (nats).
        finished: ``(B, N)`` bool, the hypothesis ended with ``eos`` (not cut at max_length).
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor
    log_probs: Tensor
    finished: Tensor

    @property
    def best(self) -> Decoded:
        """The best hypothesis of each input as a ``Decoded`` (scores: its log-probability)."""
        return Decoded(self.tokens[:, 0], self.lengths[:, 0], self.log_probs[:, 0])

    def sequence(self, row: int, rank: int = 0) -> list[int]:
        """Tokens of hypothesis ``rank`` of input ``row`` (its ``eos`` included)."""
        return self.tokens[row, rank, : int(self.lengths[row, rank])].tolist()


@torch.no_grad()
def beam_search(
    step_fn: StepFn,
    state: Any,
    start: Tensor,
    max_length: int,
    beam_width: int,
    eos: int | None = None,
    length_penalty: float = 0.0,
    length_norm: Literal["gnmt", "power"] = "gnmt",
    n_best: int = 1,
    reorder_state: ReorderFn | None = None,
) -> BeamResult:
    """Beam search over ``step_fn``.

    Args:
        step_fn: ``(tokens (B',), state) -> (log_probs (B', V), state)``; called on
            ``B * beam_width`` rows, row ``b * beam_width + j`` being beam j of input b.
        state: the state before ``start`` for B rows (None: the model's initial state).
        start: ``(B,)`` the token each input starts from.
        max_length: most tokens generated per hypothesis.
        beam_width: live hypotheses kept per input.
        eos: the end token (None: every hypothesis runs to ``max_length``).
        length_penalty: alpha of the length normalisation (>= 0; 0: none).
        length_norm: ``"gnmt"`` or ``"power"`` (see the module docstring).
        n_best: hypotheses returned per input (<= beam_width).
        reorder_state: ``(state, index (B',)) -> state`` picking rows; default: rows along dim 0
            of every tensor (pass ``model.reorder_state`` for ``(L, B, H)`` RNN states).

    Raises:
        UserError: a bad argument (shapes, widths, a negative alpha, unknown length_norm).
    """
    check_common(start, max_length)
    if beam_width < 1:
        raise UserError(f"beam_width must be >= 1 (got {beam_width})")
    if not 1 <= n_best <= beam_width:
        raise UserError(f"n_best must be in 1..beam_width={beam_width} (got {n_best})")
    if not length_penalty >= 0:
        raise UserError(f"length_penalty must be >= 0 (got {length_penalty})")
    if length_norm not in ("gnmt", "power"):
        raise UserError(f"length_norm must be 'gnmt' or 'power' (got {length_norm!r})")
    reorder = reorder_state or _default_reorder
    device = start.device
    batch, width = start.shape[0], beam_width
    state = expand_rows(state, width, batch, reorder)
    tokens = start.long().repeat_interleave(width)
    beam_scores = torch.full((batch, width), -math.inf, dtype=torch.float64, device=device)
    beam_scores[:, 0] = 0.0  # identical beams at the start: expand only the first
    history = torch.zeros(batch, width, 0, dtype=torch.long, device=device)
    finished: list[list[tuple[float, float, list[int], bool]]] = [[] for _ in range(batch)]
    rows = torch.arange(batch, device=device)[:, None]

    def lp(length: int) -> float:
        return length_penalty_factor(length, length_penalty, length_norm)

    steps = 0
    for t in range(max_length):
        steps = t + 1
        log_probs, state = step_fn(tokens, state)
        vocab = log_probs.shape[-1]
        cand = beam_scores[:, :, None] + log_probs.double().view(batch, width, vocab)
        k = min(2 * width, width * vocab)
        top_scores, top_idx = cand.view(batch, -1).topk(k, dim=1)  # (B, k), best first
        source, token = top_idx // vocab, top_idx % vocab
        is_eos = (token == eos) if eos is not None else torch.zeros_like(token, dtype=torch.bool)
        # an extension ending in eos is final only among the `width` best (so width 1 is
        # greedy); hypotheses of equal length rank alike under any length normalisation
        ranked_in = torch.arange(k, device=device)[None, :] < width
        ended = is_eos & torch.isfinite(top_scores) & ranked_in
        if bool(ended.any()):
            for b, j in ended.nonzero().tolist():
                seq = [*history[b, int(source[b, j])].tolist(), int(token[b, j])]
                raw = float(top_scores[b, j])
                finished[b].append((raw / lp(t + 1), raw, seq, True))
        # the best `width` extensions that do not end (a stable sort keeps their rank order)
        keep = torch.argsort(is_eos.to(torch.uint8), dim=1, stable=True)[:, :width]
        beam_scores = top_scores.gather(1, keep).masked_fill(is_eos.gather(1, keep), -math.inf)
        chosen_source, chosen_token = source.gather(1, keep), token.gather(1, keep)
        history = torch.cat([history[rows, chosen_source], chosen_token[:, :, None]], dim=2)
        state = reorder(state, (rows * width + chosen_source).reshape(-1))
        tokens = chosen_token.reshape(-1)
        if eos is not None and _all_settled(finished, beam_scores, n_best, lp(max_length)):
            break
    else:
        for b in range(batch):
            for j in range(width):
                raw = float(beam_scores[b, j])
                if math.isfinite(raw):
                    finished[b].append((raw / lp(steps), raw, history[b, j].tolist(), False))
    return _collect(finished, n_best, 0 if eos is None else eos, device)


def _default_reorder(state: Any, index: Tensor) -> Any:
    return reorder_state(state, index, batch_dim=0)


def _all_settled(finished: list[list[tuple[float, float, list[int], bool]]],
                 beam_scores: Tensor, n_best: int, final_lp: float) -> bool:
    """True when no live hypothesis of any input can still enter that input's n best."""
    best_live = beam_scores.max(dim=1).values.tolist()
    for hyps, live in zip(finished, best_live, strict=True):
        if not math.isfinite(live):
            continue
        if len(hyps) < n_best:
            return False
        kth = sorted((h[0] for h in hyps), reverse=True)[n_best - 1]
        if live / final_lp >= kth:
            return False
    return True


def _collect(finished: list[list[tuple[float, float, list[int], bool]]], n_best: int, pad: int,
             device: torch.device) -> BeamResult:
    batch = len(finished)
    ranked = [sorted(h, key=lambda x: -x[0])[:n_best] for h in finished]
    longest = max([len(h[2]) for hyps in ranked for h in hyps] + [1])
    tokens = torch.full((batch, n_best, longest), pad, dtype=torch.long)
    lengths = torch.zeros(batch, n_best, dtype=torch.long)
    scores = torch.full((batch, n_best), -math.inf, dtype=torch.float64)
    log_probs = torch.full((batch, n_best), -math.inf, dtype=torch.float64)
    ended = torch.zeros(batch, n_best, dtype=torch.bool)
    for b, hyps in enumerate(ranked):
        for r, (score, raw, seq, done) in enumerate(hyps):
            tokens[b, r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            lengths[b, r], scores[b, r], log_probs[b, r], ended[b, r] = len(seq), score, raw, done
    return BeamResult(tokens.to(device), lengths.to(device), scores.to(device),
                      log_probs.to(device), ended.to(device))
