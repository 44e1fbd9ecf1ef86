"""Load a local model offline and generate a few tokens: the demo's and smoke checks' last step."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from stockade.core.errors import DependencyMissing, ModelReferenceError


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float


def _require_training_stack() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ModuleNotFoundError as exc:
        raise DependencyMissing(
            f"{exc.name} is not installed",
            fix="pip install torch==2.13.0 && pip install 'stockade[train]'",
        ) from None


def generate_once(model_dir: Path, prompt: str, *, max_new_tokens: int = 8) -> Generation:
    """Greedy generation from one user message, formatted with the model's chat template."""
    if not (model_dir / "config.json").is_file():
        raise ModelReferenceError(
            "not a model folder (no config.json)",
            where=str(model_dir),
            fix="build one with `stockade dev tiny-model --arch qwen2 --out DIR`",
        )
    _require_training_stack()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    messages = [{"role": "user", "content": prompt}]
    if tokenizer.chat_template:
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
    else:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        output = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        )
    new = output[0, ids.shape[1] :]
    return Generation(
        text=tokenizer.decode(new, skip_special_tokens=True),
        prompt_tokens=int(ids.shape[1]),
        new_tokens=int(new.shape[0]),
        seconds=time.perf_counter() - started,
    )
