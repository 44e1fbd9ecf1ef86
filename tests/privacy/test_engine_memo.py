"""PrivacyEngine.scan remembers the spans of short strings (a dataset's repeated instructions and
system prompts are scanned once), and gives the same spans as a fresh scan."""

from __future__ import annotations

import pytest

from stockade.privacy import engine as engine_module
from stockade.privacy.engine import PrivacyEngine
from stockade.privacy.policy import PrivacyPolicy

SECRET = b"k" * 32


def _counting(engine: PrivacyEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    scan = engine._scan

    def counted(text: str):  # type: ignore[no-untyped-def]
        calls.append(text)
        return scan(text)

    monkeypatch.setattr(engine, "_scan", counted)
    return calls


def test_a_repeated_short_string_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = PrivacyEngine(PrivacyPolicy(), SECRET)
    calls = _counting(engine, monkeypatch)
    text = "客户张伟，手机13812345678"
    first = engine.scan(text)
    for _ in range(3):
        assert engine.scan(text) == first
    assert calls == [text]
    found = [(s.type.value, text[s.start : s.end]) for s in first]
    assert found == [("person", "张伟"), ("mobile", "13812345678")]
    first.clear()  # a caller may change the list it got; the remembered spans stay
    assert len(engine.scan(text)) == 2


def test_long_strings_are_not_remembered_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = PrivacyEngine(PrivacyPolicy(), SECRET)
    calls = _counting(engine, monkeypatch)
    long_text = "客户张伟" + "。" * engine_module.MEMO_MAX_CHARS
    engine.scan(long_text)
    engine.scan(long_text)
    assert calls == [long_text, long_text]
    monkeypatch.setattr(engine_module, "MEMO_ENTRIES", 3)
    for i in range(10):
        engine.scan(f"第{i}条")
    assert len(engine._seen) <= 3


def test_remembered_spans_follow_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two engines with different policies do not share what they remember."""
    text = "客户张伟，手机13812345678"
    plain = PrivacyEngine(PrivacyPolicy(), SECRET)
    allowing = PrivacyEngine(PrivacyPolicy(allow_list=["13812345678"]), SECRET)
    assert len(plain.scan(text)) == 2
    assert [s.type.value for s in allowing.scan(text)] == ["person"]
    assert len(plain.scan(text)) == 2
