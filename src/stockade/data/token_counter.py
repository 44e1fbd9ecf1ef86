"""Token counts of record content with a model's tokenizer (``tokenizers``; no torch needed)."""

from __future__ import annotations

from pathlib import Path

from stockade.core.errors import ConfigError, DependencyMissing
from stockade.data.records import LEARNED_ROLES, Record


class TokenCounter:
    """Counts prompt and answer tokens of conversations (content only, no chat-template markup)."""

    def __init__(self, model_dir: Path) -> None:
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(
                "no tokenizer.json in this folder",
                where=str(model_dir),
                fix="point --tokenizer at a model folder that has a fast tokenizer (tokenizer.json)",
            )
        try:
            from tokenizers import Tokenizer
        except ModuleNotFoundError:
            raise DependencyMissing(
                "tokenizers is not installed", fix="pip install 'stockade[train]'"
            ) from None
        self.path = path
        self._tokenizer = Tokenizer.from_file(str(path))

    def count(self, conversations: list[Record]) -> list[tuple[int, int]]:
        prompts, answers = [], []
        for conversation in conversations:
            prompt = [t.content for t in conversation.messages if t.role not in LEARNED_ROLES]
            answer = [t.content for t in conversation.messages if t.role in LEARNED_ROLES]
            prompts.append("\n".join(prompt))
            answers.append("\n".join(answer))
        encoded_prompts = self._tokenizer.encode_batch(prompts, add_special_tokens=False)
        encoded_answers = self._tokenizer.encode_batch(answers, add_special_tokens=False)
        return [(len(p.ids), len(a.ids)) for p, a in zip(encoded_prompts, encoded_answers, strict=True)]
