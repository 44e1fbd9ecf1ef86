"""Chat templates: LLaMA-Factory formats, trainable segments, the model's own Jinja template, lookup."""

from __future__ import annotations

import itertools
import subprocess
import sys
from types import SimpleNamespace

import pytest

from stockade.core.errors import ConfigError, StockadeError
from stockade.data.records import Conversation
from stockade.data.templates import (
    TEMPLATES,
    ChatTemplateLike,
    Segment,
    TokenizerChatTemplate,
    resolve_template,
)

SPECIALS = SimpleNamespace(bos_token="<s>", eos_token="</s>")  # what rendering reads from a tokenizer


def _conversation(*turns: tuple[str, str], tools: str | None = None) -> Conversation:
    return Conversation(messages=[{"role": role, "content": content} for role, content in turns], tools=tools)


TWO_TURNS = _conversation(
    ("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2"), ("assistant", "A2")
)
NO_SYSTEM = _conversation(("user", "U1"), ("assistant", "A1"))

# Expected text per template (LLaMA-Factory's slots), with the trained parts in [[...]].
EXPECTED = {
    "qwen": "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\n"
    "[[A1<|im_end|>]]\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n[[A2<|im_end|>]]\n",
    "qwen3": "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\n"
    "[[<think>\n\n</think>\n\nA1<|im_end|>]]\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n"
    "[[<think>\n\n</think>\n\nA2<|im_end|>]]\n",
    "qwen3_nothink": "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n"
    "<|im_start|>assistant\n[[A1<|im_end|>]]\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n[[A2<|im_end|>]]\n",
    "llama3": "<s><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    "[[A1<|eot_id|>]]<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n[[A2<|eot_id|>]]",
    "llama2": "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST][[A1</s>]]<s>[INST] U2 [/INST][[A2</s>]]",
    "llama2_zh": "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST][[A1</s>]]<s>[INST] U2 [/INST][[A2</s>]]",
    "mistral": "<s>[INST] S\n\nU1[/INST][[ A1</s>]][INST] U2[/INST][[ A2</s>]]",
    "glm4": "[gMASK]<sop><|system|>\nS<|user|>\nU1<|assistant|>[[\nA1<|user|>]]\nU2<|assistant|>[[\nA2</s>]]",
    "chatglm3": "[gMASK]sop<|system|>\nS<|user|>\nU1<|assistant|>[[\nA1<|user|>]]"
    "\nU2<|assistant|>[[\nA2</s>]]",
    "default": "System: S</s>\nHuman: U1</s>\nAssistant:[[A1</s>]]\nHuman: U2</s>\nAssistant:[[A2</s>]]\n",
}
DEFAULT_SYSTEMS = {
    "qwen": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "llama2_zh": "You are a helpful assistant. 你是一个乐于助人的助手。",
}


def _marked(segments: list[Segment]) -> str:
    return "".join(f"[[{s.text}]]" if s.trainable else s.text for s in segments)


def test_every_builtin_has_its_expected_format() -> None:
    assert sorted(EXPECTED) == TEMPLATES.names()
    for name, expected in EXPECTED.items():
        assert _marked(TEMPLATES.get(name).render(TWO_TURNS, SPECIALS)) == expected, name


def test_default_system_prompts_follow_llamafactory() -> None:
    for name in TEMPLATES:
        text = "".join(s.text for s in TEMPLATES.get(name).render(NO_SYSTEM, SPECIALS))
        default = DEFAULT_SYSTEMS.get(name)
        if default:
            assert default in text, name
        else:
            assert "system" not in text.lower() and "<<SYS>>" not in text, name


def test_segments_alternate_and_are_never_empty() -> None:
    for name in TEMPLATES:
        segments = TEMPLATES.get(name).render(TWO_TURNS, SPECIALS)
        assert all(s.text for s in segments)
        assert all(a.trainable != b.trainable for a, b in itertools.pairwise(segments)), name
        assert not segments[0].trainable


def test_qwen3_keeps_an_existing_thought_and_nothink_adds_none() -> None:
    thought = _conversation(("user", "Q"), ("assistant", "<think>\n算一下\n</think>\n\n答案"))
    trained = [s.text for s in TEMPLATES.get("qwen3").render(thought, SPECIALS) if s.trainable]
    assert trained == ["<think>\n算一下\n</think>\n\n答案<|im_end|>"]
    plain = [s.text for s in TEMPLATES.get("qwen3_nothink").render(NO_SYSTEM, SPECIALS) if s.trainable]
    assert plain == ["A1<|im_end|>"]


def test_tools_calls_and_results() -> None:
    conversation = _conversation(
        ("user", "查余额"),
        ("function_call", '{"name": "balance", "arguments": {}}'),
        ("observation", '{"balance": 100}'),
        ("assistant", "余额100元"),
        tools='[{"name": "balance"}]',
    )
    qwen = _marked(TEMPLATES.get("qwen3_nothink").render(conversation, SPECIALS))
    # the qwen family writes tools and calls in LLaMA-Factory's format (tests/data/test_templates_tools.py)
    assert qwen.startswith("<|im_start|>system\n\n\n# Tools\n\nYou may call one or more functions")
    assert '[[<tool_call>\n{"name": "balance", "arguments": {}}\n</tool_call><|im_end|>]]' in qwen  # trained
    assert '<tool_response>\n{"balance": 100}\n</tool_response>' in qwen  # a result is context
    glm = _marked(TEMPLATES.get("glm4").render(conversation, SPECIALS))
    assert '<|assistant|>[[{"name": "balance", "arguments": {}}<|observation|>]]\n{"balance": 100}' in glm


def test_content_is_inserted_literally() -> None:
    tricky = _conversation(("user", "{eos} {bos} {content}"), ("assistant", "{eos}"))
    text = "".join(s.text for s in TEMPLATES.get("default").render(tricky, SPECIALS))
    assert text == "Human: {eos} {bos} {content}</s>\nAssistant:{eos}</s>\n"


def test_a_template_that_needs_eos_refuses_a_tokenizer_without_one() -> None:
    with pytest.raises(StockadeError, match="end-of-sequence"):
        TEMPLATES.get("mistral").render(NO_SYSTEM, SimpleNamespace(bos_token=None, eos_token=None))


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_template("qwen2", None)
    assert "did you mean 'qwen'" in str(caught.value) and caught.value.exit_code == 2


def test_no_name_and_no_chat_template_is_refused() -> None:
    with pytest.raises(ConfigError, match="--template"):
        resolve_template(None, SimpleNamespace(chat_template=None))


def test_templates_import_without_torch() -> None:
    code = "import sys, stockade.data.templates, stockade.data.tokenization, stockade.data.packing\n"
    code += "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# --- on real tokenizers (the tiny models of each family) ----------------------------------------

ARCHS = {"qwen": "qwen2", "qwen3": "qwen3", "llama3": "llama", "glm4": "glm4", "mistral": "mistral"}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    transformers = pytest.importorskip("transformers")
    from stockade.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    built = {arch: build_tiny_model(arch, root / arch).path for arch in ARCHS.values()}
    return {a: transformers.AutoTokenizer.from_pretrained(p, local_files_only=True) for a, p in built.items()}


def _messages(conversation: Conversation) -> list[dict]:
    return [turn.model_dump() for turn in conversation.messages]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_builtin_renders_like_the_model_family(name: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[ARCHS[name]]
    template = resolve_template(name, tokenizer)
    one_turn = _conversation(
        ("system", "你是银行客服。"), ("user", "你好"), ("assistant", "您好，请问有什么可以帮您？")
    )
    text = "".join(s.text for s in template.render(one_turn, tokenizer))
    jinja = tokenizer.apply_chat_template(_messages(one_turn), tokenize=False)
    # GLM has no end-of-turn token; like LLaMA-Factory, the built-in trains eos after the last answer.
    assert text == (jinja + tokenizer.eos_token if name == "glm4" else jinja)


@pytest.mark.slow
def test_builtin_refuses_a_tokenizer_of_another_family(tokenizers: dict) -> None:
    with pytest.raises(ConfigError, match=r"<\|im_start\|>, <\|im_end\|> are not tokens"):
        resolve_template("qwen", tokenizers["llama"])


OWN_TRAINED = {
    "qwen2": ["A1<|im_end|>", "A2<|im_end|>"],
    "llama": ["A1<|eot_id|>", "A2<|eot_id|>"],
    "glm4": ["\nA1", "\nA2"],  # nothing ends a GLM answer in its own template
    "mistral": [" A1</s>", " A2</s>"],
}


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(OWN_TRAINED))
def test_own_template_segments_are_exact(arch: str, tokenizers: dict) -> None:
    tokenizer = tokenizers[arch]
    template = resolve_template(None, tokenizer)
    assert isinstance(template, TokenizerChatTemplate) and isinstance(template, ChatTemplateLike)
    segments = template.render(TWO_TURNS, tokenizer)
    assert "".join(s.text for s in segments) == tokenizer.apply_chat_template(
        _messages(TWO_TURNS), tokenize=False
    )
    assert [s.text for s in segments if s.trainable] == OWN_TRAINED[arch]


@pytest.mark.slow
def test_own_template_that_rewrites_history_is_refused(tokenizers: dict) -> None:
    tokenizer = tokenizers["qwen3"]
    one_turn = resolve_template(None, tokenizer).render(NO_SYSTEM, tokenizer)
    assert [s.text for s in one_turn if s.trainable] == ["<think>\n\n</think>\n\nA1<|im_end|>"]
    with pytest.raises(StockadeError, match="--template") as caught:
        resolve_template(None, tokenizer).render(TWO_TURNS, tokenizer)
    assert "prefix" in str(caught.value)


@pytest.mark.slow
def test_own_template_that_cannot_render_a_role_is_refused(tokenizers: dict) -> None:
    tool_result = _conversation(
        ("user", "U"), ("function_call", "f()"), ("observation", "R"), ("assistant", "A")
    )
    with pytest.raises(StockadeError, match="cannot render this conversation"):
        resolve_template(None, tokenizers["mistral"]).render(tool_result, tokenizers["mistral"])


def test_tiny_models_still_name_these_templates() -> None:
    from stockade.models.tiny import ARCH_TEMPLATE_NAMES

    assert {ARCH_TEMPLATE_NAMES[arch] for arch in ARCHS.values()} == set(ARCHS)
    assert set(ARCHS) <= set(TEMPLATES.names())
