"""Bytes a llama-family decoder layer keeps for the backward pass, per token, as Stockade's loop runs it.

Counted from the tensors each operation saves (and checked against fake-tensor runs of the product's
training step, tests/resources): the layer's RMSNorms (an fp32 copy of their input, and ``x * rsqrt``
when the norm's weight trains), q/k/v after the rotary embedding and the attention output (grouped
key/value heads are repeated to the query heads before attention, so all four are query-sized), the
attention's log-sum-exp (fp32, one per head), the MLP's gate, up, ``act(gate)`` and product, and the
inputs of the linear layers whose weight trains — cast to the compute dtype, one copy per consumer,
under bf16/fp16 autocast. A LoRA adapter saves its input (peft casts it to the adapter's fp32 dtype and
autocast back to bf16: one copy per adapter) and its rank-``r`` intermediate.

``stream`` is the width of the residual stream: fp32 when the embedding is (full fine-tuning keeps fp32
master weights, fp32 precision), else the compute dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade.resources.shape import ModelShape

FP32 = 4


@dataclass(frozen=True)
class Regime:
    """How one decoder layer runs: trainable base weights or not, widths in bytes."""

    trainable_base: bool  # full fine-tuning / a freeze run's trained layers
    compute: int  # 2 (bf16/fp16 autocast) or 4 (fp32)
    adapters: tuple[str, ...] = ()  # LoRA targets in this layer
    rank: int = 0


def saved_per_token(shape: ModelShape, regime: Regime, *, input_needs_grad: bool = True) -> int:
    """Bytes per token one layer keeps for backward without recompute (tokens = batch x length)."""
    h, i, q = shape.hidden, shape.intermediate, shape.q_width
    a = regime.compute
    lse = FP32 * shape.heads
    if regime.trainable_base:
        if a == FP32:  # no casts: each tensor saved once, shared by its consumers
            norms = 2 * (3 * FP32 * h)  # input, x * rsqrt, normed output (read by the linears)
            attention = 4 * FP32 * q  # q, k, v (repeated), output (also o_proj's input)
            mlp = 4 * FP32 * i  # gate, up, act(gate), act(gate) * up (down_proj's input)
        else:  # the linears save their input cast to the compute dtype, one copy per consumer
            norms = 2 * (2 * FP32 * h) + (3 + 2) * a * h  # fp32 input, x * rsqrt; q,k,v and gate,up casts
            attention = 4 * a * q  # autocast's copies of q, k, v; the output is bf16 already
            mlp = 4 * a * i
        return norms + attention + mlp + lse
    # frozen base (LoRA, QLoRA): only what the gradient of the layer's input needs, plus the adapters
    norm_input = FP32 * h if input_needs_grad else 0  # the first layer's input may need no gradient
    total = norm_input + FP32 * h + 4 * a * q + 3 * a * i + lse
    adapters = {linear.name: linear for linear in shape.linears if linear.name in regime.adapters}
    if a == FP32:  # adapters share their inputs: normed (q,k,v), normed (gate,up), act*up (down)
        if adapters.keys() & {"q_proj", "k_proj", "v_proj"}:
            total += FP32 * h
        if adapters.keys() & {"gate_proj", "up_proj"}:
            total += FP32 * h
        if "down_proj" in adapters:
            total += FP32 * i
        # o_proj's input is the attention output, saved already
    else:
        total += sum(a * linear.fan_in for linear in adapters.values())
    # the rank-r intermediates (bf16: lora_A's output and its fp32 twin; fp32: lora_A's output)
    total += len(adapters) * (3 * a if a != FP32 else a) * regime.rank
    return total


def weight_copies(shape: ModelShape, regime: Regime) -> int:
    """Bytes per layer of autocast's compute-dtype copies of fp32 weights (saved for backward)."""
    if regime.compute == FP32:
        return 0
    if regime.trainable_base:
        return sum(regime.compute * linear.parameters for linear in shape.linears)
    adapters = [linear for linear in shape.linears if linear.name in regime.adapters]
    return sum(regime.compute * regime.rank * (linear.fan_in + linear.fan_out) for linear in adapters)
