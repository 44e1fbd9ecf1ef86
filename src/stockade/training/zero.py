"""`deepspeed: FILE` in a train spec: a DeepSpeed ZeRO config mapped onto the loop's own engines.

LLaMA-Factory users bring ``ds_z0/z2/z3(_offload)_config.json``. Stockade's one training loop
(:mod:`.loop`) runs PyTorch DDP and FSDP2; it does not hand the model to DeepSpeed's engine (that
engine replaces the optimizer, the scheduler, the checkpoints and the gradient accumulation). So the
file is read, hashed and translated, and every key either has its effect here or is refused by name:

=============================  ===============================================================
ZeRO stage 0 or 1              DDP (every rank keeps all weights and optimizer state: stage 1's
                               optimizer-state sharding is not done; the update is the same)
ZeRO stage 2                   FSDP2 ``fully_shard(reshard_after_forward=False)`` (SHARD_GRAD_OP)
ZeRO stage 3                   FSDP2 ``fully_shard(reshard_after_forward=True)`` (FULL_SHARD)
``offload_optimizer/_param``   FSDP2 ``CPUOffloadPolicy`` (sharded weights, gradients and the
  ``device: cpu``              optimizer step on the CPU; ``pin_memory`` only where a GPU is)
=============================  ===============================================================

``"auto"`` values are filled in from the spec, as the Hugging Face trainer does for DeepSpeed; a
number that disagrees with the spec is refused with the key named (never silently overridden):
``train_micro_batch_size_per_gpu`` = ``per_device_train_batch_size``, ``gradient_accumulation_steps``,
``train_batch_size`` = micro × accumulation × ranks, ``gradient_clipping`` = the loop's clip norm,
``bf16/fp16.enabled`` = the run's precision. fp16's loss-scaler keys are checked against the loop's
GradScaler when fp16 is on. DeepSpeed's communication and memory tuning knobs (bucket sizes, prefetch,
overlap) have no FSDP2 counterpart: they change speed and memory, not the update, and are listed in the
run's lineage as not applied. Any other key (``optimizer``, ``scheduler``, ``activation_checkpointing``,
unknown keys) is refused by name with what to use instead.

One process (no launcher) has nothing to shard: the run trains as without the file, and says so.
The mapping is printed in one line, recorded in the run's lineage (with the file's SHA-256) and in the
``train.start`` audit event.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockade.core.errors import ConfigError
from stockade.core.hashing import sha256_bytes
from stockade.core.paths import resolved, user_path
from stockade.training.launch import check_deepspeed_config, parse_deepspeed_json

if TYPE_CHECKING:
    from stockade.core.specs.train import TrainSpec

CLIP_NORM = 1.0  # the loop clips every step's gradients to this norm (loop_run.py)
# The loop's fp16 loss scaler is torch.amp.GradScaler with its defaults: these DeepSpeed values agree.
GRAD_SCALER = {"loss_scale": 0, "initial_scale_power": 16}
FP16_SCALER_KEYS = ("loss_scale", "loss_scale_window", "initial_scale_power", "hysteresis", "min_loss_scale")
# Speed/memory tuning of DeepSpeed's own communication: no FSDP2 counterpart, no effect on the update.
TUNING_KEYS = frozenset(
    {
        "overlap_comm",
        "contiguous_gradients",
        "sub_group_size",
        "reduce_bucket_size",
        "reduce_scatter",
        "allgather_partitions",
        "allgather_bucket_size",
        "round_robin_gradients",
        "stage3_prefetch_bucket_size",
        "stage3_param_persistence_threshold",
        "stage3_max_live_parameters",
        "stage3_max_reuse_distance",
    }
)
TOP_LEVEL_TUNING = frozenset({"steps_per_print", "wall_clock_breakdown", "memory_breakdown"})
# Keys whose only accepted value is the one that describes what Stockade does anyway.
FIXED = {
    # DeepSpeed may refuse an optimizer it did not build; Stockade always builds its own (AdamW).
    "zero_allow_untested_optimizer": True,
    # the saved weights are gathered full tensors (rank 0 writes them), never per-rank shards.
    "zero_optimization.stage3_gather_16bit_weights_on_model_save": True,
}
# Refused keys DeepSpeed users often have, with what to do instead.
INSTEAD = {
    "optimizer": "set the spec's learning_rate / weight_decay (Stockade's optimizer is AdamW)",
    "scheduler": "set the spec's lr_scheduler_type, warmup_ratio or warmup_steps",
    "activation_checkpointing": "set gradient_checkpointing: true in the spec",
    "tensorboard": "set report_to: tensorboard in the spec",
    "csv_monitor": "metrics.jsonl in the run folder has them",
    "flops_profiler": "use `stockade estimate`",
    "zero_optimization.offload_optimizer.buffer_count": "remove it (CPUOffloadPolicy has no buffers)",
    "zero_optimization.offload_optimizer.ratio": "remove it (FSDP2 offloads all or nothing)",
    "zero_optimization.offload_optimizer.fast_init": "remove it",
}
ENGINES = {0: "DDP", 1: "DDP", 2: "FSDP2 SHARD_GRAD_OP", 3: "FSDP2 FULL_SHARD"}


@dataclass(frozen=True)
class ZeroPlan:
    """What a DeepSpeed config file means for this run (see the module docstring)."""

    source: str  # as the spec names it
    path: str  # resolved from the current folder
    sha256: str
    stage: int
    world_size: int
    engine: str  # "DDP", "FSDP2 FULL_SHARD", "FSDP2 SHARD_GRAD_OP", or "one process"
    fsdp: bool
    reshard_after_forward: bool
    cpu_offload: bool
    pin_memory: bool
    resolved: dict[str, Any]  # the "auto" and numeric keys, with the value this run uses
    not_applied: list[str] = field(default_factory=list)  # tuning keys with no FSDP2 counterpart
    notes: list[str] = field(default_factory=list)
    deepspeed: str | None = None  # DeepSpeed's installed version, if any

    @property
    def why_not_deepspeed(self) -> str:
        if self.deepspeed is None:
            return "DeepSpeed is not installed"
        return f"DeepSpeed {self.deepspeed} is installed; Stockade's loop runs PyTorch's engines"

    def line(self) -> str:
        """The one line printed when the run starts."""
        target = self.engine + (" + CPUOffloadPolicy" if self.cpu_offload else "")
        notes = list(self.notes)
        if self.not_applied:
            notes.append(f"{len(self.not_applied)} DeepSpeed tuning keys not applied, listed in the lineage")
        extra = "; ".join(notes)
        return (
            f"deepspeed {Path(self.source).name} -> {target} ({self.why_not_deepspeed}"
            f"{'; ' + extra if extra else ''})"
        )

    def facts(self) -> dict[str, Any]:
        """For the run's lineage and the train.start audit event."""
        return {
            "file": self.path,
            "sha256": self.sha256,
            "zero_stage": self.stage,
            "engine": self.engine,
            "reshard_after_forward": self.reshard_after_forward if self.fsdp else None,
            "cpu_offload": self.cpu_offload,
            "pin_memory": self.pin_memory,
            "world_size": self.world_size,
            "resolved": self.resolved,
            "not_applied": self.not_applied,
            "notes": self.notes,
            "deepspeed_installed": self.deepspeed,
            "line": self.line(),
        }


def read_zero_file(source: str) -> tuple[Path, str, dict[str, Any]]:
    """The file ``source`` names (relative: from the current folder), its SHA-256 and its JSON."""
    path = user_path(source)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(
            f"cannot read the DeepSpeed config {resolved(source)}: {error.strerror or error}",
            where=f"train spec: deepspeed: {source}",
            fix="give an existing JSON file; a relative path is taken from the current folder",
        ) from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"not UTF-8 text (byte {error.start})", where=str(path), fix="save the file as UTF-8 JSON"
        ) from error
    config = check_deepspeed_config(parse_deepspeed_json(text, str(path)), str(path))
    return path, sha256_bytes(data), config


def plan_zero(
    spec: TrainSpec, world_size: int, *, precision: str | None = None, cuda: bool | None = None
) -> ZeroPlan:
    """Read ``spec.deepspeed`` and map it (see the module docstring); every refusal names the key.

    ``precision`` (bf16/fp16/fp32) and ``cuda`` default to what this machine resolves ``spec`` to."""
    if not spec.deepspeed:
        raise ValueError("the spec has no deepspeed file")
    path, digest, config = read_zero_file(spec.deepspeed)
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if precision is None:
        precision = _precision(spec.precision, cuda)
    where = str(path)

    def refuse(key: str, what: str, fix: str) -> ConfigError:
        return ConfigError(what, where=f"{where}: {key}", fix=fix)

    not_applied: list[str] = []
    for key in config:
        if key in ("zero_optimization", "fp16", "bf16", *FIXED, *_AUTO_KEYS):
            continue
        if key in TOP_LEVEL_TUNING:
            not_applied.append(key)
            continue
        if key in ("wandb", "comet") and isinstance(config[key], dict) and not config[key].get("enabled"):
            continue  # a monitor switched off (check_deepspeed_config refused one switched on)
        raise refuse(key, _unsupported(key), INSTEAD.get(key, "remove the key"))
    for key, wanted in FIXED.items():
        section, _, name = key.rpartition(".")
        holder = config.get(section, {}) if section else config
        if name in holder and holder[name] is not wanted:
            raise refuse(
                key,
                f"{key}: {holder[name]!r} asks for what Stockade does not do",
                f"set it to {str(wanted).lower()} or remove it",
            )

    values = _resolve_numbers(config, spec, world_size, refuse)
    for section in ("bf16", "fp16"):
        body = config.get(section) or {}
        wanted = precision == section
        enabled = body.get("enabled", "auto")  # no section: follow the spec, as "auto" does
        if enabled != "auto" and enabled is not wanted:
            raise refuse(
                f"{section}.enabled",
                f"{section}.enabled is {str(enabled).lower()} but this run trains in {precision}",
                f'set "enabled": "auto", or set precision: {section if enabled else "fp32"} in the spec',
            )
        values[f"{section}.enabled"] = wanted
        allowed = ("enabled", *FP16_SCALER_KEYS) if section == "fp16" else ("enabled",)
        for key in body:
            if key not in allowed:
                raise refuse(f"{section}.{key}", _unsupported(f"{section}.{key}"), "remove the key")
        if section == "fp16" and wanted:
            for key in FP16_SCALER_KEYS:
                if key in body and GRAD_SCALER.get(key) != body[key]:
                    raise refuse(
                        f"fp16.{key}",
                        f"fp16.{key}: {body[key]!r} differs from the loop's fp16 loss scaler (PyTorch's "
                        "GradScaler: dynamic, initial scale 2^16, growth every 2000 steps)",
                        "remove the key, or train in bf16",
                    )

    zero = config.get("zero_optimization") or {}
    stage = int(zero.get("stage", 0))
    offload: dict[str, bool] = {}
    pins: list[bool] = []
    for key, body in zero.items():
        dotted = f"zero_optimization.{key}"
        if key == "stage" or key in TUNING_KEYS or dotted in FIXED:
            if key in TUNING_KEYS:
                not_applied.append(dotted)
            continue
        if key not in ("offload_optimizer", "offload_param"):
            raise refuse(dotted, _unsupported(dotted), INSTEAD.get(dotted, "remove the key"))
        for inner in body:
            if inner not in ("device", "pin_memory"):
                name = f"{dotted}.{inner}"
                raise refuse(name, _unsupported(name), INSTEAD.get(name, "remove the key"))
        offload[key] = body.get("device", "none") == "cpu"
        if offload[key]:
            pins.append(bool(body.get("pin_memory", False)))
    cpu_offload = any(offload.values())
    if stage >= 2 and spec.finetuning_type == "qlora":
        raise refuse(
            "zero_optimization.stage",
            f"ZeRO stage {stage} maps to FSDP2, which cannot shard QLoRA's 4-bit base weights",
            "use a stage 0 or 1 file (DDP), or finetuning_type: lora",
        )
    if cpu_offload and stage < 2:
        name = "zero_optimization.offload_optimizer"
        raise refuse(
            name,
            f"optimizer offload with ZeRO stage {stage}, which runs as DDP here (DDP cannot offload)",
            "set stage to 2 or 3 (FSDP2 with CPUOffloadPolicy), or remove the offload",
        )

    notes: list[str] = []
    if stage == 1:
        notes.append("stage 1's optimizer-state sharding is not done: each rank keeps the full state")
    if offload.get("offload_optimizer") and not offload.get("offload_param"):
        notes.append("FSDP2 offloads the sharded weights together with the optimizer state")
    if cpu_offload and not cuda:
        notes.append("CPU training: the weights are on the CPU already")
    pin_memory = cuda and any(pins)
    if world_size <= 1:
        engine, fsdp, cpu_offload, pin_memory = "one process", False, False, False
        notes = ["nothing to shard: trained as without the file; launch with torchrun to shard"]
    else:
        engine, fsdp = ENGINES[stage], stage >= 2
    return ZeroPlan(
        source=spec.deepspeed,
        path=str(path),
        sha256=digest,
        stage=stage,
        world_size=world_size,
        engine=engine,
        fsdp=fsdp,
        reshard_after_forward=stage == 3,
        cpu_offload=cpu_offload,
        pin_memory=pin_memory,
        resolved=values,
        not_applied=sorted(not_applied),
        notes=notes,
        deepspeed=_installed("deepspeed"),
    )


_AUTO_KEYS = (
    "train_micro_batch_size_per_gpu",
    "gradient_accumulation_steps",
    "train_batch_size",
    "gradient_clipping",
)


def _resolve_numbers(config: dict[str, Any], spec: TrainSpec, world_size: int, refuse: Any) -> dict[str, Any]:
    micro, accumulation = spec.per_device_train_batch_size, spec.gradient_accumulation_steps
    clip = getattr(spec, "max_grad_norm", None)  # the loop's norm, should the spec ever carry one
    clip = CLIP_NORM if clip is None else clip
    expected = {
        "train_micro_batch_size_per_gpu": (micro, "per_device_train_batch_size"),
        "gradient_accumulation_steps": (accumulation, "gradient_accumulation_steps"),
        "train_batch_size": (
            micro * accumulation * max(world_size, 1),
            "per_device_train_batch_size × gradient_accumulation_steps × ranks",
        ),
        "gradient_clipping": (clip, "the loop's gradient clipping norm"),
    }
    values: dict[str, Any] = {}
    for key, (value, source) in expected.items():
        given = config.get(key, "auto")
        if given != "auto" and float(given) != float(value):
            raise refuse(
                key,
                f"{key} is {given} but the spec gives {value} ({source})",
                f'set it to "auto" (filled in from the spec) or to {value}',
            )
        values[key] = value
    return values


def _precision(precision: str, cuda: bool) -> str:
    if precision != "auto":
        return precision
    if not cuda:
        return "fp32"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _unsupported(key: str) -> str:
    return (
        f"{key} is not supported: Stockade runs ZeRO configs on PyTorch DDP/FSDP2, which have no counterpart"
    )


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
