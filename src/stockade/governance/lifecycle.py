"""The model-version lifecycle and maker-checker approval.

``draft → submitted (with an eval report) → approved | rejected → deployed → retired``; a rejected
version may be resubmitted, and any version not yet retired may be retired. Every transition needs
a reason and writes a ``model_transitions`` row and an audit record in one transaction.

Maker-checker: whoever trained the run, exported (registered) the version or submitted it can
never approve it — admins included. A submission needs ``governance.approvals_required`` distinct
approvers (``governance.production_approvals`` for a version tagged ``production``). Each
transition first locks the version's row (an UPDATE), so concurrent approvers from several
processes are counted exactly once each.

Release gates (gates.py, ``governance.gates`` in stockade.yaml) are checked against the version's
stored evaluation reports at ``submit`` (recorded and shown, never blocking the submission) and again
at ``approve``: an approval while a gate fails is refused unless the approver — never a maker — gives
``override_gate`` (a reason), audited as ``model.gate_override``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockade.audit.log import utc_now
from stockade.core.errors import StockadeError
from stockade.governance.gates import GateResult, check_gates, failing
from stockade.governance.roles import PermissionDenied, require
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import ModelApproval, ModelTransition
from stockade.storage.model_tables import EvalReport, ModelVersion
from stockade.storage.tables import TrainingRun

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

STAGES = ("draft", "submitted", "approved", "rejected", "deployed", "retired")
SERVABLE = ("approved", "deployed")
# action -> (stages it starts from, permission)
ACTIONS = {
    "submit": (("draft", "rejected"), "registry.submit"),
    "approve": (("submitted",), "registry.approve"),
    "reject": (("submitted",), "registry.reject"),
    "deploy": (("approved",), "registry.deploy"),
    "retire": (("draft", "submitted", "approved", "rejected", "deployed"), "registry.retire"),
}


class LifecycleError(StockadeError):
    """A transition that the version's stage does not allow, or one without a reason."""

    exit_code = 2


class SelfApproval(PermissionDenied):
    """Maker-checker: the approver trained, exported or submitted this version (exit code 3)."""

    def __init__(self, ref: str, name: str, made: str) -> None:
        super().__init__(
            f"{name} may not approve {ref}: {name} {made} (maker-checker)",
            fix="another user with the reviewer role must approve it",
        )
        self.ref, self.audit_reason = ref, f"maker-checker: {name} {made}"


class GateFailed(StockadeError):
    """Approving a version whose release gate fails, without ``--override-gate`` (exit code 3)."""

    exit_code = 3

    def __init__(self, ref: str, results: list[GateResult]) -> None:
        lines = "; ".join(result.line() for result in results)
        super().__init__(
            f"{ref} fails its release gate: {lines}",
            fix="evaluate or retrain it and resubmit, or (a reviewer who did not make it) approve with "
            '--override-gate "why it may ship anyway"',
        )
        self.ref, self.results = ref, results
        self.audit_reason = "release gate failed: " + ", ".join(f"{r.stage}: {r.gate}" for r in results)


class NotServable(StockadeError):
    """Serving a version that is not approved, outside dev mode (exit code 3, HTTP 403)."""

    exit_code = 3


@dataclass
class TransitionResult:
    ref: str
    action: str
    stage_before: str
    stage: str
    approvals: int = 0
    approvals_needed: int = 0
    gates: list[GateResult] = field(default_factory=list)
    gate_overridden: bool = False


def ref_of(row: ModelVersion) -> str:
    return f"{row.name}@v{row.version}"


def approvals_needed(context: WorkspaceContext, row: ModelVersion) -> int:
    settings = context.workspace.settings.governance
    tags = json.loads(row.tags or "[]")
    return settings.production_approvals if "production" in tags else settings.approvals_required


def makers(session: Session, row: ModelVersion) -> dict[str, str]:
    """Everyone who made this version: user name -> what they did (trained, exported, submitted)."""
    found: dict[str, str] = {}
    run_id = json.loads(row.lineage or "{}").get("run")
    if run_id:
        run = session.get(TrainingRun, run_id)
        if run is not None:
            found[run.created_by] = f"trained run {run_id}"
    found.setdefault(row.created_by, "exported/registered this version")
    query = select(ModelTransition.actor).where(
        ModelTransition.model_version_id == row.id, ModelTransition.to_stage == "submitted"
    )
    for actor in session.scalars(query):
        found.setdefault(actor, "submitted it")
    return found


def _lock_version(session: Session, reference: str) -> ModelVersion:
    from stockade.models.store.resolve import find_model_version

    row = find_model_version(session, reference)
    # Lock first (row lock on PostgreSQL, the write lock on SQLite), then read the current stage.
    session.execute(update(ModelVersion).where(ModelVersion.id == row.id).values(stage=ModelVersion.stage))
    session.refresh(row)
    return row


def _current_submission(session: Session, row: ModelVersion) -> ModelTransition | None:
    query = (
        select(ModelTransition)
        .where(ModelTransition.model_version_id == row.id, ModelTransition.to_stage == "submitted")
        .order_by(ModelTransition.id.desc())
    )
    return session.scalars(query.limit(1)).first()


def _approval_count(session: Session, submission: ModelTransition) -> int:
    query = select(func.count()).select_from(ModelApproval)
    return session.scalar(query.where(ModelApproval.submission_id == submission.id)) or 0


def _latest_report(session: Session, row: ModelVersion, report_id: str | None) -> EvalReport:
    if report_id:
        report = session.get(EvalReport, report_id)
        if report is None or report.model_version_id != row.id:
            raise LifecycleError(
                f"no evaluation report {report_id!r} of {ref_of(row)}",
                fix=f"list its reports with `stockade registry show {ref_of(row)}`",
            )
        return report
    query = select(EvalReport).where(EvalReport.model_version_id == row.id)
    query = query.order_by(EvalReport.created_at.desc())
    report = session.scalars(query.limit(1)).first()
    if report is None:
        raise LifecycleError(
            f"{ref_of(row)} has no evaluation report; a submission needs one",
            fix=f"evaluate it first: `stockade eval {ref_of(row)} --dataset DATASET@vN`",
        )
    return report


def _add_transition(
    context: WorkspaceContext, session: Session, row: ModelVersion, to_stage: str, reason: str, **extra
) -> ModelTransition:
    transition = ModelTransition(
        model_version_id=row.id,
        from_stage=row.stage,
        to_stage=to_stage,
        actor=context.actor.name,
        role=context.actor.role,
        reason=reason,
        request_id=context.request_id,
        created_at=utc_now(),
        **extra,
    )
    session.add(transition)
    row.stage = to_stage
    session.flush()
    return transition


def transition(
    context: WorkspaceContext,
    reference: str,
    action: str,
    *,
    reason: str,
    eval_report: str | None = None,
    override_gate: str | None = None,
) -> TransitionResult:
    """Apply ``action`` (submit, approve, reject, deploy, retire) to a version, with a reason.

    ``override_gate`` (approve only): why the version may be approved although a release gate fails."""
    starts, permission = ACTIONS[action]
    require(context, permission)
    reason = (reason or "").strip()
    if not reason:
        raise LifecycleError(f"`{action}` needs a reason", where="--reason", fix='add --reason "why"')
    if override_gate is not None:
        override_gate = override_gate.strip()
        if action != "approve":
            raise LifecycleError(f"`{action}` takes no gate override", where="--override-gate")
        if not override_gate:
            raise LifecycleError(
                "a gate override needs a reason", where="--override-gate", fix='--override-gate "why"'
            )
    try:
        return _apply(context, reference, action, starts, reason, eval_report, override_gate)
    except (SelfApproval, GateFailed) as refused:  # recorded once the version's lock is released
        extra = {"gates": [r.as_dict() for r in refused.results]} if isinstance(refused, GateFailed) else {}
        context.record("model.approve", refused.ref, result="denied", reason=refused.audit_reason, **extra)
        raise


def _apply(
    context: WorkspaceContext,
    reference: str,
    action: str,
    starts: tuple[str, ...],
    reason: str,
    eval_report: str | None,
    override_gate: str | None = None,
) -> TransitionResult:
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)
        row = _lock_version(session, reference)
        ref, before = ref_of(row), row.stage
        if row.status != "active" or before not in starts:
            raise LifecycleError(
                f"{ref} is {before if row.status == 'active' else 'removed'}; `{action}` needs "
                f"a version that is {' or '.join(starts)}",
                fix=f"see its history with `stockade registry show {ref}`",
            )
        result = TransitionResult(ref, action, before, before)
        if action == "approve":
            return _approve(context, session, row, reason, result, override_gate)
        extra: dict = {}
        gates: dict = {}
        if action == "submit":
            extra["eval_report_id"] = _latest_report(session, row, eval_report).id
            result.gates = check_gates(context, session, row)
            if result.gates:
                gates = {
                    "gates": [r.as_dict() for r in result.gates],
                    "gates_passed": not failing(result.gates),
                }
        to_stage = {"submit": "submitted", "reject": "rejected", "deploy": "deployed", "retire": "retired"}
        _add_transition(context, session, row, to_stage[action], reason, **extra)
        result.stage = row.stage
        context.record(
            f"model.{action}", ref, reason=reason, session=session, stage_before=before, **extra, **gates
        )
        return result


def _approve(
    context: WorkspaceContext,
    session: Session,
    row: ModelVersion,
    reason: str,
    result: TransitionResult,
    override_gate: str | None = None,
) -> TransitionResult:
    ref, name = result.ref, context.actor.name
    made = makers(session, row)
    if name in made:  # before the gates: a maker may not override them either
        raise SelfApproval(ref, name, made[name])
    result.gates = check_gates(context, session, row)
    failed = failing(result.gates)
    if failed and override_gate is None:
        raise GateFailed(ref, failed)
    if override_gate is not None and not failed:
        raise LifecycleError(
            f"--override-gate given, but {ref} passes "
            + ("every release gate" if result.gates else "(no release gate is configured)"),
            where="--override-gate",
            fix="approve without --override-gate",
        )
    submission = _current_submission(session, row)
    assert submission is not None
    already = select(ModelApproval.id).where(
        ModelApproval.submission_id == submission.id, ModelApproval.approver == name
    )
    if session.scalar(already) is not None:
        raise LifecycleError(f"{name} approved this submission of {ref} already", fix="another reviewer must")
    session.add(
        ModelApproval(
            model_version_id=row.id,
            submission_id=submission.id,
            approver=name,
            role=context.actor.role,
            reason=reason,
            created_at=utc_now(),
        )
    )
    session.flush()
    result.approvals = _approval_count(session, submission)
    result.approvals_needed = approvals_needed(context, row)
    if result.approvals >= result.approvals_needed:
        _add_transition(context, session, row, "approved", reason)
    result.stage = row.stage
    gates = {"gates": [r.as_dict() for r in result.gates]} if result.gates else {}
    if failed:
        result.gate_overridden = True
        context.record(
            "model.gate_override",
            ref,
            reason=override_gate,
            session=session,
            approval_reason=reason,
            makers=sorted(made),
            failed=[r.as_dict() for r in failed],
        )
    context.record(
        "model.approve",
        ref,
        reason=reason,
        session=session,
        approvals=result.approvals,
        approvals_needed=result.approvals_needed,
        stage=row.stage,
        gate_override=bool(failed),
        **gates,
    )
    return result


@dataclass
class Servable:
    ref: str
    stage: str
    dev_mode: bool  # True when served only because of dev mode: announce it


def require_servable(session: Session, row: ModelVersion, dev_mode: bool) -> Servable:
    """Refuse a version that is not approved (or deployed), unless the server runs in dev mode.

    Retired or removed versions are refused even in dev mode. Serving records the outcome."""
    session.refresh(row)
    ref = ref_of(row)
    if row.status != "active" or row.stage == "retired":
        raise NotServable(
            f"{ref} is {'removed' if row.status != 'active' else 'retired'} and cannot be served",
            fix="serve an approved version (`stockade registry list`)",
        )
    if row.stage in SERVABLE:
        return Servable(ref, row.stage, False)
    if dev_mode:
        return Servable(ref, row.stage, True)
    raise NotServable(
        f"{ref} is {row.stage}, not approved: only approved versions are served",
        fix=f"submit it (`stockade registry submit {ref} --reason ...`) and have a reviewer approve it; "
        "for experiments only, set dev_mode: true in stockade.yaml (announced on every response)",
    )
