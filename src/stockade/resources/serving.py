"""Peak memory of serving a model: weights, the static KV cache, the largest forward pass.

The hf engine allocates its KV cache for ``max_batch_size x max_len`` tokens up front (keys and values
of every layer, ``num_key_value_heads x head_dim`` each, in the compute dtype). The forward pass's
transient memory is the prefill of a full batch: one layer's hidden, q/k/v/attention output and MLP
intermediates for every token, and the fp32 logits of the last position of each sequence. Analytic
only: not checked against a measurement (see docs/estimate.md).
"""

from __future__ import annotations

from stockade.resources.estimate import (
    ALLOCATOR_SLACK,
    CUDA_CONTEXT,
    FP32,
    NF4_BYTES,
    WIDTH,
    Component,
    Estimate,
)
from stockade.resources.shape import ModelShape


def estimate_serving(
    shape: ModelShape,
    *,
    precision: str = "bf16",
    quantization_bit: int | None = None,
    max_batch_size: int = 8,
    max_len: int = 4096,
    device: str = "cuda",
) -> Estimate:
    a = WIDTH[precision]
    linear = shape.layers * sum(linear.fan_in * linear.fan_out for linear in shape.linears)
    rest = shape.parameters - linear
    if quantization_bit == 4:
        weights = int(linear * NF4_BYTES) + a * rest
        label = "weights (nf4 + " + precision + ")"
    else:
        weights = a * shape.parameters
        label = f"weights ({precision})"
    tokens = max_batch_size * max_len
    kv = 2 * shape.layers * shape.kv_width * a * tokens
    prefill = tokens * a * (4 * shape.hidden + 2 * shape.q_width + 3 * shape.intermediate)
    logits = max_batch_size * shape.vocab * (a + FP32)
    components = [
        Component("weights", label, weights, "the served version's weights"),
        Component(
            "kv_cache",
            "KV cache",
            kv,
            f"{max_batch_size} sequences x {max_len} tokens, {shape.layers} layers, keys and values",
        ),
        Component("activations", "activations (prefill)", prefill, "one layer of a full batch's prefill"),
        Component("loss", "logits", logits, "last position of each sequence, fp32 for sampling"),
    ]
    total = sum(c.bytes for c in components)
    extra = []
    if device == "cuda":
        extra = [
            Component("cuda_context", "CUDA context and workspaces", CUDA_CONTEXT, "assumed, not measured"),
            Component("allocator", "allocator slack", int(ALLOCATOR_SLACK * total), "assumed"),
        ]
    return Estimate(components, "prefill of a full batch", {"serving": total}, shape.parameters, 0, extra)
