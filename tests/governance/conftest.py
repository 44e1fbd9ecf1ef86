"""Governance fixtures: users with roles, and model versions made by a given user (rows only; the
model store's own tests cover files), each with a run and an evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.storage.database import make_session_factory
from stockade.storage.model_tables import EvalReport, ModelVersion
from stockade.storage.tables import DatasetVersion, TrainingRun
from stockade.workspace.service import Actor, WorkspaceContext, open_workspace

PASSWORD = "correct horse battery"


def as_user(root: Path, name: str, role: str) -> WorkspaceContext:
    """Open the workspace acting as ``name`` with ``role`` (what a login gives)."""
    return open_workspace(root, actor=Actor(name=name, role=role, source="test"))


def add_users(root: Path, users: dict[str, list[str]]) -> None:
    from stockade.governance.users import add_user

    with open_workspace(root) as context:  # the admin init logged in
        for name, roles in users.items():
            add_user(context, name, roles, PASSWORD)


def add_version(
    root: Path,
    name: str = "fin",
    *,
    trained_by: str = "alice",
    exported_by: str | None = None,
    tags: list[str] | None = None,
    with_report: bool = True,
) -> str:
    """A merged version of a run that ``trained_by`` trained, with an eval report; returns NAME@vN."""
    with open_workspace(root) as context, make_session_factory(context.engine).begin() as session:
        version = 1 + len(session.query(ModelVersion).filter_by(name=name).all())
        run_id = f"run-{name}-{version}"
        dataset = {
            "ref": f"{name}-data@v1",
            "content_sha256": "c" * 64,
            "rows": 40,
            "privacy": "desensitized",
        }
        if session.get(DatasetVersion, 1) is None:
            session.add(
                DatasetVersion(
                    name=f"{name}-data",
                    version=1,
                    created_at="2026-11-26T00:00:00Z",
                    created_by="steward",
                    status="active",
                    content_sha256="c" * 64,
                    rows=40,
                    path="datasets/x/v1/data.jsonl",
                    sources=json.dumps([{"path": "finance.json", "sha256": "a" * 64, "bytes": 1000}]),
                    stats="{}",
                    provenance="{}",
                    privacy=json.dumps({"status": "desensitized", "gate": "privacy", "policy": "default"}),
                )
            )
        session.add(
            TrainingRun(
                id=run_id,
                created_at="2026-11-26T00:00:01Z",
                created_by=trained_by,
                status="succeeded",
                base_model="models/base/v1",
                base_manifest_sha256="b" * 64,
                datasets=json.dumps([dataset]),
                spec="{}",
                environment="{}",
                summary="{}",
                path=f"runs/{run_id}",
            )
        )
        row = ModelVersion(
            id=f"mv-{name}-{version}",
            name=name,
            version=version,
            created_at="2026-11-26T00:00:02Z",
            created_by=exported_by or trained_by,
            kind="merged",
            path=f"models/{name}/v{version}",
            architecture="Qwen2ForCausalLM",
            template="qwen",
            manifest_sha256="d" * 64,
            manifest="{}",
            lineage=json.dumps({"run": run_id, "base_version": "base@v1", "datasets": [dataset]}),
            tags=json.dumps(tags or []),
            stage="draft",
            status="active",
        )
        session.add(row)
        session.flush()
        if with_report:
            session.add(
                EvalReport(
                    id=f"ev-{name}-{version}",
                    model_version_id=row.id,
                    dataset=f"{name}-data@v1",
                    created_at="2026-11-26T00:00:03Z",
                    created_by=trained_by,
                    path="evals/x.json",
                    sha256="e" * 64,
                    summary="{}",
                )
            )
    return f"{name}@v{version}"


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests hash with cheap argon2 parameters (speed); tests that use the ``real_argon2``
    fixture, and every CLI subprocess, use the real ones."""
    from argon2 import PasswordHasher

    from stockade.security import passwords

    if "real_argon2" not in request.fixturenames:
        monkeypatch.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )


@pytest.fixture
def real_argon2() -> None:
    """Ask for the product's argon2 parameters in this test."""


@pytest.fixture
def team(workspace_dir: Path) -> Path:
    """A workspace with alice (trainer), bob and carol (reviewers) and dave (auditor)."""
    add_users(
        workspace_dir,
        {"alice": ["trainer"], "bob": ["reviewer"], "carol": ["reviewer"], "dave": ["auditor"]},
    )
    return workspace_dir
