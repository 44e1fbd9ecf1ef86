"""The evaluation runner is batched: answers come from the serving engine driven in-process (several
answers per forward pass) and equal one-at-a-time greedy ``generate``; the teacher-forced loss of the
padded batches equals each conversation's own ``model(labels=...).loss``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.data.records import Conversation
from stockade.evaluation.runner import Example, _loss_batches, generate_batched, prompt_ids, run_model

torch = pytest.importorskip("torch")
SAMPLES = Path(__file__).resolve().parents[2] / "src/stockade/tasks/samples/risk-report.json"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stockade.models.tiny import build_tiny_model

    path = build_tiny_model("qwen2", tmp_path_factory.mktemp("runner") / "qwen2").path
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval(), tokenizer


def _examples(count: int) -> list[Example]:
    records = json.loads(SAMPLES.read_text(encoding="utf-8"))[:count]  # alpaca: system, instruction...
    return [
        Example(
            i,
            Conversation.model_validate(
                {
                    "messages": [
                        {"role": "system", "content": r["system"]},
                        {"role": "user", "content": f"{r['instruction']}\n{r['input']}"},
                        {"role": "assistant", "content": r["output"]},
                    ]
                }
            ),
        )
        for i, r in enumerate(records)
    ]


def _one_at_a_time(model, tokenizer, ids: list[int], new: int, eos: frozenset[int]) -> list[int]:
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
            max_new_tokens=new,
            do_sample=False,
            eos_token_id=sorted(eos),
            pad_token_id=0,
        )
    return out[0, len(ids) :].tolist()


def test_answers_are_batched_and_equal_one_at_a_time_greedy_generation(tiny) -> None:
    from stockade.data.templates import resolve_template
    from stockade.serving.hf_loader import eos_token_ids

    model, tokenizer = tiny
    template = resolve_template("qwen", tokenizer)
    examples = _examples(12)
    prompts = [prompt_ids(template, tokenizer, e) for e in examples]
    finished: list[int] = []
    answers, counters = generate_batched(
        model, tokenizer, prompts, max_new_tokens=10, batch_size=4, on_answer=lambda: finished.append(1)
    )
    eos = eos_token_ids(model, tokenizer)
    assert answers == [_one_at_a_time(model, tokenizer, ids, 10, eos) for ids in prompts]
    assert len(finished) == len(prompts)
    generated = sum(len(a) for a in answers)
    assert counters.max_rows_in_pass == 4  # four answers decoded in one forward pass
    assert counters.prefill_passes < len(prompts)  # joining prompts are prefilled together
    assert counters.decode_passes + counters.prefill_passes <= generated / 3  # vs one pass per token


def test_the_models_own_repetition_penalty_is_applied_as_generate_applies_it(tiny) -> None:
    from stockade.serving.hf_loader import eos_token_ids

    model, tokenizer = tiny
    prompts = [[5, 7, 9, 11] * 3, [13, 5, 5, 5, 21]]
    plain, _ = generate_batched(model, tokenizer, prompts, max_new_tokens=12, batch_size=2)
    model.generation_config.repetition_penalty = 5.0
    try:
        penalised, _ = generate_batched(model, tokenizer, prompts, max_new_tokens=12, batch_size=2)
        expected = [
            _one_at_a_time(model, tokenizer, ids, 12, eos_token_ids(model, tokenizer)) for ids in prompts
        ]
    finally:
        model.generation_config.repetition_penalty = 1.0
    assert penalised == expected and penalised != plain


def test_a_prompt_longer_than_the_context_is_refused_by_record(tiny) -> None:
    model, tokenizer = tiny
    context = model.config.max_position_embeddings
    with pytest.raises(StockadeError, match=f"record 1 .* has {context} tokens"):
        generate_batched(model, tokenizer, [[5, 6], [5] * context], max_new_tokens=2)


def test_a_thousand_records_take_far_fewer_forward_passes_than_records(tiny) -> None:
    model, tokenizer = tiny
    prompts = [[5 + (i % 50), 7, 9 + (i % 7)] for i in range(1000)]
    answers, counters = generate_batched(model, tokenizer, prompts, max_new_tokens=2, batch_size=64)
    assert len(answers) == 1000 and all(1 <= len(a) <= 2 for a in answers)
    assert counters.max_rows_in_pass == 64
    assert counters.prefill_passes + counters.decode_passes < 100  # 1,000 one at a time: 1,000+ passes


def test_the_batched_loss_equals_each_conversations_own_loss(tiny) -> None:
    from stockade.data.templates import resolve_template
    from stockade.data.tokenization import encode_conversation

    model, tokenizer = tiny
    examples = _examples(7)
    result = run_model(model, tokenizer, "qwen", examples, max_new_tokens=3, batch_size=3)
    template = resolve_template("qwen", tokenizer)
    nll = tokens = 0.0
    for example in examples:
        encoded = encode_conversation(example.conversation, tokenizer, template, cutoff_len=4096)
        with torch.inference_mode():
            loss = model(
                input_ids=torch.tensor([encoded.input_ids]), labels=torch.tensor([encoded.labels])
            ).loss
        nll += float(loss) * encoded.trainable_tokens
        tokens += encoded.trainable_tokens
    assert result.tokens == tokens
    assert math.isclose(result.metrics["loss"], nll / tokens, rel_tol=1e-5)
    assert len(result.outputs) == len(result.scores) == 7


@pytest.mark.parametrize(
    ("lengths", "budget", "expected"),
    [
        ([3, 10, 5, 10], 20, [[1, 3], [2, 0]]),  # longest first; 10*2 fits, 5*2 fits
        ([4, 4, 4], 8, [[0, 1], [2]]),
        ([30, 2], 8, [[0], [1]]),  # one record longer than the budget still runs, alone
    ],
)
def test_loss_batches_stay_within_the_token_budget(lengths, budget, expected) -> None:
    assert _loss_batches(lengths, budget) == expected
