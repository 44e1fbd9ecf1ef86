"""Choose the chat template for a run: a built-in by name, else the tokenizer's own."""

from __future__ import annotations

from typing import Any

from stockade.core.errors import ConfigError
from stockade.data.templates.base import ChatTemplate, ChatTemplateLike
from stockade.data.templates.builtin import TEMPLATES
from stockade.data.templates.own import TokenizerChatTemplate, has_chat_template


def resolve_template(name: str | None, tokenizer: Any = None) -> ChatTemplateLike:
    """The built-in template ``name``, or with no name the tokenizer's own chat template.

    Unknown names raise :class:`ConfigError` with a did-you-mean. A built-in whose control tokens the
    tokenizer does not know as single tokens (Qwen's template on a Llama tokenizer) is refused too:
    it would train on markup the model cannot produce. With ``tokenizer=None`` that check is skipped.
    """
    if name is None:
        if tokenizer is not None and has_chat_template(tokenizer):
            return TokenizerChatTemplate()
        raise ConfigError(
            "no chat template given and the model's tokenizer has none",
            fix=f"pass --template NAME, one of: {', '.join(TEMPLATES.names())}",
        )
    template = TEMPLATES.get(name)
    if tokenizer is not None:
        check_template_tokens(template, tokenizer)
    return template


def check_template_tokens(template: ChatTemplate, tokenizer: Any) -> None:
    unknown = [t for t in template.control_tokens if len(_ids(tokenizer, t)) != 1]
    if unknown:
        raise ConfigError(
            f"chat template {template.name!r} does not match this tokenizer: "
            f"{', '.join(unknown)} {'is not a token' if len(unknown) == 1 else 'are not tokens'} of it",
            fix="pass the --template of this model family, or leave --template out to use the model's own",
        )


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
