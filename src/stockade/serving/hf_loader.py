"""Load a served model with transformers: dtype for the device, optional 4-bit, adapter merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError

DEFAULT_MAX_CONTEXT = 8192  # KV cache per slot: min(model context, this) unless max_model_len says


def load_model(
    path: Path, *, adapter: Path | None, device: str, load_in_4bit: bool, allow_pickle: bool = False
) -> tuple[Any, Any]:
    """``allow_pickle``: the workspace's safety policy accepts pickle weights (else safetensors only)."""
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
    if load_in_4bit:
        if device != "cuda":
            raise StockadeError("4-bit loading needs a CUDA GPU", fix="drop --load_in_4bit on this machine")
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as exc:
            raise DependencyMissing("bitsandbytes is not installed", fix="pip install bitsandbytes") from exc
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16
        )
        kwargs["device_map"] = {"": 0}
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if adapter is not None:
        if load_in_4bit:
            raise StockadeError(
                "an adapter cannot be merged into 4-bit weights",
                fix="export a merged version (`stockade export`) and serve that with --load_in_4bit",
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if not load_in_4bit:
        model = model.to(device)
    return model.eval(), tokenizer


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
