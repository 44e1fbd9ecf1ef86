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

Under a launcher each rank dies with it (:func:`bind_to_launcher`, in :func:`setup`): torchrun starts its
workers in sessions of their own, so without ``PR_SET_PDEATHSIG`` a launcher killed with kill -9 would
leave its ranks running, holding GPUs and the run's files.

Backends: NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``), gloo on CPU (the test suite runs
two CPU processes over loopback).

FSDP (``accelerate launch --use_fsdp``, which sets ``ACCELERATE_USE_FSDP``): instead of DDP, every
decoder layer and then the whole model are sharded with PyTorch's ``fully_shard`` (FSDP2), so each rank
holds 1/world of the weights, gradients and optimizer state — what lets a model larger than one GPU's
memory train. ``FSDP_SHARDING_STRATEGY`` FULL_SHARD (the default) reshards after the forward pass,
SHARD_GRAD_OP keeps the gathered weights until backward. Checkpoints and the adapter are gathered to
full tensors on rank 0 (collectives every rank joins), so they are the same files as without FSDP.

DeepSpeed ZeRO (``deepspeed: FILE`` in the spec, under torchrun or ``accelerate launch``): the file is
mapped onto the same engines by :mod:`stockade.training.zero` — stage 0/1 DDP, stage 2 FSDP2 without
resharding after the forward pass, stage 3 FSDP2 with it, ``offload_*`` FSDP2's ``CPUOffloadPolicy``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stockade.core import environment
from stockade.storage.staging import die_with_parent

if TYPE_CHECKING:
    from stockade.core.specs.train import TrainSpec
    from stockade.training.zero import ZeroPlan

# Set by torchrun and accelerate launch for each process they start (also for a single one).
LAUNCHER_VARIABLES = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    fsdp: bool = False  # shard with FSDP2 instead of replicating with DDP
    reshard_after_forward: bool = True
    cpu_offload: bool = False  # FSDP2 CPUOffloadPolicy: sharded weights, gradients and the step on the CPU
    pin_memory: bool = False  # the offloaded shards in pinned memory (GPU runs only)
    zero: ZeroPlan | None = None  # the spec's DeepSpeed file and what it was mapped to

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


SHARDING_STRATEGIES = {"FULL_SHARD": True, "1": True, "SHARD_GRAD_OP": False, "2": False}


def from_environment(spec: TrainSpec | None = None) -> DistContext:
    """This process's place in the launch; with ``spec`` naming a DeepSpeed file, the engine it maps to
    (:func:`stockade.training.zero.plan_zero`)."""
    from stockade.core.errors import ConfigError

    rank, world_size, local_rank = environment.distributed_topology()
    if spec is not None and spec.deepspeed:
        from stockade.training.zero import plan_zero

        plan = plan_zero(spec, world_size)
        return DistContext(
            rank,
            world_size,
            local_rank,
            fsdp=plan.fsdp,
            reshard_after_forward=plan.reshard_after_forward,
            cpu_offload=plan.cpu_offload,
            pin_memory=plan.pin_memory,
            zero=plan,
        )
    fsdp = world_size > 1 and "fsdp" in environment.launcher_engines()
    strategy = (environment.read_variable("FSDP_SHARDING_STRATEGY") or "FULL_SHARD").upper()
    if fsdp and strategy not in SHARDING_STRATEGIES:
        raise ConfigError(
            f"FSDP sharding strategy {strategy} is not supported",
            where="accelerate launch --fsdp_sharding_strategy",
            fix="use FULL_SHARD (least memory) or SHARD_GRAD_OP",
        )
    return DistContext(rank, world_size, local_rank, fsdp, SHARDING_STRATEGIES.get(strategy, True))


def bind_to_launcher() -> bool:
    """Started by a launcher (torchrun, accelerate launch): make this process die when the launcher does
    (``PR_SET_PDEATHSIG``, see :func:`stockade.storage.staging.die_with_parent`). A process started any
    other way is left alone (`nohup stockade train` must outlive its shell). True when armed."""
    if not any(environment.read_variable(name) is not None for name in LAUNCHER_VARIABLES):
        return False
    die_with_parent(os.getppid())
    return True


def setup(dist: DistContext, timeout_s: int | None = None) -> None:
    """Die with the launcher if there is one, then join the process group (a no-op for one process).
    torchrun provides MASTER_ADDR/PORT.

    ``timeout_s`` (the spec's ``ddp_timeout``) bounds how long a rank waits for the others."""
    bind_to_launcher()
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
    """The module the loop runs forward/backward through: DDP around ``model`` when data-parallel;
    under FSDP the model itself, its decoder layers and root sharded in place (build the optimizer
    afterwards: sharding replaces the parameters)."""
    if not dist.enabled:
        return model
    if dist.fsdp:
        from torch.distributed.fsdp import CPUOffloadPolicy, OffloadPolicy, fully_shard

        from stockade.training.model_setup import decoder_layers

        policy = CPUOffloadPolicy(pin_memory=dist.pin_memory) if dist.cpu_offload else OffloadPolicy()
        options = {"reshard_after_forward": dist.reshard_after_forward, "offload_policy": policy}
        for layer in decoder_layers(model):
            fully_shard(layer, **options)
        fully_shard(model, **options)
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def check_engine(deepspeed: str | None, finetuning_type: str) -> None:
    """Refuse, before anything loads, a combination of engines this loop does not run (never a silent
    fallback).

    The loop runs DDP (torchrun), FSDP (accelerate launch --use_fsdp) and a spec's DeepSpeed ZeRO file
    mapped onto those (:mod:`stockade.training.zero`). ``accelerate launch --use_deepspeed`` without the
    file in the spec is refused (the config would be accelerate's, unseen by the loop), so is a DeepSpeed
    file under ``--use_fsdp`` (two sharding engines). FSDP cannot shard QLoRA's 4-bit weights.
    """
    from stockade.core.errors import ConfigError

    engines = environment.launcher_engines()
    if "deepspeed" in engines and not deepspeed:
        raise ConfigError(
            "accelerate launch --use_deepspeed: the DeepSpeed config must be named in the train spec",
            where="accelerate launch --use_deepspeed",
            fix="add `deepspeed: FILE` to the spec (Stockade maps it onto DDP/FSDP2), or launch with "
            "torchrun (strategy ddp)",
        )
    if deepspeed and "fsdp" in engines:
        raise ConfigError(
            "a DeepSpeed file and accelerate's FSDP are two sharding engines for one run",
            where=f"train spec: deepspeed: {deepspeed} with accelerate launch --use_fsdp",
            fix="keep one: remove `deepspeed:` (FSDP), or launch with torchrun (the file decides: DDP or "
            "FSDP2)",
        )
    if "fsdp" in engines and finetuning_type == "qlora":
        raise ConfigError(
            "FSDP cannot shard QLoRA's 4-bit base weights",
            where="accelerate launch --use_fsdp with finetuning_type: qlora",
            fix="train QLoRA with DDP (torchrun, strategy ddp), or LoRA with FSDP",
        )


def trainable_state(dist: DistContext, model: Any, *, everything: bool = False) -> dict[str, Any]:
    """The trained parameters (``everything``: all weights, FSDP only) by name as full CPU tensors — on
    rank 0; under FSDP every rank must call, the others get an empty dict."""
    from stockade.training.model_setup import trainable_parameters

    if not dist.fsdp:
        return {name: p.detach().to("cpu") for name, p in trainable_parameters(model)}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=not everything)
    state = get_model_state_dict(model, options=options)
    if everything:
        return state
    trained = {name for name, _ in trainable_parameters(model)}
    return {name: tensor for name, tensor in state.items() if name in trained}  # tied aliases dropped


def optimizer_state(dist: DistContext, model: Any, optimizer: Any) -> dict[str, Any]:
    """The optimizer's state to save (under FSDP: gathered, name-keyed, on rank 0; every rank calls)."""
    if not dist.fsdp:
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_optimizer_state_dict(model, optimizer, options=options)


def load_optimizer_state(dist: DistContext, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    """Restore what :func:`optimizer_state` saved (every rank read the same checkpoint)."""
    if not dist.fsdp:
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def clip_gradients(params: list[Any], max_norm: float) -> float:
    """Clip to ``max_norm`` and return the total norm (a DTensor under FSDP, made whole here)."""
    import torch

    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
