"""Chat templates: a conversation rendered into trainable and context segments.

Built-ins carry LLaMA-Factory's names and formats (``qwen``, ``qwen3``, ``llama3``, ``glm4``...); with
no name, the model's own Jinja chat template is used. Importing this package needs no torch.
"""

from __future__ import annotations

from stockade.data.templates.base import ChatTemplate, ChatTemplateLike, Segment
from stockade.data.templates.builtin import TEMPLATES
from stockade.data.templates.lookup import check_template_tokens, resolve_template
from stockade.data.templates.own import TokenizerChatTemplate

__all__ = [
    "TEMPLATES",
    "ChatTemplate",
    "ChatTemplateLike",
    "Segment",
    "TokenizerChatTemplate",
    "check_template_tokens",
    "resolve_template",
]
