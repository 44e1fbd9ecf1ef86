"""`stockade upgrade`: verify → backup → install beside → migrate → doctor → switch, and `--rollback`.

The bundle is a tiny signed one whose install.sh makes a venv-shaped folder whose `bin/stockade` runs
this checkout's Stockade (the real install.sh is proven in test_bundle_install.py): what is tested here
is the sequence, the refusals and the links, with the real backup, `init` (migrations) and `doctor`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from stockade.operations.bundle_manifest import write_manifest
from stockade.operations.signing import generate_key_pair
from tests.conftest import run_cli
from tests.operations.backup_setup import populated_workspace, secret_files

FAKE_INSTALL = f"""#!/usr/bin/env bash
# records its arguments, then makes VENV/bin/stockade (this test's Python running Stockade)
set -euo pipefail
echo "$@" > "$(dirname "$0")/../install-args.txt"
while [ $# -gt 0 ]; do case "$1" in --venv) VENV="$2"; shift 2 ;; *) shift ;; esac; done
mkdir -p "$VENV/bin"
printf '#!/bin/sh\\necho "$*" >> %s/calls.txt\\nexec {sys.executable} -m stockade "$@"\\n' "$VENV" \\
  > "$VENV/bin/stockade"
chmod +x "$VENV/bin/stockade"
"""


def _bundle(folder: Path, key: Path | None, version: str = "9.9.9") -> Path:
    folder.mkdir(parents=True)
    (folder / "install.sh").write_text(FAKE_INSTALL)
    (folder / "requirements.txt").write_text("")
    write_manifest(folder, {"kind": "install", "stockade_version": version, "python": "3.11"}, sign_key=key)
    return folder


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    root = populated_workspace(tmp_path)
    generate_key_pair(tmp_path / "org.key")
    _, passphrase = secret_files(tmp_path)
    return {
        "root": root,
        "bundle": _bundle(tmp_path / "transfer" / "bundle", tmp_path / "org.key"),
        "public": tmp_path / "org.key.pub",
        "passphrase": passphrase,
        "prefix": tmp_path / "opt",
    }


def _upgrade(setup: dict[str, Path], backup: Path, *extra: str):
    return run_cli(
        "-w", str(setup["root"]), "upgrade", str(setup["bundle"]), "--prefix", str(setup["prefix"]),
        "--backup-out", str(backup), "--passphrase-file", str(setup["passphrase"]),
        "--python", sys.executable, *extra, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_upgrade_backs_up_installs_migrates_switches_and_rolls_back(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    prefix = setup["prefix"]
    first = _upgrade(setup, tmp_path / "b1.tar", "--trusted-key", str(setup["public"]))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "upgraded to 9.9.9" in first.stdout
    one = Path(os.readlink(prefix / "current"))
    assert one.parent == prefix.resolve() and one.name.startswith("venv-9.9.9-")
    assert not (prefix / "previous").exists()  # nothing was current before
    assert "--trusted-key" in (setup["bundle"].parent / "install-args.txt").read_text()
    verified = run_cli("backup", "verify", str(tmp_path / "b1.tar"), "--json")
    assert verified.returncode == 0, verified.stderr

    # a second upgrade: current moves on, previous keeps the first
    import time

    time.sleep(1.1)  # the venv folder name carries the time to the second
    second = _upgrade(setup, tmp_path / "b2.tar", "--trusted-key", str(setup["public"]))
    assert second.returncode == 0, second.stderr
    two = Path(os.readlink(prefix / "current"))
    assert two != one and Path(os.readlink(prefix / "previous")) == one

    back = run_cli("upgrade", "--rollback", "--prefix", str(prefix))
    assert back.returncode == 0, back.stderr
    assert Path(os.readlink(prefix / "current")) == one and Path(os.readlink(prefix / "previous")) == two

    audit = run_cli("-w", str(setup["root"]), "audit", "tail", "--json", "-n", "50")
    actions = [json.loads(line)["action"] for line in audit.stdout.splitlines() if line.strip()]
    assert actions.count("operations.upgrade") == 2, actions
    root = str(setup["root"])
    assert (one / "calls.txt").read_text().splitlines() == [f"init {root}", f"-w {root} doctor"]


def test_a_tampered_bundle_changes_nothing(setup: dict[str, Path], tmp_path: Path) -> None:
    (setup["bundle"] / "install.sh").write_text("#!/bin/sh\nrm -rf /\n")
    refused = _upgrade(setup, tmp_path / "b.tar", "--trusted-key", str(setup["public"]))
    assert refused.returncode == 3 and "changed: install.sh" in refused.stderr
    assert not (tmp_path / "b.tar").exists() and not setup["prefix"].exists()


def test_a_failing_install_leaves_current_alone(setup: dict[str, Path], tmp_path: Path) -> None:
    setup["bundle"] = _bundle(tmp_path / "other", None)
    (setup["bundle"] / "install.sh").write_text(
        "#!/bin/sh\necho 'pip: no matching distribution' >&2\nexit 1\n"
    )
    write_manifest(setup["bundle"], {"kind": "install", "stockade_version": "9.9.9", "python": "3.11"})
    failed = _upgrade(setup, tmp_path / "b.tar", "--allow-unsigned")
    assert failed.returncode == 1 and "installing the bundle failed" in failed.stderr
    assert "no matching distribution" in failed.stderr and "nothing was switched" in failed.stderr
    assert not (setup["prefix"] / "current").exists()
    assert (tmp_path / "b.tar").exists()  # the backup was taken first


def test_rollback_without_a_previous_version_and_stray_options_are_refused(tmp_path: Path) -> None:
    nothing = run_cli("upgrade", "--rollback", "--prefix", str(tmp_path))
    assert nothing.returncode == 1 and "no previous version" in nothing.stderr
    mixed = run_cli("upgrade", "--rollback", "--prefix", str(tmp_path), "--allow-unsigned")
    assert mixed.returncode == 1 and "--rollback takes only --prefix" in mixed.stderr
    bare = run_cli("upgrade")
    assert bare.returncode == 1 and "--backup-out" in bare.stderr
