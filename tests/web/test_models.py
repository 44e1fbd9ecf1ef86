"""The Models page beyond the list: a version's evaluation reports side by side with the baseline, its
lineage, and deploy with the CLI's permission (`stockade registry deploy`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from stockade.governance.lifecycle import transition
from stockade.workspace.service import Actor, open_workspace
from tests.governance.conftest import add_version
from tests.web.conftest import log_in


def _store_report(workspace: Path, candidate: str, baseline: str) -> str:
    """An evaluation report stored by the evaluation service's own store_report (JSON + HTML + row)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from stockade.evaluation.report import deltas, render_html, summary_of
    from stockade.evaluation.service import store_report
    from stockade.storage.model_tables import ModelVersion

    metrics = {
        "fin@v2": {"rouge_l": 0.61, "exact_match": 0.25, "loss": 1.5},
        "fin@v1": {"rouge_l": 0.42, "exact_match": 0.5, "loss": 2.0},
    }
    report = {
        "id": "ev-web-1",
        "created_at": "2026-12-07T00:00:00Z",
        "created_by": "alice",
        "dataset": {"ref": "fin-data@v1", "content_sha256": "c" * 64},
        "settings": {"max_new_tokens": 16},
        "candidate": {"ref": candidate, "metrics": metrics[candidate]},
        "baseline": {"ref": baseline, "metrics": metrics[baseline]},
        "delta": deltas(metrics[candidate], metrics[baseline]),
        "examples": [],
        "worst": [],
    }
    with open_workspace(workspace, actor=Actor(name="alice", role="trainer")) as context:
        with Session(context.engine) as session:
            ids = {f"{r.name}@v{r.version}": r.id for r in session.scalars(select(ModelVersion))}
        targets = [SimpleNamespace(id=ids[ref], ref=ref) for ref in (candidate, baseline)]
        store_report(
            context, report["id"], report, render_html(report), targets, True, "fin-data@v1",
            summary_of(report), action="eval.report",
        )  # fmt: skip
    return report["id"]


@pytest.fixture
def versions(team_workspace: Path) -> tuple[str, str]:
    base = add_version(team_workspace, with_report=False, trained_by="carol")
    tuned = add_version(team_workspace, with_report=False, trained_by="carol")
    return tuned, base


def test_a_version_shows_its_report_against_the_baseline_and_its_lineage(
    console: TestClient, team_workspace: Path, versions: tuple[str, str]
) -> None:
    tuned, base = versions
    report_id = _store_report(team_workspace, tuned, base)
    log_in(console, "bob")  # a reviewer reads what they approve
    page = console.get(f"/models/{tuned}")
    assert page.status_code == 200, page.text
    section = page.text[page.text.index(f'id="report-{report_id}"') :]
    section = section[: section.index("</section>")]
    assert f"{base} (" in section and "0.6100" in section and "0.4200" in section
    assert "+0.1900" in section and "-0.2500" in section  # the change against the baseline, both ways
    assert '"ok better">+0.1900' in section and '"error worse">-0.2500' in section
    assert '"ok better">-0.5000' in section  # a lower loss is better
    lineage = page.text[page.text.index('id="lineage"') :]
    assert "run-fin-2" in lineage and "base@v1" in lineage and "fin-data@v1" in lineage
    html = console.get(f"/models/{tuned}/reports/{report_id}")
    assert html.status_code == 200 and f"Evaluation of {tuned}" in html.text and "(baseline)" in html.text
    # only a report the registry lists for this version: not another version's, not a path
    assert console.get(f"/models/{base}/reports/{report_id}").status_code == 400
    assert console.get(f"/models/{tuned}/reports/..%2F..%2Fstockade.db").status_code in (400, 404)


def test_deploy_needs_the_clis_permission(
    console: TestClient, team_workspace: Path, versions: tuple[str, str]
) -> None:
    tuned, base = versions
    _store_report(team_workspace, tuned, base)
    with open_workspace(team_workspace, actor=Actor(name="alice", role="trainer")) as context:
        transition(context, tuned, "submit", reason="eval attached")
    with open_workspace(team_workspace, actor=Actor(name="bob", role="reviewer")) as context:
        transition(context, tuned, "approve", reason="looks good")
    csrf = log_in(console, "bob")  # reviewers approve but may not deploy
    refused = console.post(
        "/models/action", data={"csrf": csrf, "ref": tuned, "action": "deploy", "reason": "go"}
    )
    assert refused.status_code == 403 and "registry.deploy" in refused.text
    csrf = log_in(console, "alice")
    deployed = console.post(
        "/models/action", data={"csrf": csrf, "ref": tuned, "action": "deploy", "reason": "go live"}
    )
    assert deployed.status_code == 200 and "approved → deployed" in deployed.text
    page = console.get(f"/models/{tuned}")
    assert 'id="model-stage">deployed<' in page.text and "go live" in page.text
    with open_workspace(team_workspace) as context:
        assert any(r.action == "model.deploy" and r.actor == "alice" for r in context.audit.tail(10))
