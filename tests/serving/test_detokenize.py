"""Streaming text: stop sequences kept (TGI) or dropped (OpenAI), nothing emitted past a stop."""

from __future__ import annotations

import pytest

from stockade.serving.detokenize import TextAssembler


class CharTokenizer:
    """One token per character (id = code point); id 0 is a special token."""

    all_special_ids = (0,)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids if i or not skip_special_tokens)


def _stream(text: str, stop: tuple[str, ...], include: bool) -> tuple[list[str], str, bool]:
    assembler = TextAssembler(CharTokenizer(), stop, include_stop=include)
    deltas = []
    for char in text:
        deltas.append(assembler.add(ord(char)))
        if assembler.stopped:
            break
    else:
        deltas.append(assembler.finish())
    return deltas, assembler.text, assembler.stopped


CASES = [
    ("hello world", ("wor",), True, "hello wor", True),
    ("hello world", ("wor",), False, "hello ", True),
    ("hello world", ("xyz",), False, "hello world", False),
    ("abcabc", ("ca",), True, "abca", True),
    ("债券违约风险", ("违约",), False, "债券", True),
]


@pytest.mark.parametrize(("text", "stop", "include", "expected", "stopped"), CASES)
def test_stop_sequences(
    text: str, stop: tuple[str, ...], include: bool, expected: str, stopped: bool
) -> None:
    deltas, full, was_stopped = _stream(text, stop, include)
    assert full == expected and "".join(deltas) == expected
    assert was_stopped is stopped


def test_excluded_stop_text_is_held_back_until_it_cannot_match() -> None:
    assembler = TextAssembler(CharTokenizer(), ("END",), include_stop=False)
    assert assembler.add(ord("a")) == ""  # could be the start of nothing yet: held (2 chars)
    assert assembler.add(ord("E")) == ""
    assert assembler.add(ord("x")) == "a"
    assert assembler.finish() == "Ex"


def test_special_tokens_add_no_text() -> None:
    assembler = TextAssembler(CharTokenizer())
    assert assembler.add(0) == "" and assembler.is_special(0)
    assert assembler.add(ord("a")) == "a" and not assembler.is_special(ord("a"))


def test_half_a_character_waits_for_the_rest() -> None:
    class ByteTokenizer:
        all_special_ids: tuple[int, ...] = ()

        def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
            return bytes(ids).decode("utf-8", errors="replace")

    assembler = TextAssembler(ByteTokenizer())
    first, second, third = "债".encode()
    assert assembler.add(first) == "" and assembler.add(second) == ""
    assert assembler.add(third) == "债"
