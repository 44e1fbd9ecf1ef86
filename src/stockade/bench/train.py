"""Training throughput: Stockade's LoRA path against LLaMA-Factory's default, in the same run.

    python -m stockade.bench.train --shape qwen2.5-7b --steps 20 --device cuda
    python -m stockade.bench.train --shape tiny --steps 3 --device cpu

The model is built from a config alone with random weights (no hub, no download): ``qwen2.5-7b`` has the
real Qwen2.5-7B shape (bf16 on GPU), ``tiny`` is a 2-layer Qwen2 for CPU. The data is random tokens with
a realistic SFT length mix: log-normal, median 270 tokens, capped at 1024 (seeded), the first ~30 % of
each example masked as prompt. LoRA r=8 on every linear layer in both runs.

* **baseline**: what LLaMA-Factory does by default: batches of 4 padded to the longest, gradient
  checkpointing on, SDPA attention, bf16 on GPU (fp32 on CPU), the model's own cross-entropy over the
  full logits (upcast to fp32).
* **stockade**: examples packed into rows of ``cutoff_len`` tokens with per-example position ids and a
  block-causal mask (:mod:`stockade.data.packing`), gradient checkpointing off when memory allows,
  chunked cross-entropy over hidden states x lm_head weight that never holds the full logits (or
  liger-kernel's fused linear cross-entropy when installed, on CUDA), optional ``torch.compile`` of the
  decoder layers and liger kernels.

Reported for each: real (non-padding) tokens/s, peak memory (``torch.cuda.max_memory_allocated``, or
the process's peak RSS sampled during the phase on CPU), MFU, final loss; and Stockade/baseline ratios.

MFU convention: FLOPs = 4 x N x real tokens, N = parameters of the base model's matmuls (embedding table
excluded, lm_head included): forward 2N, backward through the activations 2N, no weight gradients for the
frozen base (LoRA's own are negligible); attention score FLOPs and gradient-checkpointing recompute are
not counted (so recompute lowers MFU). Peak: 989 TFLOPS, the dense bf16 peak of H100 SXM (H200 is the
same); 312 for A100; ``--peak-tflops`` overrides; no MFU on CPU.

Imports: only torch, transformers, peft (and liger-kernel when present), the standard library and
Stockade modules that need nothing else - the GPU machine has nothing more.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import random
import resource
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stockade.core import offline

IGNORE_INDEX = -100
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
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0, "A800": 312.0}
MFU_CONVENTION = (
    "FLOPs = 4 * N * real_tokens (N = base matmul params, embedding excluded, lm_head included; "
    "forward 2N + activation-gradient backward 2N, frozen base has no weight gradients; attention "
    "scores and checkpointing recompute not counted); peak = dense bf16 (H100/H200 SXM: 989 TFLOPS)"
)


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


@dataclass
class Phase:
    name: str
    settings: dict[str, Any]
    tokens: int = 0
    slots: int = 0  # token positions computed, padding included
    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    peak_bytes: int = 0


def import_packing() -> types.ModuleType:
    """:mod:`stockade.data.packing`, also where pydantic is missing (the bare GPU machine).

    packing itself needs only the stdlib and torch; its ``IGNORE_INDEX`` import pulls in the tokenizer
    module and with it pydantic. Without pydantic a stand-in for that one constant is used.
    """
    try:
        from stockade.data import packing
    except ImportError:
        shim = types.ModuleType("stockade.data.tokenization")
        shim.IGNORE_INDEX = IGNORE_INDEX  # type: ignore[attr-defined]
        sys.modules["stockade.data.tokenization"] = shim
        from stockade.data import packing
    return packing


def make_examples(
    count: int, vocab: int, *, seed: int, median: int = 270, sigma: float = 0.8, cap: int = 1024
):
    """``count`` random examples, lengths log-normal (median ``median``), 16..``cap`` tokens."""
    rng = random.Random(seed)  # noqa: S311 - reproducible benchmark data, not a secret
    examples = []
    for _ in range(count):
        length = max(16, min(cap, round(rng.lognormvariate(math.log(median), sigma))))
        ids = [rng.randrange(4, vocab) for _ in range(length)]
        prompt = max(1, int(0.3 * length))
        examples.append(Example(ids, [IGNORE_INDEX] * prompt + ids[prompt:]))
    return examples


def build_model(shape: str, device: Any, dtype: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(**SHAPES[shape], use_cache=False)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.requires_grad_(False)
    return model


def add_lora(model: Any, seed: int) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    return get_peft_model(model, config)


def set_checkpointing(model: Any, on: bool) -> None:
    """Gradient (activation) checkpointing on or off; transformers 5.x renamed the methods."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        if on:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.activation_checkpointing_disable()
    elif on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_disable()


def matmul_params(model: Any) -> int:
    """Parameters that take part in matmuls: everything but the input embedding table (lm_head counted)."""
    embed = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not embed and p.dim() >= 2)


def chunked_cross_entropy(hidden: Any, weight: Any, labels: Any, chunk: int = 1024) -> Any:
    """Mean shifted cross-entropy of ``hidden @ weight.T`` without the full logits.

    Each chunk of ``chunk`` tokens is computed under activation checkpointing: its fp32 logits live only
    while that chunk's loss (forward) or gradient (backward) is computed.
    """
    import torch
    from torch.utils.checkpoint import checkpoint

    hidden = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1)
    keep = targets != IGNORE_INDEX
    hidden, targets = hidden[keep], targets[keep]
    count = targets.numel()
    if count == 0:
        return hidden.sum() * 0.0

    def piece(h: Any, w: Any, t: Any) -> Any:
        logits = (h @ w.T).float()
        return torch.nn.functional.cross_entropy(logits, t, reduction="sum")

    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, count, chunk):
        end = start + chunk
        total = total + checkpoint(piece, hidden[start:end], weight, targets[start:end], use_reentrant=False)
    return total / count


class PeakMemory:
    """Peak memory of one phase: CUDA allocator peak, or the process RSS sampled every 5 ms on CPU."""

    def __init__(self, device: Any) -> None:
        self.cuda = device.type == "cuda"
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        import torch

        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            if self._thread:
                self._thread.join()
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def baseline_batches(
    examples: list[Example], batch_size: int, pad_id: int
) -> Iterator[tuple[dict[str, Any], int]]:
    """(tensors, real tokens) per batch of ``batch_size`` examples, right-padded to the longest."""
    import torch

    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        width = max(len(e.input_ids) for e in batch)
        ids = [e.input_ids + [pad_id] * (width - len(e.input_ids)) for e in batch]
        labels = [e.labels + [IGNORE_INDEX] * (width - len(e.labels)) for e in batch]
        mask = [[1] * len(e.input_ids) + [0] * (width - len(e.input_ids)) for e in batch]
        tensors = {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }
        yield tensors, sum(len(e.input_ids) for e in batch)


def packed_batches(
    examples: list[Example], packing: Any, *, cutoff_len: int, rows: int, mode: str, dtype: Any, pad_id: int
) -> Iterator[tuple[dict[str, Any], int]]:
    packed = packing.pack_examples(examples, cutoff_len)
    for start in range(0, len(packed), rows):
        chunk = packed[start : start + rows]
        tensors = packing.collate_packed(chunk, pad_token_id=pad_id, mode=mode, dtype=dtype)
        yield tensors, sum(len(row) for row in chunk)


def run_phase(phase: Phase, model: Any, batches: list[Any], warmup: int, loss_fn: Any, device: Any) -> None:
    """Train on ``batches`` of (tensors, real tokens); the first ``warmup`` are not timed."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        for index, (cpu_batch, real) in enumerate(batches):
            if index == warmup:
                _sync(device)
                started = time.perf_counter()
            batch = {k: v.to(device, non_blocking=True) for k, v in cpu_batch.items()}
            loss = loss_fn(model, batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if index >= warmup:
                phase.steps += 1
                phase.tokens += real
                phase.slots += cpu_batch["input_ids"].numel()
                phase.losses.append(float(loss.detach()))
        _sync(device)
        phase.seconds = time.perf_counter() - started
    phase.peak_bytes = memory.peak
    del optimizer


def report(phase: Phase, flops_per_token: float, peak_flops: float | None) -> dict[str, Any]:
    tps = phase.tokens / phase.seconds if phase.seconds else 0.0
    mfu = (flops_per_token * tps / peak_flops) if peak_flops else None
    final = phase.losses[-1] if phase.losses else float("nan")
    return {
        "settings": phase.settings,
        "steps": phase.steps,
        "real_tokens": phase.tokens,
        "token_slots": phase.slots,
        "padding_fraction": round(1 - phase.tokens / phase.slots, 4) if phase.slots else None,
        "seconds": round(phase.seconds, 3),
        "tokens_per_s": round(tps, 1),
        "peak_memory_bytes": phase.peak_bytes,
        "peak_memory_gib": round(phase.peak_bytes / 2**30, 3),
        "mfu": round(mfu, 4) if mfu is not None else None,
        "loss": final,
        "loss_finite": math.isfinite(final),
    }


def peak_tflops(device: Any, override: float | None) -> tuple[float | None, str]:
    import torch

    if override:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "cpu: no MFU"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_TFLOPS.items():
        if key in name:
            return value, name
    return None, f"{name}: unknown peak, pass --peak-tflops"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stockade.bench.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--steps", type=int, default=10, help="timed baseline steps (batches of 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before each measurement")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda if available")
    parser.add_argument("--batch-size", type=int, default=4, help="baseline examples per step")
    parser.add_argument("--cutoff-len", type=int, default=1024, help="packed row length (and length cap)")
    parser.add_argument("--pack-rows", type=int, default=2, help="packed rows per Stockade step")
    parser.add_argument("--ce-chunk", type=int, default=1024, help="tokens per chunked cross-entropy piece")
    parser.add_argument(
        "--stockade-checkpointing",
        choices=["auto", "on", "off"],
        default="auto",
        help="gradient checkpointing for Stockade: auto = off on CPU and on GPUs with >= 40 GiB",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder layers (Stockade)")
    parser.add_argument("--liger", action="store_true", help="liger-kernel ops and fused CE, if installed")
    parser.add_argument("--peak-tflops", type=float, default=None, help="accelerator peak for MFU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--json-out", default=None, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    offline.activate()
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    packing = import_packing()
    vocab = SHAPES[args.shape]["vocab_size"]
    pad_id = 0
    per_phase = args.batch_size * (args.steps + args.warmup)
    examples = make_examples(per_phase, vocab, seed=args.seed, cap=args.cutoff_len)
    warm, timed = examples[: args.batch_size * args.warmup], examples[args.batch_size * args.warmup :]

    model = build_model(args.shape, device, dtype)
    n_matmul = matmul_params(model)
    peak, peak_source = peak_tflops(device, args.peak_tflops)
    peak_flops = peak * 1e12 if peak else None
    flops_per_token = 4.0 * n_matmul

    # (a) baseline: padded batches, gradient checkpointing, the model's own full-logits loss.
    set_checkpointing(model, True)
    lora_model = add_lora(model, args.seed)
    base_batches = list(baseline_batches(warm, args.batch_size, pad_id)) + list(
        baseline_batches(timed, args.batch_size, pad_id)
    )
    baseline = Phase(
        "baseline",
        {
            "batch": f"{args.batch_size} examples padded to the longest",
            "gradient_checkpointing": True,
            "attention": "sdpa",
            "dtype": str(dtype).removeprefix("torch."),
            "loss": "model(labels=...) full logits, fp32",
        },
    )
    warm_base = len(list(baseline_batches(warm, args.batch_size, pad_id)))
    run_phase(baseline, lora_model, base_batches, warm_base, lambda m, b: m(**b).loss, device)
    model = lora_model.unload()  # drop the adapters: the same base for Stockade
    del lora_model, base_batches
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()

    # (b) Stockade: packed rows, block-causal mask, chunked CE, no checkpointing when memory allows.
    checkpointing = args.stockade_checkpointing == "on" or (
        args.stockade_checkpointing == "auto"
        and device.type == "cuda"
        and torch.cuda.get_device_properties(device).total_memory < 40 * 2**30
    )
    set_checkpointing(model, checkpointing)
    mode = packing.configure_model_for_packing(model)
    liger = _apply_liger(model, device) if args.liger else "off"
    stockade_model = add_lora(model, args.seed)
    causal_lm = stockade_model.get_base_model()
    if args.compile:  # after the adapters are in place, so that they are traced too
        for layer in causal_lm.model.layers:
            layer.compile()
    fused = _liger_fused_ce() if args.liger and liger == "on" else None

    def stockade_loss(m: Any, batch: dict[str, Any]) -> Any:
        labels = batch.pop("labels")
        hidden = causal_lm.model(**batch).last_hidden_state
        if fused is not None:
            h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
            return fused(causal_lm.lm_head.weight, h, labels[:, 1:].reshape(-1))
        return chunked_cross_entropy(hidden, causal_lm.lm_head.weight, labels, args.ce_chunk)

    def packed(part: list[Example]) -> list[tuple[dict[str, Any], int]]:
        return list(
            packed_batches(
                part,
                packing,
                cutoff_len=args.cutoff_len,
                rows=args.pack_rows,
                mode=mode,
                dtype=dtype,
                pad_id=pad_id,
            )
        )

    warm_packed, timed_packed = packed(warm), packed(timed)
    ours = Phase(
        "stockade",
        {
            "batch": f"packed rows of {args.cutoff_len} tokens, {args.pack_rows} rows per step",
            "packing_mode": mode,
            "gradient_checkpointing": checkpointing,
            "attention": "sdpa, block-causal" if mode == "mask" else "varlen (position ids)",
            "dtype": str(dtype).removeprefix("torch."),
            "loss": "liger fused linear CE" if fused is not None else f"chunked CE ({args.ce_chunk} tokens)",
            "compile": args.compile,
            "liger": liger,
        },
    )
    run_phase(ours, stockade_model, warm_packed + timed_packed, len(warm_packed), stockade_loss, device)

    base_report = report(baseline, flops_per_token, peak_flops)
    our_report = report(ours, flops_per_token, peak_flops)
    result = {
        "benchmark": "train",
        "shape": args.shape,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "matmul_params": n_matmul,
        "examples_timed": len(timed),
        "length_mix": {
            "distribution": "log-normal, median 270, sigma 0.8, 16..cap",
            "cap": args.cutoff_len,
            "mean": round(sum(len(e.input_ids) for e in timed) / max(1, len(timed)), 1),
            "seed": args.seed,
        },
        "lora": {"r": 8, "alpha": 16, "target": "all-linear"},
        "mfu_convention": MFU_CONVENTION,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "baseline": base_report,
        "stockade": our_report,
        "ratio": {
            "tokens_per_s": _ratio(our_report["tokens_per_s"], base_report["tokens_per_s"]),
            "peak_memory": _ratio(our_report["peak_memory_bytes"], base_report["peak_memory_bytes"]),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    print(summary_line(result))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return result


def summary_line(result: dict[str, Any]) -> str:
    base, ours = result["baseline"], result["stockade"]
    mfu = ""
    if ours["mfu"] is not None:
        mfu = f", MFU {ours['mfu']:.1%} vs {base['mfu']:.1%}"
    return (
        f"train bench {result['shape']} on {result['device']}: stockade/baseline "
        f"{result['ratio']['tokens_per_s']}x real tokens/s ({ours['tokens_per_s']:.0f} vs "
        f"{base['tokens_per_s']:.0f}), peak memory {result['ratio']['peak_memory']}x "
        f"({ours['peak_memory_gib']:.2f} vs {base['peak_memory_gib']:.2f} GiB){mfu}"
    )


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _apply_liger(model: Any, device: Any) -> str:
    if device.type != "cuda":
        return "off (needs CUDA)"
    try:
        from liger_kernel.transformers import apply_liger_kernel_to_qwen2
    except ImportError:
        return "off (liger-kernel not installed)"
    try:
        apply_liger_kernel_to_qwen2(
            rope=True,
            rms_norm=True,
            swiglu=True,
            cross_entropy=False,
            fused_linear_cross_entropy=False,
            model=model,
        )
    except Exception as error:  # an incompatible liger version must not sink the benchmark
        return f"off ({type(error).__name__}: {error})"
    return "on"


def _liger_fused_ce() -> Any:
    with contextlib.suppress(ImportError):
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

        return LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX)
    return None


if __name__ == "__main__":
    main()
