"""The fixtures shipped in tests/fixtures: present in a plain clone, licensed, and byte-identical to the
files of ../shared/fixtures they copy (where that folder exists), so the two cannot drift apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, LLAMAFACTORY_CONFIGS, LLAMAFACTORY_DATA, REPO, SHARED_FIXTURES

LICENCE = FIXTURES / "LICENSE-llamafactory-apache-2.0"
NOT_COPIES = {"README.md"}  # written here, not copied from ../shared/fixtures
# copied from LLaMA-Factory's repository at the commit its README names, not from ../shared/fixtures
UPSTREAM = Path("llamafactory/deepspeed")
# the first records of ../shared/fixtures files, checked by tests/training/test_llamafactory_stages.py
TRIMMED = Path("llamafactory/stages")


def shipped() -> list[Path]:
    return sorted(
        path.relative_to(FIXTURES)
        for path in FIXTURES.rglob("*")
        if path.is_file() and path.name not in NOT_COPIES and "__pycache__" not in path.parts
    )


def test_the_llamafactory_fixtures_ship_with_their_licence() -> None:
    assert LLAMAFACTORY_DATA.is_dir() and LLAMAFACTORY_CONFIGS.is_dir()
    assert LLAMAFACTORY_DATA.is_relative_to(REPO) and LLAMAFACTORY_CONFIGS.is_relative_to(REPO)
    assert (LLAMAFACTORY_DATA / "dataset_info.json").is_file()
    assert "Apache License" in LICENCE.read_text(encoding="utf-8")
    assert "Version 2.0" in LICENCE.read_text(encoding="utf-8")


def test_shipped_fixtures_are_identical_to_shared() -> None:
    if not SHARED_FIXTURES.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_FIXTURES} is missing in CI: .ci/run runs with shared/ beside the clone")
        pytest.skip(f"no {SHARED_FIXTURES} beside the checkout to compare the shipped copies with")
    files = [
        name for name in shipped() if not name.is_relative_to(UPSTREAM) and not name.is_relative_to(TRIMMED)
    ]
    assert len(files) > 5, files
    missing = [str(name) for name in files if not (SHARED_FIXTURES / name).is_file()]
    assert missing == [], f"shipped fixtures with no original in {SHARED_FIXTURES}"
    differ = [
        str(name) for name in files if (FIXTURES / name).read_bytes() != (SHARED_FIXTURES / name).read_bytes()
    ]
    assert differ == [], f"copy them again: cp {SHARED_FIXTURES}/<file> {FIXTURES}/<file>"
