"""The built-in chat templates, under LLaMA-Factory's names and with LLaMA-Factory's formats.

Differences from LLaMA-Factory are deliberate and listed in docs/templates-and-masking.md: text after
an end-of-turn token (ChatML's "\\n") is context, not trained; GLM trains the role token that ends an
answer; tool calls are rendered verbatim, except in the qwen family, which writes tools and calls exactly
as LLaMA-Factory's qwen tool format does (``tool_calls.py``).
"""

from __future__ import annotations

from dataclasses import replace

from stockade.core.registry import Registry
from stockade.data.templates.base import ChatTemplate

TEMPLATES: Registry[ChatTemplate] = Registry("chat template")

QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
_CHATML = ("<|im_start|>", "<|im_end|>")
_LLAMA3 = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
_GLM = ("[gMASK]", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>")

QWEN = ChatTemplate(
    name="qwen",
    system="<|im_start|>system\n{content}<|im_end|>\n",
    user="<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n",
    observation=(
        "<|im_start|>user\n<tool_response>\n{content}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    ),
    answer="{content}<|im_end|>",
    answer_tail="\n",
    default_system=QWEN_DEFAULT_SYSTEM,
    tool_format="qwen",
    control_tokens=_CHATML,
)
# LLaMA-Factory's qwen3 is a ReasoningTemplate: with enable_thinking (its default) an answer without
# <think> tags gets an empty thought block in front, and that block is trained.
QWEN3 = replace(QWEN, name="qwen3", default_system="", empty_thought="<think>\n\n</think>\n\n")
QWEN3_NOTHINK = replace(QWEN, name="qwen3_nothink", default_system="")

LLAMA3 = ChatTemplate(
    name="llama3",
    prefix="{bos}",
    system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
    user=(
        "<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    observation=(
        "<|start_header_id|>ipython<|end_header_id|>\n\n{content}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    answer="{content}<|eot_id|>",
    control_tokens=_LLAMA3,
)

LLAMA2 = ChatTemplate(
    name="llama2",
    user="{bos}[INST] {content} [/INST]",
    system="<<SYS>>\n{content}\n<</SYS>>\n\n",
    system_in_first_prompt=True,
)
LLAMA2_ZH = replace(
    LLAMA2, name="llama2_zh", default_system="You are a helpful assistant. 你是一个乐于助人的助手。"
)

MISTRAL = ChatTemplate(
    name="mistral",
    prefix="{bos}",
    user="[INST] {content}[/INST]",
    system="{content}\n\n",
    system_in_first_prompt=True,
    answer=" {content}{eos}",
    function="[TOOL_CALLS] {content}{eos}",
    observation='[TOOL_RESULTS] {"content": {content}}[/TOOL_RESULTS]',
    control_tokens=("[INST]", "[/INST]"),
)

GLM4 = ChatTemplate(
    name="glm4",
    prefix="[gMASK]<sop>",
    system="<|system|>\n{content}",
    user="<|user|>\n{content}<|assistant|>",
    observation="<|observation|>\n{content}<|assistant|>",
    answer="\n{content}",
    function="{content}",
    turn_openers=("<|user|>", "<|observation|>"),
    final_stop="{eos}",
    control_tokens=(*_GLM, "<sop>"),
)
# ChatGLM3 differs only in its prefix token, spelled "sop" in its own tokenizer.
CHATGLM3 = replace(GLM4, name="chatglm3", prefix="[gMASK]sop", control_tokens=_GLM)

DEFAULT = ChatTemplate(
    name="default",
    user="Human: {content}{eos}\nAssistant:",
    answer="{content}{eos}",
    answer_tail="\n",
    system="System: {content}{eos}\n",
)

for _template in (QWEN, QWEN3, QWEN3_NOTHINK, LLAMA3, LLAMA2, LLAMA2_ZH, MISTRAL, GLM4, CHATGLM3, DEFAULT):
    TEMPLATES.add(_template.name, _template)
