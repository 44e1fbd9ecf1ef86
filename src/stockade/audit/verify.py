"""Verify the chain and name the first record that was edited, deleted, inserted or moved."""

from __future__ import annotations

from dataclasses import dataclass

from stockade.audit.chain import GENESIS_HASH, record_hash
from stockade.audit.log import AuditLog, record_fields


@dataclass
class Verification:
    ok: bool
    checked: int
    problem: str | None = None
    seq: int | None = None  # the record the problem is about


def verify_chain(log: AuditLog) -> Verification:
    expected_seq, expected_prev = 1, GENESIS_HASH
    checked = 0
    for record in log.records():
        fields = record_fields(record)
        if record.seq > expected_seq:
            missing = (
                f"#{expected_seq}" if record.seq == expected_seq + 1 else f"#{expected_seq}–#{record.seq - 1}"
            )
            return Verification(
                False,
                checked,
                f"record {missing} was deleted (the chain jumps to #{record.seq})",
                expected_seq,
            )
        if record_hash(fields) != record.hash:
            return Verification(
                False,
                checked,
                f"record #{record.seq} was edited or moved: its content no longer matches its hash",
                record.seq,
            )
        if record.prev_hash != expected_prev:
            return Verification(
                False,
                checked,
                f"record #{record.seq} does not follow record "
                f"#{record.seq - 1}: a record was inserted, replaced or reordered here",
                record.seq,
            )
        expected_prev = record.hash
        expected_seq += 1
        checked += 1
    head_seq, head_hash = log.head()
    last = expected_seq - 1
    if head_seq > last:
        return Verification(
            False,
            checked,
            f"record #{last + 1} and later were deleted (the log's head is #{head_seq})",
            last + 1,
        )
    if head_seq < last or head_hash != expected_prev:
        return Verification(
            False,
            checked,
            f"record #{last} is not the head the log recorded "
            f"(#{head_seq}): records were appended outside Stockade or the head was edited",
            last,
        )
    return Verification(True, checked)
