"""Create and open workspaces. Opening yields the context every service records through."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from stockade.audit import AuditEvent, AuditLog
from stockade.audit.checkpoints import CheckpointSigner
from stockade.core import environment, offline
from stockade.core.errors import DatabaseError
from stockade.core.ids import new_request_id
from stockade.core.workspace import (
    PRIVACY_KEY_FILE,
    SECRET_FILE_MODE,
    Workspace,
    create_layout,
    default_location,
    read_or_create_key,
)
from stockade.storage.database import engine_url_safe, make_engine
from stockade.storage.migrate import current_revision, head_revision, upgrade
from stockade.storage.tables import AuditRecord


@dataclass
class Actor:
    """Who acts: the logged-in user and its roles (comma-separated), else the OS user with no role."""

    name: str
    role: str | None = None
    source: str = "local"

    @classmethod
    def os_user(cls) -> Actor:
        return cls(name=environment.os_user(), source=f"local:{environment.host_name()}")


@dataclass
class WorkspaceContext:
    """An open workspace: settings, database, audit log, and who is acting in which request."""

    workspace: Workspace
    engine: Engine
    audit: AuditLog
    actor: Actor
    request_id: str = field(default_factory=new_request_id)

    def record(
        self,
        action: str,
        target: str | None = None,
        *,
        result: str = "ok",
        reason: str | None = None,
        session: Session | None = None,
        **details: Any,
    ) -> AuditRecord:
        """Write one audit event; with ``session`` it commits together with the caller's change."""
        return self.audit.append(
            AuditEvent(
                action=action,
                actor=self.actor.name,
                role=self.actor.role,
                source=self.actor.source,
                target=target,
                result=result,
                request_id=self.request_id,
                reason=reason,
                details=details,
            ),
            session=session,
        )

    def privacy_key(self) -> bytes:
        """The workspace's HMAC key for the hash and pseudonym operators (created and audited once)."""
        key, created = read_or_create_key(self.workspace.root / PRIVACY_KEY_FILE)
        if created:
            self.record("secret.create", PRIVACY_KEY_FILE, purpose="privacy hash/pseudonym operators")
        return key

    def close(self) -> None:
        offline.set_reporter(None)
        self.engine.dispose()

    def __enter__(self) -> WorkspaceContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _guard_and_report(context: WorkspaceContext) -> None:
    """Apply the workspace's egress allowlist and record every refusal in its audit log."""
    offline.activate(context.workspace.settings.egress_allowlist)

    def report(address: str, module: str) -> None:
        context.record("egress.blocked", address, result="denied", module=module)

    offline.set_reporter(report)


def _precreate_sqlite(workspace: Workspace) -> None:
    """Create the SQLite file as 0600 before SQLite does (its WAL/SHM files copy this mode)."""
    if workspace.settings.database_url is None and not workspace.database_path.exists():
        os.close(os.open(workspace.database_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE))


@dataclass
class InitResult:
    root: Path
    created: list[str]
    schema_before: str | None
    schema_after: str
    record: AuditRecord | None
    admin: Any = None  # governance.users.FirstAdmin when init created the first admin

    @property
    def changed(self) -> bool:
        return bool(self.created) or self.schema_before != self.schema_after


@contextmanager
def _database_errors(engine: Engine, workspace: Workspace, what: str) -> Iterator[None]:
    """Turn a driver failure into one clear error (URL without its password), releasing the engine."""
    try:
        yield
    except Exception as exc:
        engine.dispose()
        raise DatabaseError(
            f"{what}: {exc.__class__.__name__}: {exc}",
            where=engine_url_safe(workspace.database_url),
            fix="check database_url in stockade.yaml and that the database is running (`stockade doctor`)",
        ) from exc


def initialize_workspace(
    root: Path,
    *,
    actor: Actor | None = None,
    admin_name: str | None = None,
    admin_password: str | None = None,
) -> InitResult:
    """Create (or bring up to date) a workspace. Idempotent; never overwrites settings or data.

    A workspace without users gets its first admin (``admin_name``, default the OS user), who is
    left logged in; see docs/governance.md for where the password comes from."""
    created = create_layout(root)
    workspace = Workspace(root.expanduser().resolve())
    _precreate_sqlite(workspace)
    engine = make_engine(workspace.database_url)
    with _database_errors(engine, workspace, "cannot create or migrate the database"):
        before, after = upgrade(engine)
    signer = CheckpointSigner.for_workspace(workspace.root)
    context = WorkspaceContext(workspace, engine, AuditLog(engine, signer=signer), actor or Actor.os_user())
    _guard_and_report(context)
    result = InitResult(workspace.root, created, before, after, None)
    if result.changed:
        action = "workspace.init" if before is None else "workspace.upgrade"
        result.record = context.record(
            action, str(workspace.root), created=created, schema_before=before, schema_after=after
        )
    from stockade.governance.users import create_first_admin  # L3 hook, see docs/governance.md

    result.admin = create_first_admin(context, admin_name, admin_password)
    context.close()
    return result


def open_workspace(
    root: Path | None = None, *, actor: Actor | None = None, request_id: str | None = None
) -> WorkspaceContext:
    """Open an existing workspace whose schema is current. Close it with ``context.close()``."""
    workspace = Workspace.locate(root)
    engine = make_engine(workspace.database_url)
    with _database_errors(engine, workspace, "cannot reach the database"):
        revision = current_revision(engine)
    if revision != head_revision():
        engine.dispose()
        raise DatabaseError(
            f"the database schema is at revision {revision or 'none'}, this Stockade needs {head_revision()}",
            where=str(workspace.root),
            fix=f"upgrade it with `stockade init {workspace.root}` (keeps all data)",
        )
    from stockade.governance.sessions import logged_in_actor  # L3 hook, see docs/governance.md

    actor = actor or logged_in_actor(workspace, engine) or Actor.os_user()
    audit = AuditLog(engine, signer=CheckpointSigner.for_workspace(workspace.root))
    context = WorkspaceContext(workspace, engine, audit, actor)
    if request_id:
        context.request_id = request_id
    _guard_and_report(context)
    _recover(context)
    return context


def _recover(context: WorkspaceContext) -> None:
    """Clear what a crashed process left (staging folders, orphan version folders, runs stuck running):
    only what provably belongs to a process that is gone; `stockade doctor --repair` does the rest."""
    from stockade.workspace.recovery import recover

    with contextlib.suppress(OSError):  # a read-only folder must not stop the command; doctor reports it
        recover(context)


def open_workspace_if_present(root: Path | None = None) -> WorkspaceContext | None:
    """Open the workspace if one is configured or found; ``None`` when there is none."""
    workspace_root = (root or default_location()).expanduser().resolve()
    if not Workspace.is_workspace(workspace_root):
        if root is not None:  # asked for explicitly: not finding it is an error
            Workspace.locate(root)
        return None
    return open_workspace(workspace_root)
