"""End-To-End Memory Network (Sukhbaatar, Szlam, Weston & Fergus 2015, arXiv 1503.08895).

A soft-attention reader over a memory of sentences, trained end to end. Section 2 of the paper:

    m_i = sum_j l_j * A x_ij + T_A(i)        memory vectors        (eq. of section 4.1)
    c_i = sum_j l_j * C x_ij + T_C(i)        output vectors
    u^1 = sum_j l_j * B q_j                  the query
    p^k = softmax(u^k . m^k_i)               attention, eq. (1)
    o^k = sum_i p^k_i c^k_i                  the read, eq. (2)
    u^{k+1} = u^k + o^k  (adjacent)  or  H u^k + o^k  (layer-wise, section 2.2)
    a = W u^{K+1}                            answer logits, eq. (3) and section 2.1

Legend: B batch, N memory slots, J words per sentence, d embedding, K hops, V vocabulary.

Input contract (the bAbI task): ``story`` ``(B, N, J)`` word ids with slot 0 the most recent
sentence, an all-nil row an empty slot, and words left-aligned in each row (nil after the end);
``query`` ``(B, J)``. Word id 0 is the nil word. Targets are ``(B,)`` ids over the same vocabulary.

The fast forward reads each sentence once for all K+1 tied tables through one fused weighted bag
(``embedding_bag``) whose backward is one GEMM; ``memn2n_reference`` keeps the equations above
literally, and a test holds the two equal.

The hyper-parameters and the trace live in ``mneme.memory.memn2n_config``, the fast sentence
encoding in ``mneme.memory.memn2n_encoding``, and the literal path (``memn2n_reference``,
``position_encoding``) in ``mneme.memory.memn2n_reference``; all are importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.errors import UserError
from mneme.memory.memn2n_config import MemN2NConfig, MemN2NTrace, QASizes
from mneme.memory.memn2n_encoding import _position_factors, _WeightedBag
from mneme.memory.memn2n_reference import memn2n_reference, position_encoding
from mneme.registry import register_model
from mneme.types import ModelOutput

__all__ = [
    "MemN2N",
    "MemN2NConfig",
    "MemN2NTrace",
    "QASizes",
    "build_memn2n",
    "memn2n_reference",
    "position_encoding",
]


def _noise_count(n: int, fraction: float) -> int:
    """ceil(fraction * n) empty memories for n real ones (epsilon: 0.14 * 50 > 7 in floats)."""
    return max(0, math.ceil(n * fraction - 1e-9))


class MemN2N(nn.Module):
    """End-To-End Memory Network for question answering (sections 2 and 4).

    Parameters (V vocabulary, d embedding, K hops, N_T temporal slots):
        embedding: ``(V, K+1, d)`` with adjacent tying, where table k is C^k = A^{k+1} (table 0 is
            A^1 = B, table K is C^K = W^T); ``(V, 3, d)`` tables A, C, B with layer-wise tying.
            Row 0 (the nil word) is held at zero: it is zeroed at init and masked in every forward,
            so it never gets a gradient.
        temporal: ``(N_T, K+1, d)`` T_A/T_C tied like A/C (adjacent) or ``(N_T, 2, d)`` T_A, T_C
            (layer-wise); N_T = N + ceil(random_noise * N). None without temporal encoding.
        H: ``(d, d)`` the layer-wise map, else None.
        answer: ``(V, d)`` the layer-wise answer matrix W, else None (W^T = C^K).
        linear_flag: bool buffer, True while in linear mode (linear start); saved in state_dict.

    Use the accessors ``A(k)``, ``C(k)``, ``TA(k)``, ``TC(k)`` (1-based hop k), ``B()`` and
    ``W()``; each returns a ``(V, d)`` (or ``(N_T, d)``) view of the shared parameter.

    Args:
        config: the hyper-parameters.
        vocab_size: V, including the nil word 0.
        memory_size: N, the most memory slots a story may fill.
        sentence_size: J, the most words of a sentence or question; the ``"code"`` position
            formula uses it (J' = J + 1), so results never depend on how a batch is padded.
            None: the padded width of each batch.

    Raises:
        UserError: a bad config field, V < 2 or N < 1. ValueError (in forward): a story wider
            than N slots or sentences wider than J words.
    """

    linear_flag: Tensor
    _blank_counts: Tensor
    _nil_keep: Tensor
    _k_over_d: Tensor

    def __init__(
        self,
        config: MemN2NConfig,
        vocab_size: int,
        memory_size: int,
        sentence_size: int | None = None,
    ) -> None:
        super().__init__()
        config.validate()
        if vocab_size < 2:
            raise UserError(f"vocab_size must be >= 2 (nil plus one word), got {vocab_size}")
        if memory_size < 1:
            raise UserError(f"memory_size must be >= 1, got {memory_size}")
        self.config = config
        # J of the "code" position formula: fixed, so results never depend on batch padding.
        self.sentence_size = sentence_size
        self.null_logit = (
            config.null_logit if config.null_logit is not None else math.log(memory_size)
        )
        self.vocab_size = vocab_size
        self.memory_size = memory_size
        d, hops = config.embedding_dim, config.hops
        self.adjacent = config.weight_tying == "adjacent"
        if self.adjacent:
            self._a_idx = list(range(hops))
            self._c_idx = list(range(1, hops + 1))
            self._b_idx, n_tables, n_temporal = 0, hops + 1, hops + 1
        else:
            self._a_idx, self._c_idx = [0] * hops, [1] * hops
            self._b_idx, n_tables, n_temporal = 2, 3, 2
        self.embedding = nn.Parameter(torch.empty(vocab_size, n_tables, d))
        self.temporal_size = memory_size + _noise_count(memory_size, config.random_noise)
        if config.temporal_encoding:
            self.temporal: nn.Parameter | None = nn.Parameter(
                torch.empty(self.temporal_size, n_temporal, d)
            )
        else:
            self.register_parameter("temporal", None)
        if self.adjacent:
            self.register_parameter("H", None)
            self.register_parameter("answer", None)
        else:
            self.H: nn.Parameter | None = nn.Parameter(torch.empty(d, d))
            self.answer: nn.Parameter | None = nn.Parameter(torch.empty(vocab_size, d))
        # Linear start is a training schedule (``mneme.train.hooks.LinearStart`` turns it on and
        # off); a module built by a user attends with the softmax.
        self.register_buffer("linear_flag", torch.tensor(False))
        blanks = [_noise_count(n, config.random_noise) for n in range(memory_size + 1)]
        self.register_buffer("_blank_counts", torch.tensor(blanks), persistent=False)
        self._pe_cache: dict[tuple[int, torch.dtype, torch.device], Tensor] = {}
        keep = torch.ones(vocab_size, 1, 1)
        keep[0] = 0.0
        self.register_buffer("_nil_keep", keep, persistent=False)
        self.register_buffer(
            "_k_over_d", torch.arange(1, d + 1, dtype=torch.float32) / d, persistent=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight from N(0, init_std^2) (section 4.2), the nil rows at zero."""
        std = self.config.init_std
        for p in self.parameters():
            nn.init.normal_(p, 0.0, std)
        with torch.no_grad():
            self.embedding[0].zero_()

    # -- the paper's matrices, as views of the shared parameters ------------------------------

    def A(self, k: int) -> Tensor:
        """``(V, d)`` the memory embedding A^k of hop k (1-based)."""
        return self.embedding[:, self._a_idx[k - 1]]

    def C(self, k: int) -> Tensor:
        """``(V, d)`` the output embedding C^k of hop k (1-based)."""
        return self.embedding[:, self._c_idx[k - 1]]

    def B(self) -> Tensor:
        """``(V, d)`` the question embedding B."""
        return self.embedding[:, self._b_idx]

    def W(self) -> Tensor:
        """``(V, d)`` the answer matrix W (logits = u^{K+1} @ W().T)."""
        if self.answer is not None:
            return self.answer
        return self.embedding[:, self._c_idx[-1]]

    def TA(self, k: int) -> Tensor:
        """``(N_T, d)`` the temporal memory encoding T_A of hop k (1-based)."""
        if self.temporal is None:
            raise ValueError("this MemN2N has no temporal encoding")
        return self.temporal[:, self._a_idx[k - 1]]

    def TC(self, k: int) -> Tensor:
        """``(N_T, d)`` the temporal output encoding T_C of hop k (1-based)."""
        if self.temporal is None:
            raise ValueError("this MemN2N has no temporal encoding")
        return self.temporal[:, self._c_idx[k - 1]]

    # -- linear start ---------------------------------------------------------------------------

    @property
    def linear(self) -> bool:
        """True while the softmax of the memory layers is removed (linear start, section 4.2)."""
        return bool(self.linear_flag)

    @linear.setter
    def linear(self, value: bool) -> None:
        self.linear_flag.fill_(bool(value))

    def set_linear(self, value: bool) -> None:
        """Remove (True) or re-insert (False) the softmax in every memory layer."""
        self.linear = value

    # -- forward --------------------------------------------------------------------------------

    def _random_noise(
        self, slot_mask: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, int]:
        """Random empty memories (section 4.1, RN), vectorised over the batch.

        An example whose sentences fill slots 0..n-1 gets r blanks at random places among n + r
        time indices (a uniform subset); its sentences keep their order on the other indices, so
        slot s gets time s + (blanks before it). ``noise_mode="time_gaps"``: r is uniform in
        0..ceil(random_noise * n) and the blanks are only gaps in time (R = 0 extra memories).
        ``"empty_memories"``: r = ceil(random_noise * n) and the blanks become extra memories
        that hold only their temporal embedding and can take attention.

        Args:
            slot_mask: ``(B, N)`` which slots hold a sentence.

        Returns:
            time index ``(B, N + R)``, memory mask ``(B, N + R)``, and R (0 for time gaps, else
            ceil(random_noise * N)).
        """
        batch, slots = slot_mask.shape
        extra = _noise_count(slots, self.config.random_noise)
        width = slots + extra
        device = slot_mask.device
        positions = torch.arange(width, device=device)
        span = (slot_mask * positions[1 : slots + 1]).amax(1, keepdim=True)  # (B, 1) last slot + 1
        n_blank = self._blank_counts[span]  # (B, 1)
        gaps_only = self.config.noise_mode == "time_gaps"
        if gaps_only:  # the Matlab code draws the count uniformly from 0..ceil(fraction * n)
            draw = torch.rand(batch, 1, generator=generator, device=device)
            n_blank = (draw * (n_blank + 1)).floor().long()
        keys = torch.rand(batch, width, generator=generator, device=device)
        keys.masked_fill_(positions >= span + n_blank, 2.0)
        # The r smallest keys, all on valid positions, pick the blanks; then order them in time.
        chosen = keys.topk(extra, dim=1, largest=False).indices  # (B, R)
        is_blank = positions[:extra] < n_blank  # (B, R)
        blank_at = torch.where(is_blank, chosen, width).sort(dim=1).values  # unused ones last
        # Blank j has blank_at[j] - j sentences before it; slot s moves past those with <= s.
        before = (blank_at - positions[:extra]).unsqueeze(1)  # (B, 1, R)
        shift = (before <= positions[:slots].unsqueeze(1)).sum(2)  # (B, N)
        if gaps_only:
            return positions[:slots] + shift, slot_mask, 0
        time_index = torch.cat([positions[:slots] + shift, blank_at.clamp(max=width - 1)], 1)
        return time_index, torch.cat([slot_mask, is_blank], 1), extra

    def _position_weights(self, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """``(2, J+1, J)``: the factors a, b of l (section 4.1) for every sentence length 0..J."""
        key = (width, dtype, device)
        cached = self._pe_cache.get(key)
        if cached is None:
            lengths = torch.arange(width + 1, device=device)
            cached = torch.stack(
                _position_factors(
                    lengths,
                    width,
                    dtype,
                    self.config.position_formula,
                    self.config.embedding_dim,
                    self.sentence_size,
                )
            )
            self._pe_cache[key] = cached
        return cached

    def forward(
        self,
        inputs: Mapping[str, Tensor],
        *,
        trace: bool = False,
        generator: torch.Generator | None = None,
    ) -> ModelOutput:
        """Answer logits for a batch of stories and questions.

        Args:
            inputs: ``story`` ``(B, N, J)`` and ``query`` ``(B, J)`` word ids (0 = nil), story slot
                0 the most recent sentence, N <= memory_size.
            trace: also return a ``MemN2NTrace``.
            generator: drives random noise in training; None uses torch's global RNG.

        Returns:
            ``ModelOutput`` with logits ``(B, V)``.
        """
        story, query = inputs["story"], inputs["query"]
        batch, slots, width = story.shape
        if slots > self.memory_size:
            raise ValueError(f"story has {slots} slots but memory_size is {self.memory_size}")
        longest = max(width, query.shape[1])
        if self.sentence_size is not None and longest > self.sentence_size:
            raise ValueError(
                f"sentences padded to {longest} words but sentence_size is {self.sentence_size}"
            )
        if query.shape[1] != width:  # query and story may be padded to different widths
            width = max(width, query.shape[1])
            story = F.pad(story, (0, width - story.shape[2]))
            query = F.pad(query, (0, width - query.shape[1]))
        table = self.embedding * self._nil_keep  # (V, E, d), nil row exactly 0
        flat_table = table.view(self.vocab_size, -1)
        n_tables, d = table.shape[1], table.shape[2]
        # All sentences and the query in one bag for every table: (B*N + B, E, d).
        ids = torch.cat([story.reshape(batch * slots, width), query], 0)
        lengths = ids.ne(0).sum(1)
        if self.config.encoding == "position":
            weights = self._position_weights(width, table.dtype, table.device)
            weights = weights.index_select(1, lengths)  # (2, B*N + B, J)
            scale = self._k_over_d.to(table.dtype).repeat(n_tables)
        else:
            weights, scale = ids.ne(0).to(table.dtype).unsqueeze(0), None
        enc = _WeightedBag.apply(flat_table, ids, lengths, weights, scale)
        story_enc, query_enc = enc.split([batch * slots, batch])  # split: no zero-fill backward
        u = query_enc.view(batch, n_tables, d)[:, self._b_idx]  # (B, d)
        memory = story_enc.view(batch, slots, n_tables, d)
        if not self.adjacent:
            memory = memory[:, :, :2]  # A and C; B reads only the query
        mask = lengths[: batch * slots].view(batch, slots) > 0  # (B, N)
        if self.temporal is not None:
            if self.training and self.config.random_noise > 0 and slots > 0:
                time_index, mask, extra = self._random_noise(mask, generator)
                temporal = F.embedding(time_index, self.temporal.view(self.temporal_size, -1))
                memory = F.pad(memory, (0, 0, 0, 0, 0, extra)) + temporal.view(
                    batch, -1, *self.temporal.shape[1:]
                )
            else:
                memory = memory + self.temporal[:slots]
        tables = memory.unbind(2)  # E views (B, N', d); unbind's backward is one stack
        # Rows of one: u (B, 1, d), p (B, 1, N'), so bmm/baddbmm need no reshapes.
        pad = ~mask.unsqueeze(1)
        weight = mask.unsqueeze(1).to(u.dtype)
        linear = self.linear
        fill = torch.finfo(u.dtype).min
        u = u.unsqueeze(1)
        attention, null_weights, raw = [], [], []
        null = None
        if self.config.null_memory and not linear:
            null = u.new_full((batch, 1, 1), self.null_logit)
        for k in range(self.config.hops):
            m, c = tables[self._a_idx[k]], tables[self._c_idx[k]]
            scores = torch.bmm(u, m.transpose(1, 2))  # u^T m_i, (B, 1, N')
            if linear:
                p = scores * weight
                if trace:  # shown to a person: the distribution the scores would give
                    attention.append(torch.softmax(scores.masked_fill(pad, fill), 2) * weight)
            elif null is not None:
                # The null memory is the last column; its content is 0, so it adds nothing to o.
                full = torch.softmax(torch.cat([scores.masked_fill(pad, fill), null], 2), dim=2)
                p = full[..., :-1] * weight
                null_weights.append(full[..., -1])
            else:
                # finfo.min, not -inf: an example with no sentence gets p = 0, not NaN.
                p = torch.softmax(scores.masked_fill(pad, fill), dim=2) * weight
            # u^{k+1} = u^k + o^k (adjacent) or H u^k + o^k (layer-wise), o^k = sum_i p_i c_i.
            u = torch.baddbmm(u if self.H is None else F.linear(u, self.H), p, c)
            if trace:
                raw.append(scores * weight)
                if not linear:
                    attention.append(p)
        u = u.squeeze(1)
        w_answer = self.answer if self.answer is not None else table[:, self._c_idx[-1]]
        logits = F.linear(u, w_answer)
        out_trace = None
        if trace:
            nulls = torch.cat(null_weights, 1) if null_weights else None
            out_trace = MemN2NTrace(torch.cat(attention, 1), mask, u, nulls,
                                    torch.cat(raw, 1), linear)
        return ModelOutput(logits=logits, trace=out_trace)


@register_model("memn2n", config=MemN2NConfig, tasks=("babi",),
                summary="End-To-End Memory Network: soft attention over story sentences, K hops",
                source="Sukhbaatar, Szlam, Weston & Fergus 2015, arXiv 1503.08895")
def build_memn2n(config: MemN2NConfig, spec: QASizes) -> MemN2N:
    """A ``MemN2N`` sized by the task: ``spec.vocab_size`` V and ``spec.memory_size`` N."""
    config.validate()
    return MemN2N(
        config,
        vocab_size=int(spec.vocab_size),
        memory_size=int(spec.memory_size),
        sentence_size=int(spec.sentence_size),
    )
