"""Signed checkpoints: written periodically, verified with the public key; any tampering with a
checkpoint, a rewrite of the whole chain, or a truncation is found and named."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from stockade.audit import AuditLog, verify_chain
from stockade.audit.chain import HASHED_FIELDS, record_hash
from stockade.audit.checkpoints import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, CheckpointSigner, CheckpointVerifier
from stockade.storage.database import make_engine
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli

EVERY = 4


def _fill(root: Path, count: int) -> None:
    with open_workspace(root) as context:
        context.audit.checkpoint_every = EVERY
        for index in range(count):
            context.record("test.event", f"target-{index}", index=index)


def _verify(root: Path, verifier: CheckpointVerifier | None = None):
    engine = make_engine(f"sqlite:///{root / 'stockade.db'}")
    try:
        log = AuditLog(engine, checkpoint_every=EVERY)
        return verify_chain(log, verifier or CheckpointVerifier.for_workspace(root))
    finally:
        engine.dispose()


def _sql(root: Path, *statements: tuple) -> None:
    connection = sqlite3.connect(root / "stockade.db", isolation_level=None)
    for statement in statements:
        connection.execute(*statement)
    connection.close()


def test_key_files_are_private_and_checkpoints_are_periodic(workspace_dir: Path) -> None:
    assert stat.S_IMODE((workspace_dir / PRIVATE_KEY_FILE).stat().st_mode) == 0o600
    _fill(workspace_dir, 10)  # records 1-3 from init, 4-13
    result = _verify(workspace_dir)
    assert result.ok and result.signatures and result.checked == 13
    engine = make_engine(f"sqlite:///{workspace_dir / 'stockade.db'}")
    assert [c.seq for c in AuditLog(engine).checkpoints()] == [1, 4, 8, 12]
    engine.dispose()


def _rewrite_chain_from(root: Path, seq: int) -> None:
    """What an attacker with the database but not the key does: edit #seq, re-hash everything after."""
    connection = sqlite3.connect(root / "stockade.db", isolation_level=None)
    connection.execute("UPDATE audit_records SET target='forged' WHERE seq=?", (seq,))
    rows = connection.execute(f"SELECT {','.join(HASHED_FIELDS)} FROM audit_records ORDER BY seq").fetchall()  # noqa: S608
    previous = None
    for values in rows:
        fields = dict(zip(HASHED_FIELDS, values, strict=True))
        if previous is not None:
            fields["prev_hash"] = previous
        previous = record_hash(fields)
        connection.execute(
            "UPDATE audit_records SET prev_hash=?, hash=? WHERE seq=?",
            (fields["prev_hash"], previous, fields["seq"]),
        )
    connection.execute("UPDATE audit_head SET hash=?", (previous,))
    connection.close()


def _forge_with_new_key(root: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forger = CheckpointSigner(Ed25519PrivateKey.generate())
    row = (
        sqlite3.connect(root / "stockade.db")
        .execute("SELECT hash, ts FROM audit_checkpoints WHERE seq=8")
        .fetchone()
    )
    _sql(root, ("UPDATE audit_checkpoints SET signature=? WHERE seq=8", (forger.sign(8, row[0], row[1]),)))


TAMPERING = {
    "signature replaced": (
        lambda root: _sql(
            root,
            (
                "UPDATE audit_checkpoints SET signature="
                "(SELECT signature FROM audit_checkpoints WHERE seq=4) WHERE seq=8",
            ),
        ),
        8,
        "invalid signature",
    ),
    "checkpoint hash edited": (
        lambda root: _sql(root, ("UPDATE audit_checkpoints SET hash=? WHERE seq=4", ("0" * 64,))),
        4,
        "invalid signature",
    ),
    "checkpoint time edited": (
        lambda root: _sql(root, ("UPDATE audit_checkpoints SET ts='2020-01-01T00:00:00Z' WHERE seq=12",)),
        12,
        "invalid signature",
    ),
    "signed with another key": (_forge_with_new_key, 8, "invalid signature"),
    "checkpoint deleted": (
        lambda root: _sql(root, ("DELETE FROM audit_checkpoints WHERE seq=8",)),
        8,
        "checkpoint at record #8 was deleted",
    ),
    "whole chain rewritten": (lambda root: _rewrite_chain_from(root, 6), 8, "rewritten"),
    "log truncated and head reset": (
        lambda root: _sql(
            root,
            ("DELETE FROM audit_records WHERE seq > 9",),
            ("UPDATE audit_head SET seq=9, hash=(SELECT hash FROM audit_records WHERE seq=9)",),
        ),
        12,
        "was deleted",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_checkpoint_tampering_is_found_and_named(workspace_dir: Path, case: str) -> None:
    _fill(workspace_dir, 10)
    tamper, seq, words = TAMPERING[case]
    tamper(workspace_dir)
    result = _verify(workspace_dir)
    assert not result.ok, case
    assert result.seq == seq and f"#{seq}" in result.problem and words in result.problem


def test_without_checkpoints_a_rewritten_chain_would_pass(workspace_dir: Path) -> None:
    """Shows why checkpoints exist: the chain alone cannot see a full rewrite (so the test above can fail)."""
    _fill(workspace_dir, 10)
    _rewrite_chain_from(workspace_dir, 6)
    _sql(workspace_dir, ("DELETE FROM audit_checkpoints",))
    assert _verify(workspace_dir).ok


def test_verify_command_checks_signatures_with_an_outside_public_key(
    workspace_dir: Path, tmp_path: Path
) -> None:
    _fill(workspace_dir, 5)
    outside = tmp_path / "audit.pub"
    outside.write_bytes((workspace_dir / PUBLIC_KEY_FILE).read_bytes())
    ok = run_cli("-w", str(workspace_dir), "audit", "verify", "--public-key", str(outside))
    assert ok.returncode == 0 and "signed checkpoints verified" in ok.stdout
    _sql(workspace_dir, ("UPDATE audit_checkpoints SET ts='2020-01-01T00:00:00Z' WHERE seq=4",))
    tampered = run_cli("-w", str(workspace_dir), "audit", "verify", "--json")
    assert tampered.returncode == 1 and '"seq": 4' in tampered.stdout
