"""Load a base model for training and make the right parameters trainable.

* ``lora`` / ``qlora``: peft LoRA (``r``, ``alpha``, ``dropout``; ``lora_target: [all]`` means peft's
  ``all-linear``). ``qlora`` loads the base in 4-bit nf4 with bitsandbytes (CUDA, or CPU from 0.50).
* ``full``: every parameter is trained.
* ``freeze``: like LLaMA-Factory's default (``freeze_trainable_layers: 2``), only the last
  :data:`FREEZE_TRAINABLE_LAYERS` decoder layers are trained; embeddings, final norm and head stay frozen.

Trainable parameters are kept in float32 (the master weights); the frozen base is loaded in the compute
dtype and the loop runs the forward pass under autocast when that is bf16/fp16.

Packing, activation recompute and the cross-entropy follow :func:`stockade.training.recipe.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError, DependencyMissing
from stockade.core.specs.train import TrainSpec
from stockade.data.packing import PackingMode, configure_model_for_packing
from stockade.training.recipe import Recipe, decide, device_facts, read_model_config

FREEZE_TRAINABLE_LAYERS = 2


@dataclass
class LoadedModel:
    model: Any
    device: Any
    compute_dtype: Any  # the autocast dtype (float32: no autocast)
    packing_mode: PackingMode
    is_peft: bool
    recipe: Recipe | None = None
    head: Any = None  # a LogitFreeHead when the loss is taken from hidden states (chunked, liger)
    hidden_loss: Any = None  # (hidden, weight, labels) -> mean loss, with ``head``


def resolve_dtype(precision: str) -> Any:
    """``auto``: bf16 on a CUDA GPU that has it, fp16 on older CUDA GPUs, fp32 on CPU."""
    import torch

    if precision == "auto":
        if not torch.cuda.is_available():
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def _check_bitsandbytes() -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise DependencyMissing(
            "QLoRA (4-bit loading) needs the bitsandbytes package, which is not installed",
            fix="install it (pip install bitsandbytes, on a machine with a CUDA GPU), "
            "or use finetuning_type: lora without load_in_4bit",
        ) from error


def load_for_training(
    model_dir: Path, spec: TrainSpec, local_rank: int = 0, *, fsdp: bool = False
) -> LoadedModel:
    """The model on its device (``cuda:local_rank``, else CPU) with only ``spec.finetuning_type``'s
    parameters trainable, set up as the recipe says (recompute, loss head)."""
    import torch
    from transformers import AutoModelForCausalLM

    recipe = decide(spec, read_model_config(model_dir), device_facts(local_rank), fsdp=fsdp)
    recompute = recipe.gradient_checkpointing

    quantized = spec.finetuning_type == "qlora" or spec.load_in_4bit
    if quantized:
        _check_bitsandbytes()  # before any weights are read (bitsandbytes >= 0.50 also runs on CPU)
    compute = resolve_dtype(spec.precision)
    device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    from stockade.models.store.weights import use_safetensors

    # a registered folder passed the safety policy at import and its manifest check before use: pickle only
    # where that is what it holds (the policy allowed it); safetensors never fall back to pickle
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "dtype": compute,
        "use_safetensors": use_safetensors(Path(model_dir), allow_pickle=True),
    }
    if quantized:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": device.index} if device.type == "cuda" else {"": "cpu"}
    torch.manual_seed(spec.seed)  # adapter init is part of the run's determinism
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    if not quantized:
        model.to(device)
    model.config.use_cache = False
    packing_mode = configure_model_for_packing(model) if recipe.packing else "mask"

    is_peft = spec.finetuning_type in ("lora", "qlora")
    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recompute)
    elif recompute:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers 5's name; the old one warns
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if is_peft and spec.adapter_name_or_path:
        from peft import PeftModel

        # the service resolved it to an adapter folder (a run's adapter, or a folder in dev mode)
        model = PeftModel.from_pretrained(model, spec.adapter_name_or_path, is_trainable=True)
    elif is_peft:
        model = _apply_lora(model, spec)
        if recompute:
            model.enable_input_require_grads()
    elif spec.finetuning_type == "freeze":
        _freeze_all_but_last_layers(model, FREEZE_TRAINABLE_LAYERS)
    else:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
    model.train()
    head, hidden_loss = _loss_head(model, recipe.cross_entropy)
    return LoadedModel(model, device, compute, packing_mode, is_peft, recipe, head, hidden_loss)


def _loss_head(model: Any, kind: str) -> tuple[Any, Any]:
    """For the chunked (or liger) loss: lm_head made the identity, and the loss over its weight."""
    if kind == "full":
        return None, None
    from stockade.training.loss import LogitFreeHead, chunked_cross_entropy, liger_cross_entropy

    hidden_loss = (liger_cross_entropy() if kind == "liger" else None) or chunked_cross_entropy
    return LogitFreeHead(model), hidden_loss


def _apply_lora(model: Any, spec: TrainSpec) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    targets = spec.lora_target
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=spec.lora_rank,
        lora_alpha=spec.lora_alpha or 2 * spec.lora_rank,
        lora_dropout=spec.lora_dropout,
        target_modules="all-linear" if [t.lower() for t in targets] == ["all"] else list(targets),
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        raise ConfigError(
            f"lora_target {', '.join(targets)} does not match the model's modules: {error}",
            fix="use lora_target: all, or names of linear layers such as q_proj,v_proj",
        ) from error


def decoder_layers(model: Any) -> Any:
    """The model's largest ``ModuleList`` of decoder layers (``model.layers``, ``transformer.h``...)."""
    import torch

    lists = [m for name, m in model.named_modules() if isinstance(m, torch.nn.ModuleList) and name]
    if not lists:
        raise ConfigError(
            "finetuning_type: freeze cannot find the decoder layers of this model",
            fix="use lora or full",
        )
    return max(lists, key=len)


def _freeze_all_but_last_layers(model: Any, count: int) -> None:
    layers = decoder_layers(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for layer in list(layers)[-count:]:
        for parameter in layer.parameters():
            parameter.requires_grad_(True)


def trainable_parameters(model: Any) -> list[tuple[str, Any]]:
    """``(name, parameter)`` of everything trained, in a stable order (the optimizer's)."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]
