"""The derived-data cache: private, checked, rebuilt whenever it cannot be trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.core import derived_cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(folder))
    return folder


class Builder:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


VALUE = ({"黄瓜": (120, "n"), "王建国": (3, "nr")}, {"黄瓜": -9.5}, -12.0, ("ab", "cd"))


def test_built_once_then_read_from_a_private_file(cache: Path) -> None:
    build = Builder(VALUE)
    assert derived_cache.load_or_build("thing", ("k", 1), build) == VALUE
    assert derived_cache.load_or_build("thing", ("k", 1), build) == VALUE
    assert build.calls == 1
    (entry,) = cache.iterdir()
    assert entry.name.startswith("thing-") and entry.suffix == ".marshal"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert oct(entry.stat().st_mode & 0o777) == "0o600"


def test_a_new_key_rebuilds_and_drops_the_stale_entry(cache: Path) -> None:
    build = Builder(VALUE)
    derived_cache.load_or_build("thing", ("v", 1), build)
    derived_cache.load_or_build("thing", ("v", 2), build)  # e.g. a new jieba version
    assert build.calls == 2
    assert len(list(cache.glob("thing-*.marshal"))) == 1
    derived_cache.load_or_build("other", ("v", 1), build)  # another entry's files are its own
    assert len(list(cache.glob("*.marshal"))) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic"])
def test_a_damaged_entry_is_rebuilt(cache: Path, damage: str) -> None:
    build = Builder(VALUE)
    derived_cache.load_or_build("thing", ("k",), build)
    (entry,) = cache.iterdir()
    blob = bytearray(entry.read_bytes())
    if damage == "flip":
        blob[-3] ^= 0xFF
    elif damage == "truncate":
        del blob[len(blob) // 2 :]
    else:
        blob[:4] = b"XXXX"
    entry.write_bytes(bytes(blob))
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE
    assert build.calls == 2
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE  # rewritten, sound again
    assert build.calls == 2


def test_an_entry_others_may_write_is_not_trusted(cache: Path) -> None:
    build = Builder(VALUE)
    derived_cache.load_or_build("thing", ("k",), build)
    (entry,) = cache.iterdir()
    entry.chmod(0o620)  # group-writable: someone else could have put anything there
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE
    assert build.calls == 2


def test_a_link_is_not_followed(cache: Path, tmp_path: Path) -> None:
    build = Builder(VALUE)
    derived_cache.load_or_build("thing", ("k",), build)
    (entry,) = cache.iterdir()
    elsewhere = tmp_path / "elsewhere.marshal"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE
    assert build.calls == 2


def test_off_and_unwritable_folders_only_mean_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = Builder(VALUE)
    monkeypatch.setenv("STOCKADE_CACHE_DIR", "off")
    assert derived_cache.entry_path("thing", ("k",)) is None
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE
    assert build.calls == 2
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(blocker / "cache"))
    assert derived_cache.load_or_build("thing", ("k",), build) == VALUE


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from stockade.core import environment

    monkeypatch.delenv("STOCKADE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert environment.cache_location() == tmp_path / "stockade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert environment.cache_location() == Path.home() / ".cache" / "stockade"


def test_no_home_directory_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockade.core import environment

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("STOCKADE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert environment.cache_location() is None
    assert derived_cache.load_or_build("thing", ("k",), Builder(VALUE)) == VALUE
