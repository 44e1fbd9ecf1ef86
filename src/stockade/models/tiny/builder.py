"""Build a random-init causal LM of a real transformers architecture, for tests and demos."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError, DependencyMissing, StockadeError
from stockade.models.tiny.arch import TINY_ARCHS, TinyArch
from stockade.models.tiny.tokenizer import MAX_LENGTH, save_tokenizer, train_tokenizer

NUM_HEADS = 4
NUM_KV_HEADS = 2
INITIALIZER_RANGE = 0.1  # with 0.02 and tied embeddings, LoRA on a frozen tiny base barely learns


@dataclass(frozen=True)
class TinyModelInfo:
    """What :func:`build_tiny_model` wrote."""

    arch: str
    model_type: str
    architecture: str
    path: Path
    vocab_size: int
    num_parameters: int
    template: str  # LLaMA-Factory chat template name
    files: tuple[str, ...]


def build_tiny_model(
    arch: str, out: Path, *, seed: int = 0, hidden_size: int = 128, num_layers: int = 2
) -> TinyModelInfo:
    """Train a tokenizer, init a model of ``arch`` with ``seed`` and save both into the empty ``out``."""
    spec = TINY_ARCHS.get(arch)
    _check_shape(hidden_size, num_layers)
    out = Path(out)
    _check_out(out)
    torch, transformers = _import_train_stack()

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _write(
            spec, out, torch, transformers, seed=seed, hidden_size=hidden_size, num_layers=num_layers
        )
    except BaseException:
        _clear(out, remove=created)  # the folder was empty: everything in it is ours
        raise


def _write(
    spec: TinyArch, out: Path, torch: Any, transformers: Any, *, seed: int, hidden_size: int, num_layers: int
) -> TinyModelInfo:
    tokenizer = train_tokenizer(spec)
    ids = {token: tokenizer.token_to_id(token) for token in (*spec.special_tokens, *spec.plain_tokens)}
    config = transformers.AutoConfig.for_model(
        spec.model_type, **_config_kwargs(spec, ids, tokenizer.get_vocab_size(), hidden_size, num_layers)
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=ids[spec.config_bos] if spec.config_bos else None,
        eos_token_id=[ids[t] for t in spec.stop_tokens],
        pad_token_id=ids[spec.pad],
    )
    with _quiet_progress(transformers):
        model.save_pretrained(out)
    save_tokenizer(spec, tokenizer, out)
    return TinyModelInfo(
        arch=spec.name,
        model_type=spec.model_type,
        architecture=type(model).__name__,
        path=out,
        vocab_size=config.vocab_size,
        num_parameters=model.num_parameters(),
        template=spec.template,
        files=tuple(sorted(p.name for p in out.iterdir())),
    )


def _config_kwargs(
    spec: TinyArch, ids: dict[str, int], vocab_size: int, hidden_size: int, num_layers: int
) -> dict[str, Any]:
    eos = [ids[t] for t in spec.config_eos] if spec.config_eos else [ids[spec.eos]]
    kwargs: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": NUM_HEADS,
        "num_key_value_heads": NUM_KV_HEADS,
        "max_position_embeddings": MAX_LENGTH,
        "initializer_range": INITIALIZER_RANGE,
        "tie_word_embeddings": True,
        "bos_token_id": ids[spec.config_bos] if spec.config_bos else None,
        "eos_token_id": eos[0] if len(eos) == 1 else eos,
        "pad_token_id": ids[spec.pad],
        "rope_parameters": dict(spec.rope),
        "dtype": "float32",
        **spec.config_extra,
    }
    if spec.per_head_dim:
        kwargs["head_dim"] = hidden_size // NUM_HEADS
    return kwargs


def _check_shape(hidden_size: int, num_layers: int) -> None:
    if not (32 <= hidden_size <= 256 and hidden_size % 16 == 0):
        raise ConfigError(
            f"hidden_size {hidden_size} is not allowed for a tiny model",
            fix="use a multiple of 16 between 32 and 256 (4 heads, rotary dims stay even)",
        )
    if not 2 <= num_layers <= 4:
        raise ConfigError(f"num_layers {num_layers} is not allowed for a tiny model", fix="use 2, 3 or 4")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StockadeError("the output path is a file, not a folder", where=str(out), fix="choose a folder")
    if out.is_dir() and any(out.iterdir()):
        raise StockadeError(
            "the output folder is not empty; refusing to mix a new tiny model with existing files",
            where=str(out),
            fix="choose a new or empty folder, or delete this one first",
        )


@contextmanager
def _quiet_progress(transformers: Any) -> Iterator[None]:
    logging = transformers.utils.logging
    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def _clear(out: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _import_train_stack() -> tuple[Any, Any]:
    try:
        import tokenizers  # noqa: F401
        import torch
        import transformers
    except ImportError as exc:
        raise DependencyMissing(
            f"building a tiny model needs {exc.name or 'torch'}, which is not installed",
            fix="pip install 'stockade[train]'",
        ) from exc
    return torch, transformers
