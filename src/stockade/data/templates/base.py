"""A chat template as data: LLaMA-Factory's slot strings for one model family, rendered into segments.

A slot is a string with ``{content}``, ``{bos}`` and ``{eos}`` placeholders (the tokenizer's bos/eos
token text). Rendering a conversation yields :class:`Segment` s: the trainable ones are exactly what the
model must learn to write (an answer and the token(s) that end it); everything else is context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from stockade.core.errors import StockadeError
from stockade.data.records import PROMPT_ROLES, Conversation
from stockade.data.templates.tool_calls import TOOL_FORMATS, QwenToolFormat

THINK_TAGS = ("<think>", "</think>")


class Segment(NamedTuple):
    """A piece of rendered text and whether its tokens are trained on (labels) or context (-100)."""

    text: str
    trainable: bool


@runtime_checkable
class ChatTemplateLike(Protocol):
    """Anything that renders a :class:`Conversation` into segments: a built-in or the tokenizer's own."""

    name: str

    def render(self, conversation: Conversation, tokenizer: Any) -> list[Segment]: ...


def merge_segments(pieces: list[Segment]) -> list[Segment]:
    """Drop empty pieces and join neighbours of the same kind (each segment is tokenized on its own)."""
    merged: list[Segment] = []
    for piece in pieces:
        if not piece.text:
            continue
        if merged and merged[-1].trainable == piece.trainable:
            merged[-1] = Segment(merged[-1].text + piece.text, piece.trainable)
        else:
            merged.append(piece)
    return merged


@dataclass(frozen=True)
class ChatTemplate:
    """One built-in template. Field names follow LLaMA-Factory's ``register_template`` formatters."""

    name: str
    user: str  # a user turn, ending with the assistant header
    answer: str = "{content}{eos}"  # trainable: the answer and its end-of-turn token(s)
    answer_tail: str = ""  # context after an answer (ChatML's "\n" after <|im_end|>)
    system: str = "{content}"
    observation: str | None = None  # a tool result; defaults to the user slot
    function: str | None = None  # a tool call (trained like an answer); defaults to the answer slot
    prefix: str = ""  # once, before everything (bos, [gMASK]<sop>)
    default_system: str = ""  # used when the conversation has no (or an empty) system prompt
    system_in_first_prompt: bool = False  # Llama 2 / Mistral: the system text opens the first prompt
    empty_thought: str = ""  # prepended (trained) to answers without <think> tags (Qwen3)
    turn_openers: tuple[str, ...] = ()  # role tokens that end the previous answer (GLM has no end token)
    final_stop: str = ""  # trained after the last answer (GLM: eos)
    tool_prompt: str = "\n\n# Tools\n\n{content}"  # appended to the system prompt when tools are given
    tool_format: str | None = None  # LLaMA-Factory's tool_format ("qwen"): tools and calls as it writes them
    control_tokens: tuple[str, ...] = ()  # literal tokens the slots use: each must be one token

    def render(self, conversation: Conversation, tokenizer: Any) -> list[Segment]:
        fill = _Filler(self.name, tokenizer)
        system = conversation.system or self.default_system
        calls = self.tool_calls()
        if conversation.tools and calls is not None:  # LLaMA-Factory: a system block whenever tools are given
            system_text = fill(self.system, system + calls.tools_text(conversation.tools))
        else:
            if conversation.tools:
                system += self.tool_prompt.replace("{content}", conversation.tools)
            system_text = fill(self.system, system) if system else ""
        pieces = [Segment(fill(self.prefix), False)]
        if not self.system_in_first_prompt:
            pieces.append(Segment(system_text, False))
        for index, turn in enumerate(conversation.turns):
            if turn.role in PROMPT_ROLES:
                content = (
                    system_text + turn.content if index == 0 and self.system_in_first_prompt else turn.content
                )
                slot = self.user if turn.role == "user" else self.observation or self.user
                text = fill(slot, content)
                opener = next((t for t in self.turn_openers if index and text.startswith(t)), "")
                pieces += [Segment(opener, True), Segment(text[len(opener) :], False)]
            else:
                content = turn.content
                if turn.role == "function_call" and calls is not None:
                    content = calls.function_turn(content)
                if self.empty_thought and not any(tag in turn.content for tag in THINK_TAGS):
                    content = self.empty_thought + content
                slot = self.answer if turn.role == "assistant" else self.function or self.answer
                pieces += [Segment(fill(slot, content), True), Segment(fill(self.answer_tail), False)]
        pieces.append(Segment(fill(self.final_stop), True))
        return merge_segments(pieces)

    def tool_calls(self) -> QwenToolFormat | None:
        """The tool-call format (how tools, calls are written and parsed), or None for verbatim tools."""
        return TOOL_FORMATS.get(self.tool_format) if self.tool_format else None


class _Filler:
    """Fills slots; the content goes in last so text such as "{eos}" inside it stays literal."""

    def __init__(self, template: str, tokenizer: Any) -> None:
        self.template = template
        self.bos = getattr(tokenizer, "bos_token", None) or ""
        self.eos = getattr(tokenizer, "eos_token", None) or ""

    def __call__(self, slot: str, content: str = "") -> str:
        if "{eos}" in slot and not self.eos:
            raise StockadeError(
                f"chat template {self.template!r} ends answers with the end-of-sequence token, "
                "but the tokenizer has none",
                fix="choose the template of this model family, or a tokenizer that defines eos_token",
            )
        return slot.replace("{bos}", self.bos).replace("{eos}", self.eos).replace("{content}", content)
