"""Maker-checker approval and the lifecycle: who may approve, how many approvals, which stages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stockade.governance.lifecycle import (
    LifecycleError,
    NotServable,
    SelfApproval,
    require_servable,
    transition,
)
from stockade.governance.roles import PermissionDenied
from stockade.storage.database import make_session_factory
from stockade.storage.model_tables import ModelVersion
from tests.governance.conftest import add_version, as_user


def _step(root: Path, user: str, role: str, ref: str, action: str, reason: str = "checked the eval report"):
    with as_user(root, user, role) as context:
        return transition(context, ref, action, reason=reason)


def _audit(root: Path, action: str) -> list[tuple]:
    connection = sqlite3.connect(root / "stockade.db")
    try:
        query = "SELECT actor, target, result, reason FROM audit_records WHERE action=? ORDER BY seq"
        return connection.execute(query, (action,)).fetchall()
    finally:
        connection.close()


def test_submit_then_a_reviewer_approves(team: Path) -> None:
    ref = add_version(team)
    assert _step(team, "alice", "trainer", ref, "submit").stage == "submitted"
    result = _step(team, "bob", "reviewer", ref, "approve")
    assert (result.stage, result.approvals, result.approvals_needed) == ("approved", 1, 1)
    assert ("bob", ref, "ok", "checked the eval report") in _audit(team, "model.approve")


# who made the version -> the user who tries to approve it (with the reviewer role as well)
SELF_APPROVAL = {
    "trainer who trained it": dict(trained_by="alice", exported_by="erin", approver="alice"),
    "user who exported it": dict(trained_by="frank", exported_by="bob", approver="bob"),
    "user who submitted it": dict(trained_by="frank", exported_by="frank", approver="alice"),
    "admin who trained it": dict(trained_by="root", exported_by="root", approver="root"),
}


@pytest.mark.parametrize("case", sorted(SELF_APPROVAL))
def test_self_approval_is_refused_and_audited(team: Path, case: str) -> None:
    makers = SELF_APPROVAL[case]
    ref = add_version(team, trained_by=makers["trained_by"], exported_by=makers["exported_by"])
    _step(team, "alice", "trainer", ref, "submit")
    role = "admin" if makers["approver"] == "root" else "trainer,reviewer"
    with pytest.raises(SelfApproval, match="maker-checker") as refused:
        _step(team, makers["approver"], role, ref, "approve")
    assert refused.value.exit_code == 3
    denied = [row for row in _audit(team, "model.approve") if row[2] == "denied"]
    assert denied and denied[-1][0] == makers["approver"] and "maker-checker" in denied[-1][3]
    # the version is still waiting; a reviewer who made nothing can approve it
    assert _step(team, "carol", "reviewer", ref, "approve").stage == "approved"


def test_production_tag_needs_two_distinct_approvers(team: Path) -> None:
    ref = add_version(team, tags=["production"])
    _step(team, "alice", "trainer", ref, "submit")
    first = _step(team, "bob", "reviewer", ref, "approve")
    assert (first.stage, first.approvals, first.approvals_needed) == ("submitted", 1, 2)
    with pytest.raises(LifecycleError, match="already"):
        _step(team, "bob", "reviewer", ref, "approve")
    assert _step(team, "carol", "reviewer", ref, "approve").stage == "approved"


def test_approvals_required_is_a_setting(team: Path) -> None:
    settings = team / "stockade.yaml"
    settings.write_text(settings.read_text() + "governance:\n  approvals_required: 2\n")
    ref = add_version(team)
    _step(team, "alice", "trainer", ref, "submit")
    assert _step(team, "bob", "reviewer", ref, "approve").stage == "submitted"
    assert _step(team, "carol", "reviewer", ref, "approve").stage == "approved"


def test_rejected_version_is_resubmitted_and_old_approvals_do_not_count(team: Path) -> None:
    ref = add_version(team, tags=["production"])
    _step(team, "alice", "trainer", ref, "submit")
    _step(team, "bob", "reviewer", ref, "approve")
    assert _step(team, "carol", "reviewer", ref, "reject", "ROUGE-L fell").stage == "rejected"
    _step(team, "alice", "trainer", ref, "submit", "retrained")
    assert _step(team, "carol", "reviewer", ref, "approve").approvals == 1  # bob's was for the old one


# (stage reached first, action) -> refused
WRONG_STAGE = [
    ("draft", "approve"),
    ("draft", "deploy"),
    ("submitted", "submit"),
    ("submitted", "deploy"),
    ("approved", "approve"),
    ("retired", "deploy"),
    ("retired", "retire"),
]


@pytest.mark.parametrize(("stage", "action"), WRONG_STAGE)
def test_transitions_the_stage_does_not_allow_are_refused(team: Path, stage: str, action: str) -> None:
    ref = add_version(team)
    path = {"draft": [], "submitted": ["submit"], "approved": ["submit", "approve"], "retired": ["retire"]}
    for step in path[stage]:
        _step(
            team,
            "bob" if step == "approve" else "alice",
            "reviewer" if step == "approve" else "trainer",
            ref,
            step,
        )
    user, role = ("bob", "reviewer") if action == "approve" else ("root", "admin")
    with pytest.raises(LifecycleError, match=f"`{action}` needs a version that is"):
        _step(team, user, role, ref, action)


def test_every_transition_needs_a_reason_and_the_right_role(team: Path) -> None:
    ref = add_version(team)
    with pytest.raises(LifecycleError, match="reason"):
        _step(team, "alice", "trainer", ref, "submit", reason="  ")
    with pytest.raises(PermissionDenied, match=r"registry\.submit"):
        _step(team, "dave", "auditor", ref, "submit")
    _step(team, "alice", "trainer", ref, "submit")
    with pytest.raises(PermissionDenied, match=r"registry\.approve"):
        _step(team, "frank", "trainer", ref, "approve")


def test_submission_needs_an_eval_report(team: Path) -> None:
    ref = add_version(team, with_report=False)
    with pytest.raises(LifecycleError, match="no evaluation report"):
        _step(team, "alice", "trainer", ref, "submit")


def test_full_lifecycle_and_history(team: Path) -> None:
    from stockade.governance.registry import version_history

    ref = add_version(team)
    _step(team, "alice", "trainer", ref, "submit")
    _step(team, "bob", "reviewer", ref, "approve")
    assert _step(team, "alice", "trainer", ref, "deploy", "go live").stage == "deployed"
    assert _step(team, "bob", "reviewer", ref, "retire", "superseded").stage == "retired"
    with as_user(team, "dave", "auditor") as context:
        history = version_history(context, ref)
    assert [(t["from"], t["to"], t["by"]) for t in history["transitions"]] == [
        ("draft", "submitted", "alice"),
        ("submitted", "approved", "bob"),
        ("approved", "deployed", "alice"),
        ("deployed", "retired", "bob"),
    ]
    assert history["makers"] == {"alice": "trained run run-fin-1"}


# stage -> (served outside dev mode?, served in dev mode?)
SERVABLE = {
    "draft": (False, True),
    "submitted": (False, True),
    "rejected": (False, True),
    "approved": (True, True),
    "deployed": (True, True),
    "retired": (False, False),
}


@pytest.mark.parametrize("stage", sorted(SERVABLE))
def test_only_approved_versions_are_served_outside_dev_mode(workspace_dir: Path, stage: str) -> None:
    ref = add_version(workspace_dir)
    with (
        as_user(workspace_dir, "root", "admin") as context,
        make_session_factory(context.engine)() as session,
    ):
        row = session.query(ModelVersion).filter_by(name="fin").one()
        row.stage = stage
        session.commit()
        for dev_mode, allowed in zip((False, True), SERVABLE[stage], strict=True):
            if allowed:
                decision = require_servable(session, row, dev_mode)
                assert decision.ref == ref and decision.dev_mode == (
                    dev_mode and stage not in ("approved", "deployed")
                )
            else:
                with pytest.raises(NotServable) as refused:
                    require_servable(session, row, dev_mode)
                assert refused.value.exit_code == 3
