"""Verify the chain and name the first record that was edited, deleted, inserted or moved; then check
every signed checkpoint against its record and the workspace's public key."""

from __future__ import annotations

from dataclasses import dataclass

from stockade.audit.chain import GENESIS_HASH, record_hash
from stockade.audit.checkpoints import CheckpointVerifier
from stockade.audit.log import AuditLog, record_fields


@dataclass
class Verification:
    ok: bool
    checked: int
    problem: str | None = None
    seq: int | None = None  # the record the problem is about
    checkpoints: int = 0  # signed checkpoints checked
    signatures: bool = False  # whether their signatures were checked (needs the public key)


def verify_chain(log: AuditLog, verifier: CheckpointVerifier | None = None) -> Verification:
    """Check the chain, then the checkpoints. Without ``verifier`` a checkpoint's hash is compared
    with its record but its signature is not checked (``signatures`` is then False)."""
    result = _verify_links(log)
    if not result.ok:
        return result
    return _verify_checkpoints(log, verifier, result.checked)


def _verify_checkpoints(log: AuditLog, verifier: CheckpointVerifier | None, checked: int) -> Verification:
    hashes = {}
    checkpoints = log.checkpoints()
    if checkpoints:
        wanted = {checkpoint.seq for checkpoint in checkpoints}
        hashes = {record.seq: record.hash for record in log.records() if record.seq in wanted}
    for number, checkpoint in enumerate(checkpoints):
        where = f"the signed checkpoint at record #{checkpoint.seq}"
        if verifier is not None and not verifier.valid(
            checkpoint.seq, checkpoint.hash, checkpoint.ts, checkpoint.key_id, checkpoint.signature
        ):
            return Verification(
                False,
                checked,
                f"{where} has an invalid signature: the checkpoint was edited or forged "
                "(or signed with another key)",
                checkpoint.seq,
                number,
                True,
            )
        if checkpoint.seq not in hashes:
            return Verification(
                False,
                checked,
                f"record #{checkpoint.seq} was deleted: {where} covers it (the log was truncated)",
                checkpoint.seq,
                number,
                verifier is not None,
            )
        if hashes[checkpoint.seq] != checkpoint.hash:
            return Verification(
                False,
                checked,
                f"record #{checkpoint.seq} does not match {where}: the chain up to it was rewritten",
                checkpoint.seq,
                number,
                verifier is not None,
            )
    if checkpoints:  # from the first checkpoint on, every checkpoint_every-th record has one
        present, every = {checkpoint.seq for checkpoint in checkpoints}, log.checkpoint_every
        first = checkpoints[0].seq
        for seq in range((first // every + 1) * every, checked + 1, every):
            if seq not in present:
                return Verification(
                    False,
                    checked,
                    f"the signed checkpoint at record #{seq} was deleted",
                    seq,
                    len(checkpoints),
                    verifier is not None,
                )
    return Verification(True, checked, checkpoints=len(checkpoints), signatures=verifier is not None)


def _verify_links(log: AuditLog) -> Verification:
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
            if _slipped_in(log, record.seq, record.prev_hash, expected_prev):
                problem = (
                    f"record #{record.seq} was inserted: record #{record.seq + 1} follows #{record.seq - 1}"
                )
            else:
                problem = f"record #{record.seq} was edited or moved: its content no longer matches its hash"
            return Verification(False, checked, problem, record.seq)
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


def _slipped_in(log: AuditLog, seq: int, its_prev_hash: str, previous_hash: str) -> bool:
    """Whether #seq was inserted: the record after it links to the one before it, and (unlike two
    swapped records) #seq itself does not link to the record after it."""
    following = next(iter(log.records(since_seq=seq)), None)
    return (
        following is not None
        and following.seq == seq + 1
        and following.prev_hash == previous_hash
        and its_prev_hash != following.hash
    )
