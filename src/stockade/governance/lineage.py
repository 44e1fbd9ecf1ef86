"""Lineage of a model version, from the source files to its deployments:

source file hash → privacy policy and report → dataset version → run → adapter → merged version →
eval report → approvals → deployments. Read-only; every link comes from stored rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.governance.roles import require
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import ModelApproval, ModelTransition
from stockade.storage.model_tables import EvalReport, ModelVersion
from stockade.storage.tables import DatasetVersion, TrainingRun

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext


@dataclass
class Link:
    """One step of the chain: what it is, its identifier, and the facts worth showing."""

    kind: str  # source | privacy | dataset | run | base | adapter | version | eval | transition | approval
    ref: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lineage:
    ref: str
    links: list[Link]

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "links": [asdict(link) for link in self.links]}


def _dataset_links(session: Session, dataset: dict[str, Any]) -> list[Link]:
    from stockade.data.versions import find_version

    ref = dataset.get("ref", "?")
    try:
        row: DatasetVersion | None = find_version(session, ref)
    except Exception:
        row = None
    if row is None:
        return [Link("dataset", ref, {"content_sha256": dataset.get("content_sha256"), "found": False})]
    links = [
        Link(
            "source", source.get("path", "?"), {"sha256": source.get("sha256"), "bytes": source.get("bytes")}
        )
        for source in json.loads(row.sources or "[]")
    ]
    privacy = json.loads(row.privacy or "{}")
    report = privacy.get("report", {})
    links.append(
        Link(
            "privacy",
            privacy.get("policy") or "(default policy)",
            {
                "status": privacy.get("status"),
                "gate": privacy.get("gate"),
                "found": report.get("by_type", {}),
                "report": f"{Path(row.path).parent.as_posix()}/privacy-report.html" if report else None,
            },
        )
    )
    links.append(
        Link(
            "dataset",
            ref,
            {
                "content_sha256": row.content_sha256,
                "rows": row.rows,
                "by": row.created_by,
                "status": row.status,
            },
        )
    )
    return links


def _version_link(row: ModelVersion) -> Link:
    return Link(
        row.kind if row.kind in ("adapter", "base") else "version",
        f"{row.name}@v{row.version}",
        {
            "manifest_sha256": row.manifest_sha256,
            "by": row.created_by,
            "stage": row.stage,
            "at": row.created_at,
        },
    )


def model_lineage(context: WorkspaceContext, reference: str) -> Lineage:
    from stockade.models.store.resolve import find_model_version

    require(context, "registry.read")
    with make_session_factory(context.engine)() as session:
        row = find_model_version(session, reference)
        lineage = json.loads(row.lineage or "{}")
        links: list[Link] = []
        run_id = lineage.get("run")
        run = session.get(TrainingRun, run_id) if run_id else None
        datasets = json.loads(run.datasets) if run is not None else lineage.get("datasets", [])
        for dataset in datasets:
            links.extend(_dataset_links(session, dataset))
        if lineage.get("base_version"):
            links.append(
                Link(
                    "base", lineage["base_version"], {"manifest_sha256": lineage.get("base_manifest_sha256")}
                )
            )
        elif lineage.get("source"):
            links.append(Link("source", lineage["source"], {"imported": True}))
        if run is not None:
            links.append(
                Link("run", run.id, {"by": run.created_by, "status": run.status, "at": run.created_at})
            )
            siblings = session.scalars(select(ModelVersion).where(ModelVersion.kind == "adapter"))
            links.extend(
                _version_link(other)
                for other in siblings
                if other.id != row.id and json.loads(other.lineage or "{}").get("run") == run.id
            )
        links.append(_version_link(row))
        reports = (
            select(EvalReport).where(EvalReport.model_version_id == row.id).order_by(EvalReport.created_at)
        )
        links.extend(
            Link(
                "eval",
                report.id,
                {"dataset": report.dataset, "sha256": report.sha256, "by": report.created_by},
            )
            for report in session.scalars(reports)
        )
        history = select(ModelTransition).where(ModelTransition.model_version_id == row.id)
        approvals = select(ModelApproval).where(ModelApproval.model_version_id == row.id)
        steps: list[tuple[str, Link]] = [
            (
                t.created_at,
                Link(
                    "transition",
                    f"{t.from_stage} → {t.to_stage}",
                    {"by": t.actor, "reason": t.reason, "at": t.created_at},
                ),
            )
            for t in session.scalars(history)
        ]
        steps += [
            (a.created_at, Link("approval", a.approver, {"reason": a.reason, "at": a.created_at}))
            for a in session.scalars(approvals)
        ]
        # an approval precedes the transition it completes, even within one microsecond
        links.extend(
            link for _, link in sorted(steps, key=lambda step: (step[0], step[1].kind == "transition"))
        )
        return Lineage(f"{row.name}@v{row.version}", links)
