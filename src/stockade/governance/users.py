"""Users: add, list, disable/enable, change roles and passwords — each change audited.

Users are never deleted (the audit log names them); a disabled user cannot log in and loses its
sessions. The last active admin can be neither disabled nor stripped of the admin role.

A *service account* (``add_user(..., service=True)``, `stockade user add NAME --service`) is the user an
application calls the API as: it has no password (its hash is a marker no password verifies against),
so it can never log in; an admin issues it API tokens (`stockade token issue --user NAME`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core import environment
from stockade.core.errors import StockadeError
from stockade.core.ids import new_id
from stockade.governance.roles import check_roles, require
from stockade.security.passwords import generate_password, hash_password, verify_password
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import User, UserSession

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}$")
ADMIN_PASSWORD_VARIABLE = "STOCKADE_ADMIN_PASSWORD"  # noqa: S105 - a variable's name, not a secret
SERVICE_ACCOUNT_HASH = "!service-account"  # not an argon2 hash: no password ever matches it


def is_service_account(user: User) -> bool:
    return user.password_hash == SERVICE_ACCOUNT_HASH


class UserError(StockadeError):
    """A user that does not exist, already exists, or a change that is not allowed."""

    exit_code = 2


@dataclass
class UserView:
    name: str
    roles: list[str]
    status: str
    created_at: str
    created_by: str
    password_changed_at: str
    kind: str = "person"  # person | service (API tokens only, never logs in)

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            user.name,
            json.loads(user.roles),
            user.status,
            user.created_at,
            user.created_by,
            user.password_changed_at,
            "service" if is_service_account(user) else "person",
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UserError(
            f"invalid user name {name!r}",
            where="NAME",
            fix="use letters, digits and _ . @ - (up to 100 characters, not starting with . @ -)",
        )
    return name


def find_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"no user named {name!r}", fix="list users with `stockade user list`")
    return user


def _active_admins(session: Session) -> list[str]:
    users = session.scalars(select(User).where(User.status == "active"))
    return [user.name for user in users if "admin" in json.loads(user.roles)]


def _end_sessions(session: Session, user: User) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utc_now())
    )


def _insert_user(
    context: WorkspaceContext,
    session: Session,
    name: str,
    roles: list[str],
    password_hash: str,
) -> User:
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserError(f"a user named {name!r} exists already", fix="choose another name")
    now = utc_now()
    user = User(
        id=new_id("usr-"),
        name=name,
        password_hash=password_hash,
        roles=json.dumps(roles),
        status="active",
        created_at=now,
        created_by=context.actor.name,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def add_user(
    context: WorkspaceContext, name: str, roles: list[str], password: str | None, *, service: bool = False
) -> UserView:
    """A person (with a password) or, with ``service``, a service account (no password: API tokens only)."""
    require(context, "user.manage")
    roles = check_roles(roles)
    if service and password is not None:
        raise UserError(
            "a service account has no password", where="--password-file", fix="leave out --password-file"
        )
    if not service and password is None:
        raise UserError(
            "a user needs a password", fix="pass --password-file FILE, or --service for an API client"
        )
    password_hash = (
        SERVICE_ACCOUNT_HASH if service else hash_password(password or "")
    )  # slow: before the lock
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        user = _insert_user(context, session, _check_name(name), roles, password_hash)
        context.record(
            "user.add", name, session=session, roles=roles, **({"service": True} if service else {})
        )
        return UserView.of(user)


def list_users(context: WorkspaceContext) -> list[UserView]:
    require(context, "user.read")
    with make_session_factory(context.engine)() as session:
        return [UserView.of(user) for user in session.scalars(select(User).order_by(User.created_at))]


def set_status(context: WorkspaceContext, name: str, status: str, *, reason: str) -> UserView:
    """Disable (ends the user's sessions) or enable a user."""
    require(context, "user.manage")
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        user = find_user(session, name)
        if status == "disabled" and _active_admins(session) == [name]:
            raise UserError(f"{name} is the last active admin", fix="give another user the admin role first")
        user.status = status
        if status == "disabled":
            _end_sessions(session, user)
        context.record(f"user.{status[:-1]}", name, reason=reason, session=session)
        return UserView.of(user)


def set_roles(context: WorkspaceContext, name: str, roles: list[str], *, reason: str) -> UserView:
    require(context, "user.manage")
    roles = check_roles(roles)
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        user = find_user(session, name)
        if "admin" not in roles and _active_admins(session) == [name]:
            raise UserError(f"{name} is the last active admin", fix="give another user the admin role first")
        before = json.loads(user.roles)
        user.roles = json.dumps(roles)
        context.record("user.roles", name, reason=reason, session=session, before=before, after=roles)
        return UserView.of(user)


def change_password(
    context: WorkspaceContext, name: str, new_password: str, *, current_password: str | None = None
) -> None:
    """Your own password needs the current one; another user's needs ``user.manage`` (a reset)."""
    own = name == context.actor.name
    if not own:
        require(context, "user.manage")
    with make_session_factory(context.engine)() as session:
        if is_service_account(find_user(session, name)):
            raise UserError(
                f"{name} is a service account: it has no password and never logs in",
                fix=f"issue it API tokens with `stockade token issue --user {name} --role api_client`",
            )
    if own:
        with make_session_factory(context.engine)() as session:
            known = find_user(session, name).password_hash
        if current_password is None or not verify_password(known, current_password):
            context.record("user.passwd", name, result="denied", reason="wrong current password")
            raise UserError("the current password is wrong", fix="give it with --current-password-file")
    new_hash = hash_password(new_password)  # slow: before the lock
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        user = find_user(session, name)
        user.password_hash = new_hash
        user.password_changed_at = utc_now()
        if not own:
            _end_sessions(session, user)
        context.record("user.passwd", name, session=session, reset=not own)


def unlock_user(context: WorkspaceContext, name: str, *, reason: str | None = None) -> bool:
    """Lift ``name``'s login lockout (and its count of wrong passwords); True when it was locked."""
    from stockade.security.lockout import USER, clear_lockout

    require(context, "user.manage")
    with make_session_factory(context.engine)() as session:
        find_user(session, name)
    return clear_lockout(context, USER + name, action="user.unlock", reason=reason)


def check_credentials(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or ``None`` (for login and the API)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        verify_password(_dummy_hash(), password)  # same time whether or not the name exists
        return None
    if is_service_account(user):  # never logs in; as slow as a real check, so timing tells nothing
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or user.status != "active":
        return None
    return user


_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown, so timing does not reveal names."""
    if not _dummy:
        _dummy.append(hash_password(generate_password()))  # full cost: it stands in for real ones
    return _dummy[0]


@dataclass
class FirstAdmin:
    name: str
    generated_password: str | None  # shown once when Stockade chose the password


def create_first_admin(
    context: WorkspaceContext, name: str | None = None, password: str | None = None
) -> FirstAdmin | None:
    """At ``init``: when the workspace has no user yet, create an admin and log it in.

    The password comes from the argument, else ``$STOCKADE_ADMIN_PASSWORD``, else is generated
    (and returned once, to be shown). ``None`` when users exist already."""
    from stockade.governance.sessions import start_session

    factory = make_session_factory(context.engine)
    with factory() as session:
        if session.scalar(select(User.id).limit(1)) is not None:
            return None
    name = _check_name(name or environment.os_user())
    password = password or environment.read_variable(ADMIN_PASSWORD_VARIABLE) or None
    generated = None if password else generate_password()
    password_hash = hash_password(password or generated or "", random_secret=bool(generated))
    with factory.begin() as session:
        context.audit.lock(session)  # two concurrent inits still create one admin
        if session.scalar(select(User.id).limit(1)) is not None:
            return None
        _insert_user(context, session, name, ["admin"], password_hash)
        context.record("user.add", name, session=session, roles=["admin"], first_admin=True)
    start_session(context, name)
    return FirstAdmin(name, generated)
