"""Pointer networks: attention over the input positions *is* the output distribution.

Vinyals, Fortunato & Jaitly 2015, "Pointer Networks" (arXiv 1506.03134), section 2.3. An LSTM
encoder reads the input points P_1..P_n into states e_1..e_n; an LSTM decoder, started from the
encoder's final state, reads at step i the point it pointed to at step i - 1 (a learned start
vector at step 0) and its state d_i scores every input position with the additive score of
Bahdanau et al. (eq. 3)::

    u_j^i = v^T tanh(W_1 e_j + W_2 d_i)        j in 1..n
    p(C_i | C_1..C_{i-1}, P) = softmax(u^i)     over the positions still allowed

The scores come from ``mneme.attention.scoring.AdditiveScore`` and the mask from
``mneme.attention.attention.keep_mask``; the probabilities equal ``masked_softmax(u, keep)``
(a test holds them equal), computed here as a log-softmax for a stable NLL. Outputs that end
(the convex hull) point to one more key, a learned END vector beside e_1..e_n.

Two changes from the paper, both configurable: positions already pointed to are masked in the
training loss as well as in decoding (``mask_visited``; the paper trains unconstrained and
constrains only its beam search to valid outputs, section 4.3), and the embedding of a point is a
linear map Linear(D -> H) (the paper feeds the raw coordinates to the LSTMs).

Decoding is greedy, pointing to the most probable allowed position (never one already pointed
to, never a padding point), or beam search (``mneme.decoding.beam_search``) with
``beam_width > 1``. Sorting and TSP stop after n pointers; the hull stops at END.

Legend: B batch, N points (padded), D coordinates, H hidden, A attention size, T target length,
K = N (+ 1 END) positions, L decoded length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from mneme.attention.attention import keep_mask
from mneme.attention.scoring import AdditiveScore
from mneme.errors import UserError
from mneme.registry import register_model
from mneme.types import ModelOutput
from mneme.validation import Validated, at_least

__all__ = ["PointerConfig", "PointerDecode", "PointerNetwork", "PointerState",
           "build_pointer_network"]


@dataclass(frozen=True)
class PointerConfig(Validated):
    """Pointer network settings.

    The paper (section 4.1) used one LSTM layer of 256 or 512 units for every task, uniform
    initialisation in [-0.08, 0.08], SGD at learning rate 1.0, batch 128 and L2 gradient clipping
    at 2.0. The default hidden size here is 128, which learns the small instances (n <= 10) on a
    CPU in minutes.

    Attributes:
        hidden_size: H, of the embedding, the encoder and the decoder LSTM.
        attention_size: A, the additive score's tanh layer; None means H.
        init_scale: every parameter uniform in [-init_scale, init_scale]; 0 keeps torch's init.
        mask_visited: mask already pointed positions in the training loss too (decoding always
            masks them).
        beam_width: 1 decodes greedily; more uses beam search.
    """

    hidden_size: int = field(default=128, metadata=at_least(1))
    attention_size: int | None = field(default=None, metadata=at_least(1))
    init_scale: float = field(default=0.08, metadata=at_least(0.0))
    mask_visited: bool = True
    beam_width: int = field(default=1, metadata=at_least(1))


@dataclass(frozen=True)
class PointerDecode:
    """Decoded pointer sequences (the model's ``ModelOutput.trace``).

    Attributes:
        tokens: ``(B, L)`` long positions pointed to, END (= N) included for the hull, -1 after
            the end.
        lengths: ``(B,)`` pointers per row (END included).
        log_prob: ``(B,)`` summed log-probability of each row's pointers (nats).
        attention: ``(B, L, K)`` the pointer distribution at every step (greedy decoding only;
            None under beam search).
    """

    tokens: Tensor
    lengths: Tensor
    log_prob: Tensor
    attention: Tensor | None = None


@dataclass(frozen=True)
class PointerState:
    """The decoder's state between steps, every tensor batch-first (beam search reorders rows).

    Attributes:
        h, c: ``(B, H)`` decoder LSTM state.
        keys: ``(B, K, H)`` encoder states (and END); projected ``(B, K, A)`` their ``W_1 e_j``.
        embedded: ``(B, N, H)`` embedded points, the decoder's next inputs.
        allowed: ``(B, K)`` bool positions that may still be pointed to.
        remaining: ``(B,)`` pointers still to emit (sorting, TSP; unused with END).
    """

    h: Tensor
    c: Tensor
    keys: Tensor
    projected: Tensor
    embedded: Tensor
    allowed: Tensor
    remaining: Tensor


class PointerNetwork(nn.Module):
    """Ptr-Net (Vinyals et al. 2015, section 2.3): LSTM encoder, LSTM decoder, pointer.

    Args:
        input_dim: D, coordinates per point.
        hidden_size: H.
        attention_size: A (None: H).
        end_token: the output ends by pointing to a learned END key (convex hull).
        init_scale: uniform initialisation range (0: torch's defaults).
        mask_visited: mask already pointed positions in the teacher-forced distribution too.
        beam_width: 1 greedy, else beam search when decoding.
    """

    def __init__(self, input_dim: int, hidden_size: int = 128, attention_size: int | None = None,
                 *, end_token: bool = False, init_scale: float = 0.08,
                 mask_visited: bool = True, beam_width: int = 1) -> None:
        super().__init__()
        if min(input_dim, hidden_size) < 1:
            raise ValueError(f"input_dim and hidden_size must be >= 1; got {input_dim}, "
                             f"{hidden_size}")
        h = hidden_size
        self.hidden_size = h
        self.end_token = end_token
        self.mask_visited = mask_visited
        self.beam_width = beam_width
        self.embed = nn.Linear(input_dim, h)
        self.encoder = nn.LSTM(h, h, batch_first=True)
        self.decoder = nn.LSTM(h, h, batch_first=True)
        self.start = nn.Parameter(torch.zeros(h))  # the decoder's first input
        self.end = nn.Parameter(torch.zeros(h)) if end_token else None  # END's key
        self.pointer = AdditiveScore(h, h, attention_size or h)  # query d_i, keys e_j
        if init_scale > 0:
            for p in self.parameters():
                nn.init.uniform_(p, -init_scale, init_scale)

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, points: Tensor, point_mask: Tensor) -> tuple[
            Tensor, Tensor, tuple[Tensor, Tensor], Tensor]:
        """Embed and encode the points.

        Args:
            points: ``(B, N, D)``; point_mask ``(B, N)`` bool, True for real points (a prefix).

        Returns:
            ``embedded (B, N, H)``, ``keys (B, K, H)`` (encoder states, then END), the encoder's
            final ``(h, c)`` each ``(1, B, H)`` at each row's last real point, and the base
            ``allowed (B, K)`` mask.
        """
        embedded = self.embed(points)
        counts = point_mask.sum(1)
        if bool((counts == points.shape[1]).all()):
            states, final = self.encoder(embedded)
        else:  # packed, so the final state is each row's own last point
            packed = nn.utils.rnn.pack_padded_sequence(
                embedded, counts.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
            out, final = self.encoder(packed)
            states, _ = nn.utils.rnn.pad_packed_sequence(
                out, batch_first=True, total_length=points.shape[1])
        keys, allowed = states, point_mask
        if self.end is not None:
            b = points.shape[0]
            keys = torch.cat([states, self.end.expand(b, 1, -1)], 1)
            allowed = torch.cat([point_mask, point_mask.new_ones(b, 1)], 1)
        return embedded, keys, final, allowed

    # -- training: teacher forcing -------------------------------------------------------------
    def teacher_forced(self, points: Tensor, point_mask: Tensor, targets: Tensor) -> Tensor:
        """Log-probabilities ``(B, T, K)`` of every position at every target step, the decoder
        reading the target's previous pointer (teacher forcing).

        ``targets`` ``(B, T)`` long positions (END = N); steps after a row's end are padding
        whose rows may be fully masked (finite, uniform; the loss masks them).
        """
        embedded, keys, final, allowed = self.encode(points, point_mask)
        b, t = targets.shape
        n = points.shape[1]
        previous = targets[:, :-1].clamp(0, n - 1)  # END/padding never feed a real step
        fed = embedded.gather(1, previous.unsqueeze(-1).expand(-1, -1, self.hidden_size))
        inputs = torch.cat([self.start.expand(b, 1, -1), fed], 1)  # (B, T, H)
        out, _ = self.decoder(inputs, final)
        scores = self.pointer(out, keys, self.pointer.precompute_keys(keys))  # (B, T, K)
        keep = allowed.unsqueeze(1).expand(b, t, -1)
        if self.mask_visited:
            k = keys.shape[1]
            hits = nn.functional.one_hot(targets.clamp(0, k - 1), k).bool()
            if self.end is not None:
                hits[..., n] = False  # END stays allowed
            before = (hits.cumsum(1) - hits.long()) > 0  # pointed at an earlier step
            keep = keep & ~before
        return _log_softmax(scores, keep)

    # -- decoding ------------------------------------------------------------------------------
    def initial_state(self, points: Tensor, point_mask: Tensor) -> PointerState:
        """The decoder state before the start input: encoder output and final state."""
        embedded, keys, (h, c), allowed = self.encode(points, point_mask)
        return PointerState(h[0], c[0], keys, self.pointer.precompute_keys(keys), embedded,
                            allowed, point_mask.sum(1))

    def step(self, tokens: Tensor, state: PointerState) -> tuple[Tensor, PointerState]:
        """One decoding step for ``mneme.decoding``: read the previous pointer, score.

        Args:
            tokens: ``(B,)`` the position pointed to last (-1: the start input).
            state: the decoder state.

        Returns:
            ``log_probs (B, K)`` over positions (-inf where not allowed; a row that has emitted
            all n pointers puts probability 1 on position 0, a padding step) and the new state.
        """
        n = state.embedded.shape[1]
        started = tokens >= 0
        real = started & (tokens < n)
        fed = state.embedded[torch.arange(tokens.shape[0]), tokens.clamp(0, n - 1)]
        x = torch.where(started.unsqueeze(-1), fed, self.start.expand_as(fed))
        allowed, remaining = state.allowed, state.remaining
        if bool(real.any()):
            hit = nn.functional.one_hot(tokens.clamp(0, n - 1), allowed.shape[1]).bool()
            allowed = allowed & ~(hit & real.unsqueeze(-1))
            remaining = remaining - real.long()
        out, (h, c) = self.decoder(x.unsqueeze(1), (state.h.unsqueeze(0), state.c.unsqueeze(0)))
        scores = self.pointer(out, state.keys, state.projected)  # (B, 1, K)
        log_probs = _log_softmax(scores, allowed)[:, 0].masked_fill(~allowed, float("-inf"))
        if self.end is None:  # finished rows: a certain padding step
            done = (remaining <= 0).unsqueeze(-1)
            pad = torch.full_like(log_probs, float("-inf"))
            pad[:, 0] = 0.0
            log_probs = torch.where(done, pad, log_probs)
        new = PointerState(h[0], c[0], state.keys, state.projected, state.embedded, allowed,
                           remaining)
        return log_probs, new

    @torch.no_grad()
    def decode(self, points: Tensor, point_mask: Tensor, *,
               beam_width: int | None = None) -> PointerDecode:
        """Decode pointer sequences, greedily (``beam_width`` 1) or by beam search.

        Args:
            points: ``(B, N, D)``; point_mask ``(B, N)`` bool.
            beam_width: overrides the model's ``beam_width``.

        Returns:
            A ``PointerDecode``; at most N pointers (N + 1 with END).
        """
        width = self.beam_width if beam_width is None else beam_width
        if width > 1:
            return self._beam(points, point_mask, width)
        state = self.initial_state(points, point_mask)
        b, n = point_mask.shape
        counts = point_mask.sum(1)
        previous = torch.full((b,), -1, dtype=torch.long, device=points.device)
        done = torch.zeros(b, dtype=torch.bool, device=points.device)
        log_prob = torch.zeros(b, device=points.device)
        out, weights = [], []
        for i in range(n + int(self.end is not None)):
            if self.end is None:
                done = counts <= i  # n pointers emitted
            if bool(done.all()):
                break
            log_probs, state = self.step(previous, state)
            chosen = log_probs.argmax(-1)
            picked = log_probs.gather(1, chosen.unsqueeze(1))[:, 0]
            log_prob = log_prob + torch.where(done, 0.0, picked)
            weights.append(log_probs.exp())
            out.append(torch.where(done, -1, chosen))
            if self.end is not None:
                done = done | (chosen == n)
            previous = chosen
        if not out:
            empty = torch.empty(b, 0, dtype=torch.long, device=points.device)
            return PointerDecode(empty, torch.zeros_like(counts), log_prob)
        seq = torch.stack(out, 1)
        return PointerDecode(seq, (seq >= 0).sum(1), log_prob, torch.stack(weights, 1))

    def _beam(self, points: Tensor, point_mask: Tensor, width: int) -> PointerDecode:
        from mneme.decoding import beam_search

        state = self.initial_state(points, point_mask)
        b, n = point_mask.shape
        start = torch.full((b,), -1, dtype=torch.long, device=points.device)
        eos = n if self.end is not None else None
        result = beam_search(self.step, state, start, n + int(eos is not None), width, eos=eos)
        best = result.best
        tokens = best.tokens.clone()
        lengths = best.lengths if eos is not None else point_mask.sum(1)
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        tokens[steps.unsqueeze(0) >= lengths.unsqueeze(1)] = -1
        return PointerDecode(tokens, lengths, best.scores.float())

    # -- task-facing ---------------------------------------------------------------------------
    def forward(self, inputs: Mapping[str, Tensor], *, trace: bool = False) -> ModelOutput:
        """Teacher-forced log-probabilities, and the decoded sequences when evaluating.

        Args:
            inputs: ``points (B, N, D)``, ``point_mask (B, N)`` bool and, for the loss,
                ``targets (B, T)`` long (the decoder's teacher-forced inputs).
            trace: decode even in training mode.

        Returns:
            ``ModelOutput(logits=(B, T, K) log-probabilities, trace=PointerDecode)``; ``trace``
            is None in training mode unless asked for. Without targets the logits are the
            decoded steps' log-probabilities ``(B, L, K)`` (greedy only).
        """
        points = inputs["points"]
        point_mask = inputs.get("point_mask")
        if point_mask is None:
            point_mask = torch.ones(points.shape[:2], dtype=torch.bool, device=points.device)
        targets = inputs.get("targets")
        decoded = None
        if trace or not self.training or targets is None:
            decoded = self.decode(points, point_mask)
        if targets is not None:
            logits = self.teacher_forced(points, point_mask, targets)
        else:
            assert decoded is not None
            if decoded.attention is None:
                raise UserError("ptr-net: without targets, decode greedily (beam_width 1)")
            logits = decoded.attention.clamp_min(1e-30).log()
        return ModelOutput(logits=logits, trace=decoded)


def _log_softmax(scores: Tensor, keep: Tensor) -> Tensor:
    """Log of ``masked_softmax(scores, keep)``: masked entries get the most negative finite
    number before the log-softmax, so a fully masked row stays finite (uniform) and masked
    entries get no gradient."""
    mask = keep_mask(keep, scores.shape, device=scores.device)
    assert mask is not None
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.log_softmax(filled, dim=-1)


@register_model("ptr-net", config=PointerConfig, tasks=("pointer",),
                summary="pointer network: LSTM encoder-decoder whose attention points to inputs",
                source="Vinyals, Fortunato & Jaitly 2015, arXiv 1506.03134")
def build_pointer_network(config: PointerConfig, spec: Any) -> PointerNetwork:
    """The registry factory: a ``PointerNetwork`` for a pointer task's ``PointerSpec``."""
    config.validate()
    return PointerNetwork(spec.input_dim, config.hidden_size, config.attention_size,
                          end_token=spec.end_token, init_scale=config.init_scale,
                          mask_visited=config.mask_visited, beam_width=config.beam_width)
