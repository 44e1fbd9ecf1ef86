"""The model's own chat template (the Jinja in its tokenizer), made into exact trainable segments.

``apply_chat_template`` renders text but does not say which characters are the answers. They are
found by rendering prefixes: for the answer at message ``k``, the conversation up to ``k`` with the
generation prompt ends where the answer starts, and the conversation through ``k`` ends where it ends.
That only holds if every prefix renders as a prefix of the full text; templates that rewrite earlier
turns (Qwen3 drops the thinking of earlier answers) fail the check, and the caller is told to pass
``--template NAME`` instead of being given silently wrong labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stockade.core.errors import StockadeError
from stockade.data.records import TRAINED_ROLES, Conversation
from stockade.data.templates.base import Segment, merge_segments

# How the normalized roles reach a Jinja template (the OpenAI/HF message convention).
JINJA_ROLES = {
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "function_call": "assistant",
    "observation": "tool",
}


@dataclass(frozen=True)
class TokenizerChatTemplate:
    """Renders with ``tokenizer.apply_chat_template``; the answers (and their end tokens) are trained."""

    name: str = "model"

    def render(self, conversation: Conversation, tokenizer: Any) -> list[Segment]:
        messages = [{"role": JINJA_ROLES[t.role], "content": t.content} for t in conversation.messages]
        tools = _parse_tools(conversation.tools)

        def text(upto: int, generation: bool) -> str:
            try:
                return tokenizer.apply_chat_template(
                    messages[:upto], tools=tools, add_generation_prompt=generation, tokenize=False
                )
            except Exception as exc:  # jinja2.TemplateError, raise_exception() in the template...
                raise _refusal(f"it cannot render this conversation ({exc})") from exc

        full = text(len(messages), False)
        specials = set(getattr(tokenizer, "all_special_tokens", ()))
        pieces: list[Segment] = []
        done = 0
        for k, turn in enumerate(conversation.messages):
            if turn.role not in TRAINED_ROLES:
                continue
            before, through = text(k, True), text(k + 1, False)
            if not (
                full.startswith(before) and full.startswith(through) and done <= len(before) < len(through)
            ):
                raise _refusal(
                    f"the conversation up to message {k + 1} ({turn.role}) does not render as a prefix "
                    "of the whole (the template rewrites earlier turns), so its answer cannot be located"
                )
            answer = full[len(before) : len(through)]
            if any(answer.rstrip().endswith(token) for token in specials):
                answer = answer.rstrip()  # "\n" after <|im_end|> is layout, not something to learn
            pieces += [Segment(full[done : len(before)], False), Segment(answer, True)]
            done = len(before) + len(answer)
        pieces.append(Segment(full[done:], False))
        return merge_segments(pieces)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _parse_tools(tools: str | None) -> list[dict] | None:
    if tools is None:
        return None
    try:
        parsed = json.loads(tools)
    except json.JSONDecodeError as exc:
        raise StockadeError(
            f"the conversation's tools are not valid JSON ({exc.msg})",
            fix="give tools as a JSON list of function schemas, or pass --template NAME",
        ) from exc
    return parsed if isinstance(parsed, list) else [parsed]


def _refusal(why: str) -> StockadeError:
    from stockade.data.templates.builtin import TEMPLATES

    return StockadeError(
        f"the model's own chat template cannot be used for training: {why}",
        fix=f"pass --template NAME for this model family (built-ins: {', '.join(TEMPLATES.names())})",
    )
