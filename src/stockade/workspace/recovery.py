"""What a crash (kill -9, power loss) leaves behind, found and cleared: on every workspace open for what
provably belongs to a process that is gone, and by `stockade doctor --repair` for the rest.

* staging folders (``datasets/.staging/import-*``: raw records before the privacy gate;
  ``models/NAME/.staging-*``) → deleted, audited ``recovery.staging_removed`` (count and paths);
* version folders ``models/NAME/vN`` / ``datasets/NAME/vN`` without a database row (a kill between the
  rename and the commit) → deleted, audited ``recovery.orphan_removed``;
* run folders ``runs/ID`` without a database row (a kill while the run was being recorded) → deleted,
  audited ``recovery.orphan_removed``;
* training runs still ``running`` whose process is gone → ``failed`` with reason ``interrupted``,
  audited ``recovery.run_interrupted`` (a run with no checkpoint can then be removed); a checkpoint the
  process was writing (``checkpoints/.tmp-step-N``) is removed, or, when it was complete and replacing
  an older ``step-N`` (``.old-step-N``), put in place.

Ownership comes from :mod:`stockade.storage.staging` (host and process id in the name or marker, and
``runs/ID/process.json``). What another host owns, or what predates those records, is only reported
until `stockade doctor --repair` (``everything=True``).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.storage.model_tables import ModelVersion
from stockade.storage.staging import Owner, marker_version, owner_of
from stockade.storage.tables import DatasetVersion, TrainingRun
from stockade.training.runs import PROCESS_FILE

VERSION_DIR = re.compile(r"v\d+")
STAGING_FOLDERS = (("datasets", ".staging", "import-"), ("models", None, ".staging-"))


@dataclass(frozen=True)
class Leftover:
    kind: str  # "staging", "orphan" (a version folder without a row), "marker", "run"
    path: str  # relative to the workspace (a run: its id)
    automatic: bool  # its owner is provably gone: removed on the next workspace open
    detail: str = ""


@dataclass
class Recovery:
    staging: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.staging or self.orphans or self.runs)


def _owned(owner: Owner | None) -> tuple[bool, str]:
    if owner is None:
        return False, "no owner recorded (left by an older Stockade)"
    if not owner.here:
        return False, f"owned by process {owner.pid} on another host"
    if owner.gone:
        return True, f"its process {owner.pid} is gone"
    return False, f"in use by process {owner.pid}"


def _staging(root: Path) -> list[Leftover]:
    found = []
    for area, sub, prefix in STAGING_FOLDERS:
        base = root / area
        parents = [base / sub] if sub else [p for p in _dirs(base)]
        for parent in parents:
            for folder in _dirs(parent):
                if folder.name.startswith(prefix):
                    automatic, detail = _owned(owner_of(folder.name[len(prefix) :]))
                    found.append(Leftover("staging", _relative(root, folder), automatic, detail))
    return found


def _dirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _registered(session: Session) -> set[str]:
    """Version folders the database knows, relative to the workspace."""
    folders = set(session.scalars(select(ModelVersion.path)))
    folders |= {str(Path(p).parent.as_posix()) for p in session.scalars(select(DatasetVersion.path))}
    folders |= {Path(p).as_posix() for p in session.scalars(select(TrainingRun.path))}
    return folders


def _orphans(root: Path, registered: set[str]) -> list[Leftover]:
    found = []
    for area in ("models", "datasets"):
        for parent in _dirs(root / area):
            markers = {}
            for marker in parent.glob(".commit-v*"):
                version = marker_version(marker.name)
                if version is not None:
                    markers[f"v{version}"] = (marker, _owned(owner_of(marker.name[len(".commit-v") :])))
            for name, (marker, (automatic, detail)) in markers.items():
                if _relative(root, parent / name) in registered or not (parent / name).exists():
                    found.append(Leftover("marker", _relative(root, marker), automatic, detail))
            for folder in _dirs(parent):
                if not VERSION_DIR.fullmatch(folder.name) or _relative(root, folder) in registered:
                    continue
                automatic, detail = markers.get(folder.name, (None, (False, "no commit marker")))[1]
                found.append(
                    Leftover("orphan", _relative(root, folder), automatic, f"not registered; {detail}")
                )
    return found


def _process_owner(folder: Path) -> Owner | None:
    try:
        process = json.loads((folder / PROCESS_FILE).read_text(encoding="utf-8"))
        return Owner(str(process["host"]), int(process["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _orphan_runs(root: Path, registered: set[str]) -> list[Leftover]:
    """Run folders without a row: the process died between creating the folder and inserting the row."""
    found = []
    for folder in _dirs(root / "runs"):
        if folder.name.startswith(".") or _relative(root, folder) in registered:
            continue
        automatic, detail = _owned(_process_owner(folder))
        found.append(Leftover("orphan", _relative(root, folder), automatic, f"not registered; {detail}"))
    return found


def _runs(root: Path, session: Session) -> list[Leftover]:
    found = []
    for row in session.scalars(select(TrainingRun).where(TrainingRun.status == "running")):
        owner = _process_owner(root / row.path)
        automatic, detail = _owned(owner)
        if automatic or owner is None or not owner.here:
            found.append(Leftover("run", row.id, automatic, detail))
    return found


def find_leftovers(root: Path, engine: Any) -> list[Leftover]:
    """Everything a crash may have left (read only)."""
    with Session(engine) as session:
        registered = _registered(session)
        runs = _runs(root, session)
    return _staging(root) + _orphans(root, registered) + _orphan_runs(root, registered) + runs


def recover(context: Any, *, everything: bool = False) -> Recovery:
    """Remove the leftovers whose process is gone (``everything``: also those of unknown owner) and mark
    interrupted runs failed; each kind is audited once with the count and paths (never content)."""
    root = context.workspace.root
    done = Recovery()
    for leftover in find_leftovers(root, context.engine):
        if not (leftover.automatic or (everything and "in use" not in leftover.detail)):
            continue
        if leftover.kind == "run":
            _interrupt(context, leftover.path)
            done.runs.append(leftover.path)
            continue
        path = root / leftover.path
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if leftover.kind == "staging":
            done.staging.append(leftover.path)
        elif leftover.kind == "orphan":
            done.orphans.append(leftover.path)
            for marker in path.parent.glob(f".commit-{path.name}-*"):
                marker.unlink(missing_ok=True)
    if done.staging:
        context.record("recovery.staging_removed", "workspace", count=len(done.staging), paths=done.staging)
    if done.orphans:
        context.record("recovery.orphan_removed", "workspace", count=len(done.orphans), paths=done.orphans)
    return done


def _interrupt(context: Any, run_id: str) -> None:
    with Session(context.engine) as session, session.begin():
        row = session.get(TrainingRun, run_id)
        if row is None or row.status != "running":
            return
        row.status, row.reason, row.finished_at = "failed", "interrupted", utc_now()
        checkpoints = _settle_checkpoints(context.workspace.root / row.path / "checkpoints")
        context.record(
            "recovery.run_interrupted",
            run_id,
            session=session,
            result="error",
            reason="interrupted",
            **({"checkpoints": checkpoints} if checkpoints else {}),
        )


def _settle_checkpoints(folder: Path) -> dict[str, list[str]]:
    """The checkpoint a killed run was writing: completed if it had been written whole and was replacing
    an older one of the same step (``.old-step-N`` beside ``.tmp-step-N``, no ``step-N``), else removed."""
    done: dict[str, list[str]] = {"completed": [], "removed": []}
    for old in sorted(folder.glob(".old-step-*")):
        step = old.name.removeprefix(".old-")
        written, final = folder / f".tmp-{step}", folder / step
        if written.is_dir() and not final.exists():
            written.rename(final)  # save_checkpoint renames the old away only once the new one is whole
            done["completed"].append(step)
    for leftover in sorted([*folder.glob(".tmp-*"), *folder.glob(".old-*")]):
        shutil.rmtree(leftover, ignore_errors=True)
        done["removed"].append(leftover.name)
    return {key: names for key, names in done.items() if names}
