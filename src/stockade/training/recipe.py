"""How `stockade train` trains: the fastest recipe that changes no result, each choice with its reason.

:func:`decide` turns a spec, the model's ``config.json`` and the device into a :class:`Recipe`. The loop
follows it and ``stockade train --dry-run`` prints it. Every speed choice keeps the loss the same:

* **packing** (spec ``packing``; unset: on a GPU and for stage pt, off on CPU; never for dpo/kto):
  examples share rows of ``cutoff_len`` tokens with a block-causal mask and per-example position ids, so
  each attends only to itself and the loss is the per-example loss, without padding
  (tests/training/test_recipe.py trains the same data both ways). On CPU the block-causal attention of a
  packed row is computed densely (quadratic in the row's width), which measured slower than one example
  per row (bench/train.py), so CPU runs do not pack unless asked (stage pt does: its documents fill the
  rows, where one document piece per row would pad most of each).
* **cross-entropy** (spec ``cross_entropy``, default ``chunked``): the shifted loss over hidden states x
  lm_head in pieces of :data:`CE_CHUNK` tokens, never the full logits (liger-kernel's fused kernel on
  CUDA when it is installed), equal to the model's own loss to float tolerance. Used for the model types
  in :data:`CHUNKED_CE_MODEL_TYPES` (their lm_head output is the logits, unscaled), never under FSDP (the
  head's weight is sharded) nor with an adapter on lm_head; the model's own loss otherwise, and the
  reason is printed.
* **precision**: bf16 autocast on a GPU that has it (``precision: auto``), fp32 on CPU.
* **activation recompute** (spec ``gradient_checkpointing``, unset by default): off on CPU; on a GPU, on
  only when :func:`memory_estimate` says the run would not fit in 90 % of the GPU's memory without it.
* **attention**: the model's default implementation (sdpa on current transformers); packed rows use a
  4D block-causal mask with sdpa/eager, position-id resets with flash-attention.

Imports nothing heavy: torch is asked for the device only by :func:`device_facts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.specs.train import TrainSpec
from stockade.training.loss import CE_CHUNK

# Causal-LM classes whose forward is ``logits = self.lm_head(hidden)`` with no scaling or soft-capping
# (checked against transformers' modeling files); others keep the model's own loss.
CHUNKED_CE_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "glm4", "phi3", "gemma"})
MEMORY_BUDGET = 0.9  # share of the GPU's memory a run may plan to use
GIB = 2**30


@dataclass(frozen=True)
class Choice:
    key: str
    value: str
    why: str

    def line(self) -> str:
        return f"{self.value} ({self.why})"


@dataclass(frozen=True)
class Recipe:
    packing: bool
    cross_entropy: str  # "chunked" | "liger" | "full"
    gradient_checkpointing: bool
    choices: list[Choice] = field(default_factory=list)

    def facts(self) -> dict[str, str]:
        """``{"recipe.KEY": "VALUE (why)"}`` for ``--dry-run`` and the run's lineage."""
        return {f"recipe.{c.key}": c.line() for c in self.choices}


@dataclass(frozen=True)
class DeviceFacts:
    kind: str  # "cuda" | "cpu"
    name: str
    total_memory: int | None  # bytes, CUDA only
    bf16: bool = False


def device_facts(local_rank: int = 0) -> DeviceFacts:
    import torch

    if not torch.cuda.is_available():
        return DeviceFacts("cpu", "cpu", None)
    bf16 = torch.cuda.is_bf16_supported()
    try:
        props = torch.cuda.get_device_properties(local_rank)
    except (RuntimeError, AssertionError):  # no driver to ask (CUDA faked by a memory measurement)
        return DeviceFacts("cuda", "cuda", None, bf16)
    return DeviceFacts("cuda", props.name, int(props.total_memory), bf16)


def read_model_config(model_dir: Path) -> dict[str, Any]:
    """The model folder's ``config.json`` (an empty dict when there is none)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    return config.get("text_config", config) if isinstance(config.get("text_config"), dict) else config


def _liger_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None


def decide(
    spec: TrainSpec,
    model_config: dict[str, Any],
    device: DeviceFacts,
    *,
    fsdp: bool = False,
    liger_installed: bool | None = None,
) -> Recipe:
    """The recipe for ``spec`` on ``device``; each :class:`Choice` says why."""
    choices: list[Choice] = []
    if spec.stage in ("dpo", "kto") and spec.packing:
        from stockade.core.errors import ConfigError

        raise ConfigError(
            f"packing: true does not apply to stage {spec.stage}: each answer is scored as a whole sequence "
            "beside its pair (or KL companion)",
            where="train spec: packing",
            fix="remove packing (or set it to false)",
        )
    packing = spec.packing if spec.packing is not None else device.kind == "cuda" or spec.stage == "pt"
    if spec.stage in ("dpo", "kto"):
        packing, why = False, f"stage {spec.stage}: each sequence is scored on its own, padded to its batch"
    elif spec.packing is not None:
        why = f"packing: {str(spec.packing).lower()} in the spec"
    elif spec.stage == "pt":
        why = (
            "stage pt: documents fill rows of cutoff_len tokens, each attending only to itself "
            "(LLaMA-Factory packs pre-training text too); packing: false for one document piece per row"
        )
    elif packing:
        why = (
            "default on a GPU; each example attends only to itself, so the loss is the per-example loss, "
            "with no padding; packing: false for one example per row"
        )
    else:
        why = (
            "default on CPU: a packed row's block-causal attention is computed densely, which costs more "
            "than the padding it saves (measured: bench/train.py); packing: true to pack"
        )
    if packing:
        choices.append(Choice("packing", f"on: rows of {spec.cutoff_len} tokens, block-causal", why))
    else:
        choices.append(Choice("packing", "off: one example per row", why))

    dtype = _compute_dtype(spec.precision, device)
    if device.kind == "cuda" and dtype != "fp32":
        why = "precision: auto on a GPU" if spec.precision == "auto" else f"precision: {spec.precision}"
        choices.append(Choice("precision", f"{dtype} autocast, fp32 trainable weights", why))
    else:
        why = "CPU" if device.kind == "cpu" else f"precision: {spec.precision}"
        choices.append(Choice("precision", "fp32", why))
    choices.append(
        Choice(
            "attention",
            "the model's default (sdpa)",
            "packed rows: 4D block-causal mask with sdpa/eager, position-id resets with flash-attention"
            if packing
            else "no packing: padded rows with a padding mask",
        )
    )

    loss, loss_why = _cross_entropy(spec, model_config, device, fsdp, liger_installed)
    label = {
        "chunked": f"chunked, {CE_CHUNK} tokens a piece (never the full logits)",
        "liger": "liger-kernel fused linear cross-entropy (never the full logits)",
        "full": "the model's own loss over the full logits",
    }[loss]
    choices.append(Choice("cross_entropy", label, loss_why))

    estimate = memory_estimate(spec, model_config, dtype, loss)
    if spec.gradient_checkpointing is not None:
        recompute = spec.gradient_checkpointing
        why = f"gradient_checkpointing: {str(recompute).lower()} in the spec"
    elif device.kind != "cuda":
        recompute, why = False, "CPU: memory is not the limit, recompute only costs time"
    elif device.total_memory is None or estimate is None:
        recompute, why = True, "no memory estimate (model config or GPU size unknown): the safe choice"
    else:
        budget = int(device.total_memory * MEMORY_BUDGET)
        without, with_ = estimate["without_recompute"], estimate["with_recompute"]
        recompute = without > budget
        verdict = "does not fit" if recompute else "fits"
        why = (
            f"estimated {without / GIB:.1f} GiB without recompute ({with_ / GIB:.1f} GiB with), "
            f"{verdict} in {MEMORY_BUDGET:.0%} of {device.total_memory / GIB:.0f} GiB ({device.name})"
        )
    choices.append(Choice("gradient_checkpointing", "on" if recompute else "off", why))
    return Recipe(packing, loss, recompute, choices)


def _compute_dtype(precision: str, device: DeviceFacts) -> str:
    if precision != "auto":
        return precision
    if device.kind != "cuda":
        return "fp32"
    return "bf16" if device.bf16 else "fp16"


def _cross_entropy(
    spec: TrainSpec, config: dict[str, Any], device: DeviceFacts, fsdp: bool, liger: bool | None
) -> tuple[str, str]:
    if spec.cross_entropy == "full":
        return "full", "cross_entropy: full in the spec"
    model_type = config.get("model_type")
    if model_type not in CHUNKED_CE_MODEL_TYPES:
        return "full", f"model type {model_type!r} is not one whose logits are lm_head's plain output"
    if fsdp:
        return "full", "FSDP shards lm_head's weight, which the chunked loss reads outside the forward"
    if any(t.lower() == "lm_head" for t in spec.lora_target):
        return "full", "lm_head has an adapter (lora_target), which the chunked loss would skip"
    if "lm_head" in spec.additional_target:
        return "full", "lm_head is trained as a copy (additional_target), which the chunked loss would skip"
    if device.kind == "cuda" and (liger if liger is not None else _liger_installed()):
        return "liger", "default; liger-kernel is installed and this is a GPU; same value as the full loss"
    return "chunked", "default; the same value as the full loss (tested), without the logits' memory"


def memory_estimate(spec: TrainSpec, config: dict[str, Any], dtype: str, loss: str) -> dict[str, int] | None:
    """Peak bytes of a training step on one GPU, with and without activation recompute, from
    :mod:`stockade.resources` (the estimator ``stockade estimate`` and the fit check use, validated
    against the loop's own step on fake tensors); None where it does not cover the model (a
    mixture of experts, an unknown architecture, LoRA targets it does not know)."""
    from stockade.core.errors import ConfigError
    from stockade.resources.estimate import TrainingSetup, estimate_training
    from stockade.resources.shape import shape_from_config

    try:
        shape = shape_from_config(config)
        method = "qlora" if spec.load_in_4bit and spec.finetuning_type == "lora" else spec.finetuning_type
        common = {
            "method": method,
            "batch_size": spec.per_device_train_batch_size,
            "cutoff": spec.cutoff_len,
            "lora_rank": spec.lora_rank,
            "lora_targets": tuple(spec.lora_target),
            "precision": dtype,
            "cross_entropy": loss,
            "device": "cuda",
        }
        without = estimate_training(shape, TrainingSetup(**common, recompute=False))
        with_ = estimate_training(shape, TrainingSetup(**common, recompute=True))
    except ConfigError:
        return None
    return {
        "parameters": without.parameters,
        "without_recompute": without.peak_device,
        "with_recompute": with_.peak_device,
    }
