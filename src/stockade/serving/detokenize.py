"""Token ids to text as they stream: incremental decoding, stop sequences, special tokens."""

from __future__ import annotations

from typing import Any


class TextAssembler:
    """Feed generated ids one at a time; get the new text (never half a UTF-8 character).

    ``stop``: strings that end the generation; ``include_stop`` (TGI) keeps the stop string in the
    text, OpenAI drops it, so text that could be the start of a stop string is held back.
    """

    def __init__(self, tokenizer: Any, stop: tuple[str, ...] = (), *, include_stop: bool = True) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.include_stop = include_stop
        self.ids: list[int] = []
        self.text = ""  # everything decoded so far
        self.emitted = 0  # characters of self.text already handed out
        self._prefix = 0
        self._read = 0
        self.stopped = False
        self._special = frozenset(getattr(tokenizer, "all_special_ids", ()))
        self._hold = 0 if include_stop or not stop else max(len(s) for s in stop) - 1

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        before = decode(self.ids[self._prefix : self._read], skip_special_tokens=True)
        after = decode(self.ids[self._prefix :], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self._prefix, self._read = self._read, len(self.ids)
        return self._release()

    def _release(self) -> str:
        end = len(self.text) - self._hold
        for stop in self.stop:
            found = self.text.find(stop, max(0, self.emitted - len(stop)))
            if found != -1:
                self.stopped = True
                self.text = self.text[: found + len(stop) if self.include_stop else found]
                end = len(self.text)
                break
        delta = self.text[self.emitted : max(end, self.emitted)]
        self.emitted += len(delta)
        return delta

    def finish(self) -> str:
        """The held-back rest, once generation has ended without a stop string."""
        self._hold = 0
        return self._release()

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special
