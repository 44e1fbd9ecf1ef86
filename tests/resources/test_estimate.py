"""The estimator's parts: the shape read from config.json, what each option changes, serving, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError
from stockade.resources.estimate import TrainingSetup, estimate_training
from stockade.resources.serving import estimate_serving
from stockade.resources.shape import read_shape, shape_from_config

LLAMA_7B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
}
QWEN_SMALL = {
    "hidden_size": 384,
    "intermediate_size": 1024,
    "num_hidden_layers": 3,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "vocab_size": 8192,
    "tie_word_embeddings": True,
}


@pytest.mark.parametrize(
    ("model_type", "values"),
    [
        ("llama", {**LLAMA_7B, "num_hidden_layers": 2, "num_key_value_heads": 8}),
        ("qwen2", QWEN_SMALL),
        ("mistral", {**LLAMA_7B, "num_hidden_layers": 1, "num_key_value_heads": 8, "head_dim": 64}),
    ],
)
def test_parameter_count_matches_the_transformers_model(
    model_type: str, values: dict, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(model_type, **{k: v for k, v in values.items() if k != "model_type"})
    config.save_pretrained(tmp_path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert read_shape(tmp_path).parameters == sum(p.numel() for p in model.parameters())


def test_a_folder_without_config_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_shape(tmp_path)
    assert "config.json" in caught.value.what and "registered model" in (caught.value.fix or "")


def test_mixture_of_experts_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="mixture-of-experts"):
        shape_from_config({**LLAMA_7B, "model_type": "mixtral", "num_local_experts": 8})


def test_an_unknown_lora_target_is_refused() -> None:
    shape = shape_from_config(LLAMA_7B)
    with pytest.raises(ConfigError, match="wq"):
        estimate_training(shape, TrainingSetup(lora_targets=("wq",)))


def _peak(**changes: object) -> int:
    return estimate_training(shape_from_config(LLAMA_7B), TrainingSetup(**changes)).peak_allocated  # type: ignore[arg-type]


def test_each_option_moves_the_peak_the_way_it_should() -> None:
    base = _peak(batch_size=4, cutoff=2048)
    assert _peak(batch_size=4, cutoff=2048, recompute=True) < base / 2
    assert _peak(batch_size=2, cutoff=2048) < base
    assert _peak(batch_size=4, cutoff=1024) < base
    assert _peak(batch_size=4, cutoff=2048, lora_rank=64) > base
    assert _peak(batch_size=4, cutoff=2048, lora_targets=("q_proj", "v_proj")) < base
    assert _peak(method="qlora", recompute=True) < _peak(method="lora", recompute=True) - 5 * 2**30
    assert _peak(method="full", recompute=True) > _peak(method="freeze", recompute=True)
    assert _peak(cross_entropy="full", recompute=True) > _peak(cross_entropy="chunked", recompute=True)


def test_sharding_divides_weights_gradients_and_moments() -> None:
    one = estimate_training(shape_from_config(LLAMA_7B), TrainingSetup(method="full", recompute=True))
    four = estimate_training(
        shape_from_config(LLAMA_7B), TrainingSetup(method="full", recompute=True, gpus=4, sharding="full")
    )
    by_key = {c.key: c.bytes for c in four.components}
    assert by_key["optimizer_states"] == {c.key: c.bytes for c in one.components}["optimizer_states"] // 4
    assert four.peak_allocated < one.peak_allocated / 2
    ddp = estimate_training(shape_from_config(LLAMA_7B), TrainingSetup(recompute=True, gpus=4))
    assert any(c.key == "ddp_buckets" for c in ddp.components)


def test_sharding_on_one_gpu_or_with_qlora_is_refused() -> None:
    shape = shape_from_config(LLAMA_7B)
    with pytest.raises(ConfigError, match="--gpus 2"):
        estimate_training(shape, TrainingSetup(sharding="full"))
    with pytest.raises(ConfigError, match="QLoRA"):
        estimate_training(shape, TrainingSetup(method="qlora", gpus=2, sharding="full"))


def test_the_breakdown_adds_up_and_names_the_device_overheads() -> None:
    estimate = estimate_training(shape_from_config(LLAMA_7B), TrainingSetup(recompute=True))
    data = estimate.as_dict()
    assert sum(c["bytes"] for c in data["breakdown"]) == estimate.peak_device  # type: ignore[union-attr]
    assert data["peak_device_gib"] > data["peak_allocated_gib"]  # type: ignore[operator]
    keys = {c["key"] for c in data["breakdown"]}  # type: ignore[union-attr]
    assert {"weights", "adapters", "optimizer_states", "activations", "cuda_context", "allocator"} <= keys
    cpu = estimate_training(shape_from_config(LLAMA_7B), TrainingSetup(precision="fp32", device="cpu"))
    assert cpu.peak_device == cpu.peak_allocated  # no CUDA context on the CPU


def test_serving_counts_the_kv_cache_of_every_sequence() -> None:
    shape = shape_from_config(LLAMA_7B)
    small = estimate_serving(shape, max_batch_size=1, max_len=4096)
    big = estimate_serving(shape, max_batch_size=8, max_len=4096)
    kv = {c.key: c.bytes for c in small.components}["kv_cache"]
    assert kv == 2 * 32 * 4096 * 2 * 4096  # keys and values, 32 layers, 4096 wide, bf16, 4096 tokens
    assert {c.key: c.bytes for c in big.components}["kv_cache"] == 8 * kv
    quantized = estimate_serving(shape, quantization_bit=4, max_batch_size=1, max_len=4096)
    assert quantized.peak_allocated < small.peak_allocated


def test_a_setup_is_a_value() -> None:
    setup = TrainingSetup()
    assert dataclasses.replace(setup, batch_size=1) != setup
