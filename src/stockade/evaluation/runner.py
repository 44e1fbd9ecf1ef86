"""Run one model over held-out conversations: greedy answers to the last turn, and teacher-forced
loss over every answer token (the same template and label masking as training)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing
from stockade.data.records import Conversation
from stockade.evaluation.metrics import perplexity, score_pair

METRICS = ("rouge_l", "bleu4_char", "bleu4_word", "exact_match")
CUTOFF_LEN = 4096


@dataclass(frozen=True)
class Example:
    index: int
    conversation: Conversation

    @property
    def reference(self) -> str:
        return self.conversation.messages[-1].content

    @property
    def prompt(self) -> str:
        """The last user turn (what the report shows next to the answers)."""
        return next(t.content for t in reversed(self.conversation.messages[:-1]) if t.role != "system")


@dataclass
class ModelResult:
    outputs: list[str]
    scores: list[dict[str, float]]
    nll: float = 0.0
    tokens: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


def read_examples(path: Path, limit: int | None) -> list[Example]:
    examples = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if limit is not None and index >= limit:
                break
            examples.append(Example(index, Conversation.model_validate(json.loads(line))))
    return examples


def load_model(model_dir: Path, adapter_dir: Path | None, allow_pickle: bool = False) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ModuleNotFoundError as error:
        raise DependencyMissing(
            f"{error.name} is not installed", fix="pip install 'stockade[train]'"
        ) from None
    from stockade.models.store.weights import use_safetensors

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir),
        local_files_only=True,
        dtype=torch.bfloat16 if cuda else torch.float32,
        use_safetensors=use_safetensors(model_dir, allow_pickle),
    )
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.to("cuda" if cuda else "cpu").eval()
    return model, tokenizer


def run_model(
    model: Any,
    tokenizer: Any,
    template_name: str | None,
    examples: list[Example],
    *,
    max_new_tokens: int,
    progress: Callable[[], None] | None = None,
) -> ModelResult:
    import torch

    from stockade.data.templates import resolve_template
    from stockade.data.tokenization import EncodedExample, encode_conversation

    template = resolve_template(template_name, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    result = ModelResult([], [])
    for example in examples:
        segments = template.render(example.conversation, tokenizer)
        last = max(i for i, segment in enumerate(segments) if segment.trainable)
        prompt = "".join(segment.text for segment in segments[:last])
        ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=model.device)
        with torch.inference_mode():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
        result.outputs.append(text)
        result.scores.append(score_pair(text, example.reference.strip()))
        encoded = encode_conversation(example.conversation, tokenizer, template, cutoff_len=CUTOFF_LEN)
        if isinstance(encoded, EncodedExample):
            with torch.inference_mode():
                loss = model(
                    input_ids=torch.tensor([encoded.input_ids], device=model.device),
                    labels=torch.tensor([encoded.labels], device=model.device),
                ).loss
            result.nll += float(loss) * encoded.trainable_tokens
            result.tokens += encoded.trainable_tokens
        if progress:
            progress()
    count = max(1, len(result.scores))
    result.metrics = {name: sum(s[name] for s in result.scores) / count for name in METRICS}
    result.metrics["loss"] = result.nll / result.tokens if result.tokens else math.nan
    result.metrics["perplexity"] = perplexity(result.nll, result.tokens)
    return result
