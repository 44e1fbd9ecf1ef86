"""The hash chain: appends, durability settings, and tamper detection naming the record."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from stockade.audit import AuditEvent, AuditLog, verify_chain
from stockade.audit.chain import record_hash
from stockade.storage.database import make_engine
from stockade.workspace.service import open_workspace


def _fill(workspace_dir: Path, count: int) -> None:
    context = open_workspace(workspace_dir)
    try:
        for index in range(count):
            context.record("test.event", f"target-{index}", index=index, 名称="值")
    finally:
        context.close()


def _db(workspace_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(workspace_dir / "stockade.db", isolation_level=None)


def _verify(workspace_dir: Path):
    engine = make_engine(f"sqlite:///{workspace_dir / 'stockade.db'}")
    try:
        return verify_chain(AuditLog(engine))
    finally:
        engine.dispose()


INIT_RECORDS = 3  # workspace.init, user.add (the first admin), user.login


def test_records_chain_and_verify(workspace_dir: Path) -> None:
    _fill(workspace_dir, 5)
    result = _verify(workspace_dir)
    assert result.ok and result.checked == INIT_RECORDS + 5


def test_record_fields(workspace_dir: Path) -> None:
    _fill(workspace_dir, 1)
    row = (
        _db(workspace_dir)
        .execute(
            "SELECT ts, actor, action, target, result, request_id, details FROM audit_records WHERE seq=4"
        )
        .fetchone()
    )
    ts, actor, action, target, result, request_id, details = row
    assert ts.endswith("Z") and "T" in ts
    assert actor and action == "test.event" and target == "target-0" and result == "ok"
    assert request_id.startswith("req-")
    assert json.loads(details) == {"index": 0, "名称": "值"}


def test_sqlite_is_wal_and_synchronous_full(workspace_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{workspace_dir / 'stockade.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


# records 1-3 come from init, 4-8 from _fill(5)
TAMPERING = {
    "edited": ("UPDATE audit_records SET target='forged' WHERE seq=5", 5, "edited"),
    "edited-details": ("UPDATE audit_records SET details='{}' WHERE seq=6", 6, "edited"),
    "edited-actor": ("UPDATE audit_records SET actor='mallory' WHERE seq=2", 2, "edited"),
    "edited-role": ("UPDATE audit_records SET role='auditor' WHERE seq=7", 7, "edited"),
    "edited-result": ("UPDATE audit_records SET result='denied' WHERE seq=4", 4, "edited"),
    "deleted-first": ("DELETE FROM audit_records WHERE seq=1", 1, "deleted"),
    "deleted-middle": ("DELETE FROM audit_records WHERE seq=5", 5, "deleted"),
    "deleted-last": ("DELETE FROM audit_records WHERE seq=8", 8, "deleted"),
    "inserted": (
        "UPDATE audit_records SET seq = -(seq + 1) WHERE seq >= 5;"
        "UPDATE audit_records SET seq = -seq WHERE seq < 0;"
        "UPDATE audit_head SET seq = seq + 1;"
        "INSERT INTO audit_records (seq, ts, actor, action, result, details, prev_hash, hash) "
        "VALUES (5, '2026-01-01T00:00:00Z', 'mallory', 'forged', 'ok', '{}', "
        "(SELECT hash FROM audit_records WHERE seq = 4), 'forged')",
        5,
        "inserted",
    ),
    "reordered": (
        "UPDATE audit_records SET seq=-seq WHERE seq IN (5,6);"
        "UPDATE audit_records SET seq=CASE seq WHEN -5 THEN 6 WHEN -6 THEN 5 END WHERE seq < 0",
        5,
        "moved",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_any_single_change_is_found_and_named(workspace_dir: Path, case: str) -> None:
    _fill(workspace_dir, 5)
    sql, seq, word = TAMPERING[case]
    connection = _db(workspace_dir)
    connection.executescript(sql)
    connection.close()
    result = _verify(workspace_dir)
    assert not result.ok
    assert result.seq == seq
    assert f"#{seq}" in result.problem and word in result.problem


def test_edit_that_recomputes_its_own_hash_breaks_the_next_link(workspace_dir: Path) -> None:
    _fill(workspace_dir, 5)
    connection = _db(workspace_dir)
    columns = [
        "seq",
        "ts",
        "actor",
        "role",
        "source",
        "action",
        "target",
        "result",
        "request_id",
        "reason",
        "details",
        "prev_hash",
    ]
    row = dict(
        zip(
            columns,
            connection.execute(f"SELECT {','.join(columns)} FROM audit_records WHERE seq=5").fetchone(),  # noqa: S608
            strict=True,
        )
    )
    row["target"] = "forged"
    connection.execute("UPDATE audit_records SET target=?, hash=? WHERE seq=5", ("forged", record_hash(row)))
    connection.close()
    result = _verify(workspace_dir)
    assert not result.ok and result.seq == 6 and "inserted, replaced or reordered" in result.problem


def test_inserted_record_is_found(workspace_dir: Path) -> None:
    _fill(workspace_dir, 3)
    connection = _db(workspace_dir)
    connection.execute("UPDATE audit_records SET seq = -(seq + 1) WHERE seq >= 3")  # make room before #3
    connection.execute("UPDATE audit_records SET seq = -seq WHERE seq < 0")
    connection.execute(
        "INSERT INTO audit_records (seq, ts, actor, action, result, details, prev_hash, hash) "
        "VALUES (3, '2026-01-01T00:00:00Z', 'mallory', 'forged', 'ok', '{}', ?, ?)",
        ("0" * 64, "1" * 64),
    )
    connection.close()
    result = _verify(workspace_dir)
    assert not result.ok and result.seq == 3


def test_invalid_result_value_is_refused(workspace_dir: Path) -> None:
    from stockade.core.errors import AuditError

    context = open_workspace(workspace_dir)
    try:
        with pytest.raises(AuditError, match="result"):
            context.audit.append(AuditEvent(action="x", actor="y", result="maybe"))
    finally:
        context.close()


def _append_many(args: tuple[str, int]) -> None:
    _fill(Path(args[0]), args[1])


def test_concurrent_writers_from_several_processes_keep_one_chain(workspace_dir: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.map(_append_many, [(str(workspace_dir), 15)] * 3)
    result = _verify(workspace_dir)
    assert result.ok and result.checked == INIT_RECORDS + 45
