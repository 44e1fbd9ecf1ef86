"""A training spec as the estimator's :class:`TrainingSetup`: the choices the loop will make for it.

The loop's recipe (:func:`stockade.training.recipe.decide`) settles the cross-entropy (chunked, liger or
the model's own) and, when the spec leaves ``gradient_checkpointing`` unset, recompute; the estimate
follows the same decision, so it describes the run that will happen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stockade.resources.estimate import TrainingSetup


def device_of(local_rank: int = 0) -> Any:
    """The recipe's view of this process's device (CUDA or CPU)."""
    from stockade.training.recipe import device_facts

    return device_facts(local_rank)


def setup_for_spec(
    spec: Any,
    model_dir: Path,
    device: Any,
    *,
    gpus: int = 1,
    fsdp: bool = False,
    reshard_after_forward: bool = True,
) -> TrainingSetup:
    """What ``spec`` will run as on ``device`` (a :class:`stockade.training.recipe.DeviceFacts`)."""
    from stockade.training.recipe import decide, read_model_config

    recipe = decide(spec, read_model_config(model_dir), device, fsdp=fsdp)
    precision = spec.precision
    if precision == "auto":
        precision = ("bf16" if device.bf16 else "fp16") if device.kind == "cuda" else "fp32"
    method = "qlora" if spec.load_in_4bit and spec.finetuning_type == "lora" else spec.finetuning_type
    return TrainingSetup(
        method=method,
        batch_size=spec.per_device_train_batch_size,
        cutoff=spec.cutoff_len,
        lora_rank=spec.lora_rank,
        lora_targets=tuple(spec.lora_target),
        recompute=recipe.gradient_checkpointing,
        precision=precision,
        cross_entropy=recipe.cross_entropy,
        gpus=gpus,
        sharding=("full" if reshard_after_forward else "grad-op") if fsdp and gpus > 1 else "none",
        device="cuda" if device.kind == "cuda" else "cpu",
    )


def registered_model_folder(engine: Any, workspace_root: Path, reference: str) -> Path:
    """The folder of an active registered model version ``NAME`` or ``NAME@vN``."""
    from sqlalchemy.orm import Session

    from stockade.models.store.resolve import model_path, resolve_model_version

    with Session(engine) as session:
        return model_path(workspace_root, resolve_model_version(session, reference))
