"""Memory Network with strong supervision (Weston, Chopra & Bordes 2014, arXiv 1410.3916).

The first memory network: hard choices over a memory of sentences, taught which memories to use by
the supporting facts of each question. Section 3.1 of the paper, with k hops (k = 2 there):

    o_1 = argmax_i s_O(x, m_i)                                        eq. (1)
    o_k = argmax_i s_O([x, m_o1, ..., m_o(k-1)], m_i)                 eq. (2)
    r   = argmax_w s_R([x, m_o1, ..., m_ok], w)   over single words   eq. (3)
    s(x, y) = Phi_x(x)^T U^T U Phi_y(y)                               eq. (4)

U is n x D (n = ``embedding_dim``). Phi is a bag of words with D = 3|W| features: one copy of the
dictionary for Phi_y and two for Phi_x, so that words of the question and words of the memories
already chosen are told apart. U_O scores memories, U_R answer words; column blocks of U are
stored as tables ``(3, V, n)`` (x question words, x memory words, y words), so U Phi is a sum of
rows; s_R gives each hop's memory its own block by default (``response_features``: with one
shared block, bAbI tasks 11 and 13 fail for want of knowing which fact came last). Training
minimises the margin ranking loss of eq. (6) with the supporting facts as the targets of o_1, o_2
(teacher forcing: hop k is conditioned on the true facts) and the answer as the target of r,
summed over every other memory and every other word:

    sum_{f != m*_k} max(0, gamma - s_O(x_k, m*_k) + s_O(x_k, f))  +  sum_{w != a} max(0, gamma -
    s_R(x_K, a) + s_R(x_K, w))

Time (section 3.4). The paper scores pairs, s_Ot(x, y, y') = Phi_x(x)^T U^T U (Phi_y(y) -
Phi_y(y') + Phi_t(x, y, y')), with three 0/1 features in Phi_t (x older than y, x older than y',
y older than y'), and replaces the argmax by a loop that keeps a winner and lets each next memory
challenge it. mneme keeps that form with two changes, both for consistency with the loss: (a) the
y-versus-y' feature is antisymmetric, +1 if y is newer than y', -1 if older, so that
s_Ot(x, y, y') = -s_Ot(x, y', y): one ordering of each pair in eq. (6) then trains both, and a
target that wins all its pairs by the margin wins the loop whatever its order (with 0/1 values
one of the two orderings would get no help from time); (b) "x older than y" takes for x the time
of the memory m_oj chosen at each earlier hop j, as two features of Phi_y (m_i newer / older than
m_oj; Phi_y(y) - Phi_y(y') makes them antisymmetric too); at hop 1 x is the question, newer than
every memory, so these carry nothing there. Measured on bAbI 1k task 2 (seed 0): a one-hot age of
each memory in Phi_y instead of (a) gives 8% test error, (a) 0%. Training needs no loop (the
targets are known); the loop runs for the whole batch, over the N slots, at evaluation only.

Questions with fewer supporting facts than hops (bAbI task 1 has one) take an optional null
memory as the target of the remaining hops (content zero, learned Phi_y feature), in the spirit of
the "STOP" memory of the adaptive variant (Weston et al. 2015, arXiv 1502.05698, appendix A.2.1);
facts beyond ``hops`` (task 3 has three) are not used, as in the paper's k = 2 model.

Legend: B batch, N memory slots (slot 0 the most recent sentence), J words per sentence, V
vocabulary, K hops, n (``d`` in code) embedding dimension.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mneme.errors import UserError
from mneme.memory.memn2n import QASizes
from mneme.registry import register_model
from mneme.types import ModelOutput
from mneme.validation import Validated, at_least, greater_than, one_of

__all__ = [
    "ABSENT",
    "OUTSIDE_MEMORY",
    "MemNN",
    "MemNNConfig",
    "MemNNTrace",
    "bag_of_words",
    "build_memnn",
    "comparison_loop",
    "margin_ranking_loss",
    "newer_sign",
]

ABSENT = -1
"""Supporting-fact code: the question has no such fact (the hop's target is the null memory)."""
OUTSIDE_MEMORY = -2
"""Supporting-fact code: the fact exists but fell out of the N-slot memory (hop not supervised)."""


@dataclass(frozen=True)
class MemNNConfig(Validated):
    """Strongly supervised MemNN hyper-parameters.

    Attributes:
        embedding_dim: n, rows of U_O and U_R. The paper tunes it per experiment; 50 here.
        hops: k, memories chosen per question (the paper's MemNN uses 2; the bAbI paper's failures
            on tasks 3 and 16 come from their three facts; 3 hops lift that limit).
        margin: gamma of the ranking loss, eq. (6) (0.1 in the paper).
        time_features: the write-time features of s_Ot (section 3.4): the order of the two
            memories compared and the order of each memory relative to the memories chosen at
            earlier hops (see the module docstring). Without them each hop is a plain argmax.
        null_memory: add a null memory every hop can choose; the target of hops beyond a
            question's supporting facts. Without it those hops are unsupervised and free.
        response_features: how Phi_x of s_R tells the chosen memories apart. ``"shared"``:
            D = 3|W| as in section 3.1, the words of m_o1 and m_o2 share one block, so s_R sees
            one bag and cannot tell which fact is newer; ``"per_hop"`` (default): one block per
            hop, D = (K + 2)|W|. Measured on bAbI 1k (seed 0, recipe), test error shared ->
            per_hop: task 11 51.2% -> 0.1%, task 13 51.4% -> 0.1% (the memories chosen
            were right in >99% of questions; "he went to the hallway" after "Daniel went to the
            kitchen" needs to know which location came last). The paper's MemNN solves both.
        init_std: standard deviation of the Gaussian initialisation of every weight.
    """

    embedding_dim: int = field(default=50, metadata=at_least(1))
    hops: int = field(default=2, metadata=at_least(1))
    margin: float = field(default=0.1, metadata=greater_than(0.0))
    time_features: bool = True
    null_memory: bool = True
    response_features: Literal["per_hop", "shared"] = field(default="per_hop", metadata=one_of())
    init_std: float = field(default=0.1, metadata=greater_than(0.0))


@dataclass(frozen=True)
class MemNNTrace:
    """What one traced forward chose.

    Attributes:
        attention: ``(B, K, N)`` one-hot of the memory chosen at each hop (all 0 when the hop
            chose the null memory); the same layout as MemN2N's attention, so ``mneme ask`` and
            the attention plots read it.
        null_attention: ``(B, K)`` 1 where the hop chose the null memory.
        chosen: ``(B, K)`` the slot chosen at each hop, -1 for the null memory. In training the
            hops follow the supporting facts (teacher forcing), so these are the targets.
        scores: ``(B, K, N + 1)`` the pointwise part of s_O at each hop, U Phi_x(x) . U
            Phi_y(m_i) (s_Ot adds the order term per pair), the null memory last; ``-inf`` for
            empty slots (and for the null memory without ``null_memory``).
        memory_mask: ``(B, N)`` bool, which slots hold a sentence.
        aux_loss_only: tells the bAbI task to train on the output's ``aux_loss`` (eq. 6) alone,
            without its cross entropy; True in training mode.
    """

    attention: Tensor
    null_attention: Tensor
    chosen: Tensor
    scores: Tensor
    memory_mask: Tensor
    aux_loss_only: bool = False


def bag_of_words(ids: Tensor, vocab_size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Phi of section 3.1: word counts ``(..., V)`` of word ids ``(..., J)``; nil (id 0) uncounted.

    Raises:
        IndexError (from ``scatter_add_``): an id outside ``0..V-1``.
    """
    counts = torch.zeros(*ids.shape[:-1], vocab_size, dtype=dtype, device=ids.device)
    counts.scatter_add_(-1, ids, torch.ones(ids.shape, dtype=dtype, device=ids.device))
    counts[..., 0] = 0.0
    return counts


def margin_ranking_loss(scores: Tensor, target: Tensor, valid: Tensor, margin: float) -> Tensor:
    """Eq. (6) of Weston et al. 2014 for one choice: sum over the other valid candidates c of
    ``max(0, margin - scores[t] + scores[c])``.

    Args:
        scores: ``(B, C)`` scores of the candidates (memories or words).
        target: ``(B,)`` index of the right candidate; a negative value: no target (loss 0).
        valid: ``(B, C)`` bool, which candidates exist (padding memories do not).
        margin: gamma.

    Returns:
        ``(B,)`` the loss of each example.
    """
    has_target = target >= 0
    index = target.clamp(min=0).unsqueeze(1)
    positive = scores.gather(1, index)
    negative = valid.scatter(1, index, False)
    hinge = torch.relu(margin - positive + scores)
    # where, not a product: padding scores may be -inf, and 0 * inf is NaN
    loss = torch.where(negative, hinge, torch.zeros_like(hinge)).sum(1)
    return torch.where(has_target, loss, torch.zeros_like(loss))


def newer_sign(target: Tensor, slots: int) -> Tensor:
    """``(B, N+1)``: +1 where the memory ``target`` is newer than memory j, -1 where older, 0
    where either is the null memory (index N) or j is the target; ``target`` ``(B,)``.

    The order feature of s_Ot(x, m*, m_j) (section 3.4) in antisymmetric form; slot 0 is newest.
    """
    j = torch.arange(slots + 1, device=target.device)
    t = target.unsqueeze(1)
    real = (t >= 0) & (t < slots) & (j < slots)
    sign = (t < j).to(torch.int8) - (t > j).to(torch.int8)
    return torch.where(real, sign, 0)


def comparison_loop(scores: Tensor, bonus: Tensor, valid: Tensor) -> Tensor:
    """The argmax of s_Ot by the paper's loop (section 3.4), for the whole batch at once.

    The null memory (last column) enters first, then the memories from the oldest (slot N-1) to
    the newest (slot 0); each challenger y replaces the current winner y' when
    s_Ot(x, y, y') = scores[y] - scores[y'] + bonus [y' is a memory] > 0 (the challenger is
    always the newer of the two). With ``bonus`` 0 this is the argmax (ties to the older).

    Args:
        scores: ``(B, N+1)`` u . Phi_y of each memory, the null memory last.
        bonus: ``(B,)`` the weight of the "newer" feature.
        valid: ``(B, N+1)`` which candidates exist (padding slots never win).

    Returns:
        ``(B,)`` the winning index; N (the null memory) also when nothing is valid.
    """
    slots = scores.shape[1] - 1
    winner = torch.full_like(bonus, slots, dtype=torch.long)
    best = scores[:, slots]
    seen = valid[:, slots]
    for i in range(slots - 1, -1, -1):
        beats = scores[:, i] - best + torch.where(winner < slots, bonus, 0.0) > 0
        take = valid[:, i] & (beats | ~seen)
        winner = torch.where(take, i, winner)
        best = torch.where(take, scores[:, i], best)
        seen = seen | valid[:, i]
    return winner


class MemNN(nn.Module):
    """The strongly supervised Memory Network (k hops, hard max, single-word answers).

    Parameters: ``U_O`` ``(3, V, d)`` and ``U_R`` ``(2 + K or 3, V, d)``, the column blocks of
    U (x question words, x memory words (per hop for U_R with ``"per_hop"``), y words; the nil
    row is held at 0); with ``time_features`` ``order``
    ``(d,)`` (the column of U for "y newer than y'") and, for K > 1, ``relative_time``
    ``(K-1, 2, d)`` (m_i newer / older than m_oj); with ``null_memory`` ``null`` ``(d,)``, the
    Phi_y feature of the null memory.

    Input contract (the bAbI task): ``story`` ``(B, N, J)`` word ids, slot 0 the most recent
    sentence, an all-nil row an empty slot; ``query`` ``(B, J)``. Training also reads the
    supervision of training batches: ``supporting`` ``(B, S)`` slots of the supporting facts in
    the order the data lists them (``ABSENT`` / ``OUTSIDE_MEMORY`` codes otherwise) and ``answer``
    ``(B,)``.
    """

    def __init__(self, config: MemNNConfig, vocab_size: int, memory_size: int) -> None:
        super().__init__()
        config.validate()
        if vocab_size < 2:
            raise UserError(f"vocab_size must be >= 2 (nil plus one word), got {vocab_size}")
        if memory_size < 1:
            raise UserError(f"memory_size must be >= 1, got {memory_size}")
        self.config = config
        self.vocab_size = vocab_size
        self.memory_size = memory_size
        d, std = config.embedding_dim, config.init_std
        self.U_O = nn.Parameter(torch.randn(3, vocab_size, d) * std)
        # U_R blocks: question words, memory words (one block per hop with "per_hop"), answers
        blocks = 2 + (config.hops if config.response_features == "per_hop" else 1)
        self.U_R = nn.Parameter(torch.randn(blocks, vocab_size, d) * std)
        keep = torch.ones(vocab_size, 1)
        keep[0] = 0.0
        self.register_buffer("_nil_keep", keep, persistent=False)
        self.order = self.relative_time = self.null = None
        if config.time_features:
            self.order = nn.Parameter(torch.randn(d) * std)
            if config.hops > 1:
                self.relative_time = nn.Parameter(torch.randn(config.hops - 1, 2, d) * std)
        if config.null_memory:
            self.null = nn.Parameter(torch.randn(d) * std)

    def _supervision(
        self, inputs: Mapping[str, Tensor], mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Per-hop targets ``(B, K)`` (a slot, N for the null memory, -1 none) and answers."""
        if "supporting" not in inputs or "answer" not in inputs:
            raise ValueError(
                "MemNN trains on supporting facts: training inputs need 'supporting' (B, S) and "
                "'answer' (B,) (the bAbI task's training batches carry them)"
            )
        slots, hops = mask.shape[1], self.config.hops
        codes = inputs["supporting"].to(device=mask.device, dtype=torch.long)
        if codes.shape[1] < hops:
            codes = F.pad(codes, (0, hops - codes.shape[1]), value=ABSENT)
        codes = codes[:, :hops]
        # A target must be a sentence in memory; a fact outside memory leaves its hop free.
        in_memory = (codes >= 0) & (codes < slots)
        held = mask.gather(1, codes.clamp(0, max(slots - 1, 0))) if slots else in_memory
        target = torch.where(in_memory & held, codes, -1)
        if self.null is not None:
            target = torch.where(codes == ABSENT, slots, target)
        return target, inputs["answer"].to(mask.device)

    def forward(self, inputs: Mapping[str, Tensor], *, trace: bool = False) -> ModelOutput:
        """Answer scores for a batch of stories and questions.

        In training mode the hops follow the supporting facts (teacher forcing) and the output
        carries the margin ranking loss of eq. (6) (mean over the batch) as ``aux_loss``, the
        logits detached and a trace with ``aux_loss_only``: the bAbI task trains on that loss
        alone, as the paper does. In eval mode each hop takes the winner of the comparison loop.

        Args:
            inputs: ``story`` ``(B, N, J)``, ``query`` ``(B, J)``; in training also
                ``supporting`` ``(B, S)`` and ``answer`` ``(B,)``.
            trace: also return a ``MemNNTrace`` (always returned in training mode).

        Returns:
            ``ModelOutput`` with logits ``(B, V)`` = s_R of every word (``-inf`` for nil).

        Raises:
            ValueError: more than ``memory_size`` slots, or training without supervision.
        """
        story, query = inputs["story"], inputs["query"]
        batch, slots, _ = story.shape
        if slots > self.memory_size:
            raise ValueError(f"story has {slots} slots but memory_size is {self.memory_size}")
        mask = story.ne(0).any(-1)  # (B, N)
        supervised = self.training
        if supervised:
            hop_target, answer = self._supervision(inputs, mask)
        dtype = self.U_O.dtype
        U_O = self.U_O * self._nil_keep  # (3, V, d), nil row exactly 0
        U_R = self.U_R * self._nil_keep
        q_bow = bag_of_words(query, self.vocab_size, dtype)  # (B, V)
        m_bow = bag_of_words(story, self.vocab_size, dtype)  # (B, N, V)
        d = self.config.embedding_dim
        # One matmul for the three memory blocks: x-side (O), y-side (O), x-side (R).
        m_x, m_y, m_r = (m_bow @ torch.cat([U_O[1], U_O[2], *U_R[1:-1]], 1)).split(
            [d, d, d * (len(U_R) - 2)], -1
        )
        # the null memory adds nothing to x: (B, N+1, d) and (B, N+1, d * blocks)
        m_x = torch.cat([m_x, m_x.new_zeros(batch, 1, d)], 1)
        m_r = torch.cat([m_r, m_r.new_zeros(batch, 1, m_r.shape[-1])], 1)
        u = q_bow @ U_O[0]  # Phi_x(x), embedded: (B, d)
        valid = torch.cat([mask, mask.new_full((batch, 1), self.null is not None)], 1)
        positions = torch.arange(slots, device=story.device)
        rows = torch.arange(batch, device=story.device)
        losses = []
        chosen: list[Tensor] = []
        all_scores = []
        for k in range(self.config.hops):
            candidates = m_y
            if self.relative_time is not None:
                for j, o in enumerate(chosen):
                    real = (o < slots).unsqueeze(1)
                    newer = ((positions < o.unsqueeze(1)) & real).unsqueeze(-1).to(dtype)
                    older = ((positions > o.unsqueeze(1)) & real).unsqueeze(-1).to(dtype)
                    rel = self.relative_time[j]
                    candidates = candidates + newer * rel[0] + older * rel[1]
            scores = torch.einsum("bnd,bd->bn", candidates, u)  # u . Phi_y(m_i), (B, N)
            null_score = u @ self.null if self.null is not None else u.new_zeros(batch)
            scores = torch.cat([scores, null_score.unsqueeze(1)], 1)  # (B, N+1)
            # c: the weight of "y is newer than y'" in s_Ot(x, y, y') at this hop
            bonus = u @ self.order if self.order is not None else u.new_zeros(batch)
            masked = scores.masked_fill(~valid, float("-inf"))
            if supervised:
                target = hop_target[:, k]
                pairwise = scores - bonus.unsqueeze(1) * newer_sign(target, slots)
                losses.append(margin_ranking_loss(pairwise, target, valid, self.config.margin))
                free = target < 0  # teacher forcing; the loop only for unsupervised hops
                best = target
                if bool(free.any()):
                    best = torch.where(free, comparison_loop(masked.detach(), bonus.detach(),
                                                             valid), target)
            else:
                best = comparison_loop(masked, bonus, valid)
            chosen.append(best)
            all_scores.append(masked)
            u = u + m_x[rows, best]  # x <- [x, m_ok]
        o = torch.stack(chosen, 1)  # (B, K)
        picked = m_r.gather(1, o.unsqueeze(-1).expand(-1, -1, m_r.shape[-1]))  # (B, K, .)
        if len(U_R) > 3:  # per hop: hop k reads its own block
            picked = picked.view(batch, self.config.hops, -1, d).diagonal(0, 1, 2).transpose(1, 2)
        u_r = q_bow @ U_R[0] + picked.sum(1)
        scores_r = u_r @ U_R[-1].T  # s_R([x, m_o1, ..., m_oK], w), (B, V)
        words = torch.arange(self.vocab_size, device=story.device) != 0
        logits = scores_r.masked_fill(~words, float("-inf"))
        aux = None
        if supervised:
            response = margin_ranking_loss(
                scores_r, answer, words.expand(batch, -1), self.config.margin
            )
            aux = (torch.stack(losses, 1).sum(1) + response).mean()
            logits = logits.detach()
        out_trace = None
        if trace or supervised:  # in training the trace carries aux_loss_only
            attention = F.one_hot(o, slots + 1)[..., :slots].to(dtype)
            out_trace = MemNNTrace(
                attention=attention,
                null_attention=(o == slots).to(dtype),
                chosen=torch.where(o == slots, -1, o),
                scores=torch.stack(all_scores, 1),
                memory_mask=mask,
                aux_loss_only=supervised,
            )
        return ModelOutput(logits=logits, trace=out_trace, aux_loss=aux)


@register_model("memnn", config=MemNNConfig, tasks=("babi",),
                summary="Memory Network, hard lookups strongly supervised by supporting facts",
                source="Weston, Chopra & Bordes 2014, arXiv 1410.3916")
def build_memnn(config: MemNNConfig, spec: QASizes) -> MemNN:
    """A ``MemNN`` sized by the task: ``spec.vocab_size`` V and ``spec.memory_size`` N."""
    config.validate()
    return MemNN(config, vocab_size=int(spec.vocab_size), memory_size=int(spec.memory_size))
