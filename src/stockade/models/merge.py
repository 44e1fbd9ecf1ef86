"""Merge a LoRA adapter into its base model (CPU is enough) and prove the merge is faithful.

The merged weights are written as sharded safetensors (never pickle). Before anything is registered,
the merged model is loaded back from disk and its logits on a fixed probe batch are compared with the
base model *plus* the unmerged adapter: the largest absolute difference must not exceed the tolerance
(float32 weights: 1e-4; float16: 2e-2; bfloat16: 1e-1 — half-precision rounding of the merged weights
alone moves logits by about that much). Otherwise :class:`MergeMismatch` is raised.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError

TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 1e-1}
PROBE_TEXTS = (
    "本行3年期定期存款利率为2.35%，请问提前支取如何计息？",
    "The 10-year Treasury yield rose 7bp to 4.31% in Q3; explain the NPL ratio.",
)
PROBE_TOKENS = 24
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.safetensors.index.json", "*.bin.index.json")
WRITTEN_BY_SAVE = ("config.json", "generation_config.json")


class MergeMismatch(StockadeError):
    """The merged model does not reproduce base + adapter."""


@dataclass(frozen=True)
class MergeCheck:
    max_abs_diff: float
    tolerance: float
    dtype: str
    probe_shape: tuple[int, int]
    shards: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "dtype": self.dtype,
            "probe_shape": list(self.probe_shape),
            "shards": self.shards,
        }


def _safe(folder: Path) -> dict[str, bool]:
    """Safetensors only, unless the (registered, policy-checked) folder's weights are pickle."""
    from stockade.models.store.weights import use_safetensors

    return {"use_safetensors": use_safetensors(folder, allow_pickle=True)}


def _stack() -> tuple[Any, Any, Any]:
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM
    except ModuleNotFoundError as error:
        raise DependencyMissing(
            f"{error.name} is not installed", fix="pip install 'stockade[train]'"
        ) from None
    return torch, AutoModelForCausalLM, PeftModel


def probe_batch(model_dir: Path) -> Any:
    """A fixed batch of token ids (Chinese and English text, same length: no padding involved)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    rows = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in PROBE_TEXTS]
    length = min(PROBE_TOKENS, *(len(row) for row in rows))
    if length < 2:
        raise StockadeError(
            "the tokenizer turns the probe sentences into no tokens",
            where=str(model_dir),
            fix="check its files",
        )
    return torch.tensor([row[:length] for row in rows])


def logits_of(model: Any, ids: Any) -> Any:
    import torch

    model.eval()
    with torch.inference_mode():
        return (
            model(input_ids=ids.to(model.device), attention_mask=torch.ones_like(ids).to(model.device))
            .logits.float()
            .cpu()
        )


def save_merged(model: Any, out: Path, shard_bytes: int) -> None:
    """Write the merged weights as safetensors shards of at most ``shard_bytes`` each."""
    model.save_pretrained(str(out), max_shard_size=int(shard_bytes))


def copy_side_files(base_dir: Path, out: Path) -> None:
    """Tokenizer, chat template, (approved) code files: everything of the base but weights and config."""
    skip = {p.name for pattern in WEIGHT_PATTERNS for p in base_dir.glob(pattern)} | set(WRITTEN_BY_SAVE)
    for path in sorted(base_dir.iterdir()):
        if path.is_file() and path.name not in skip:
            shutil.copyfile(path, out / path.name)


def merge_adapter(
    base_dir: Path,
    adapter_dir: Path,
    out: Path,
    *,
    shard_bytes: int,
    tolerance: float | None = None,
    device: str = "cpu",
) -> MergeCheck:
    """Merge ``adapter_dir`` into ``base_dir``, write it to ``out`` and check it on the probe batch."""
    torch, auto_model, peft_model = _stack()
    device = _device(torch, device)
    ids = probe_batch(base_dir)
    base = auto_model.from_pretrained(
        str(base_dir), local_files_only=True, dtype=torch.float32, **_safe(base_dir)
    ).to(device)
    model = peft_model.from_pretrained(base, str(adapter_dir))
    expected = logits_of(model, ids)
    merged = model.merge_and_unload()
    del model, base
    what = "the merged model does not reproduce base + adapter"
    return _write_and_check(merged, expected, ids, base_dir, out, shard_bytes, tolerance, device, what)


def reshard_model(
    model_dir: Path,
    base_dir: Path,
    out: Path,
    *,
    shard_bytes: int,
    tolerance: float | None = None,
    device: str = "cpu",
) -> MergeCheck:
    """A fully fine-tuned model (``model_dir``: weights and config only) written like a merged one: shards
    of ``shard_bytes``, the base's dtype and tokenizer files, checked against the trained weights."""
    torch, auto_model, _ = _stack()
    device = _device(torch, device)
    ids = probe_batch(base_dir)
    model = auto_model.from_pretrained(
        str(model_dir), local_files_only=True, dtype=torch.float32, **_safe(model_dir)
    ).to(device)
    expected = logits_of(model, ids)
    what = "the exported model does not reproduce the trained one"
    return _write_and_check(model, expected, ids, base_dir, out, shard_bytes, tolerance, device, what)


def _device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _write_and_check(
    model: Any,
    expected: Any,
    ids: Any,
    base_dir: Path,
    out: Path,
    shard_bytes: int,
    tolerance: float | None,
    device: str,
    what: str,
) -> MergeCheck:
    """Save ``model`` in the base's dtype with its tokenizer files, reload it, compare logits."""
    torch, auto_model, _ = _stack()
    stored_dtype = _stored_dtype(base_dir)
    limit = tolerance if tolerance is not None else TOLERANCE[stored_dtype]
    model.to(getattr(torch, stored_dtype))
    save_merged(model, out, shard_bytes)
    copy_side_files(base_dir, out)
    del model
    reloaded = auto_model.from_pretrained(
        str(out), local_files_only=True, dtype=torch.float32, use_safetensors=True
    ).to(device)
    diff = float((logits_of(reloaded, ids) - expected).abs().max())
    check = MergeCheck(diff, limit, stored_dtype, tuple(ids.shape), len(list(out.glob("*.safetensors"))))
    if not diff <= limit:  # also catches NaN
        raise MergeMismatch(
            f"{what}: largest logit difference {diff:.3g} on the probe batch, tolerance {limit:g} "
            f"({stored_dtype} weights); nothing was registered",
            where=str(out),
            fix="check that the run's base model files are intact (`stockade model verify`) and retry; "
            "for half-precision bases a larger --export_tolerance may be justified",
        )
    return check


def _stored_dtype(model_dir: Path) -> str:
    import json

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return dtype if dtype in TOLERANCE else "float32"
