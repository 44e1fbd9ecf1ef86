"""The surname spellings shipped with the name detector, and pypinyin loaded only when needed."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

from stockade.privacy.detectors import detect_all
from stockade.privacy.detectors.person import surname_pinyin_rows


def test_the_shipped_surname_spellings_are_what_pypinyin_gives() -> None:
    shipped = resources.files("stockade.privacy.detectors").joinpath("resources", "surname_pinyin.txt")
    rows = [line for line in shipped.read_text("utf-8").splitlines() if line and not line.startswith("#")]
    assert rows == surname_pinyin_rows(), "regenerate resources/surname_pinyin.txt (see surname_pinyin_rows)"


def test_a_text_without_a_surname_spelled_out_does_not_load_pypinyin() -> None:
    code = (
        "import sys\n"
        "from stockade.privacy.detectors import detect_all\n"
        "spans = detect_all('客户罗晓明办理VIP卡，APP已开通，Email notice sent.')\n"
        "assert any(s.type == 'person' for s in spans), spans\n"
        "print('pypinyin' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_spelling_of_a_name_found_in_the_text_is_still_found() -> None:
    text = "收款人：罗晓明 Beneficiary: Luo Xiaoming, ref LUO XIAO-MING"
    found = {text[s.start : s.end] for s in detect_all(text) if s.type == "person"}
    assert {"罗晓明", "Luo Xiaoming", "LUO XIAO-MING"} <= found
