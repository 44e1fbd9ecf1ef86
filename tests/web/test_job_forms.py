"""The Jobs page's export and evaluation forms: each queues the CLI's command as a job of the
submitter, with the kind's permission; a value that would be read as an option is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stockade.jobs.service import get_job, list_jobs
from tests.jobs.conftest import as_user
from tests.web.conftest import log_in


def _job(workspace: Path, location: str):
    with as_user(workspace, "alice", "trainer") as context:
        return get_job(context, location.rsplit("/", 1)[-1])


def test_export_and_eval_forms_queue_the_clis_commands(console: TestClient, team_workspace: Path) -> None:
    csrf = log_in(console, "alice")  # a trainer: model.export and eval.run
    page = console.get("/jobs")
    assert 'id="export-form"' in page.text and 'id="eval-form"' in page.text
    exported = console.post(
        "/jobs/export",
        data={"csrf": csrf, "run": "run-20261207-abc", "mode": "merge", "name": "fin-merged"},
        follow_redirects=False,
    )
    assert exported.status_code == 303, exported.text
    job = _job(team_workspace, exported.headers["location"])
    assert (job.kind, job.submitted_by, job.status) == ("export", "alice", "queued")
    assert job.command == "stockade export run-20261207-abc --merge --name=fin-merged"
    evaluated = console.post(
        "/jobs/eval",
        data={
            "csrf": csrf,
            "model": "fin-merged@v1",
            "dataset": "finance_qa@v2",
            "baseline": "base@v1",
            "task": "",
            "limit": "50",
            "max_new_tokens": "64",
        },
        follow_redirects=False,
    )
    assert evaluated.status_code == 303, evaluated.text
    job = _job(team_workspace, evaluated.headers["location"])
    assert job.command == (
        "stockade eval fin-merged@v1 --dataset=finance_qa@v2 --baseline=base@v1 --limit=50 "
        "--max-new-tokens=64"
    )


@pytest.mark.parametrize(
    ("path", "fields", "problem"),
    [
        ("/jobs/export", {"run": "--help", "mode": "merge"}, "run"),
        ("/jobs/export", {"run": "r1", "mode": "both"}, "export mode"),
        ("/jobs/export", {"run": "r1", "mode": "merge", "name": "x@v2"}, "no @vN"),
        ("/jobs/export", {"run": "", "mode": "merge"}, "no run"),
        ("/jobs/eval", {"model": "m@v1", "dataset": "-w/tmp/other"}, "dataset"),
        ("/jobs/eval", {"model": "m@v1", "dataset": "d@v1", "limit": "0"}, "limit"),
        ("/jobs/eval", {"model": "m@v1", "dataset": "d@v1", "max_new_tokens": "ten"}, "max_new_tokens"),
        ("/jobs/eval", {"model": "m@v1", "dataset": "d@v1", "batch_size": "4"}, "batch_size"),
    ],
)
def test_bad_values_are_refused_by_name(
    console: TestClient, team_workspace: Path, path: str, fields: dict[str, str], problem: str
) -> None:
    csrf = log_in(console, "alice")
    refused = console.post(path, data={"csrf": csrf, **fields})
    assert refused.status_code == 400 and problem in refused.text
    with as_user(team_workspace, "alice", "trainer") as context:
        assert list_jobs(context) == []


def test_a_reviewer_may_evaluate_but_not_export(console: TestClient, team_workspace: Path) -> None:
    csrf = log_in(console, "bob")  # reviewer: eval.run, no model.export
    page = console.get("/jobs")
    assert 'id="export-form"' not in page.text and 'id="eval-form"' in page.text
    refused = console.post("/jobs/export", data={"csrf": csrf, "run": "r1", "mode": "merge"})
    assert refused.status_code == 403 and "model.export" in refused.text
    queued = console.post(
        "/jobs/eval", data={"csrf": csrf, "model": "m@v1", "dataset": "d@v1"}, follow_redirects=False
    )
    assert queued.status_code == 303
    assert _job(team_workspace, queued.headers["location"]).submitted_by == "bob"
