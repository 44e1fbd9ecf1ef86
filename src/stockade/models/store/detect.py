"""What a model folder holds: config, weights (safetensors or pickle), tokenizer, remote code, adapter;
its architecture and the chat template that suits it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.models.store.weights import BadWeights, check_safetensors, choose_weights

SAFE_WEIGHTS = ("*.safetensors",)
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model", "vocab.txt")
ADAPTER_CONFIG = "adapter_config.json"
# files whose ``auto_map`` makes transformers import code shipped with the model (trust_remote_code)
AUTO_MAP_FILES = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")

# config.json model_type → the built-in chat template (LLaMA-Factory names) that suits it.
TEMPLATES = {
    "qwen2": "qwen",
    "qwen2_moe": "qwen",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3",
    "llama": "llama3",
    "glm4": "glm4",
    "glm": "glm4",
    "chatglm": "chatglm3",
    "mistral": "mistral",
    "mixtral": "mistral",
}
LLAMA2_VOCAB = 32000  # Llama 2's SentencePiece vocabulary; Llama 3 has 128256


class IncompleteModel(StockadeError):
    """The folder is not a complete model (config, weights and tokenizer)."""

    exit_code = 2


@dataclass
class FolderInfo:
    """What :func:`inspect_folder` found."""

    folder: Path
    kind: str  # "model" or "adapter"
    config: dict[str, Any]
    model_type: str
    architecture: str
    safetensors: list[str] = field(default_factory=list)
    pickles: list[str] = field(default_factory=list)
    tokenizer: list[str] = field(default_factory=list)
    code_files: list[str] = field(default_factory=list)
    auto_map: dict[str, Any] = field(default_factory=dict)  # {file: its auto_map}, in any form
    weights_format: str = ""  # what transformers would load: "safetensors" or "pickle"
    weights: list[str] = field(default_factory=list)

    @property
    def needs_remote_code(self) -> bool:
        return bool(self.auto_map or self.code_files)

    @property
    def template(self) -> str | None:
        return suggest_template(self.model_type, self.config)


def suggest_template(model_type: str, config: dict[str, Any]) -> str | None:
    """The built-in template for ``model_type``; Llama 2 (32k vocabulary) gets ``llama2``."""
    if model_type == "llama" and config.get("vocab_size") == LLAMA2_VOCAB:
        return "llama2"
    return TEMPLATES.get(model_type)


def _matching(folder: Path, patterns: tuple[str, ...]) -> list[str]:
    return sorted({p.relative_to(folder).as_posix() for pattern in patterns for p in folder.rglob(pattern)})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IncompleteModel(
            f"{path.name} cannot be read as JSON: {error}",
            where=str(path),
            fix="copy the file again from the original model release",
        ) from None
    if not isinstance(value, dict):
        raise IncompleteModel(f"{path.name} is not a JSON object", where=str(path), fix="copy it again")
    return value


def inspect_folder(folder: Path) -> FolderInfo:
    """Read the folder without loading any weights; raise :class:`IncompleteModel` naming what is missing."""
    if not folder.is_dir():
        raise IncompleteModel(
            "not a folder", where=str(folder), fix="give the folder the model was copied to"
        )
    safetensors, pickles = _matching(folder, SAFE_WEIGHTS), _matching(folder, PICKLE_WEIGHTS)
    code = _matching(folder, ("*.py",))
    if (folder / ADAPTER_CONFIG).is_file():
        config = _read_json(folder / ADAPTER_CONFIG)
        return FolderInfo(
            folder,
            "adapter",
            config,
            "adapter",
            str(config.get("peft_type", "LORA")),
            safetensors,
            pickles,
            code_files=code,
        )
    choice = choose_weights(folder)
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not choice.format:
        missing.append("weights (model.safetensors or model.safetensors.index.json and its shards)")
    tokenizer = [name for name in TOKENIZER_FILES if (folder / name).is_file()]
    if not tokenizer:
        missing.append("a tokenizer (tokenizer.json, tokenizer.model or vocab.json)")
    if missing:
        raise IncompleteModel(
            f"not a complete model folder: missing {', '.join(missing)}",
            where=str(folder),
            fix="copy the whole model release (config.json, every weight shard, the tokenizer files) "
            "into one folder, then import it again",
        )
    config = _read_json(folder / "config.json")
    _check_weights(folder, choice.format, choice.files, choice.stray)
    architectures = config.get("architectures") or []
    return FolderInfo(
        folder=folder,
        kind="model",
        config=config,
        model_type=str(config.get("model_type") or "unknown"),
        architecture=str(architectures[0]) if architectures else str(config.get("model_type") or "unknown"),
        safetensors=safetensors,
        pickles=pickles,
        tokenizer=tokenizer,
        code_files=code,
        auto_map=_auto_maps(folder, config),
        weights_format=choice.format,
        weights=list(choice.files),
    )


def _auto_maps(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Every ``auto_map`` (a dict, a string, a list: any non-empty value) of the files transformers reads."""
    found = {"config.json": config.get("auto_map")}
    for name in AUTO_MAP_FILES[1:]:
        if (folder / name).is_file():
            found[name] = _read_json(folder / name).get("auto_map")
    return {name: value for name, value in found.items() if value not in (None, "", {}, [])}


def _check_weights(folder: Path, form: str, files: tuple[str, ...], stray: tuple[str, ...]) -> None:
    """Every shard the index names is there (a regular file inside the folder), no other weight file is,
    and every safetensors header is sane."""
    absent = [name for name in files if not _inside(folder, name)]
    if absent:
        raise IncompleteModel(
            f"{len(absent)} weight shard(s) named in the index are missing: {', '.join(absent[:5])}",
            where=str(folder),
            fix="copy every shard of the release (an interrupted copy often leaves some out)",
        )
    if stray:
        raise BadWeights(
            f"the folder holds weight files that would not be loaded ({', '.join(stray[:5])}) beside the "
            f"{form} weights transformers loads ({', '.join(files[:3])}); a stray file can hide which "
            "weights are really used",
            where=str(folder),
            fix="remove the files that are not part of the release's weights, then import again",
        )
    if form == "safetensors":
        for name in files:
            check_safetensors(folder / name)


def _inside(folder: Path, name: str) -> bool:
    path = folder / name
    return (
        not Path(name).is_absolute()
        and ".." not in Path(name).parts
        and path.is_file()
        and not path.is_symlink()
    )
