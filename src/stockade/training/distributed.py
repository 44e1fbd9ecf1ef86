"""Data-parallel training under torchrun (DDP): who this process is, and the collectives the loop needs.

`stockade train CONFIG` launched by torchrun (see :mod:`.launch`) runs once per process. Every rank
resolves the same spec, encodes the same data and loads the same model; each optimizer step's
micro-batches are dealt out round-robin from the one deterministic batch stream (rank ``r`` takes every
``world_size``-th batch starting at ``r``), so the data state of a checkpoint stays (epoch, position)
and is the same on every rank. DistributedDataParallel averages the gradients; the loop scales each
rank's loss so the result is the token-weighted mean over every trainable token of the global step —
the same update as one process taking all those micro-batches by gradient accumulation.

Rank 0 alone writes: the run row and its audit events, metrics.jsonl, checkpoints, the adapter and the
loss curve; the others wait at a barrier after each save. One node, or several with a shared workspace
folder (checkpoints are read back by every rank on resume).

Backends: NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), gloo on CPU (the test suite runs
two CPU processes over loopback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stockade.core import environment


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


def from_environment() -> DistContext:
    rank, world_size, local_rank = environment.distributed_topology()
    return DistContext(rank, world_size, local_rank)


def setup(dist: DistContext, timeout_s: int | None = None) -> None:
    """Join the process group (a no-op for one process). torchrun provides MASTER_ADDR/PORT.

    ``timeout_s`` (the spec's ``ddp_timeout``) bounds how long a rank waits for the others."""
    if not dist.enabled:
        return
    import torch
    import torch.distributed as td

    if td.is_initialized():
        return
    kwargs: dict[str, Any] = {"rank": dist.rank, "world_size": dist.world_size}
    if timeout_s:
        from datetime import timedelta

        kwargs["timeout"] = timedelta(seconds=timeout_s)
    if torch.cuda.is_available():
        torch.cuda.set_device(dist.local_rank)
        td.init_process_group("nccl", **kwargs)
    else:
        td.init_process_group("gloo", **kwargs)


def teardown(dist: DistContext) -> None:
    if not dist.enabled:
        return
    import torch.distributed as td

    if td.is_initialized():
        td.barrier()
        td.destroy_process_group()


def broadcast(dist: DistContext, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object, e.g. the run id)."""
    if not dist.enabled:
        return value
    import torch.distributed as td

    box = [value if dist.is_main else None]
    td.broadcast_object_list(box, src=0)
    return box[0]


def sum_all(dist: DistContext, values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64 on the collective's device)."""
    if not dist.enabled:
        return list(values)
    import torch
    import torch.distributed as td

    device = torch.device("cuda", dist.local_rank) if td.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    td.all_reduce(tensor)
    return [float(v) for v in tensor.tolist()]


def barrier(dist: DistContext) -> None:
    if dist.enabled:
        import torch.distributed as td

        td.barrier()


def wrap_model(dist: DistContext, model: Any, device: Any) -> Any:
    """The module the loop runs forward/backward through: DDP around ``model`` when data-parallel."""
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def check_engine(deepspeed: str | None) -> None:
    """Refuse, before anything loads, a sharding engine this loop does not run (never a silent DDP).

    The loop runs data-parallel DDP. DeepSpeed ZeRO (``deepspeed:`` in the spec, or ``accelerate
    launch --use_deepspeed``) and FSDP (``accelerate launch --use_fsdp``) shard parameters and optimizer
    state, which the loop's checkpoints and adapter saving do not handle yet.
    """
    from stockade.core.errors import ConfigError

    asked = [*(["deepspeed"] if deepspeed else []), *environment.launcher_engines()]
    if asked:
        raise ConfigError(
            f"{' and '.join(sorted(set(asked)))} sharding is not run by this build's training loop",
            where=f"train spec: deepspeed: {deepspeed}" if deepspeed else "accelerate launch flags",
            fix="train with DDP (torchrun, strategy ddp: LoRA/QLoRA copies fit each GPU), or remove the "
            "deepspeed: key; the launch helper still validates DeepSpeed JSON for later use",
        )
