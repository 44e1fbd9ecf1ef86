"""Staged records encrypted at rest (issue 14, item 3): only ciphertext on disk, damage detected, key gone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from stockade.storage import sealed
from stockade.storage.sealed import SealedFile, SealedFileDamaged

ID_NUMBER = "110101199003074258"


def _lines(count: int) -> list[str]:
    # multi-byte characters, so frame boundaries fall inside characters too
    return [f'{{"n": {i}, "text": "客户身份证 {ID_NUMBER} 第{i}行"}}\n' for i in range(count)]


def _written(path: Path, lines: list[str]) -> SealedFile:
    staged = SealedFile(path)
    with staged.writer() as out:
        out.writelines(lines)
    return staged


def test_lines_read_back_as_written_across_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sealed, "CHUNK", 1000)  # many frames from a small file
    lines = _lines(300)
    plain = "".join(lines).encode("utf-8")
    staged = _written(tmp_path / "records.sealed", lines)
    with staged.reader() as text:
        assert list(text) == lines
    assert staged.size == len(plain) and staged.sha256 == hashlib.sha256(plain).hexdigest()
    staged.decrypt_to(tmp_path / "plain.jsonl")
    assert (tmp_path / "plain.jsonl").read_bytes() == plain
    assert (tmp_path / "plain.jsonl").stat().st_mode & 0o777 == 0o600


def test_the_disk_holds_only_ciphertext(tmp_path: Path) -> None:
    staged = _written(tmp_path / "records.sealed", _lines(50))
    on_disk = staged.path.read_bytes()
    assert staged.path.stat().st_mode & 0o777 == 0o600
    assert len(on_disk) > staged.size  # everything is there, sealed (tags and headers added)
    assert ID_NUMBER.encode() not in on_disk and "客户".encode() not in on_disk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.sealed"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-1], id="truncated-inside-a-frame"),
        pytest.param(lambda data: data[: len(data) // 2], id="cut-in-half"),
        pytest.param(lambda data: data + b"\0", id="bytes-appended"),
        pytest.param(lambda data: data[:40] + bytes([data[40] ^ 1]) + data[41:], id="one-bit-flipped"),
    ],
)
def test_damage_is_refused_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage) -> None:
    monkeypatch.setattr(sealed, "CHUNK", 1000)
    staged = _written(tmp_path / "records.sealed", _lines(100))
    staged.path.write_bytes(damage(staged.path.read_bytes()))
    with pytest.raises(SealedFileDamaged, match="cannot be read back"), staged.reader() as text:
        text.read()


def test_a_dropped_final_frame_is_truncation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sealed, "CHUNK", 1000)
    staged = _written(tmp_path / "records.sealed", _lines(100))
    data = staged.path.read_bytes()
    frames, at = [], 0
    while at < len(data):
        length, _ = sealed._HEADER.unpack_from(data, at)
        frames.append(data[at : at + sealed._HEADER.size + length])
        at += sealed._HEADER.size + length
    assert len(frames) > 2
    staged.path.write_bytes(b"".join(frames[:-1]))  # whole frames only: still not a shorter valid file
    with pytest.raises(SealedFileDamaged, match="truncated"), staged.reader() as text:
        text.read()
    staged.path.write_bytes(frames[1] + frames[0] + b"".join(frames[2:]))  # reordered
    with pytest.raises(SealedFileDamaged, match="authentication"), staged.reader() as text:
        text.read()


def test_a_rewrite_replaces_the_content_under_a_new_key(tmp_path: Path) -> None:
    staged = _written(tmp_path / "records.sealed", ["raw\n"])
    before = staged.path.read_bytes()
    with staged.reader() as lines, staged.writer() as out:  # the gate's desensitize pass
        out.writelines(line.replace("raw", "masked") for line in lines)
    with staged.reader() as text:
        assert text.read() == "masked\n"
    assert staged.sha256 == hashlib.sha256(b"masked\n").hexdigest()
    staged.path.write_bytes(before)  # the old ciphertext does not open under the new key
    with pytest.raises(SealedFileDamaged), staged.reader() as text:
        text.read()


def test_a_failed_write_keeps_the_previous_content(tmp_path: Path) -> None:
    staged = _written(tmp_path / "records.sealed", ["kept\n"])
    with pytest.raises(RuntimeError), staged.writer() as out:
        out.write("half")
        raise RuntimeError("the gate failed")
    with staged.reader() as text:
        assert text.read() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.sealed"]


def test_destroy_forgets_the_key_and_deletes_the_file(tmp_path: Path) -> None:
    staged = _written(tmp_path / "records.sealed", _lines(3))
    key = staged._key
    assert key is not None and any(key)
    staged.destroy()
    assert not staged.path.exists() and staged._key is None
    assert not any(key)  # the key's bytes were overwritten, not just dropped
    with pytest.raises(SealedFileDamaged, match="no content"), staged.reader():
        pass
