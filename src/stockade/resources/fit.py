"""The fit check: `stockade train` estimates a run before any weight loads and refuses one that will not
fit the device's free memory (the GPU's, or the machine's RAM on CPU) unless ``--force``.

The refusal names the estimated peak, the free memory and the smallest change that fits, tried in this
order: recompute on, a smaller micro-batch (with gradient accumulation to keep the step's batch), a
4-bit base (QLoRA), a shorter cutoff, more GPUs with FSDP.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.resources.estimate import GIB, Estimate, TrainingSetup, estimate_training
from stockade.resources.shape import ModelShape


class DoesNotFit(StockadeError):
    """The job's estimated peak memory exceeds what the device has free."""

    exit_code = 3


def available_memory(device: Any, local_rank: int = 0) -> int:
    """Free bytes where the job would run: the GPU's free memory, else the machine's available RAM."""
    if device.kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(local_rank)
        return int(free)
    return available_ram()


def available_ram() -> int:
    """``MemAvailable`` from /proc/meminfo (free plus reclaimable cache); free pages elsewhere."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@dataclasses.dataclass(frozen=True)
class Change:
    description: str  # what to set, in spec keys
    setup: TrainingSetup


def smaller_setups(setup: TrainingSetup) -> list[Change]:
    """Single changes that lower the peak, least disruptive first."""
    out: list[Change] = []
    if not setup.recompute:
        out.append(Change("gradient_checkpointing: true", dataclasses.replace(setup, recompute=True)))
    base = dataclasses.replace(setup, recompute=True)
    batch = setup.batch_size // 2
    while batch >= 1:
        factor = -(-setup.batch_size // batch)
        out.append(
            Change(
                f"per_device_train_batch_size: {batch} with gradient_accumulation_steps x{factor} "
                "(and gradient_checkpointing: true)",
                dataclasses.replace(base, batch_size=batch),
            )
        )
        batch //= 2
    if setup.method == "lora" and setup.device == "cuda":
        out.append(
            Change(
                "quantization_bit: 4 (QLoRA; gradient_checkpointing: true)",
                dataclasses.replace(base, method="qlora", batch_size=1),
            )
        )
    cutoff = setup.cutoff // 2
    while cutoff >= 128:
        out.append(
            Change(
                f"cutoff_len: {cutoff} (per_device_train_batch_size: 1, gradient_checkpointing: true)",
                dataclasses.replace(base, batch_size=1, cutoff=cutoff),
            )
        )
        cutoff //= 2
    if setup.device == "cuda" and setup.method != "qlora":
        for gpus in (2, 4, 8):
            if gpus > setup.gpus:
                out.append(
                    Change(
                        f"{gpus} GPUs with FSDP (accelerate launch --use_fsdp; strategy fsdp)",
                        dataclasses.replace(base, gpus=gpus, sharding="full", cross_entropy="full"),
                    )
                )
    return out


def first_fitting(shape: ModelShape, setup: TrainingSetup, free: int) -> Change | None:
    for change in smaller_setups(setup):
        if estimate_training(shape, change.setup).peak_device <= free:
            return change
    return None


def refusal(shape: ModelShape, setup: TrainingSetup, estimate: Estimate, free: int, where: str) -> DoesNotFit:
    place = "free on the GPU" if setup.device == "cuda" else "of RAM available"
    change = first_fitting(shape, setup, free)
    if change is None:
        fix = "no single change fits this machine: use a smaller model, or a machine with more memory"
    else:
        fit = estimate_training(shape, change.setup).peak_device
        fix = f"{change.description} (estimated {fit / GIB:.2f} GiB)"
    return DoesNotFit(
        f"the run needs an estimated {estimate.peak_device / GIB:.2f} GiB at its peak "
        f"({estimate.peak_moment}), but only {free / GIB:.2f} GiB is {place}",
        where=where,
        fix=f"{fix}; or pass --force to start anyway (`stockade estimate` shows the breakdown)",
    )


def check_training_fit(
    spec: Any, model_dir: Path, *, force: bool = False, dist: Any = None
) -> Estimate | None:
    """Refuse (:class:`DoesNotFit`) a training run whose estimate exceeds the free memory, unless
    ``force``. Returns the estimate; None where config.json describes a model the estimator does not
    cover (the run then starts unchecked)."""
    from stockade.core.errors import ConfigError
    from stockade.resources.plan import device_of, setup_for_spec
    from stockade.resources.shape import read_shape

    local_rank = dist.local_rank if dist is not None else 0
    world = dist.world_size if dist is not None else 1
    device = device_of(local_rank)
    try:  # a model (or a LoRA target such as lm_head) the estimator does not cover: not checked
        shape = read_shape(model_dir)
        setup = setup_for_spec(
            spec,
            model_dir,
            device,
            gpus=world,
            fsdp=bool(dist is not None and dist.fsdp),
            reshard_after_forward=dist.reshard_after_forward if dist is not None else True,
        )
        estimate = estimate_training(shape, setup)
    except ConfigError:
        return None
    if force:
        return estimate
    free = available_memory(device, local_rank)
    if estimate.peak_device > free:
        raise refusal(shape, setup, estimate, free, where=f"train spec (model {model_dir.name})")
    return estimate
