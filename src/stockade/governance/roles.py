"""Roles, the permissions each grants, and ``require``: the one check every command makes first.

A user holds one or more roles; the acting user's roles travel in ``Actor.role`` as a comma-separated
list (that string is also what the audit log's ``role`` field shows). ``admin`` holds every
permission, but maker-checker (lifecycle.py) still applies to admins: nobody approves their own work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.security.principal import AccessDenied

if TYPE_CHECKING:
    from stockade.workspace.service import Actor, WorkspaceContext

# permission name -> what it allows (docs/governance.md lists the same table)
PERMISSIONS: dict[str, str] = {
    "data.import": "import datasets (runs the privacy gate)",
    "data.read": "list, show, preview dataset versions; scan files for personal data",
    "data.remove": "remove a dataset version",
    "data.desensitize": "desensitize a file with a privacy policy",
    "train.run": "start or resume a training run",
    "runs.read": "list and show training runs",
    "runs.remove": "remove a training run",
    "model.import": "import a base model into the model store",
    "model.read": "list, show and verify model versions",
    "model.export": "export or merge a run into a new model version",
    "model.remove": "remove a model version",
    "eval.run": "evaluate a model version and store the report",
    "registry.read": "list and show model versions' stages, approvals and lineage",
    "registry.submit": "submit a version for approval (with an evaluation report)",
    "registry.approve": "approve a submitted version (never one's own)",
    "registry.reject": "reject a submitted version",
    "registry.deploy": "mark an approved version deployed",
    "registry.retire": "retire a version",
    "serve.run": "start the serving API",
    "model.call": "call a served model through the API",
    "token.manage": "issue, list and revoke API tokens",
    "pki.manage": "manage the internal CA and TLS certificates",
    "user.read": "list users and their roles",
    "user.manage": "add users, disable them, set their roles and reset passwords",
    "audit.read": "read the audit log (tail, status)",
    "audit.verify": "verify the audit chain and its signed checkpoints",
    "audit.export": "export audit records to JSONL/CSV",
    "audit.checkpoint": "write a signed audit checkpoint now",
    "dev.tools": "developer tools (tiny models, generation smoke tests)",
    "backup.create": "write a backup archive of the workspace (keys sealed with a passphrase)",
    "backup.restore": "restore a backup archive into a new workspace",
}

# every person may read the catalogues and check the audit chain's integrity (verify shows no records)
_READ = {"data.read", "runs.read", "model.read", "registry.read", "audit.verify"}
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "data_steward": frozenset(_READ | {"data.import", "data.remove", "data.desensitize", "audit.checkpoint"}),
    "trainer": frozenset(
        _READ
        | {
            "train.run",
            "runs.remove",
            "model.import",
            "model.export",
            "model.remove",
            "eval.run",
            "registry.submit",
            "registry.deploy",
            "registry.retire",
            "serve.run",
            "dev.tools",
            "audit.checkpoint",
        }
    ),
    "reviewer": frozenset(
        _READ | {"eval.run", "registry.approve", "registry.reject", "registry.retire", "audit.checkpoint"}
    ),
    "auditor": frozenset(_READ | {"user.read", "audit.read", "audit.export", "audit.checkpoint"}),
    "api_client": frozenset({"model.call"}),
}
ROLE_SUMMARY = {
    "admin": "everything, including users, tokens and PKI (maker-checker still applies)",
    "data_steward": "imports datasets and applies privacy policies",
    "trainer": "trains, exports, evaluates, submits and deploys model versions",
    "reviewer": "approves or rejects submitted versions (the checker)",
    "auditor": "reads, verifies and exports the audit log; reads everything else",
    "api_client": "calls served models through the API only",
}


class PermissionDenied(AccessDenied):
    """The acting user lacks the role a command needs (exit code 3, HTTP 403)."""


def actor_roles(actor: Actor) -> tuple[str, ...]:
    return tuple(part for part in (actor.role or "").split(",") if part)


def has_permission(roles: tuple[str, ...] | list[str] | frozenset[str], permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return any(permission in ROLES.get(role, frozenset()) for role in roles)


def roles_with(permission: str) -> list[str]:
    return [role for role, granted in ROLES.items() if permission in granted]


def check_roles(names: list[str]) -> list[str]:
    """Validate role names (for user add/roles); returns them sorted and without duplicates."""
    from stockade.core.errors import ConfigError

    unknown = [name for name in names if name not in ROLES]
    if unknown or not names:
        raise ConfigError(
            f"unknown role(s): {', '.join(unknown)}" if unknown else "at least one role is needed",
            where="--role",
            fix=f"choose from {', '.join(ROLES)}",
        )
    return sorted(set(names))


def require(context: WorkspaceContext, permission: str) -> None:
    """Raise ``PermissionDenied`` (and audit the refusal) unless the acting user may do ``permission``."""
    roles = actor_roles(context.actor)
    if has_permission(roles, permission):
        return
    context.record("access.denied", permission, result="denied", permission=permission, roles=list(roles))
    allowed = ", ".join(roles_with(permission))
    if not roles:
        raise PermissionDenied(
            f"not logged in (or the session expired): `{permission}` needs one of the roles {allowed}",
            where=str(context.workspace.root),
            fix="log in with `stockade login NAME` (the first admin was created by `stockade init`)",
        )
    raise PermissionDenied(
        f"{context.actor.name} (roles: {', '.join(roles)}) may not do `{permission}`; "
        f"it needs one of the roles {allowed}",
        where=str(context.workspace.root),
        fix="ask an admin: `stockade user roles NAME --role ROLE`, or log in as a user who holds it",
    )
