"""Model shapes for benchmarks: a real architecture's dimensions with random weights.

Throughput and memory do not depend on weight values, so a benchmark builds the model from its shape
alone (nothing is downloaded): the real Qwen2.5-7B shape for GPU rows, a 2-layer Qwen2 for CPU rows
and the test suite.
"""

from __future__ import annotations

from typing import Any

SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-7b": {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "vocab_size": 152064,
        "max_position_embeddings": 32768,
        "tie_word_embeddings": False,
    },
    "tiny": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 352,
        "vocab_size": 8192,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
    },
}


def build_random_model(shape: str, device: Any, dtype: Any) -> Any:
    """A Qwen2 causal LM of ``shape`` with random weights (seed 0), frozen, on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(**SHAPES[shape], use_cache=False)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.requires_grad_(False)
    return model
