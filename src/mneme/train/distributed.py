"""Data-parallel training over processes: ``torchrun --nproc-per-node N -m mneme train ...``.

Each of the N processes (ranks) holds a full copy of the model, builds the same global batch from
the same seeded generator, trains on its own equal share of the rows, and
``DistributedDataParallel`` averages the gradients during ``backward``; since every rank's loss is
a mean over its rows, the averaged gradient is the gradient of the global batch mean, and the
ranks stay identical. A language model's rows are contiguous pieces of the token stream, so each
rank reads its own shard of the stream and carries its own recurrent state. Only rank 0 writes the
run directory; each rank checkpoints its carried state next to ``last.pt`` so resume is exact.

Backends: ``gloo`` on CPU, ``nccl`` on GPU. The CLI reads ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``... (set by ``torchrun``) and passes a ``Distributed`` to the
trainer; on CUDA each rank computes on ``cuda:LOCAL_RANK`` (``mneme.train.device``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mneme.types import Batch

__all__ = ["Distributed", "from_environment"]


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel run (the defaults: a single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    """The rank among this machine's processes: the CUDA device index it uses."""

    @property
    def is_main(self) -> bool:
        """Rank 0, the one that writes the run directory."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in ``DistributedDataParallel`` when there is more than one rank."""
        if self.world_size == 1:
            return model
        device = next(model.parameters()).device
        if device.type == "cuda":
            return nn.parallel.DistributedDataParallel(model, device_ids=[device.index],
                                                       output_device=device.index)
        return nn.parallel.DistributedDataParallel(model)

    def shard(self, batch: Batch) -> Batch:
        """This rank's equal, contiguous share of the rows of a global batch ``(B, ...)``."""
        if self.world_size == 1:
            return batch
        rows = batch.size // self.world_size
        part = slice(self.rank * rows, (self.rank + 1) * rows)

        def cut(t: torch.Tensor) -> torch.Tensor:
            return t[part]

        inputs: Any
        if isinstance(batch.inputs, torch.Tensor):
            inputs = cut(batch.inputs)
        else:
            inputs = {k: cut(v) for k, v in batch.inputs.items()}
        mask = None if batch.mask is None else cut(batch.mask)
        return Batch(inputs, cut(batch.targets), mask, batch.meta)

    def barrier(self) -> None:
        """Wait for every rank (a no-op for one process)."""
        if self.world_size > 1:
            torch.distributed.barrier()


def from_environment(env: Mapping[str, str], device: str = "cpu") -> Distributed:
    """Join the process group that ``torchrun`` describes in ``env``; one process without it.

    ``device`` is ``TrainConfig.device``; on CUDA this rank's device ``cuda:LOCAL_RANK`` is
    checked and made current before the ``nccl`` group starts.

    Raises:
        ConfigError: the device is not available to this rank (``resolve_device``).
        RuntimeError: the process group cannot be initialised (``torch.distributed`` errors).
    """
    from mneme.train.device import resolve_device

    world_size = int(env.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    rank = int(env["RANK"])
    local_rank = int(env.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank=local_rank)
    if not torch.distributed.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank)
