"""Build the engine for a :class:`ServeTarget`: the backend the spec chooses, on the best device."""

from __future__ import annotations

from typing import Any

from stockade.serving.target import ServeTarget


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_engine(target: ServeTarget, spec: Any) -> Any:
    """The engine (not started). hf: transformers with continuous batching; vllm: optional, GPU only."""
    from stockade.serving.hf_loader import DEFAULT_MAX_CONTEXT

    if spec.infer_backend == "vllm":
        from stockade.core.errors import StockadeError
        from stockade.serving.vllm_engine import VllmEngine

        if target.adapter is not None or target.adapters:
            raise StockadeError(
                "the vllm backend serves merged models only (no --adapter or --adapters)",
                fix="export a merged version first, or serve the adapters with --infer_backend hf",
            )
        if spec.load_in_4bit or spec.load_in_8bit:
            raise StockadeError(
                "--load_in_4bit / --load_in_8bit are for the hf backend",
                fix="serve with --infer_backend hf, or drop the flag",
            )
        return VllmEngine(
            target.path,
            model_id=target.label,
            context=spec.max_model_len or DEFAULT_MAX_CONTEXT,
            max_batch_size=spec.max_batch_size,
            max_waiting=spec.max_queue,
        )
    from stockade.serving.hf_engine import HFEngine
    from stockade.serving.hf_loader import context_length, eos_token_ids, load_model

    where = device()
    model, tokenizer = load_model(
        target.path,
        adapter=target.adapter,
        device=where,
        load_in_4bit=spec.load_in_4bit,
        load_in_8bit=spec.load_in_8bit,
        precision=target.precision,
        allow_pickle=target.allow_pickle,
        adapters=[(a.label, a.path) for a in target.adapters],
    )
    return HFEngine(
        model,
        tokenizer,
        model_id=target.label,
        context=context_length(model, spec.max_model_len),
        max_batch_size=spec.max_batch_size,
        max_waiting=spec.max_queue,
        eos_token_ids=eos_token_ids(model, tokenizer),
        cuda_graphs=spec.cuda_graphs and where == "cuda",
    )


def chat_template(target: ServeTarget, tokenizer: Any) -> Any:
    from stockade.data.templates import resolve_template

    return resolve_template(target.template, tokenizer)
