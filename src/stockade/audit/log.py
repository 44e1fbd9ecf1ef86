"""The append-only, hash-chained audit log.

Each record carries the hash of the one before it. Appends lock the single ``audit_head``
row first (an UPDATE, which also takes SQLite's write lock before anything is read), so
concurrent writers from several processes still form one linear chain. SQLite runs in WAL
mode with ``synchronous=FULL``: a committed record is on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from stockade.audit.chain import record_hash
from stockade.audit.checkpoints import CHECKPOINT_EVERY, CHECKPOINT_MAX_AGE_S, CheckpointSigner
from stockade.core.errors import AuditError
from stockade.core.hashing import canonical_json
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import AuditCheckpoint
from stockade.storage.tables import AuditHead, AuditRecord

RESULTS = ("ok", "denied", "error")


@dataclass
class AuditEvent:
    """What a service reports. Never put raw personal data, prompts or outputs in it."""

    action: str
    actor: str
    target: str | None = None
    result: str = "ok"
    role: str | None = None
    source: str | None = None
    request_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def record_fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "ts": record.ts,
        "actor": record.actor,
        "role": record.role,
        "source": record.source,
        "action": record.action,
        "target": record.target,
        "result": record.result,
        "request_id": record.request_id,
        "reason": record.reason,
        "details": record.details,
        "prev_hash": record.prev_hash,
    }


def record_as_dict(record: AuditRecord) -> dict[str, Any]:
    data = record_fields(record)
    data["details"] = json.loads(record.details)
    data["hash"] = record.hash
    return data


class AuditLog:
    """Append and read audit records. There is deliberately no delete or update.

    With a ``signer``, every ``checkpoint_every``-th record (and the first record an hour after the
    last checkpoint) also gets a signed checkpoint, in the same transaction.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        signer: CheckpointSigner | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self._sessions = make_session_factory(engine)

    def append(self, event: AuditEvent, *, session: Session | None = None) -> AuditRecord:
        """Append one record. With ``session``, the record joins that transaction (and commits with it),
        so a state change and its audit record are stored together or not at all."""
        if event.result not in RESULTS:
            raise AuditError(f"audit result must be one of {RESULTS}, not {event.result!r}")
        try:
            if session is not None:
                return self._append(session, event)
            with self._sessions.begin() as own:
                return self._append(own, event)
        except AuditError:
            raise
        except Exception as exc:
            raise AuditError(
                f"could not write the audit record {event.action!r}: {exc.__class__.__name__}: {exc}",
                fix="check that the workspace database is writable (`stockade doctor`)",
            ) from exc

    @staticmethod
    def lock(session: Session) -> None:
        """Take the append lock now. A service whose transaction reads before it writes (and will
        append its audit record) calls this first: on SQLite it takes the write lock before any read,
        so the transaction never fails to upgrade; everywhere it orders locks (audit head first)."""
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))

    def _append(self, session: Session, event: AuditEvent) -> AuditRecord:
        # Lock first: this UPDATE takes the write lock before the head is read.
        self.lock(session)
        head = session.get(AuditHead, 1, populate_existing=True)
        if head is None:
            raise AuditError("the audit log has no head row", fix="run `stockade init` on this workspace")
        fields = {
            "seq": head.seq + 1,
            "ts": utc_now(),
            "actor": event.actor,
            "role": event.role,
            "source": event.source,
            "action": event.action,
            "target": event.target,
            "result": event.result,
            "request_id": event.request_id,
            "reason": event.reason,
            "details": canonical_json(event.details),
            "prev_hash": head.hash,
        }
        record = AuditRecord(**fields, hash=record_hash(fields))
        session.add(record)
        head.seq, head.hash = record.seq, record.hash
        session.flush()
        if self.signer is not None and self._checkpoint_due(session, record):
            self._add_checkpoint(session, record.seq, record.hash)
        return record

    def _checkpoint_due(self, session: Session, record: AuditRecord) -> bool:
        if record.seq % self.checkpoint_every == 0:
            return True
        last = session.scalar(select(AuditCheckpoint.ts).order_by(AuditCheckpoint.seq.desc()).limit(1))
        if last is None:
            return True
        age = datetime.now(timezone.utc) - datetime.fromisoformat(last.replace("Z", "+00:00"))
        return age.total_seconds() >= CHECKPOINT_MAX_AGE_S

    def _add_checkpoint(self, session: Session, seq: int, record_hash: str) -> AuditCheckpoint:
        assert self.signer is not None
        ts = utc_now()
        checkpoint = AuditCheckpoint(
            seq=seq,
            hash=record_hash,
            ts=ts,
            key_id=self.signer.key_id,
            signature=self.signer.sign(seq, record_hash, ts),
        )
        session.add(checkpoint)
        session.flush()
        return checkpoint

    def checkpoint(self) -> AuditCheckpoint | None:
        """Sign the current head now (``None`` when it already has a checkpoint or the log is empty)."""
        if self.signer is None:
            raise AuditError("no audit signing key loaded", fix="open the workspace with its key (pki/)")
        with self._sessions.begin() as session:
            session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
            head = session.get(AuditHead, 1, populate_existing=True)
            if head is None or head.seq == 0 or session.get(AuditCheckpoint, head.seq) is not None:
                return None
            return self._add_checkpoint(session, head.seq, head.hash)

    def checkpoints(self) -> list[AuditCheckpoint]:
        with self._sessions() as session:
            return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))

    def count(self) -> tuple[int, str | None]:
        """How many records there are, and the time of the oldest."""
        with self._sessions() as session:
            number = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
            oldest = session.scalar(select(AuditRecord.ts).order_by(AuditRecord.seq).limit(1))
            return number, oldest

    def between(self, since: str | None, until: str | None) -> Iterator[AuditRecord]:
        """Records with ``since <= ts < until`` (ISO-8601 UTC strings compare as times), chain order."""
        with self._sessions() as session:
            query = select(AuditRecord).order_by(AuditRecord.seq)
            if since:
                query = query.where(AuditRecord.ts >= since)
            if until:
                query = query.where(AuditRecord.ts < until)
            yield from session.scalars(query.execution_options(yield_per=1000))

    def head(self) -> tuple[int, str]:
        with self._sessions() as session:
            head = session.get(AuditHead, 1)
            if head is None:
                raise AuditError("the audit log has no head row", fix="run `stockade init` on this workspace")
            return head.seq, head.hash

    def records(self, *, since_seq: int = 0) -> Iterator[AuditRecord]:
        """Every record in chain order, streamed."""
        with self._sessions() as session:
            query = select(AuditRecord).where(AuditRecord.seq > since_seq).order_by(AuditRecord.seq)
            yield from session.scalars(query.execution_options(yield_per=1000))

    def tail(self, count: int = 20) -> list[AuditRecord]:
        with self._sessions() as session:
            query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(count)
            return list(reversed(session.scalars(query).all()))
