"""Tokenization with label masking: exact labels, the own-template path, the cutoff policy, properties."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.core.errors import ConfigError
from stockade.data.records import Conversation
from stockade.data.templates import TEMPLATES, Segment, resolve_template
from stockade.data.tokenization import (
    IGNORE_INDEX,
    EncodedExample,
    Skipped,
    encode_conversation,
    split_budget,
)

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

ARCHS = ["qwen2", "qwen3", "llama", "glm4", "mistral"]
# The tiny tokenizer each built-in template is exercised on (its own family where one exists).
TEMPLATE_ARCH = {
    "qwen": "qwen2",
    "qwen3": "qwen3",
    "qwen3_nothink": "qwen3",
    "llama3": "llama",
    "glm4": "glm4",
    "chatglm3": "glm4",
    "mistral": "mistral",
    "llama2": "mistral",
    "llama2_zh": "mistral",
    "default": "mistral",
}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from stockade.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    paths = {arch: build_tiny_model(arch, root / arch).path for arch in ARCHS}
    return {
        arch: transformers.AutoTokenizer.from_pretrained(p, local_files_only=True)
        for arch, p in paths.items()
    }


def _conversation(*turns: tuple[str, str]) -> Conversation:
    return Conversation(messages=[{"role": role, "content": content} for role, content in turns])


SHORT = _conversation(
    ("system", "你是银行客服。"), ("user", "查询余额"), ("assistant", "您的余额为1,234.56元。")
)
TWO_TURNS = _conversation(
    ("system", "你是银行客服。"),
    ("user", "你好"),
    ("assistant", "您好，请问有什么可以帮您？"),
    ("user", "LPR是多少？"),
    ("assistant", "一年期LPR为3.45%。"),
)


def _trained_runs(tokenizer, example: EncodedExample) -> list[str]:
    """The decoded text of each run of consecutive trained tokens."""
    runs: list[list[int]] = []
    for position, (token, label) in enumerate(zip(example.input_ids, example.labels, strict=True)):
        if label == IGNORE_INDEX:
            continue
        assert label == token
        if runs and example.labels[position - 1] != IGNORE_INDEX:
            runs[-1].append(token)
        else:
            runs.append([token])
    return [tokenizer.decode(run) for run in runs]


@pytest.mark.parametrize("name", sorted(TEMPLATE_ARCH))
def test_decoded_ids_are_the_rendered_text(name: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[TEMPLATE_ARCH[name]]
    template = resolve_template(name, tokenizer)
    segments = template.render(TWO_TURNS, tokenizer)
    example = encode_conversation(TWO_TURNS, tokenizer, template, cutoff_len=1024)
    assert isinstance(example, EncodedExample) and not example.truncated
    assert tokenizer.decode(example.input_ids) == "".join(s.text for s in segments)
    assert _trained_runs(tokenizer, example) == [s.text for s in segments if s.trainable]
    assert example.trainable_tokens == sum(label != IGNORE_INDEX for label in example.labels)


OWN_ANSWERS = {
    "qwen2": ["您好，请问有什么可以帮您？<|im_end|>", "一年期LPR为3.45%。<|im_end|>"],
    "qwen3": ["<think>\n\n</think>\n\n您的余额为1,234.56元。<|im_end|>"],
    "llama": ["您好，请问有什么可以帮您？<|eot_id|>", "一年期LPR为3.45%。<|eot_id|>"],
    "glm4": ["\n您好，请问有什么可以帮您？", "\n一年期LPR为3.45%。"],
    "mistral": [" 您好，请问有什么可以帮您？</s>", " 一年期LPR为3.45%。</s>"],
}


@pytest.mark.parametrize("arch", ARCHS)
def test_own_template_gives_the_ids_of_apply_chat_template(arch: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[arch]
    conversation = SHORT if arch == "qwen3" else TWO_TURNS  # Qwen3's template rewrites earlier turns
    example = encode_conversation(conversation, tokenizer, resolve_template(None, tokenizer), cutoff_len=1024)
    messages = [turn.model_dump() for turn in conversation.messages]
    assert example.input_ids == tokenizer.apply_chat_template(messages)["input_ids"]
    assert _trained_runs(tokenizer, example) == OWN_ANSWERS[arch]


def _turn_lengths(tokenizer, template, conversation) -> list[int]:
    """Token count of each (prompt + answer) turn, as encode_conversation groups them."""
    ids = [
        tokenizer(s.text, add_special_tokens=False)["input_ids"]
        for s in template.render(conversation, tokenizer)
    ]
    segments = template.render(conversation, tokenizer)
    lengths, current = [], 0
    for segment, tokens in zip(segments, ids, strict=True):
        current += len(tokens)
        if segment.trainable:
            lengths.append(current)
            current = 0
    return lengths


def test_cutoff_drops_whole_trailing_turns(tokenizers: dict) -> None:
    tokenizer = tokenizers["qwen2"]
    template = resolve_template("qwen", tokenizer)
    three = _conversation(
        *[(t.role, t.content) for t in TWO_TURNS.messages], ("user", "谢谢"), ("assistant", "不客气。")
    )
    full = encode_conversation(three, tokenizer, template, cutoff_len=4096)
    first, second, _ = _turn_lengths(tokenizer, template, three)
    cut = encode_conversation(three, tokenizer, template, cutoff_len=first + second + 3)
    assert isinstance(cut, EncodedExample) and cut.truncated and len(cut) == first + second
    assert cut.input_ids == full.input_ids[: first + second] and cut.labels == full.labels[: first + second]
    assert _trained_runs(tokenizer, cut) == [
        "您好，请问有什么可以帮您？<|im_end|>",
        "一年期LPR为3.45%。<|im_end|>",
    ]


def test_cutoff_inside_the_first_turn_keeps_the_prompt_end_and_the_answer_start(tokenizers: dict) -> None:
    tokenizer = tokenizers["qwen2"]
    template = resolve_template("qwen", tokenizer)
    long = _conversation(("user", "请详细说明。" * 40), ("assistant", "第一点，" + "风险可控。" * 40))
    full = encode_conversation(long, tokenizer, template, cutoff_len=4096)
    prompt_len = next(i for i, label in enumerate(full.labels) if label != IGNORE_INDEX)
    answer_len = len(full) - prompt_len - 1  # minus the "\n" after <|im_end|>
    cut = encode_conversation(long, tokenizer, template, cutoff_len=64)
    assert isinstance(cut, EncodedExample) and cut.truncated and len(cut) == 64
    kept_prompt, kept_answer = split_budget(prompt_len, answer_len, 64)
    assert kept_answer >= 32 and kept_prompt + kept_answer == 64
    assert cut.input_ids[:kept_prompt] == full.input_ids[prompt_len - kept_prompt : prompt_len]
    assert tokenizer.decode(cut.input_ids[:kept_prompt]).endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert cut.input_ids[kept_prompt:] == full.input_ids[prompt_len : prompt_len + kept_answer]
    assert cut.labels == [IGNORE_INDEX] * kept_prompt + cut.input_ids[kept_prompt:]
    assert cut.trainable_tokens == kept_answer


def test_drop_policy_skips_long_conversations(tokenizers: dict) -> None:
    tokenizer = tokenizers["llama"]
    template = resolve_template("llama3", tokenizer)
    skipped = encode_conversation(TWO_TURNS, tokenizer, template, cutoff_len=10, truncation="drop")
    assert isinstance(skipped, Skipped) and skipped.reason == "too_long" and "cutoff_len 10" in skipped.detail
    kept = encode_conversation(TWO_TURNS, tokenizer, template, cutoff_len=1024, truncation="drop")
    assert isinstance(kept, EncodedExample)


def test_bad_arguments_are_config_errors(tokenizers: dict) -> None:
    tokenizer = tokenizers["qwen2"]
    template = resolve_template("qwen", tokenizer)
    with pytest.raises(ConfigError, match="keep_answer, drop"):
        encode_conversation(SHORT, tokenizer, template, cutoff_len=64, truncation="left")
    with pytest.raises(ConfigError, match="cutoff_len"):
        encode_conversation(SHORT, tokenizer, template, cutoff_len=1)


class _Stub:
    name = "stub"

    def __init__(self, *segments: Segment) -> None:
        self.segments = list(segments)

    def render(self, conversation, tokenizer) -> list[Segment]:
        return self.segments


def test_nothing_to_learn_is_skipped_not_returned(tokenizers: dict) -> None:
    tokenizer = tokenizers["qwen2"]
    context_only = encode_conversation(SHORT, tokenizer, _Stub(Segment("你好", False)), cutoff_len=64)
    assert isinstance(context_only, Skipped) and context_only.reason == "no_trainable_tokens"
    too_long_context = encode_conversation(SHORT, tokenizer, _Stub(Segment("你好" * 20, False)), cutoff_len=4)
    assert isinstance(too_long_context, Skipped) and too_long_context.reason == "no_trainable_tokens"
    first_token_only = encode_conversation(
        SHORT, tokenizer, _Stub(Segment("<|im_end|>", True)), cutoff_len=64
    )
    assert isinstance(first_token_only, Skipped) and first_token_only.reason == "no_trainable_tokens"


@pytest.mark.parametrize(
    ("prompt", "answer", "cutoff", "expected"),
    [
        (100, 10, 64, (54, 10)),  # a short answer is kept whole
        (10, 100, 64, (10, 54)),  # a short prompt is kept whole
        (300, 100, 64, (32, 32)),  # both long: proportional would give the answer 16; it gets half
        (100, 300, 64, (16, 48)),  # both long: proportional
        (1, 5, 2, (1, 1)),  # the prompt keeps a token so the answer is predicted from something
    ],
)
def test_split_budget(prompt: int, answer: int, cutoff: int, expected: tuple[int, int]) -> None:
    assert split_budget(prompt, answer, cutoff) == expected


# --- properties --------------------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.sampled_from(list("银行存款利率贷款客户您好，。？ abcXYZ 0123.,!?%\n")), max_size=30
)
ANSWER = TEXT.filter(lambda s: s.strip())


@st.composite
def conversations(draw: st.DrawFn, tools: bool = True) -> Conversation:
    prompts, answers = (
        (["user", "observation"], ["assistant", "function_call"]) if tools else (["user"], ["assistant"])
    )
    turns = []
    if draw(st.booleans()):
        turns.append(("system", draw(TEXT)))
    for index in range(draw(st.integers(1, 3))):
        turns.append(("user" if index == 0 else draw(st.sampled_from(prompts)), draw(TEXT)))
        role, answer = draw(st.sampled_from(answers)), draw(ANSWER)
        if role == "function_call":  # a call is JSON (the qwen family re-writes it in <tool_call> tags)
            answer = json.dumps({"name": "f", "arguments": {"text": answer}}, ensure_ascii=False)
        turns.append((role, answer))
    return _conversation(*turns)


def _expected(tokenizer, segments: list[Segment]) -> tuple[list[int], list[bool]]:
    ids, trained = [], []
    for segment in segments:
        tokens = tokenizer(segment.text, add_special_tokens=False)["input_ids"]
        ids += tokens
        trained += [segment.trainable] * len(tokens)
    return ids, trained


@pytest.mark.parametrize("name", sorted(TEMPLATE_ARCH))
def test_every_conversation_encodes_with_exact_labels(name: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[TEMPLATE_ARCH[name]]
    template = TEMPLATES.get(name)

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conversation=conversations(), cutoff_len=st.integers(2, 160))
    def check(conversation: Conversation, cutoff_len: int) -> None:
        example = encode_conversation(conversation, tokenizer, template, cutoff_len=cutoff_len)
        assert isinstance(example, EncodedExample) and example.trainable_tokens > 0
        assert len(example.input_ids) == len(example.labels) <= cutoff_len
        assert example.labels[0] == IGNORE_INDEX
        ids, trained = _expected(tokenizer, template.render(conversation, tokenizer))
        n = len(example)
        if example.input_ids == ids[:n]:  # whole, or whole leading turns
            assert example.truncated == (n < len(ids))
            expected_labels = [
                t if keep else IGNORE_INDEX for t, keep in zip(ids[:n], trained[:n], strict=True)
            ]
        else:  # the first turn, cut: the end of its prompt, then the start of its answer
            assert example.truncated
            answer_at = trained.index(True)
            answer_len = [*trained[answer_at:], False].index(False)
            prompt = next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)
            assert (prompt, n - prompt) == split_budget(answer_at, answer_len, cutoff_len)
            assert example.input_ids[:prompt] == ids[answer_at - prompt : answer_at]
            assert example.input_ids[prompt:] == ids[answer_at : answer_at + n - prompt]
            expected_labels = [IGNORE_INDEX] * prompt + example.input_ids[prompt:]
        expected_labels[0] = IGNORE_INDEX
        assert example.labels == expected_labels

    check()


@pytest.mark.parametrize("arch", ["qwen2", "llama", "glm4", "mistral"])
def test_own_template_matches_apply_chat_template_on_any_conversation(arch: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[arch]
    template = resolve_template(None, tokenizer)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conversation=conversations(tools=False))
    def check(conversation: Conversation) -> None:
        example = encode_conversation(conversation, tokenizer, template, cutoff_len=4096)
        messages = [turn.model_dump() for turn in conversation.messages]
        assert example.input_ids == tokenizer.apply_chat_template(messages)["input_ids"]
        trained = [s.text for s in template.render(conversation, tokenizer) if s.trainable]
        assert _trained_runs(tokenizer, example) == trained
        assert len(trained) == sum(turn.role == "assistant" for turn in conversation.messages)

    check()
