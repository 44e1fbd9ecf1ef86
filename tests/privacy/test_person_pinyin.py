"""Pinyin for romanised names: pypinyin's readings, without importing pypinyin."""

from __future__ import annotations

import subprocess
import sys

from stockade.privacy.detectors import detect_all


def test_the_spelling_of_a_name_found_in_the_text_is_still_found() -> None:
    text = "收款人：罗晓明 Beneficiary: Luo Xiaoming, ref LUO XIAO-MING"
    found = {text[s.start : s.end] for s in detect_all(text) if s.type == "person"}
    assert {"罗晓明", "Luo Xiaoming", "LUO XIAO-MING"} <= found


def test_readings_of_every_ideograph_are_pypinyins() -> None:
    from pypinyin import Style, pinyin

    from stockade.privacy.detectors.person import _syllables

    for code in [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)]:
        ch = chr(code)
        assert _syllables(ch) == tuple(dict.fromkeys(pinyin(ch, style=Style.NORMAL, heteronym=True)[0])), ch


def test_a_romanised_name_does_not_import_pypinyin() -> None:
    code = (
        "import sys\n"
        "from stockade.privacy.detectors import detect_all\n"
        "text = '收款人：罗晓明 Beneficiary: Luo Xiaoming'\n"
        "assert 'Luo Xiaoming' in {text[s.start:s.end] for s in detect_all(text)}\n"
        "print('pypinyin' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
