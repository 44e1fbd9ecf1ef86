"""Run one model over held-out conversations: greedy answers to the last turn, and teacher-forced
loss over every answer token (the same template and label masking as training).

Both are batched. Answers come from the serving engine (stockade.serving.hf_engine), driven in this
process: every prompt is queued at once and the engine decodes up to ``batch_size`` of them per forward
pass, admitting the next ones as rows finish (continuous batching), greedily, with the model's own
repetition penalty and end tokens, as ``model.generate(do_sample=False)`` would. The loss runs the
encoded conversations in length-sorted, right-padded batches of at most ``LOSS_BATCH_TOKENS`` tokens.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import DependencyMissing, StockadeError
from stockade.data.records import Conversation
from stockade.evaluation.metrics import perplexity, score_pair

METRICS = ("rouge_l", "bleu4_char", "bleu4_word", "exact_match")
CUTOFF_LEN = 4096
DEFAULT_BATCH_SIZE = 32  # answers decoded together (the engine's slots)
LOSS_BATCH_TOKENS = 8192  # padded tokens per teacher-forced batch

Progress = Callable[[int, int], None]
"""Called with (answers done, answers in all) as the evaluation goes."""


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


def load_model(
    model_dir: Path, adapter_dir: Path | None, allow_pickle: bool = False, *, merge: bool = False
) -> tuple[Any, Any]:
    """``merge``: fold an adapter into the weights (the serving engine needs a plain model)."""
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
        if merge:
            model = model.merge_and_unload()
    model.to("cuda" if cuda else "cpu").eval()
    return model, tokenizer


def prompt_ids(template: Any, tokenizer: Any, example: Example) -> list[int]:
    """The conversation up to the last answer, as the model sees it before answering."""
    segments = template.render(example.conversation, tokenizer)
    last = max(i for i, segment in enumerate(segments) if segment.trainable)
    prompt = "".join(segment.text for segment in segments[:last])
    return list(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def greedy_params(model: Any, max_new_tokens: int) -> Any:
    """Greedy decoding with the model's own repetition penalty (generation_config.json), which
    ``model.generate(do_sample=False)`` applies too."""
    from stockade.serving.params import GenerationParams

    penalty = getattr(getattr(model, "generation_config", None), "repetition_penalty", None)
    return GenerationParams(
        max_new_tokens=max_new_tokens,
        repetition_penalty=penalty if penalty not in (None, 1.0) else None,
    )


def generate_batched(
    model: Any,
    tokenizer: Any,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_answer: Callable[[], None] | None = None,
) -> tuple[list[list[int]], Any]:
    """Greedy answers (token ids, end token included) to ``prompts`` through an in-process
    :class:`~stockade.serving.hf_engine.HFEngine`; returns them with the engine's counters."""
    import asyncio

    from stockade.serving.hf_engine import HFEngine
    from stockade.serving.hf_loader import eos_token_ids

    if not prompts:
        raise StockadeError("no prompts to answer", fix="evaluate at least one record")
    native = getattr(model.config, "max_position_embeddings", None)
    longest = max(len(p) for p in prompts)
    if native and longest >= native:
        position = next(i for i, p in enumerate(prompts) if len(p) == longest)
        raise StockadeError(
            f"the prompt of record {position} (counting from 0) has {longest} tokens, the model's "
            f"context is {native}",
            fix="evaluate on shorter records (or leave the longest out)",
        )
    context = longest + max_new_tokens if not native else min(native, longest + max_new_tokens)
    params = greedy_params(model, max_new_tokens)
    engine = HFEngine(
        model,
        tokenizer,
        model_id="eval",
        context=context,
        max_batch_size=max(1, min(batch_size, len(prompts))),
        max_waiting=len(prompts),
        eos_token_ids=eos_token_ids(model, tokenizer),
    )

    async def answer(ids: list[int]) -> list[int]:
        room = context - len(ids)
        wanted = params if params.max_new_tokens <= room else _with_tokens(params, room)
        handle = engine.submit(ids, wanted)
        tokens: list[int] = []
        while True:
            event = await handle.events.get()
            if event.error is not None:
                raise event.error
            tokens.append(event.token_id)
            if event.finish:
                if on_answer:
                    on_answer()
                return tokens

    async def answer_all() -> list[list[int]]:
        return list(await asyncio.gather(*(answer(ids) for ids in prompts)))

    switch = sys.getswitchinterval()
    engine.start()
    try:
        outputs = asyncio.run(answer_all())
    finally:
        engine.stop()
        sys.setswitchinterval(switch)  # the engine shortens it for a server's sake
    return outputs, engine.counters()


def _with_tokens(params: Any, count: int) -> Any:
    from dataclasses import replace

    return replace(params, max_new_tokens=count)


def _loss_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices grouped by length (longest first), each group's padded size within ``budget`` tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        if batches and lengths[batches[-1][0]] * (len(batches[-1]) + 1) <= budget:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def teacher_forced_nll(model: Any, encoded: list[Any], budget: int = LOSS_BATCH_TOKENS) -> list[float]:
    """Each encoded conversation's summed negative log-likelihood of its answer tokens (nats), the
    sum behind ``model(input_ids, labels=...).loss`` (shifted labels, -100 ignored), computed in
    right-padded batches; the LM head runs only where a label is."""
    import torch

    decoder, head = model.get_decoder(), model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    device = next(model.parameters()).device
    sums = [0.0] * len(encoded)
    for batch in _loss_batches([len(e.input_ids) for e in encoded], budget):
        width = len(encoded[batch[0]].input_ids)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            item = encoded[index]
            size = len(item.input_ids)
            ids[row, :size] = torch.tensor(item.input_ids)
            labels[row, :size] = torch.tensor(item.labels)
            mask[row, :size] = 1
        ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
        with torch.inference_mode():
            hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
            targets = labels[:, 1:]
            where = targets != -100
            logits = head(hidden[where]).float()
            if softcap:
                logits = torch.tanh(logits / softcap) * softcap
            nll = torch.nn.functional.cross_entropy(logits, targets[where], reduction="none")
            rows = where.nonzero()[:, 0]
            per_row = torch.zeros(len(batch), dtype=torch.float64, device=device)
            per_row.index_add_(0, rows, nll.double())
        for row, index in enumerate(batch):
            sums[index] = float(per_row[row])
    return sums


def run_model(
    model: Any,
    tokenizer: Any,
    template_name: str | None,
    examples: list[Example],
    *,
    max_new_tokens: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_answer: Callable[[], None] | None = None,
) -> ModelResult:
    """``on_answer`` is called once per finished answer (a progress bar)."""
    from stockade.data.templates import resolve_template
    from stockade.data.tokenization import EncodedExample, encode_conversation

    template = resolve_template(template_name, tokenizer)
    prompts = [prompt_ids(template, tokenizer, example) for example in examples]
    answers, _ = generate_batched(
        model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, on_answer=on_answer
    )
    result = ModelResult([], [])
    for example, tokens in zip(examples, answers, strict=True):
        text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
        result.outputs.append(text)
        result.scores.append(score_pair(text, example.reference.strip()))
    encoded = [
        e
        for e in (
            encode_conversation(example.conversation, tokenizer, template, cutoff_len=CUTOFF_LEN)
            for example in examples
        )
        if isinstance(e, EncodedExample)
    ]
    if encoded:
        result.nll = sum(teacher_forced_nll(model, encoded))
        result.tokens = sum(e.trainable_tokens for e in encoded)
    count = max(1, len(result.scores))
    result.metrics = {name: sum(s[name] for s in result.scores) / count for name in METRICS}
    result.metrics["loss"] = result.nll / result.tokens if result.tokens else math.nan
    result.metrics["perplexity"] = perplexity(result.nll, result.tokens)
    return result
