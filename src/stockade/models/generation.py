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


def generate_once(
    model_dir: Path,
    prompt: str,
    *,
    max_new_tokens: int = 8,
    adapter: Path | None = None,
    template: str | None = None,
) -> Generation:
    """Greedy generation from one user message, formatted with a chat template (the model's own, or a
    built-in one by name), optionally through a LoRA adapter (e.g. a run's ``adapter/`` folder)."""
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
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, use_safetensors=True)
    if adapter is not None:
        if not (adapter / "adapter_config.json").is_file():
            raise ModelReferenceError(
                "not an adapter folder (no adapter_config.json)",
                where=str(adapter),
                fix="use a run's adapter/ folder (see `stockade runs show RUN_ID`)",
            )
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    ids = torch.tensor([_prompt_ids(tokenizer, prompt, template)])
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


def _prompt_ids(tokenizer: object, prompt: str, template: str | None) -> list[int]:
    """The prompt as the model saw prompts in training: the same template, up to the answer."""
    from stockade.data.records import Conversation
    from stockade.data.templates import resolve_template

    chosen = resolve_template(template, tokenizer)
    # Render a conversation with a placeholder answer; keep every segment before the answer.
    conversation = Conversation(
        messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": "-"}]
    )
    segments = chosen.render(conversation, tokenizer)
    prefix = "".join(
        segment.text for segment in segments[: next(i for i, s in enumerate(segments) if s.trainable)]
    )
    return tokenizer(prefix, add_special_tokens=False)["input_ids"]
