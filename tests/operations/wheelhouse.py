"""Fill the local wheelhouse that the slow bundle test builds from, with no network, in `unshare -n`.

    python -m tests.operations.wheelhouse DIR

This is the one step that reaches the package registry, and it runs before the tests (`.ci/run`), never
inside one: the wheels of the CPU lock for this Python (torch left out: the test installs the machine's
local torch file), the sources of the packages built from source (jieba), and setuptools for building
wheels. Files already in DIR are kept, so a second run only checks them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stockade.operations.bundle import BUILT_FROM_SOURCE, DEFAULT_PLATFORM, compatible_platforms
from stockade.operations.lock import TORCH, lock_path, read_lock

REPO = Path(__file__).resolve().parents[2]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def prepare(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pins = read_lock(lock_path(REPO, "cpu", PYTHON))
    binary = [pin for name, pin in pins.items() if name not in BUILT_FROM_SOURCE and name != TORCH]
    source = [p for n, p in pins.items() if n in BUILT_FROM_SOURCE]
    requirements = folder / ".binary.txt"
    requirements.write_text("".join(pin.requirement() + "\n" for pin in binary), encoding="utf-8")
    platforms = [flag for tag in compatible_platforms(DEFAULT_PLATFORM) for flag in ("--platform", tag)]
    _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "--require-hashes", *platforms,
         "--python-version", PYTHON, "--implementation", "cp",
         "-d", str(folder), "-r", str(requirements))  # fmt: skip
    requirements.write_text("".join(pin.requirement() + "\n" for pin in source), encoding="utf-8")
    sources_only = "--no-binary=" + ",".join(sorted(BUILT_FROM_SOURCE))
    _pip("download", "--quiet", "--no-deps", sources_only, "--require-hashes",
         "-d", str(folder), "-r", str(requirements))  # fmt: skip
    requirements.unlink()
    # the build backend `pip wheel` installs in its isolated build environment (pyproject's build-system)
    _pip("download", "--quiet", "--only-binary=:all:", "-d", str(folder), "setuptools>=68", "wheel")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.operations.wheelhouse DIR")
    prepare(Path(sys.argv[1]))
