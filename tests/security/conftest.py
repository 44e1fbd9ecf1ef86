"""Fixtures of the access-control tests: an open workspace (logged in as its first admin),
its authenticator, and a helper that issues credentials through the audited service."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stockade.security.authenticator import StockadeAuthenticator
from stockade.security.service import IssuedToken, issue_credential
from stockade.storage.tables import AuditRecord
from stockade.workspace.service import WorkspaceContext, open_workspace


def set_security(root: Path, **values: object) -> None:
    """Append a ``security:`` section to the workspace's stockade.yaml."""
    lines = ["security:"] + [f"  {key}: {json.dumps(value)}" for key, value in values.items()]
    with (root / "stockade.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.fixture
def context(workspace_dir: Path) -> Iterator[WorkspaceContext]:
    with open_workspace(workspace_dir) as opened:
        yield opened


@pytest.fixture
def authenticator(context: WorkspaceContext) -> StockadeAuthenticator:
    return StockadeAuthenticator(context)


@pytest.fixture
def issue(context: WorkspaceContext) -> Callable[..., IssuedToken]:
    def issue_one(kind: str = "jwt", roles: tuple[str, ...] = ("admin",), **options: object) -> IssuedToken:
        return issue_credential(context, kind=kind, subject=context.actor.name, roles=roles, **options)  # type: ignore[arg-type]

    return issue_one


def audit_rows(context: WorkspaceContext, action: str) -> list[AuditRecord]:
    return [record for record in context.audit.records() if record.action == action]


def all_audit_text(context: WorkspaceContext) -> str:
    return "\n".join(
        f"{r.actor} {r.target} {r.reason} {r.details} {r.source}" for r in context.audit.records()
    )


@dataclass
class Served:
    """The real serving API over a tiny model, with this package's authenticator and middleware."""

    root: Path
    context: WorkspaceContext
    app: Any
    engine: Any
    url: str
    api_key: str
    jwt: str


SERVED_SECURITY = {
    "allowlist": ["127.0.0.0/8", "::1/128", "10.0.0.0/8"],
    "trusted_proxies": ["127.0.0.1"],
    "rate_per_address": 1000,
    "burst_per_address": 1000,
    "rate_per_credential": 1000,
    "burst_per_credential": 1000,
    "max_body_bytes": 65536,
    "lockout_failures": 1000,
}


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pytest.importorskip("torch")
    from stockade.api.app import create_app
    from stockade.data.templates import resolve_template
    from stockade.models.tiny import build_tiny_model
    from stockade.security.authenticator import build_authenticator, build_middleware
    from stockade.workspace.service import initialize_workspace
    from tests.serving.helpers import load_tiny, make_engine, serve_live

    base = tmp_path_factory.mktemp("security-e2e")
    root = base / "ws"
    initialize_workspace(root)
    set_security(root, **SERVED_SECURITY)
    model, tokenizer = load_tiny(build_tiny_model("qwen2", base / "qwen2").path)
    engine = make_engine(model, tokenizer)
    context = open_workspace(root)
    app = create_app(
        engine,
        authenticator=build_authenticator(context, None),
        template=resolve_template("qwen", tokenizer),
        model_id="tiny@v1",
        middleware=build_middleware(context),
    )
    server = serve_live(app)
    subject = context.actor.name
    api_key = issue_credential(context, kind="api_key", subject=subject, roles=["admin"]).token
    jwt = issue_credential(context, kind="jwt", subject=subject, roles=["admin"]).token
    yield Served(root, context, app, engine, server.url, api_key, jwt)
    server.stop()
    engine.stop()
    context.close()
