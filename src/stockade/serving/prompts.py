"""Prompts as the model saw them in training: chat messages through the chat template, server-side."""

from __future__ import annotations

from typing import Any

from stockade.serving.errors import InvalidRequest

ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "observation"}


def raw_prompt_ids(tokenizer: Any, text: str) -> list[int]:
    """TGI's ``inputs``: the text as given (the template is the client's business there)."""
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


def last_tokens(tokenizer: Any, text: str, keep: int) -> str:
    """``text`` cut to its last ``keep`` tokens (TGI's ``truncate``); a character split by the cut is
    dropped. Text of ``keep`` tokens or fewer is returned as it is."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= keep:
        return text
    return tokenizer.decode(ids[len(ids) - keep :]).lstrip("\ufffd")


def templated_prompt_ids(tokenizer: Any, template: Any, text: str) -> list[int]:
    """One user message through the chat template: how ``stockade serve`` treats TGI ``inputs``."""
    return chat_prompt_ids(tokenizer, template, [{"role": "user", "content": text}])


def chat_prompt_ids(tokenizer: Any, template: Any, messages: list[dict[str, str]]) -> list[int]:
    """OpenAI messages (system?, then user/assistant alternating, ending with user) as prompt ids."""
    from stockade.data.records import Conversation
    from stockade.data.templates import TokenizerChatTemplate

    _check_shape(messages)
    if isinstance(template, TokenizerChatTemplate):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    turns = [{"role": ROLES[m["role"]], "content": m["content"]} for m in messages]
    conversation = Conversation(messages=[*turns, {"role": "assistant", "content": "-"}])
    segments = template.render(conversation, tokenizer)
    last_answer = max(i for i, s in enumerate(segments) if s.trainable)
    prefix = "".join(s.text for s in segments[:last_answer])
    return list(tokenizer(prefix, add_special_tokens=False)["input_ids"])


def _check_shape(messages: list[dict[str, str]]) -> None:
    if not messages:
        raise InvalidRequest("messages is empty", fix="send at least one user message")
    unknown = sorted({m["role"] for m in messages} - set(ROLES))
    if unknown:
        raise InvalidRequest(
            f"unsupported message role(s): {', '.join(unknown)}", fix="use system, user, assistant"
        )
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    for position, message in enumerate(turns):
        expected = ("user", "tool") if position % 2 == 0 else ("assistant",)
        if message["role"] not in expected:
            raise InvalidRequest(
                f"message {position + 1} is {message['role']!r}, expected {' or '.join(expected)}",
                fix="an optional system message, then user and assistant alternating, ending with user",
            )
    if not turns or turns[-1]["role"] == "assistant":
        raise InvalidRequest(
            "the last message must be from the user", fix="end the messages with a user turn"
        )
