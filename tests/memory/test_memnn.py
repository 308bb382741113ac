"""Strongly supervised Memory Network: scores, hard max, margin loss, time, learning."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from tests.babi_fake import write_fake_babi
from torch.func import functional_call

from mneme.bench.report_family import family_section
from mneme.bench.suites import SUITES, recipe_cell
from mneme.errors import UserError
from mneme.memory.memnn import (
    ABSENT,
    OUTSIDE_MEMORY,
    MemNN,
    MemNNConfig,
    bag_of_words,
    build_memnn,
    comparison_loop,
    margin_ranking_loss,
    newer_sign,
)
from mneme.models.build import model_entry
from mneme.models.recipes import recipe
from mneme.tasks.babi import SUPPORT_ABSENT, SUPPORT_OUTSIDE, BabiConfig, BabiTask
from mneme.tasks.base import Batch
from mneme.train.run import RunConfig, train_run

# ---------------------------------------------------------------- helpers


def make_model(vocab: int = 9, memory: int = 6, dtype=torch.float64, **overrides) -> MemNN:
    config = dataclasses.replace(MemNNConfig(embedding_dim=4), **overrides)
    torch.manual_seed(0)
    return MemNN(config, vocab_size=vocab, memory_size=memory).to(dtype)


def random_inputs(
    batch: int, slots: int, width: int, vocab: int, seed: int = 0, facts: int = 2
) -> dict[str, torch.Tensor]:
    """Random left-aligned sentences in slots 0..n-1 (n >= 1), the rest empty; valid supervision."""
    g = torch.Generator().manual_seed(seed)
    story = torch.randint(1, vocab, (batch, slots, width), generator=g)
    lengths = torch.randint(1, width + 1, (batch, slots), generator=g)
    story[torch.arange(width) >= lengths.unsqueeze(-1)] = 0
    n = torch.randint(1, slots + 1, (batch,), generator=g)
    story[torch.arange(slots) >= n.unsqueeze(1)] = 0
    query = torch.randint(1, vocab, (batch, width), generator=g)
    query[:, width // 2 + 1 :] = 0
    supporting = torch.full((batch, facts), ABSENT)
    for b in range(batch):
        count = int(torch.randint(1, facts + 1, (1,), generator=g))
        supporting[b, :count] = torch.randint(0, int(n[b]), (count,), generator=g)
    answer = torch.randint(1, vocab, (batch,), generator=g)
    return {"story": story, "query": query, "supporting": supporting, "answer": answer}


def counts(ids: torch.Tensor, vocab: int) -> torch.Tensor:
    out = torch.zeros(vocab, dtype=torch.float64)
    for w in ids.tolist():
        if w:
            out[w] += 1
    return out


def reference(model: MemNN, inputs: dict[str, torch.Tensor], b: int, teacher: bool):
    """Section 3 of Weston et al. 2014 read literally for example b: explicit D-dimensional
    feature vectors Phi, the n x D matrices U, s(x, y) = Phi_x^T U^T U Phi_y, s_Ot with its
    order feature, the comparison loop and the margin ranking loss of eq. (6).

    Returns (chosen slots per hop, N for null), response scores (V,), loss (teacher forcing).
    """
    cfg, V = model.config, model.vocab_size
    story, query = inputs["story"][b], inputs["query"][b]
    N, K = story.shape[0], cfg.hops
    real = [bool(story[i].ne(0).any()) for i in range(N)]
    # Feature blocks of Phi for s_O: x question words | x memory words | y words | per earlier
    # hop j: y newer than m_oj, y older than m_oj | the null memory | the order feature.
    D = 3 * V + 2 * (K - 1) + 2
    U = torch.zeros(cfg.embedding_dim, D, dtype=torch.float64)
    U[:, :V], U[:, V : 2 * V], U[:, 2 * V : 3 * V] = (t.T for t in model.U_O.detach())
    U[:, :3 * V] *= (torch.arange(3 * V) % V != 0).to(torch.float64)  # nil is no feature
    if model.relative_time is not None:
        for j in range(K - 1):
            U[:, 3 * V + 2 * j] = model.relative_time.detach()[j, 0]  # newer than m_oj
            U[:, 3 * V + 2 * j + 1] = model.relative_time.detach()[j, 1]  # older
    if model.null is not None:
        U[:, D - 2] = model.null.detach()
    if model.order is not None:
        U[:, D - 1] = model.order.detach()
    NULL = N

    def phi_x(chosen: list[int]) -> torch.Tensor:
        f = torch.zeros(D, dtype=torch.float64)
        f[:V] = counts(query, V)
        for o in chosen:
            if o != NULL:
                f[V : 2 * V] += counts(story[o], V)
        return f

    def phi_y(i: int, chosen: list[int]) -> torch.Tensor:
        f = torch.zeros(D, dtype=torch.float64)
        if i == NULL:
            f[D - 2] = 1.0
            return f
        f[2 * V : 3 * V] = counts(story[i], V)
        for j, o in enumerate(chosen):
            if o != NULL and model.relative_time is not None:
                f[3 * V + 2 * j] = float(i < o)
                f[3 * V + 2 * j + 1] = float(i > o)
        return f

    def s_ot(x: torch.Tensor, y: int, y2: int, chosen: list[int]) -> torch.Tensor:
        phi_t = torch.zeros(D, dtype=torch.float64)
        if y != NULL and y2 != NULL:
            phi_t[D - 1] = 1.0 if y < y2 else -1.0 if y > y2 else 0.0
        return (U @ x) @ (U @ (phi_y(y, chosen) - phi_y(y2, chosen) + phi_t))

    candidates = ([NULL] if model.null is not None else []) + [
        i for i in reversed(range(N)) if real[i]
    ]
    targets = [int(s) for s in inputs["supporting"][b].tolist()[:K]]
    targets += [ABSENT] * (K - len(targets))
    chosen: list[int] = []
    loss = torch.zeros((), dtype=torch.float64)
    for k in range(K):
        x = phi_x(chosen)
        winner = candidates[0] if candidates else NULL
        for c in candidates[1:]:
            if s_ot(x, c, winner, chosen) > 0:
                winner = c
        if teacher:
            t = NULL if targets[k] == ABSENT and model.null is not None else targets[k]
            if t >= 0:
                for f in candidates:
                    if f != t:
                        loss = loss + torch.relu(cfg.margin - s_ot(x, t, f, chosen))
                winner = t
        chosen.append(winner)
    # s_R: blocks x question words | x memory words (one block per hop with "per_hop") | y words
    blocks = model.U_R.shape[0]
    U_R = torch.cat([t.T for t in model.U_R.detach()], 1)  # n x (blocks V)
    U_R = U_R * (torch.arange(blocks * V) % V != 0).to(torch.float64)
    x_r = torch.zeros(blocks * V, dtype=torch.float64)
    x_r[:V] = counts(query, V)
    for k, o in enumerate(chosen):
        if o != NULL:
            block = 1 + (k if blocks > 3 else 0)
            x_r[block * V : (block + 1) * V] += counts(story[o], V)
    response = torch.stack([(U_R @ x_r) @ U_R[:, (blocks - 1) * V + w] for w in range(V)])
    if teacher:
        a = int(inputs["answer"][b])
        for w in range(1, V):
            if w != a:
                loss = loss + torch.relu(cfg.margin - response[a] + response[w])
    return chosen, response, loss


# ---------------------------------------------------------------- config and building blocks


@pytest.mark.parametrize(
    ("field", "value"),
    [("embedding_dim", 0), ("hops", 0), ("margin", 0.0), ("init_std", -1.0),
     ("response_features", "bag")],
)
def test_config_validation_names_the_field(field: str, value: float) -> None:
    message = rf"^MemNNConfig\.{field} must .* \(got {re.escape(repr(value))}\)$"
    with pytest.raises(UserError, match=message):
        dataclasses.replace(MemNNConfig(), **{field: value}).validate()


def test_defaults_are_the_papers_k2_and_margin() -> None:
    config = MemNNConfig()
    assert config.hops == 2 and config.margin == 0.1
    model = build_memnn(config, BabiSizes(30, 50))
    assert model.U_O.shape == (3, 30, 50) and model.U_R.shape == (4, 30, 50)  # a block per hop
    shared = build_memnn(dataclasses.replace(config, response_features="shared"), BabiSizes(30, 50))
    assert shared.U_R.shape == (3, 30, 50)  # D = 3|W| of section 3.1


@dataclasses.dataclass(frozen=True)
class BabiSizes:
    vocab_size: int
    memory_size: int
    sentence_size: int = 6


def test_bag_of_words_counts_words_and_skips_nil() -> None:
    ids = torch.tensor([[2, 3, 2, 0], [0, 0, 0, 0]])
    assert bag_of_words(ids, 5).tolist() == [[0, 0, 2, 1, 0], [0, 0, 0, 0, 0]]


def test_margin_ranking_loss_by_hand() -> None:
    scores = torch.tensor([[1.0, 0.95, -3.0, 7.0], [0.0, 0.5, 0.2, 0.0]])
    valid = torch.tensor([[True, True, True, False], [True, True, True, True]])
    loss = margin_ranking_loss(scores, torch.tensor([0, -1]), valid, 0.1)
    # example 0: only 0.95 is inside the margin (0.1 - 1 + 0.95 = 0.05); column 3 is padding
    assert loss.tolist() == pytest.approx([0.05, 0.0])
    loss = margin_ranking_loss(scores[1:], torch.tensor([2]), valid[1:], 0.5)
    assert float(loss) == pytest.approx((0.5 - 0.2) + (0.5 - 0.2 + 0.5) + (0.5 - 0.2))


def test_newer_sign_and_comparison_loop_by_hand() -> None:
    # 3 slots and the null memory (index 3); slot 0 is the newest
    sign = newer_sign(torch.tensor([1, 3, -1]), 3)
    assert sign.tolist() == [[-1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    scores = torch.tensor([[1.0, 1.2, 1.1, 0.0]] * 3)
    valid = torch.ones(3, 4, dtype=torch.bool)
    # no order bonus: the argmax (slot 1); a big bonus for newer: slot 0; against: slot 2
    winners = comparison_loop(scores, torch.tensor([0.0, 0.5, -5.0]), valid)
    assert winners.tolist() == [1, 0, 2]
    # a padded slot never wins, even with the best score; no candidate at all: the null index
    valid[:, 1] = False
    valid[2] = False
    assert comparison_loop(scores, torch.zeros(3), valid).tolist() == [2, 2, 3]


def test_comparison_loop_without_bonus_is_the_argmax() -> None:
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(64, 9, generator=g)
    valid = torch.rand(64, 9, generator=g) > 0.3
    valid[:, 0] = True
    got = comparison_loop(scores.masked_fill(~valid, float("-inf")), torch.zeros(64), valid)
    assert torch.equal(got, scores.masked_fill(~valid, float("-inf")).argmax(1))


# ---------------------------------------------------------------- the model by hand


def hand_model(**overrides) -> MemNN:
    """V = 4 (nil, unk, a, b), d = 1, one hop, no time, no null: every score by hand."""
    config = MemNNConfig(embedding_dim=1, hops=1, time_features=False, null_memory=False,
                         **overrides)
    model = MemNN(config, vocab_size=4, memory_size=3).double()
    with torch.no_grad():
        model.U_O.copy_(torch.tensor([[0, 0, 1, 0], [0, 0, 0, 0], [9, 0, 2, -1]]).unsqueeze(-1))
        model.U_R.copy_(torch.tensor([[0, 0, 1, 0], [9, 0, 0.5, 0], [9, 0.3, 1, -2]]).unsqueeze(-1))
    return model


HAND_INPUTS = {
    "story": torch.tensor([[[3, 0], [2, 3], [2, 2]]]),  # slot 0: "b", 1: "a b", 2: "a a"
    "query": torch.tensor([[2, 0]]),  # "a"
    "supporting": torch.tensor([[1]]),
    "answer": torch.tensor([3]),
}


def test_scores_and_hard_max_by_hand() -> None:
    model = hand_model().eval()
    out = model(HAND_INPUTS, trace=True)
    # u = 1 ("a"); s_O(x, m_i) = 2 * #a - #b: -1, 1, 4 (nil words, weight 9, count nothing)
    assert out.trace.scores[0, 0, :3].tolist() == [-1.0, 1.0, 4.0]
    assert out.trace.chosen.tolist() == [[2]] and out.trace.attention[0, 0].tolist() == [0, 0, 1]
    # s_R: x = [q, m_o1]: 1 * 1 + 0.5 * 2 = 2; words unk 0.3, a 1, b -2; nil is no answer
    assert out.logits[0].tolist() == [float("-inf"), pytest.approx(0.6), 2.0, -4.0]
    assert out.aux_loss is None


def test_margin_loss_of_the_model_by_hand() -> None:
    model = hand_model().train()
    out = model(HAND_INPUTS, trace=True)
    # hop: target slot 1 (score 1): relu(0.1 - 1 - 1) + relu(0.1 - 1 + 4) = 3.1
    # response on [q, m_1] (teacher forcing): u = 1 + 0.5 = 1.5, scores unk 0.45, a 1.5, b -3;
    # answer b: relu(0.1 + 3 + 0.45) + relu(0.1 + 3 + 1.5) = 8.15
    assert float(out.aux_loss.detach()) == pytest.approx(3.1 + 8.15)
    assert out.trace.chosen.tolist() == [[1]]  # teacher forcing
    assert not out.logits.requires_grad


def test_a_slot_of_padding_is_never_chosen() -> None:
    # every real memory scores below the 0 an empty slot would get: the argmax must skip them
    model = hand_model().eval()
    inputs = {"story": torch.tensor([[[3, 3], [0, 0], [3, 0]]]), "query": torch.tensor([[2, 0]])}
    out = model(inputs, trace=True)
    assert out.trace.chosen.tolist() == [[2]]  # -1 beats -2; slot 1 is padding
    assert out.trace.scores[0, 0, 1] == float("-inf")
    model = make_model(hops=3)
    for seed in range(5):
        inputs = random_inputs(16, 6, 4, 9, seed=seed)
        for mode in (model.eval(), model.train()):
            chosen = mode(inputs, trace=True).trace.chosen
            real = inputs["story"].ne(0).any(-1)
            picked = chosen.clamp(min=0)
            assert bool(real.gather(1, picked)[chosen >= 0].all())


# ---------------------------------------------------------------- reference, gradients, batching


@pytest.mark.parametrize(
    "overrides",
    [{}, {"hops": 3}, {"time_features": False}, {"null_memory": False}, {"hops": 1},
     {"response_features": "shared"}],
)
def test_forward_and_loss_equal_the_literal_reference(overrides: dict) -> None:
    model = make_model(**overrides)
    with torch.no_grad():  # larger weights: scores spread, several memories compete
        for p in model.parameters():
            p.mul_(10)
    inputs = random_inputs(6, 5, 4, 9, seed=3)
    eval_out = model.eval()(inputs, trace=True)
    train_out = model.train()(inputs, trace=True)
    total = torch.zeros((), dtype=torch.float64)
    for b in range(6):
        chosen, response, _ = reference(model, inputs, b, teacher=False)
        expect = [-1 if c == 5 else c for c in chosen]
        assert eval_out.trace.chosen[b].tolist() == expect
        assert torch.allclose(eval_out.logits[b, 1:], response[1:])
        _, _, loss = reference(model, inputs, b, teacher=True)
        total = total + loss
    assert torch.allclose(train_out.aux_loss, total / 6)


def test_gradcheck_of_the_margin_loss() -> None:
    model = make_model(vocab=5, memory=4, hops=2, embedding_dim=2).train()
    inputs = random_inputs(3, 4, 3, 5, seed=5)
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())

    def loss(*values: torch.Tensor) -> torch.Tensor:
        return functional_call(model, dict(zip(names, values, strict=True)), (inputs,)).aux_loss

    assert float(loss(*params).detach()) > 0  # some hinge is active, so the check is not vacuous
    assert torch.autograd.gradcheck(loss, params, eps=1e-6, atol=1e-6)


def test_examples_are_independent_of_their_batch() -> None:
    model = make_model(hops=2)
    inputs = random_inputs(8, 6, 4, 9, seed=7)
    for mode in ("eval", "train"):
        getattr(model, mode)()
        whole = model(inputs, trace=True)
        for b in range(8):
            one = model({k: v[b : b + 1] for k, v in inputs.items()}, trace=True)
            assert torch.equal(one.trace.chosen[0], whole.trace.chosen[b])
            assert torch.allclose(one.logits[0], whole.logits[b])
    # the training loss is the batch mean of the per-example losses
    single = [model({k: v[b : b + 1] for k, v in inputs.items()}).aux_loss for b in range(8)]
    assert torch.allclose(model(inputs).aux_loss, torch.stack(single).mean())


def test_eval_ignores_supervision_and_training_requires_it() -> None:
    model = make_model().eval()
    inputs = random_inputs(4, 6, 4, 9)
    plain = {"story": inputs["story"], "query": inputs["query"]}
    assert torch.allclose(model(inputs).logits, model(plain).logits)
    with pytest.raises(ValueError, match="supporting"):
        model.train()(plain)


def test_supervision_codes_absent_and_outside_memory() -> None:
    model = make_model(hops=2).train()
    inputs = random_inputs(2, 6, 4, 9)
    inputs["supporting"] = torch.tensor([[0, ABSENT], [OUTSIDE_MEMORY, 0]])
    chosen = model(inputs, trace=True).trace.chosen
    assert chosen[0].tolist() == [0, -1]  # one fact: the second hop's target is the null memory
    assert chosen[1, 1] == 0  # the first hop is free (its fact fell out of memory)
    assert ABSENT == SUPPORT_ABSENT and OUTSIDE_MEMORY == SUPPORT_OUTSIDE


# ---------------------------------------------------------------- the bAbI task and learning

QA2 = """\
1 Mary moved to the bathroom.
2 Mary got the football there.
3 John went to the hallway.
4 Where is the football? \tbathroom\t2 1
5 Mary went to the garden.
6 Where is the football? \tgarden\t2 5
7 Where is Mary? \tgarden\t5
"""


def qa2_task(tmp_path: Path, memory_size: int) -> BabiTask:
    folder = tmp_path / "babi" / "en"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        (folder / f"qa2_two-supporting-facts_{split}.txt").write_text(QA2)
    return BabiTask(BabiConfig(task_id=2, data_dir=str(tmp_path), memory_size=memory_size,
                               valid_fraction=0.0))


def test_babi_training_batches_carry_supporting_slots(tmp_path: Path) -> None:
    task = qa2_task(tmp_path, memory_size=3)
    batch = task.train_batch(torch.arange(3), torch.Generator())
    # slot 0 is the newest statement: q1 facts "got" (slot 1), "moved" (slot 2); q2 "got"
    # (slot 2), "went to the garden" (slot 0); q3 one fact, then padding
    assert batch.inputs["supporting"].tolist() == [[1, 2], [2, 0], [0, SUPPORT_ABSENT]]
    assert torch.equal(batch.inputs["answer"], batch.targets)
    small = qa2_task(tmp_path / "small", memory_size=2)
    batch = small.train_batch(torch.arange(3), torch.Generator())
    assert batch.inputs["supporting"].tolist() == [
        [1, SUPPORT_OUTSIDE], [SUPPORT_OUTSIDE, 0], [0, SUPPORT_ABSENT]]
    # evaluation batches carry no supervision
    assert set(next(task.eval_batches("test", 8)).inputs) == {"story", "query"}


def test_babi_loss_is_the_models_margin_loss_alone(tmp_path: Path) -> None:
    task = qa2_task(tmp_path, memory_size=3)
    model = build_memnn(MemNNConfig(embedding_dim=5), task.spec).train()
    batch = task.train_batch(torch.arange(3), torch.Generator())
    out = model(batch.inputs)
    assert out.trace.aux_loss_only and not out.logits.requires_grad
    assert task.loss(out, batch) is out.aux_loss
    assert model.eval()(batch.inputs).trace is None  # traces only on request outside training
    model.train()
    out.aux_loss.backward()
    assert model.U_O.grad is not None and model.U_R.grad.abs().sum() > 0


def test_registry_recipe_and_suite() -> None:
    entry = model_entry("memnn", "babi")
    assert entry.config_class() is MemNNConfig
    _, train = recipe("babi", "memnn", BabiConfig(), MemNNConfig())
    assert train.optimizer == "sgd" and train.loss_reduction == "sum"
    cells = [c for c in SUITES["babi-1k"].build(None) if c.group == "memnn"]
    assert sorted(c.task.task_id for c in cells) == list(range(1, 21))
    assert all(c.model_name == "memnn" and c.train.repeats == 1 for c in cells)


def test_report_puts_the_papers_memnn_column_beside_ours() -> None:
    cell = recipe_cell("m", "memnn", "babi", BabiConfig(task_id=3), "memnn")
    summary = {"test": {"error": 0.775}, "seconds": 1.0, "repeats": [{"test": {"error": 0.775}}]}
    _, table = family_section([(cell, summary)], None, select_best=True)
    assert "MemNN (strong supervision) (ours)" in table
    row = next(line for line in table.splitlines() if line.startswith("| task 3 (1k) |"))
    assert "| 77.50 | 80.0 |" in row  # Weston et al. 2015, Table 3: 20% accuracy on task 3
    assert "25.0 (13 failed)" in table


def test_learns_a_babi_like_task_with_its_recipe(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    data = write_fake_babi(tmp_path / "data", stories=150)
    task_cfg = BabiConfig(task_id=1, data_dir=str(data))
    model_cfg, train = recipe("babi", "memnn", task_cfg, MemNNConfig())
    train = dataclasses.replace(train, epochs=4, progress=False, tensorboard=False)
    config = RunConfig("babi", task_cfg, "memnn", model_cfg, train)
    summary = train_run(config, tmp_path / "run", progress=False)
    assert summary["test"]["error"] < 0.05, summary["test"]


def test_trained_model_runs_on_eval_batches(tmp_path: Path) -> None:
    task = qa2_task(tmp_path, memory_size=3)
    model = build_memnn(MemNNConfig(embedding_dim=5), task.spec).eval()
    batch: Batch = next(task.eval_batches("test", 8))
    metrics = task.metrics(model(batch.inputs), batch)
    assert metrics["count"] == 3.0 and 0.0 <= metrics["error"] <= 3.0


def test_solves_real_babi_task1(data_root: str, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    task_cfg = BabiConfig(task_id=1, data_dir=data_root)
    model_cfg, train = recipe("babi", "memnn", task_cfg, MemNNConfig())
    train = dataclasses.replace(train, epochs=6, progress=False, tensorboard=False)
    config = RunConfig("babi", task_cfg, "memnn", model_cfg, train)
    summary = train_run(config, tmp_path / "run", progress=False)
    assert summary["test"]["error"] < 0.05, summary["test"]
