"""Stream tasks (language models): state carried across batches, truncated BPTT, exact resume,
the step schedule with a decay start, and data-parallel training equal to one process."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

from mneme.config import TrainConfig
from mneme.train.distributed import Distributed, from_environment
from mneme.train.loop import Trainer, evaluate
from tests.train.toy import ToyLM, ToyStreamTask


def _config(**overrides) -> TrainConfig:
    base = dict(epochs=2, batch_size=4, optimizer="sgd", lr=0.5, clip_norm=5.0,
                progress=False, tensorboard=False, eval_batch_size=2)
    base.update(overrides)
    return TrainConfig(**base)


def test_state_is_carried_and_detached_at_batch_boundaries(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task, model = ToyStreamTask(), ToyLM()
    outputs: list = []
    original = model.forward

    def forward(inputs, state=None):
        out = original(inputs, state=state)
        outputs.append(out.state)
        return out

    model.forward = forward  # type: ignore[method-assign]
    trainer = Trainer(task, model, _config(epochs=1), tmp_path / "run")
    spe = trainer.steps_per_epoch
    trainer.fit()
    train_seen = model.seen[:spe]
    assert train_seen[0] is None  # the epoch starts from a zero state
    for k in range(1, spe):
        h, c = train_seen[k]
        assert h.grad_fn is None and c.grad_fn is None and not h.requires_grad  # truncated
        assert torch.equal(h, outputs[k - 1][0].detach())  # ...exactly the previous batch's state
        assert torch.equal(c, outputs[k - 1][1].detach())
    # the previous graph is really cut: backprop through a carried state reaches no earlier step
    assert outputs[0][0].grad_fn is not None


def test_evaluation_carries_state_from_zero(tmp_path: Path) -> None:
    task, model = ToyStreamTask(), ToyLM()
    metrics = evaluate(model, task, "valid", 2)
    assert model.seen[0] is None and all(s is not None for s in model.seen[1:])
    assert metrics["perplexity"] == pytest.approx(torch.tensor(metrics["nll"]).exp().item())
    # carrying state differs from resetting it every batch (so carrying is really happening)
    model.seen.clear()
    total, count = 0.0, 0
    for batch in task.eval_batches("valid", 2):
        with torch.no_grad():
            out = model(batch.inputs)
        total += task.metrics(out, batch)["nll"]
        count += batch.targets.numel()
    assert total / count != pytest.approx(metrics["nll"], abs=1e-7)


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_mid_epoch_is_bit_identical(tmp_path: Path) -> None:
    torch.manual_seed(0)
    full = ToyLM()
    Trainer(ToyStreamTask(), full, _config(), tmp_path / "full").fit()

    torch.manual_seed(0)
    model = ToyLM()
    stop_at = 7

    def stop(trainer: Trainer) -> None:
        if trainer.step == stop_at:
            trainer.request_stop()

    first = Trainer(ToyStreamTask(), model, _config(), tmp_path / "cut", callbacks=[stop])
    assert first.fit().interrupted
    assert first._carry is not None  # the cut falls mid-epoch, with a state to carry
    torch.manual_seed(123)  # resume must not depend on the global RNG
    resumed_model = ToyLM()
    resumed = Trainer(ToyStreamTask(), resumed_model, _config(), tmp_path / "cut")
    resumed.fit(resume=True)
    for key, value in _params(full).items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key


def test_step_schedule_with_decay_start() -> None:
    trainer = Trainer(
        ToyStreamTask(), ToyLM(),
        _config(lr=1.0, lr_schedule="step", lr_decay=0.5, lr_decay_every=1, lr_decay_start=4),
        Path("/nonexistent-unused"),
    )
    assert [trainer.lr_at(e) for e in range(7)] == [1, 1, 1, 1, 0.5, 0.25, 0.125]
    every2 = Trainer(
        ToyStreamTask(), ToyLM(),
        _config(lr=1.0, lr_decay=0.5, lr_decay_every=2, lr_decay_start=1),
        Path("/nonexistent-unused"),
    )
    assert [every2.lr_at(e) for e in range(6)] == [1, 0.5, 0.5, 0.25, 0.25, 0.125]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    env = {"RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    os.environ.update(env)
    torch.set_num_threads(1)
    dist = from_environment(env)
    try:
        torch.manual_seed(0)
        Trainer(ToyStreamTask(), ToyLM(), _config(), Path(out), distributed=dist).fit()
    finally:
        torch.distributed.destroy_process_group()


def test_two_process_ddp_equals_single_process(tmp_path: Path) -> None:
    torch.manual_seed(0)
    single = ToyLM()
    Trainer(ToyStreamTask(), single, _config(), tmp_path / "single").fit()

    torch.multiprocessing.spawn(
        _rank_main, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True
    )
    from mneme.train.checkpoint import load_checkpoint

    ddp = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")["model"]
    for key, value in _params(single).items():
        torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6)
    # only rank 0 wrote the run directory; each rank kept its own carried state
    assert (tmp_path / "ddp" / "final.json").exists()
    carries = sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").glob("carry-*.pt"))
    assert len(carries) == 2 and carries[0].endswith("rank0.pt")


def test_ddp_batch_must_split_evenly(tmp_path: Path) -> None:
    from mneme.errors import UserError

    with pytest.raises(UserError, match="multiple of the number of processes"):
        Trainer(ToyStreamTask(), ToyLM(), _config(batch_size=3), tmp_path,
                distributed=Distributed(rank=0, world_size=2))
