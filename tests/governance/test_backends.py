"""The approval flow on both databases (SQLite and a real PostgreSQL server chosen by database_url),
and two processes approving and writing audit records at once without breaking the chain."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import text

from stockade.audit import verify_chain
from stockade.audit.checkpoints import CheckpointVerifier
from stockade.governance.lifecycle import NotServable, SelfApproval, require_servable, transition
from stockade.storage.database import make_session_factory
from stockade.storage.model_tables import ModelVersion
from stockade.workspace.service import open_workspace
from tests.governance.conftest import add_users, add_version, as_user

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Path:
    root = request.getfixturevalue("workspace_dir" if request.param == "sqlite" else "postgres_workspace")
    add_users(root, {"alice": ["trainer"], "bob": ["reviewer"], "carol": ["reviewer"]})
    return root


def test_submit_self_approval_approve_serve(backend: Path) -> None:
    ref = add_version(backend, trained_by="alice")
    with as_user(backend, "alice", "trainer") as context:
        transition(context, ref, "submit", reason="eval report attached")
    with as_user(backend, "alice", "trainer,reviewer") as context, pytest.raises(SelfApproval):
        transition(context, ref, "approve", reason="my own work")
    with as_user(backend, "bob", "reviewer") as context, make_session_factory(context.engine)() as session:
        row = session.query(ModelVersion).one()
        with pytest.raises(NotServable):
            require_servable(session, row, dev_mode=False)
        transition(context, ref, "approve", reason="checked")
        assert require_servable(session, row, dev_mode=False).dev_mode is False
    with open_workspace(backend) as context:
        result = verify_chain(context.audit, CheckpointVerifier.for_workspace(backend))
        assert result.ok and result.signatures
        with context.engine.connect() as connection:
            denied = connection.execute(
                text("SELECT actor FROM audit_records WHERE action='model.approve' AND result='denied'")
            ).all()
    assert [row[0] for row in denied] == ["alice"]


def _reviewer(root: str, name: str, ref: str, barrier) -> None:  # runs in a child process
    with as_user(Path(root), name, "reviewer") as context:
        context.audit.checkpoint_every = 5
        for index in range(15):
            context.record("worker.event", name, index=index)
        barrier.wait()
        transition(context, ref, "approve", reason=f"{name} checked the report")
        for index in range(15, 30):
            context.record("worker.event", name, index=index)


def test_two_processes_approving_and_writing_at_once_keep_one_chain(backend: Path) -> None:
    ref = add_version(backend, tags=["production"])  # needs both approvals
    with as_user(backend, "alice", "trainer") as context:
        transition(context, ref, "submit", reason="eval report attached")
        start = context.audit.head()[0]
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    workers = [
        spawn.Process(target=_reviewer, args=(str(backend), name, ref, barrier)) for name in ("bob", "carol")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with open_workspace(backend) as context:
        result = verify_chain(context.audit, CheckpointVerifier.for_workspace(backend))
        assert result.ok, result.problem
        assert result.checked == start + 2 * 30 + 2 and result.checkpoints >= 10  # workers sign every 5th
        with context.engine.connect() as connection:
            stage = connection.execute(text("SELECT stage FROM model_versions")).scalar()
            approvers = connection.execute(
                text("SELECT approver FROM model_approvals ORDER BY approver")
            ).all()
            approved = connection.execute(
                text("SELECT count(*) FROM model_transitions WHERE to_stage='approved'")
            )
            assert (stage, [a[0] for a in approvers], approved.scalar()) == ("approved", ["bob", "carol"], 1)


def test_a_user_with_every_role_is_recorded_in_full(backend: Path) -> None:
    from stockade.governance.roles import ROLES
    from stockade.governance.users import set_roles

    every = sorted(ROLES)
    with open_workspace(backend) as context:
        set_roles(context, "alice", every, reason="one-person test lab")
    with as_user(backend, "alice", ",".join(every)) as context:
        context.record("test.event", "wide role")
        assert context.audit.tail(1)[0].role == ",".join(every)
