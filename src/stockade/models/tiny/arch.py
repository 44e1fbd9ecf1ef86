"""The table of tiny architectures: what each real model family looks like on disk.

Everything here is plain data, so the table is importable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stockade.core.registry import Registry
from stockade.models.tiny import templates

# Qwen2Tokenizer's own split: digits one by one.
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Llama 3 and GLM-4 (cl100k style): digits in groups of up to three.
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Mistral tekken (Nemo): case-aware words, single digits.
TEKKEN_REGEX = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class TinyArch:
    """One architecture family: model class, tokenizer layout, special tokens, chat template."""

    name: str
    model_type: str
    architecture: str
    template: str  # the LLaMA-Factory template name
    chat_template: str
    split_regex: str
    nfc: bool  # NFC normalizer (Qwen2Tokenizer forces one)
    tokenizer_class: str  # written to tokenizer_config.json; decides what AutoTokenizer builds
    eos: str
    pad: str
    bos: str | None = None
    unk: str | None = None
    add_bos: bool = False  # the post-processor prepends bos
    leading_specials: tuple[str, ...] = ()  # special tokens at ids 0.. (before the BPE vocab)
    trailing_specials: tuple[str, ...] = ()  # special tokens after the BPE vocab
    plain_tokens: tuple[str, ...] = ()  # added tokens that are not special (kept by skip_special_tokens)
    config_bos: str | None = None  # config.json bos_token_id (Qwen sets one though its tokenizer has none)
    config_eos: tuple[str, ...] = ()  # config.json eos_token_id; defaults to eos
    stop_tokens: tuple[str, ...] = ()  # generation_config.json eos_token_id
    rope: dict[str, Any] = field(default_factory=dict)
    config_extra: dict[str, Any] = field(default_factory=dict)
    per_head_dim: bool = True  # the config class takes head_dim

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.leading_specials + self.trailing_specials


TINY_ARCHS: Registry[TinyArch] = Registry("tiny model architecture")

_QWEN_COMMON: dict[str, Any] = {
    "split_regex": QWEN2_REGEX,
    "nfc": True,
    "tokenizer_class": "Qwen2Tokenizer",
    "eos": "<|im_end|>",
    "pad": "<|endoftext|>",
    "config_bos": "<|endoftext|>",
    "stop_tokens": ("<|im_end|>", "<|endoftext|>"),
    "rope": {"rope_type": "default", "rope_theta": 1000000.0},
}
_QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

TINY_ARCHS.add(
    "qwen2",
    TinyArch(
        name="qwen2",
        model_type="qwen2",
        architecture="Qwen2ForCausalLM",
        template="qwen",
        chat_template=templates.QWEN2,
        trailing_specials=_QWEN_SPECIALS,
        per_head_dim=False,
        **_QWEN_COMMON,
    ),
)
TINY_ARCHS.add(
    "qwen3",
    TinyArch(
        name="qwen3",
        model_type="qwen3",
        architecture="Qwen3ForCausalLM",
        template="qwen3",
        chat_template=templates.QWEN3,
        trailing_specials=_QWEN_SPECIALS,
        plain_tokens=("<think>", "</think>"),
        **_QWEN_COMMON,
    ),
)
TINY_ARCHS.add(
    "llama",
    TinyArch(
        name="llama",
        model_type="llama",
        architecture="LlamaForCausalLM",
        template="llama3",
        chat_template=templates.LLAMA3,
        split_regex=LLAMA3_REGEX,
        nfc=False,
        tokenizer_class="PreTrainedTokenizerFast",
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        pad="<|finetune_right_pad_id|>",
        add_bos=True,
        trailing_specials=(
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|finetune_right_pad_id|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ),
        config_bos="<|begin_of_text|>",
        stop_tokens=("<|eot_id|>", "<|end_of_text|>"),
        rope={"rope_type": "default", "rope_theta": 500000.0},
    ),
)
TINY_ARCHS.add(
    "glm4",
    TinyArch(
        name="glm4",
        model_type="glm4",
        architecture="Glm4ForCausalLM",
        template="glm4",
        chat_template=templates.GLM4,
        split_regex=LLAMA3_REGEX,
        nfc=False,
        tokenizer_class="PreTrainedTokenizerFast",
        eos="<|endoftext|>",
        pad="<|endoftext|>",
        trailing_specials=(
            "<|endoftext|>",
            "[MASK]",
            "[gMASK]",
            "[sMASK]",
            "<sop>",
            "<eop>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|observation|>",
        ),
        config_eos=("<|endoftext|>", "<|user|>", "<|observation|>"),
        stop_tokens=("<|endoftext|>", "<|user|>", "<|observation|>"),
        rope={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    ),
)
TINY_ARCHS.add(
    "mistral",
    TinyArch(
        name="mistral",
        model_type="mistral",
        architecture="MistralForCausalLM",
        template="mistral",
        chat_template=templates.MISTRAL,
        split_regex=TEKKEN_REGEX,
        nfc=False,
        tokenizer_class="PreTrainedTokenizerFast",
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        unk="<unk>",
        add_bos=True,
        leading_specials=("<unk>", "<s>", "</s>", "[INST]", "[/INST]", "<pad>"),
        config_bos="<s>",
        stop_tokens=("</s>",),
        rope={"rope_type": "default", "rope_theta": 1000000.0},
        config_extra={"sliding_window": None},
    ),
)

ARCH_TEMPLATE_NAMES: dict[str, str] = {name: TINY_ARCHS.get(name).template for name in TINY_ARCHS}
