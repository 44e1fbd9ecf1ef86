"""`stockade upgrade`: install a verified bundle beside the running version, then switch to it.

    verify the bundle → backup create → install.sh into PREFIX/venv-VERSION-TIME (no switch yet) →
    the new version's `stockade init WORKSPACE` (Alembic migrations, data kept) → its `stockade doctor`
    → PREFIX/current points at the new venv, PREFIX/previous at the one it replaced.

``rollback`` swaps ``current`` and ``previous`` back. The links are replaced atomically (a new link renamed
over the old one), so ``PREFIX/current/bin/stockade`` is always one complete version. A failure before
the switch leaves ``current`` as it was and says what to do about what was done (a migrated database is
undone by restoring the backup).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.operations.backup import create_backup
from stockade.operations.bundle_manifest import verify_bundle

CURRENT, PREVIOUS = "current", "previous"
Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run_step(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class UpgradeResult:
    version: str
    venv: Path
    previous: Path | None
    backup: Path


def _link(prefix: Path, name: str, target: Path) -> None:
    """Point ``prefix/name`` at ``target`` atomically."""
    temporary = prefix / f".{name}.new-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    os.replace(temporary, prefix / name)


def _target(prefix: Path, name: str) -> Path | None:
    link = prefix / name
    return Path(os.readlink(link)) if link.is_symlink() else None


def _step(run: Runner, command: list[str], what: str, fix: str) -> None:
    done = run(command)
    if done.returncode != 0:
        tail = "\n".join(((done.stderr or "") + (done.stdout or "")).strip().splitlines()[-8:])
        raise StockadeError(f"{what} failed (exit {done.returncode}):\n{tail}", fix=fix)


def upgrade(
    context: Any,
    bundle: Path,
    *,
    prefix: Path,
    backup_out: Path,
    passphrase: str,
    trusted_key: Path | None,
    allow_unsigned: bool = False,
    python: str = "python3",
    run: Runner = run_step,
) -> UpgradeResult:
    """Upgrade the installation under ``prefix`` from ``bundle``; the workspace of ``context`` is backed up
    and migrated. The caller has checked the ``backup.create`` permission."""
    prefix = prefix.expanduser().resolve()
    checked = verify_bundle(bundle, trusted_key=trusted_key, allow_unsigned=allow_unsigned)
    if checked.kind != "install":
        raise StockadeError(
            f"this is a {checked.kind!r} bundle, not an install bundle",
            where=str(bundle),
            fix="give the folder `stockade bundle build` wrote",
        )
    version = str(checked.manifest["stockade_version"])
    prefix.mkdir(parents=True, exist_ok=True)
    venv = prefix / f"venv-{version}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    if venv.exists():
        raise StockadeError("the new version's folder already exists", where=str(venv), fix="run it again")
    previous = _target(prefix, CURRENT)
    backup = create_backup(context, backup_out, passphrase=passphrase)
    origin = ["--trusted-key", str(trusted_key)] if trusted_key else ["--allow-unsigned"]
    site = ["--system-site-packages"] if checked.manifest.get("omitted") else []
    _step(
        run,
        ["bash", str(checked.folder / "install.sh"), "--venv", str(venv), "--python", python, "--no-doctor",
         *origin, *site],
        "installing the bundle",
        f"nothing was switched; remove {venv} and see install.sh's message above",
    )  # fmt: skip
    root = str(context.workspace.root)
    new = str(venv / "bin" / "stockade")
    _step(
        run,
        [new, "init", root],
        "the database migration",
        f"nothing was switched; the database may be partly migrated: restore {backup.path} "
        "(`stockade backup restore`) before using the old version again",
    )
    _step(
        run,
        [new, "-w", root, "doctor"],
        "the new version's doctor",
        f"nothing was switched; the database is migrated to {version}: fix what doctor reports and run "
        f"`{new} -w {root} doctor`, then switch with `ln -sfn {venv} {prefix / CURRENT}`; or go back by "
        f"restoring {backup.path}",
    )
    if previous is not None:
        _link(prefix, PREVIOUS, previous)
    _link(prefix, CURRENT, venv)
    context.record(
        "operations.upgrade",
        version,
        venv=str(venv),
        previous=str(previous) if previous else None,
        backup=str(backup.path),
        bundle_manifest_signed_by=checked.signer,
    )
    return UpgradeResult(version, venv, previous, backup.path)


def rollback(prefix: Path) -> tuple[Path, Path]:
    """Point ``current`` back at ``previous`` (and ``previous`` at what was current). Returns (now, was)."""
    prefix = prefix.expanduser().resolve()
    current, previous = _target(prefix, CURRENT), _target(prefix, PREVIOUS)
    if current is None or previous is None:
        raise StockadeError(
            "there is no previous version to go back to",
            where=str(prefix),
            fix="rollback follows an `upgrade` under this --prefix (it keeps PREFIX/previous)",
        )
    if not (previous / "bin" / "stockade").exists():
        raise StockadeError("the previous version's folder is gone", where=str(previous))
    _link(prefix, CURRENT, previous)
    _link(prefix, PREVIOUS, current)
    return previous, current
