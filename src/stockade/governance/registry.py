"""What the registry shows: model versions with their stage and approvals, and one version's history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stockade.governance.gates import check_gates
from stockade.governance.lifecycle import approvals_needed, makers
from stockade.governance.roles import require
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import ModelApproval, ModelTransition
from stockade.storage.model_tables import EvalReport, ModelVersion

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext


def list_registry(context: WorkspaceContext, stage: str | None = None) -> list[dict[str, Any]]:
    """Every model version (newest last) with its stage; only one stage when ``stage`` is given."""
    require(context, "registry.read")
    with make_session_factory(context.engine)() as session:
        query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
        if stage:
            query = query.where(ModelVersion.stage == stage)
        return [
            {
                "ref": f"{row.name}@v{row.version}",
                "kind": row.kind,
                "stage": row.stage,
                "status": row.status,
                "tags": json.loads(row.tags or "[]"),
                "created_by": row.created_by,
                "created_at": row.created_at,
            }
            for row in session.scalars(query)
        ]


def version_history(context: WorkspaceContext, reference: str) -> dict[str, Any]:
    """A version's stage, approvals of its current submission, transitions, eval reports and how its
    release gates stand now (empty when stockade.yaml sets none)."""
    from stockade.models.store.resolve import find_model_version

    require(context, "registry.read")
    with make_session_factory(context.engine)() as session:
        row = find_model_version(session, reference)
        transitions = session.scalars(
            select(ModelTransition)
            .where(ModelTransition.model_version_id == row.id)
            .order_by(ModelTransition.id)
        ).all()
        submission = next((t for t in reversed(transitions) if t.to_stage == "submitted"), None)
        approvals = (
            session.scalars(select(ModelApproval).where(ModelApproval.submission_id == submission.id)).all()
            if submission is not None
            else []
        )
        reports = session.scalars(select(EvalReport).where(EvalReport.model_version_id == row.id)).all()
        return {
            "ref": f"{row.name}@v{row.version}",
            "kind": row.kind,
            "stage": row.stage,
            "status": row.status,
            "tags": json.loads(row.tags or "[]"),
            "created_by": row.created_by,
            "makers": makers(session, row),
            "approvals_needed": approvals_needed(context, row),
            "approvals": [{"by": a.approver, "reason": a.reason, "at": a.created_at} for a in approvals],
            "transitions": [
                {
                    "from": t.from_stage,
                    "to": t.to_stage,
                    "by": t.actor,
                    "reason": t.reason,
                    "at": t.created_at,
                }
                for t in transitions
            ],
            "eval_reports": [{"id": r.id, "dataset": r.dataset, "at": r.created_at} for r in reports],
            "gates": [result.as_dict() for result in check_gates(context, session, row)],
        }
