"""Load a served model with transformers: dtype for the device, optional 4/8-bit, adapters merged or not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError

DEFAULT_MAX_CONTEXT = 8192  # KV cache per slot: min(model context, this) unless max_model_len says


def load_model(
    path: Path,
    *,
    adapter: Path | None,
    device: str,
    load_in_4bit: bool,
    allow_pickle: bool = False,
    load_in_8bit: bool = False,
    precision: str | None = None,
    adapters: Sequence[tuple[str, Path]] = (),
) -> tuple[Any, Any]:
    """``allow_pickle``: the workspace's safety policy accepts pickle weights (else safetensors only).

    ``adapter`` is merged into the weights; ``adapters`` (name, folder) are loaded unmerged into one
    peft model, for per-request choice (:mod:`stockade.serving.adapters`). ``load_in_4bit``: nf4 with
    the compute dtype ``precision`` (the training run's: bf16 | fp16 | fp32; default bf16 on CUDA, fp32
    on CPU), as training quantises; ``load_in_8bit``: LLM.int8.
    """
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ModuleNotFoundError as exc:
        raise DependencyMissing(f"{exc.name} is not installed", fix="pip install 'stockade[train]'") from None
    from transformers.utils import logging as transformers_logging

    from stockade.models.store.weights import use_safetensors

    transformers_logging.disable_progress_bar()
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "dtype": torch.bfloat16 if device == "cuda" else torch.float32,
        "use_safetensors": use_safetensors(path, allow_pickle),
    }
    quantized = load_in_4bit or load_in_8bit
    if quantized:
        kwargs["quantization_config"] = quantization_config(
            bits=4 if load_in_4bit else 8, device=device, precision=precision
        )
        kwargs["device_map"] = {"": 0 if device == "cuda" else "cpu"}
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if adapter is not None:
        if quantized:
            raise StockadeError(
                "an adapter cannot be merged into quantized weights",
                fix="serve it unmerged (--adapters NAME@vN), or export a merged version "
                "(`stockade export`) and serve that quantized",
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if adapters:
        from stockade.serving.adapters import load_adapters

        model = load_adapters(model, adapters)
    if not quantized:
        model = model.to(device)
    return model.eval(), tokenizer


def quantization_config(*, bits: int, device: str, precision: str | None) -> Any:
    """bitsandbytes' settings: 4-bit is nf4 (what QLoRA training uses), computing in ``precision``."""
    import torch

    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise DependencyMissing("bitsandbytes is not installed", fix="pip install bitsandbytes") from exc
    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    default = torch.bfloat16 if device == "cuda" else torch.float32
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    compute = dtypes.get(precision or "", default)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_use_double_quant=True,
    )


def eos_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for value in (
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
        model.config.eos_token_id,
        tokenizer.eos_token_id,
    ):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    return frozenset(ids)


def context_length(model: Any, limit: int | None) -> int:
    native = getattr(model.config, "max_position_embeddings", None) or DEFAULT_MAX_CONTEXT
    return min(native, limit or DEFAULT_MAX_CONTEXT)
