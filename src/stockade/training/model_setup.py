"""Load a base model for training and make the right parameters trainable.

* ``lora`` / ``qlora``: peft LoRA (``r``, ``alpha``, ``dropout``; ``lora_target: [all]`` means peft's
  ``all-linear``; ``use_dora``, ``use_rslora``, ``pissa_init``/``pissa_iter``, ``additional_target`` as
  peft's ``modules_to_save``). ``qlora`` loads the base in 4-bit nf4 with bitsandbytes (CUDA, or CPU from
  0.50); ``quantization_bit: 8`` in bitsandbytes int8. A folder already quantised with GPTQ or AWQ
  (``quantization_config.quant_method`` in its config.json) loads for LoRA when its libraries are
  installed, else it is refused, before any weight is read, with the install line.
* ``full``: every parameter is trained.
* ``freeze``: as LLaMA-Factory, ``freeze_trainable_layers`` N > 0 trains the last N decoder layers, N < 0
  the first -N (default 2, :data:`FREEZE_TRAINABLE_LAYERS`), restricted to ``freeze_trainable_modules``
  within them, plus ``freeze_extra_modules`` outside them; everything else stays frozen.
* ``neftune_noise_alpha``: a forward hook adds NEFTune noise to the input embeddings in training mode.

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
    pissa_initial: Any = None  # pissa_init: a TemporaryDirectory holding the adapter before training


def resolve_dtype(precision: str) -> Any:
    """``auto``: bf16 on a CUDA GPU that has it, fp16 on older CUDA GPUs; fp32 on CPU whatever the spec
    says (as the recipe prints: a bf16 copy of the weights on CPU loses small updates to rounding)."""
    import torch

    if not torch.cuda.is_available():
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def _check_bitsandbytes(bits: int) -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise DependencyMissing(
            f"a {bits}-bit base (quantization_bit: {bits}) needs the bitsandbytes package, which is not "
            "installed",
            fix="install it (pip install bitsandbytes; CUDA, or CPU from 0.50), "
            "or use finetuning_type: lora without quantization_bit / load_in_4bit",
        ) from error


# quant_method of a pre-quantised folder -> (groups of python modules: one of each group must be
# installed; the pip line that installs them)
PREQUANTIZED: dict[str, tuple[tuple[tuple[str, ...], ...], str]] = {
    "gptq": ((("optimum",), ("gptqmodel", "auto_gptq")), "pip install optimum gptqmodel"),
    "awq": ((("awq", "gptqmodel"),), "pip install autoawq"),
}


def quantization_bits(spec: TrainSpec) -> int | None:
    """4 (nf4, QLoRA), 8 (bitsandbytes int8) or None: how ``spec`` quantises the base it loads."""
    if spec.finetuning_type == "qlora" or spec.load_in_4bit:
        return 4
    return 8 if spec.quantization_bit == 8 else None


def check_prequantized(model_dir: Path, spec: TrainSpec) -> str | None:
    """The folder's own ``quantization_config.quant_method`` (gptq, awq...), checked before loading.

    A GPTQ/AWQ folder trains LoRA adapters when its libraries are installed; otherwise, or with another
    method, or asked to train it in full or quantise it again, it is refused with the reason and the fix.
    """
    import importlib.util
    import json

    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    if not isinstance(quant, dict):
        return None
    method = str(quant.get("quant_method", "")).lower()
    where = f"{path}: quantization_config.quant_method: {method}"
    if method == "bitsandbytes":
        _check_bitsandbytes(4 if quant.get("load_in_4bit") else 8)
    elif method in PREQUANTIZED:
        groups, install = PREQUANTIZED[method]
        missing = [" or ".join(g) for g in groups if not any(importlib.util.find_spec(m) for m in g)]
        if missing:
            raise DependencyMissing(
                f"this model folder is {method.upper()}-quantised and loading it needs {', '.join(missing)}, "
                "which is not installed",
                where=where,
                fix=f"install it from the offline wheelhouse ({install}), or import the unquantised model",
            )
    else:
        raise ConfigError(
            f"a base quantised with {method or 'an unnamed method'} cannot be trained here",
            where=where,
            fix="import the unquantised model (quantization_bit: 4 or 8 quantises it at load), or a "
            "GPTQ/AWQ one",
        )
    if spec.finetuning_type not in ("lora", "qlora") or spec.quantization_bit or spec.load_in_4bit:
        raise ConfigError(
            f"the model is already quantised ({method}); it trains LoRA adapters on its own weights",
            where=where,
            fix="use finetuning_type: lora without quantization_bit / load_in_4bit",
        )
    return method


def load_for_training(
    model_dir: Path, spec: TrainSpec, local_rank: int = 0, *, fsdp: bool = False
) -> LoadedModel:
    """The model on its device (``cuda:local_rank``, else CPU) with only ``spec.finetuning_type``'s
    parameters trainable, set up as the recipe says (recompute, loss head)."""
    import torch
    from transformers import AutoModelForCausalLM

    recipe = decide(spec, read_model_config(model_dir), device_facts(local_rank), fsdp=fsdp)
    recompute = recipe.gradient_checkpointing

    bits = quantization_bits(spec)
    quantized = bits is not None
    prequantized = check_prequantized(model_dir, spec)  # before any weights are read
    if quantized:
        _check_bitsandbytes(bits or 4)  # before any weights are read (bitsandbytes >= 0.50 also runs on CPU)
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

        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_8bit=True)
            if bits == 8
            else BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=compute,
                bnb_4bit_use_double_quant=True,
            )
        )
    if quantized or prequantized:
        kwargs["device_map"] = {"": device.index} if device.type == "cuda" else {"": "cpu"}
    torch.manual_seed(spec.seed)  # adapter init is part of the run's determinism
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    if not (quantized or prequantized):
        model.to(device)
    model.config.use_cache = False
    packing_mode = configure_model_for_packing(model) if recipe.packing else "mask"

    is_peft = spec.finetuning_type in ("lora", "qlora")
    if quantized or prequantized:
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
        freeze_parameters(model, spec)
    else:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
    pissa_initial = _save_pissa_initial(model) if is_peft and spec.pissa_init else None
    if spec.neftune_noise_alpha:
        add_neftune_noise(model, spec.neftune_noise_alpha)
    model.train()
    head, hidden_loss = _loss_head(model, recipe.cross_entropy)
    return LoadedModel(
        model, device, compute, packing_mode, is_peft, recipe, head, hidden_loss, pissa_initial
    )


def _save_pissa_initial(model: Any) -> Any:
    """The PiSSA adapter before any step, so each save converts the trained one to a plain LoRA."""
    import tempfile

    folder = tempfile.TemporaryDirectory(prefix="stockade-pissa-")
    model.save_pretrained(folder.name, safe_serialization=True)
    return folder


def add_neftune_noise(model: Any, alpha: float) -> Any:
    """NEFTune (Jain et al. 2023, as transformers' ``neftune_noise_alpha``): in training mode the input
    embeddings get uniform noise in ``±alpha/sqrt(length x hidden)``; in eval mode nothing changes."""
    import torch

    def hook(module: Any, _inputs: Any, output: Any) -> Any:
        if not module.training:
            return output
        magnitude = alpha / (output.size(1) * output.size(2)) ** 0.5
        return output + torch.zeros_like(output).uniform_(-magnitude, magnitude)

    return model.get_input_embeddings().register_forward_hook(hook)


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
    init: bool | str = True
    if spec.pissa_init:
        init = "pissa" if spec.pissa_iter == -1 else f"pissa_niter_{spec.pissa_iter}"
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=spec.lora_rank,
        lora_alpha=spec.lora_alpha or 2 * spec.lora_rank,
        lora_dropout=spec.lora_dropout,
        target_modules="all-linear" if [t.lower() for t in targets] == ["all"] else list(targets),
        use_dora=spec.use_dora,
        use_rslora=spec.use_rslora,
        init_lora_weights=init,  # type: ignore[arg-type]
        modules_to_save=list(spec.additional_target) or None,
    )
    if spec.additional_target:
        names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        unknown = [t for t in spec.additional_target if t not in names]
        if unknown:
            raise ConfigError(
                f"additional_target {', '.join(unknown)} names no module of this model",
                where="train spec: additional_target",
                fix="use module names such as embed_tokens or lm_head",
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


def freeze_parameters(model: Any, spec: TrainSpec) -> None:
    """Freeze everything but LLaMA-Factory's choice: the last N layers (N > 0) or the first -N (N < 0),
    only ``freeze_trainable_modules`` within them, and ``freeze_extra_modules`` elsewhere."""
    layers = list(decoder_layers(model))
    count = spec.freeze_trainable_layers
    if abs(count) > len(layers):
        raise ConfigError(
            f"freeze_trainable_layers: {count} but the model has {len(layers)} decoder layers",
            where="train spec: freeze_trainable_layers",
            fix=f"use a value between -{len(layers)} and {len(layers)} (not 0)",
        )
    chosen = layers[-count:] if count > 0 else layers[:-count]
    modules = list(spec.freeze_trainable_modules)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    matched: set[str] = set()
    for layer in chosen:
        for name, parameter in layer.named_parameters():
            parts = name.split(".")
            hit = [m for m in modules if m == "all" or m in parts]
            if hit:
                parameter.requires_grad_(True)
                matched.update(hit)
    in_layers = {id(p) for layer in layers for p in layer.parameters()}
    for name, parameter in model.named_parameters():
        parts = name.split(".")
        hit = [m for m in spec.freeze_extra_modules if m in parts]
        if hit and id(parameter) not in in_layers:
            parameter.requires_grad_(True)
            matched.update(hit)
    unknown = [m for m in [*modules, *spec.freeze_extra_modules] if m not in matched]
    if unknown:
        names = sorted({n for layer in layers[:1] for n, _ in layer.named_children()})
        raise ConfigError(
            f"freeze_trainable_modules / freeze_extra_modules {', '.join(unknown)} match no parameter",
            where="train spec: freeze_trainable_modules, freeze_extra_modules",
            fix=f"within a layer use all or {', '.join(names)}; outside, e.g. embed_tokens, norm",
        )


def trainable_parameters(model: Any) -> list[tuple[str, Any]]:
    """``(name, parameter)`` of everything trained, in a stable order (the optimizer's)."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]
