"""The serving output guard: the privacy detectors over every response before it leaves the server.

``mask`` replaces personal data with the default policy's typed placeholders (``<身份证号>``), ``block``
refuses a response that contains any (:class:`PersonalDataBlocked`), ``off`` does nothing. Prompts can
be filtered the same way, on their own mode.

Streams are guarded without ever sending a value: a chunk is held back while its text could still be
part of personal data, that is while it lies in the last :data:`MIN_HOLD` characters, in the trailing
run of identifier-like characters (digits, letters, ``@.-_+:()``, a space between digits, full-width
forms; at most :data:`MAX_TAIL` characters) or in a span the detectors found that ends near the end of
the text (it may still grow). Held text is scanned again, with :data:`LEFT_CONTEXT` characters already
sent (context words such as 护照), once :data:`RELEASE_STEP` new characters could be released; the
masked stream then equals the masked whole text. A chunk whose text overlapped personal data is sent
with ``token_id`` :data:`WITHHELD_TOKEN_ID` (its real id would spell the value); its ``logprob`` is the
model's. Detectors are rules (checksums, patterns, word lists), not a guarantee.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from stockade.core.errors import ConfigError
from stockade.serving.errors import PersonalDataBlocked
from stockade.serving.stream import Chunk

PiiFilterMode = Literal["mask", "block", "off"]
PII_FILTER_MODES: tuple[str, ...] = get_args(PiiFilterMode)
DEFAULT_PII_FILTER: PiiFilterMode = "mask"

MAX_TAIL = 48  # most characters of a trailing identifier-like run held back (an IPv6 is 39, ID spaced 21)
MIN_HOLD = 16  # characters always held back (names and addresses are recognised by what follows them)
RELEASE_STEP = 4  # held text is scanned again once this many characters are new and could be released
SETTLE = 6  # a span ending this close to the end of the text is held: it may still grow (names, addresses)
LEFT_CONTEXT = 32  # characters already sent that are re-scanned with the held text (context words)
WITHHELD_TOKEN_ID = -1  # token id sent for a token whose text overlapped masked personal data

_SEPARATORS = "@._+-:()＠．＿＋－：（）"
_SPACES = " \u3000"


def _fullwidth_alnum(char: str) -> bool:
    code = ord(char)
    return 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A


def _digit(char: str) -> bool:
    return "0" <= char <= "9" or "\uff10" <= char <= "\uff19" or char in "Xx"


def _identifier(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or _fullwidth_alnum(char) or char in _SEPARATORS


def identifier_tail(text: str, start: int = 0, end: int | None = None, limit: int = MAX_TAIL) -> int:
    """Length of the trailing run of ``text[start:end]`` that could still be the start of an identifier."""
    end = i = len(text) if end is None else end
    while i > start and end - i < limit:
        char = text[i - 1]
        if _identifier(char):
            i -= 1
        elif char in _SPACES and i >= 2 and _digit(text[i - 2]) and (i == end or _digit(text[i])):
            i -= 1  # "1101 0519 ...": a space between digit groups (or after the last one so far)
        else:
            break
    return end - i


@dataclass
class _Piece:
    chunk: Chunk
    start: int  # offsets of the chunk's text in the whole generated text
    end: int


class OutputFilter:
    """One response's guard. ``push`` the chunks as they are generated; it returns the chunks that are
    safe to send now, with masked text (all of them once a chunk with ``finish`` was pushed).

    ``text`` is what has been released so far (masked); ``counts`` the personal data found, by type;
    ``blocked`` the types that stopped the response (block mode), after which nothing more is released.
    """

    def __init__(self, engine: Any, mode: PiiFilterMode) -> None:
        if mode not in ("mask", "block"):
            raise ValueError(f"an output filter masks or blocks, not {mode!r}")
        self.engine = engine
        self.mode = mode
        self.text = ""
        self.counts: Counter[str] = Counter()
        self.blocked: list[str] | None = None
        self._raw = ""
        self._released = 0
        self._scanned = 0  # len(self._raw) at the last scan
        self._pending: list[_Piece] = []

    def push(self, chunks: Iterable[Chunk]) -> list[Chunk]:
        if self.blocked is not None:
            return []
        final = False
        for chunk in chunks:
            start = len(self._raw)
            self._raw += chunk.text
            self._pending.append(_Piece(chunk, start, len(self._raw)))
            final = final or chunk.finish is not None
        return self._release(final)

    def blocked_error(self) -> PersonalDataBlocked:
        kinds = ", ".join(self.blocked or ())
        return PersonalDataBlocked(
            f"the response contained personal data ({kinds}) and the server's output guard blocks such "
            "responses (--pii-filter block): it is withheld from here on",
            fix="ask without requesting personal data, or ask the operator about --pii-filter",
        )

    # -- internals --------------------------------------------------------------------------------

    def _release(self, final: bool) -> list[Chunk]:
        raw, released = self._raw, self._released
        cut = len(raw)
        if not final:
            run = identifier_tail(raw, released)
            # and the character before the run (a plate's province: 京A), and at least MIN_HOLD
            # characters (a name is known by the title after it: 施娜娜女士)
            cut = len(raw) - max(run + 1 if run else 0, MIN_HOLD)
            if cut - released < RELEASE_STEP or len(raw) - self._scanned < RELEASE_STEP:
                return []  # too little to release, or too little new since the last scan: no scan yet
        self._scanned = len(raw)
        window = self._window_start()
        spans = [s for s in self.engine.scan(raw[window:]) if window + s.end > released]
        if not final:
            for span in spans:
                if window + span.end > len(raw) - SETTLE:
                    cut = min(cut, window + span.start)
            cut = self._settle(cut, spans, window)
        taken = [s for s in spans if max(window + s.start, released) < cut]
        if taken and self.mode == "block":
            self.blocked = sorted({s.type.value for s in taken})
            self.counts.update(s.type.value for s in taken)
            return []
        pieces = []
        while self._pending and self._pending[0].end <= cut:
            pieces.append(self._pending.pop(0))
        if not pieces:
            return []
        cut = pieces[-1].end
        self.counts.update(s.type.value for s in taken)
        out = [self._masked(piece, taken, window) for piece in pieces]
        self._released = cut
        self.text += "".join(chunk.text for chunk in out)
        return out

    def _window_start(self) -> int:
        """Where the re-scan starts: some already-sent context, moved back out of an identifier run."""
        start = max(0, self._released - LEFT_CONTEXT)
        return start - identifier_tail(self._raw, 0, start)

    def _settle(self, cut: int, spans: list, window: int) -> int:
        """Move ``cut`` back to a chunk boundary that splits no span."""
        released = self._released
        while True:
            boundary = released
            for piece in self._pending:
                if piece.end > cut:
                    break
                boundary = piece.end
            cut = boundary
            inside = [
                window + s.start for s in spans if max(window + s.start, released) < cut < window + s.end
            ]
            if not inside:
                return cut
            cut = max(released, min(inside))

    def _masked(self, piece: _Piece, spans: list, window: int) -> Chunk:
        raw, released = self._raw, self._released
        parts, position, hidden = [], piece.start, False
        for span in spans:
            start, end = max(window + span.start, released), window + span.end
            if end <= piece.start or start >= piece.end:
                continue
            hidden = True
            if start > position:
                parts.append(raw[position:start])
            if piece.start <= start:  # the placeholder goes with the chunk where the value starts
                parts.append(self._placeholder(span, window))
            position = max(position, min(end, piece.end))
        if not hidden:
            return piece.chunk
        parts.append(raw[position : piece.end])
        return replace(piece.chunk, text="".join(parts), token_id=WITHHELD_TOKEN_ID)

    def _placeholder(self, span: Any, window: int) -> str:
        head = self._raw[window : window + span.end]
        return self.engine.transform(head, [span])[span.start :]


class PiiGuard:
    """The server's guard: one privacy engine (default policy) and the modes for outputs and prompts."""

    def __init__(self, output: str = DEFAULT_PII_FILTER, prompts: str = "off") -> None:
        for name, value in (("pii_filter", output), ("pii_filter_prompts", prompts)):
            if value not in PII_FILTER_MODES:
                raise ConfigError(
                    f"{name} must be one of {', '.join(PII_FILTER_MODES)}, not {value!r}",
                    fix=f"use --{name.replace('_', '-')} mask, block or off",
                )
        self.output: PiiFilterMode = output  # type: ignore[assignment]
        self.prompts: PiiFilterMode = prompts  # type: ignore[assignment]
        self.engine = None
        if output != "off" or prompts != "off":
            from stockade.privacy.engine import PrivacyEngine
            from stockade.privacy.policy import PrivacyPolicy

            # the default policy replaces every type with a placeholder: no key is involved
            self.engine = PrivacyEngine(PrivacyPolicy(), secret=b"")

    def describe(self) -> dict[str, str]:
        return {"pii_filter": self.output, "pii_filter_prompts": self.prompts}

    def output_filter(self) -> OutputFilter | None:
        return None if self.output == "off" else OutputFilter(self.engine, self.output)

    def filter_prompt(self, text: str, counts: Counter[str]) -> str:
        """The prompt text to generate from: masked, or refused in block mode; ``counts`` gets the types."""
        if self.prompts == "off" or not text:
            return text
        return self._filter(text, counts, self.prompts, "prompt")

    def filter_echo(self, text: str, counts: Counter[str]) -> str:
        """Prompt text sent back in a response (TGI ``return_full_text``) goes through the output mode."""
        if self.output == "off" or not text:
            return text
        return self._filter(text, counts, self.output, "response")

    def _filter(self, text: str, counts: Counter[str], mode: str, what: str) -> str:
        assert self.engine is not None
        masked, spans = self.engine.desensitize(text)
        if not spans:
            return text
        kinds = [span.type.value for span in spans]
        counts.update(kinds)
        if mode == "block":
            flag = "--pii-filter-prompts" if what == "prompt" else "--pii-filter"
            raise PersonalDataBlocked(
                f"the {what} contains personal data ({', '.join(sorted(set(kinds)))}); this server refuses "
                f"it ({flag} block)",
                fix="remove the personal data (or desensitize it) and send again",
            )
        return masked
