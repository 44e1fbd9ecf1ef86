"""Peak memory of a training step (and of serving) from config.json alone: the service behind
`stockade estimate` and the fit check of `stockade train`.

The training estimate follows Stockade's own loop (:mod:`stockade.training`): the frozen base in the
compute dtype (4-bit nf4 for QLoRA), trained weights in fp32 (master weights), AdamW (two fp32 moments),
one micro-batch of ``batch_size`` rows of ``cutoff`` tokens with the 4D block-causal mask, bf16/fp16
autocast on a GPU, and the loss the recipe picks (chunked cross-entropy, 1024 tokens a piece, or the
model's own loss over the full logits). Steady state: from the second step on, the optimizer's moments
live through the forward and backward passes.

The peak is the largest of four moments, each a sum of components (the breakdown shows those of the
peak): the loss's forward, the start of the backward pass (every saved activation plus the loss's
backward buffers), the end of the backward pass (every gradient plus the first layer's backward), and
the optimizer step (gradients plus the step's temporaries). ``peak_allocated`` is what
``torch.cuda.max_memory_allocated`` reports; ``peak_device`` adds the CUDA context and the caching
allocator's slack (what nvidia-smi shows). See docs/estimate.md for the method and its validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from stockade.core.errors import ConfigError
from stockade.resources.activations import FP32, Regime, saved_per_token, weight_copies
from stockade.resources.shape import ModelShape

GIB = 2**30
BLOCK = 512  # the CUDA caching allocator's smallest block: every tensor is rounded up to it
CE_CHUNK = 1024  # tokens a piece of the chunked cross-entropy (stockade.training.loss.CE_CHUNK)
FREEZE_TRAINABLE_LAYERS = 2  # stockade.training.model_setup.FREEZE_TRAINABLE_LAYERS
CUDA_CONTEXT = 600 * 2**20  # CUDA context + cuBLAS/cuDNN workspaces (not measured in this build)
ALLOCATOR_SLACK = 0.10  # reserved but unallocated share of the caching allocator (not measured)
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 4-bit values, 8-bit block scales (64), fp32 scales of those
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
WIDTH = {"bf16": 2, "fp16": 2, "fp32": 4}

Method = Literal["lora", "qlora", "full", "freeze"]


@dataclass(frozen=True)
class TrainingSetup:
    method: Method = "lora"
    batch_size: int = 4
    cutoff: int = 2048
    lora_rank: int = 8
    lora_targets: tuple[str, ...] = ("all",)
    recompute: bool = False  # gradient checkpointing (activation recompute)
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    cross_entropy: Literal["chunked", "liger", "full"] = "chunked"
    gpus: int = 1
    sharding: Literal["none", "full", "grad-op"] = "none"  # FSDP FULL_SHARD / SHARD_GRAD_OP
    device: Literal["cuda", "cpu"] = "cuda"


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    bytes: int
    note: str = ""


@dataclass
class Estimate:
    components: list[Component]  # those alive at the peak; they add up to peak_allocated
    peak_moment: str
    moments: dict[str, int]  # every moment's total
    parameters: int
    trainable_parameters: int
    extra: list[Component] = field(default_factory=list)  # context and allocator slack

    @property
    def peak_allocated(self) -> int:
        return sum(c.bytes for c in self.components)

    @property
    def peak_device(self) -> int:
        return self.peak_allocated + sum(c.bytes for c in self.extra)

    def as_dict(self) -> dict[str, object]:
        return {
            "peak_allocated_gib": round(self.peak_allocated / GIB, 3),
            "peak_device_gib": round(self.peak_device / GIB, 3),
            "peak_moment": self.peak_moment,
            "parameters": self.parameters,
            "trainable_parameters": self.trainable_parameters,
            "breakdown": [
                {
                    "key": c.key,
                    "label": c.label,
                    "gib": round(c.bytes / GIB, 4),
                    "bytes": c.bytes,
                    "note": c.note,
                }
                for c in [*self.components, *self.extra]
            ],
            "moments_gib": {name: round(value / GIB, 3) for name, value in self.moments.items()},
        }


def _round(nbytes: float) -> int:
    """One tensor's allocation: rounded up to the allocator's block."""
    return -(-int(nbytes) // BLOCK) * BLOCK if nbytes > 0 else 0


def _targets(shape: ModelShape, setup: TrainingSetup) -> tuple[str, ...]:
    wanted = [t.lower() for t in setup.lora_targets]
    if wanted == ["all"]:
        return ALL_LINEAR
    names = {linear.name for linear in shape.linears}
    unknown = [t for t in wanted if t not in names]
    if unknown:
        raise ConfigError(
            f"lora target {', '.join(unknown)} is not a linear layer of this model",
            where="--lora-target",
            fix=f"use all, or some of {', '.join(ALL_LINEAR)}",
        )
    return tuple(wanted)


def check_setup(setup: TrainingSetup) -> None:
    problems = []
    if setup.batch_size < 1 or setup.cutoff < 8:
        problems.append("batch size must be >= 1 and cutoff >= 8")
    if setup.gpus < 1:
        problems.append("gpus must be >= 1")
    if setup.sharding != "none" and setup.gpus < 2:
        problems.append("sharding (FSDP) needs --gpus 2 or more")
    if setup.method == "qlora" and setup.sharding != "none":
        problems.append("FSDP cannot shard QLoRA's 4-bit weights (the training loop refuses it)")
    if problems:
        raise ConfigError("; ".join(problems), where="estimate", fix="correct the options above")


def estimate_training(shape: ModelShape, setup: TrainingSetup) -> Estimate:
    """The peak of one steady-state training step on one device."""
    check_setup(setup)
    a = WIDTH[setup.precision]
    h, v, layers = shape.hidden, shape.vocab, shape.layers
    tokens = setup.batch_size * setup.cutoff
    trained_tokens = setup.batch_size * (setup.cutoff - 1)  # at most: every shifted label of full rows
    method = setup.method
    lora = method in ("lora", "qlora")
    targets = _targets(shape, setup) if lora else ()
    shards = setup.gpus if setup.sharding != "none" else 1

    # --- weights ---------------------------------------------------------------------------------
    layer_tensors = [linear.fan_in * linear.fan_out for linear in shape.linears]
    layer_biases = [linear.fan_out for linear in shape.linears if linear.bias]
    norms = [h, h]
    trained_layers = min(FREEZE_TRAINABLE_LAYERS, layers) if method == "freeze" else 0

    def layer_bytes(width: float, quantized: bool = False) -> int:
        if quantized:  # bitsandbytes quantizes the linear weights; norms and biases stay (fp32 after peft)
            return sum(_round(n * NF4_BYTES) for n in layer_tensors) + sum(
                _round(FP32 * n) for n in [*layer_biases, *norms]
            )
        return sum(_round(width * n) for n in [*layer_tensors, *layer_biases, *norms])

    embed = shape.embedding_parameters
    head = shape.head_parameters
    trainable = 0
    if method == "full":
        weights = layers * layer_bytes(FP32) + _round(FP32 * embed) + _round(FP32 * head) + _round(FP32 * h)
        trainable = shape.parameters
        weights_note = "every weight in fp32 (the trained master copy)"
    elif method == "freeze":
        weights = (
            (layers - trained_layers) * layer_bytes(a)
            + trained_layers * layer_bytes(FP32)
            + _round(a * embed)
            + _round(a * head)
            + _round(a * h)
        )
        trainable = trained_layers * shape.layer_parameters
        weights_note = f"frozen in {setup.precision}, the last {trained_layers} layers in fp32 (trained)"
    elif method == "qlora":
        # peft's prepare_model_for_kbit_training casts every non-quantized weight to fp32
        weights = (
            layers * layer_bytes(0, quantized=True)
            + _round(FP32 * embed)
            + _round(FP32 * head)
            + _round(FP32 * h)
        )
        weights_note = "linear layers in 4-bit nf4 (double quantization); embeddings, head, norms in fp32"
    else:
        weights = layers * layer_bytes(a) + _round(a * embed) + _round(a * head) + _round(a * h)
        weights_note = f"frozen base in {setup.precision}"
    adapter_tensors: list[int] = []
    if lora:
        for linear in shape.linears:
            if linear.name in targets:
                adapter_tensors += [setup.lora_rank * linear.fan_in, setup.lora_rank * linear.fan_out]
        adapter_tensors = adapter_tensors * layers
        trainable = sum(adapter_tensors)
    adapters = sum(_round(FP32 * n) for n in adapter_tensors)
    trained_tensors = (
        adapter_tensors
        if lora
        else (layer_tensors + layer_biases + norms) * (layers if method == "full" else trained_layers)
        + ([embed, h] + ([head] if head else []) if method == "full" else [])
    )
    gradients = sum(_round(FP32 * n) for n in trained_tensors)
    states = 2 * gradients
    if setup.device == "cpu":  # AdamW's step counters (one scalar tensor per parameter; on the CPU)
        states += len(trained_tensors) * BLOCK
    if shards > 1:  # FSDP: each rank holds 1/N of the parameters, gradients and moments
        weights, adapters = weights // shards, adapters // shards
        gradients, states = gradients // shards, states // shards

    # DDP (several GPUs, not sharded): the reducer's buckets hold a flat copy of the gradients
    buckets = gradients if setup.gpus > 1 and shards == 1 else 0

    # --- the batch -------------------------------------------------------------------------------
    mask_width = a
    batch = 3 * _round(8 * tokens) + _round(mask_width * setup.batch_size * setup.cutoff**2)

    # --- activations -----------------------------------------------------------------------------
    adapter_names = tuple(targets)
    if lora:
        regime = Regime(False, a, adapter_names, setup.lora_rank)
        stream = FP32 if method == "qlora" or a == FP32 else a
    elif method == "full":
        regime = Regime(True, a)
        stream = FP32
    else:
        regime = Regime(True, a)
        stream = a
    full_layer = saved_per_token(shape, regime) * tokens + weight_copies(shape, regime)
    if method == "freeze":
        active_layers = trained_layers
        first = full_layer
    else:
        active_layers = layers
        first = (
            saved_per_token(shape, regime, input_needs_grad=False) * tokens + weight_copies(shape, regime)
            if lora and not setup.recompute
            else full_layer
        )
    autocast_cache = 0
    if setup.recompute:  # each layer keeps its input; its activations come back during its backward
        saved_layers = layers * _round(stream * h * tokens)
        layer_backward = full_layer
        # autocast keeps its compute-dtype copies of fp32 weights until the forward pass ends
        autocast_cache = active_layers * weight_copies(shape, regime)
    else:
        saved_layers = first + (active_layers - 1) * full_layer
        layer_backward = 0
    # the backward of one layer: gradients of its largest activations (MLP: 3 of tokens x intermediate)
    layer_backward += 3 * a * shape.intermediate * tokens + 2 * stream * h * tokens

    # --- the final norm, the head and the loss ---------------------------------------------------
    head_trainable = method == "full"
    final_width = FP32 if (head_trainable or a == FP32) else a
    # the final norm keeps its fp32 input (and x * rsqrt when its weight trains); its output is alive
    # while the loss runs
    final_saved = _round(FP32 * h * tokens) * (2 if head_trainable else 1)
    normed = _round(final_width * h * tokens)
    head_rows = head or embed
    ce = setup.cross_entropy
    loss_fwd, loss_bwd = _loss_buffers(ce, a, head_trainable, tokens, trained_tokens, h, v)
    loss_note = {
        "full": "the model's own loss: logits of every token (fp32 log-softmax kept for backward)",
        "chunked": f"chunked cross-entropy: logits of {min(CE_CHUNK, trained_tokens)} tokens at a time",
        "liger": "liger-kernel's fused linear cross-entropy (estimated as the chunked loss)",
    }[ce]
    head_grad = FP32 * head_rows if head_trainable else 0
    persistent = weights + adapters + states + batch + buckets
    before_loss = persistent + saved_layers + final_saved + normed
    moments = {
        "forward (loss)": before_loss + loss_fwd + autocast_cache,
        "backward start": before_loss + loss_bwd,
        "backward end": persistent + gradients + layer_backward + (first if not setup.recompute else 0),
        "optimizer step": persistent + gradients + _optimizer_temporaries(trained_tensors, setup, shards),
    }
    peak_moment = max(moments, key=lambda name: moments[name])
    activation_note = (
        f"recompute on: each layer's input kept ({stream} bytes x hidden per token)"
        if setup.recompute
        else "recompute off: every layer's saved tensors"
    )
    weights_label = {"full": "weights (fp32)", "qlora": "weights (nf4 + fp32)"}.get(
        method, f"weights ({setup.precision})"
    )
    base = [
        Component("weights", weights_label, weights, weights_note),
        Component(
            "adapters", "LoRA adapters (fp32)", adapters, f"rank {setup.lora_rank}: {', '.join(targets)}"
        )
        if lora
        else None,
        Component("optimizer_states", "AdamW moments (fp32 x 2)", states, "exp_avg, exp_avg_sq"),
        Component("batch", "batch and attention mask", batch, "ids, labels, positions; 4D block-causal mask"),
        Component("ddp_buckets", "DDP gradient buckets (fp32)", buckets, "data-parallel all-reduce")
        if buckets
        else None,
    ]
    rest = {
        "forward (loss)": [
            Component(
                "activations",
                "activations",
                saved_layers + final_saved + normed + autocast_cache,
                activation_note,
            ),
            Component("loss", "logits and loss buffers", loss_fwd, loss_note),
        ],
        "backward start": [
            Component("activations", "activations", saved_layers + final_saved + normed, activation_note),
            Component(
                "loss",
                "logits and loss buffers",
                loss_bwd,
                loss_note + "; with lm_head's gradient" if head_grad else loss_note,
            ),
        ],
        "backward end": [
            Component("gradients", "gradients (fp32)", gradients, "every trained weight"),
            Component(
                "activations",
                "activations",
                layer_backward + (first if not setup.recompute else 0),
                "the first layer's backward" + (" (recomputed)" if setup.recompute else ""),
            ),
        ],
        "optimizer step": [
            Component("gradients", "gradients (fp32)", gradients, "every trained weight"),
            Component(
                "optimizer_temp",
                "optimizer step temporaries",
                moments["optimizer step"] - persistent - gradients,
                "AdamW's sqrt(exp_avg_sq), all at once (foreach) on a GPU",
            ),
        ],
    }[peak_moment]
    components = [c for c in [*base, *rest] if c is not None]
    extra = []
    if setup.device == "cuda":
        extra = [
            Component("cuda_context", "CUDA context and workspaces", CUDA_CONTEXT, "assumed, not measured"),
            Component(
                "allocator",
                "allocator slack",
                int(ALLOCATOR_SLACK * moments[peak_moment]),
                f"{ALLOCATOR_SLACK:.0%} of the peak, assumed",
            ),
        ]
    return Estimate(components, peak_moment, moments, shape.parameters, trainable, extra)


def _loss_buffers(
    kind: str, a: int, head_trainable: bool, tokens: int, trained: int, h: int, v: int
) -> tuple[int, int]:
    """Bytes the loss adds over the hidden states at its forward peak and at its backward peak.

    Counted from the tensors of :mod:`stockade.training.loss` and transformers' ForCausalLMLoss, per
    ``c x vocab`` (c: the chunk, or every token for the full loss), ``vocab x hidden`` (lm_head's
    weight: autocast copy, gradient) and ``tokens x hidden``; tests/resources checks them on fake
    tensors."""
    mixed = a != FP32
    th, vh = tokens * h, v * h
    if kind == "full":
        cv = tokens * v
        head = (2 * vh + 2 * th) if (head_trainable and mixed) else 0
        return (10 if mixed else 8) * cv + head, 12 * cv + head
    chunk = min(CE_CHUNK, trained)
    cv = chunk * v
    several = trained > CE_CHUNK  # the previous piece's fp32 logits are still alive when the next starts
    if head_trainable:  # the weight's autocast copy and its gradient pieces
        if several:
            forward = (14 if mixed else 12) * cv + (6 if mixed else 4) * vh + 8 * th
        else:
            forward = 10 * cv + 8 * vh + 16 * th if mixed else 8 * cv + 8 * vh + 8 * th
    else:
        if several:
            forward = (14 if mixed else 12) * cv + (6 if mixed else 8) * th
        else:
            forward = 10 * cv + 8 * th if mixed else 8 * cv + 12 * th
    return forward, forward  # a piece's backward stays below its forward (measured)


def _optimizer_temporaries(tensors: list[int], setup: TrainingSetup, shards: int) -> int:
    """AdamW on CUDA runs foreach (``sqrt(exp_avg_sq)`` for a whole parameter group at once); on the
    CPU one tensor at a time (two temporaries of the largest tensor)."""
    if not tensors:
        return 0
    if setup.device == "cuda":
        return sum(_round(FP32 * n) for n in tensors) // shards
    return 2 * _round(FP32 * max(tensors))
