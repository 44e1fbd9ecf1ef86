"""The audit log on a real PostgreSQL server (database_url): every kind of tampering is named, a
checkpoint's signature is checked, and a writer killed with SIGKILL leaves a log that verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from stockade.audit import verify_chain
from stockade.audit.checkpoints import CheckpointVerifier
from stockade.workspace.service import open_workspace
from tests.audit.test_crash_and_export import _killed_writer
from tests.audit.test_log import TAMPERING

pytestmark = pytest.mark.slow


def _fill(root: Path, count: int) -> None:
    with open_workspace(root) as context:
        for index in range(count):
            context.record("test.event", f"target-{index}", index=index, 名称="值")


def _execute(root: Path, sql: str) -> None:
    with open_workspace(root) as context, context.engine.begin() as connection:
        for statement in filter(None, (part.strip() for part in sql.split(";"))):
            connection.execute(text(statement))


def _verify(root: Path):
    with open_workspace(root) as context:
        return verify_chain(context.audit, CheckpointVerifier.for_workspace(root))


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_found_and_named_on_postgres(postgres_workspace: Path, case: str) -> None:
    _fill(postgres_workspace, 5)
    assert _verify(postgres_workspace).ok
    sql, seq, word = TAMPERING[case]
    _execute(postgres_workspace, sql)
    result = _verify(postgres_workspace)
    assert not result.ok and result.seq == seq
    assert f"#{seq}" in result.problem and word in result.problem


def test_checkpoint_signature_tampering_is_found_on_postgres(postgres_workspace: Path) -> None:
    _fill(postgres_workspace, 3)
    _execute(postgres_workspace, "UPDATE audit_checkpoints SET ts='2020-01-01T00:00:00Z' WHERE seq=1")
    result = _verify(postgres_workspace)
    assert not result.ok and result.seq == 1 and "invalid signature" in result.problem


def test_sigkill_while_writing_on_postgres(postgres_workspace: Path) -> None:
    written = _killed_writer(postgres_workspace, 30)
    result = _verify(postgres_workspace)
    assert result.ok, result.problem
    assert result.checked >= 3 + written and result.checkpoints >= 4
