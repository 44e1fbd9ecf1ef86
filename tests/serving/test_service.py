"""Choosing the backend: vllm is optional and says what is missing; hf builds a working engine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from stockade.core.errors import DependencyMissing
from stockade.core.specs import ServeSpec
from stockade.serving.service import build_engine, chat_template
from stockade.serving.target import ServeTarget


def _target(folder: Path, adapter: Path | None = None) -> ServeTarget:
    return ServeTarget(str(folder), folder, "qwen", adapter, dev=True)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_without_the_package_is_a_clear_error(tiny_model_dir: Path) -> None:
    with pytest.raises(DependencyMissing, match="vllm") as caught:
        build_engine(_target(tiny_model_dir), ServeSpec(infer_backend="vllm"))
    assert "--infer_backend hf" in (caught.value.fix or "")


def test_hf_engine_from_a_spec(tiny_model_dir: Path) -> None:
    engine = build_engine(
        _target(tiny_model_dir), ServeSpec(max_batch_size=3, max_queue=5, max_model_len=256)
    )
    assert (engine.info.backend, engine.info.max_batch_size, engine.info.max_waiting) == ("hf", 3, 5)
    assert engine.info.context == 256 and engine.info.eos_token_ids  # the tiny model's stop tokens
    assert chat_template(_target(tiny_model_dir), engine.tokenizer).name == "qwen"
