"""The Datasets page's server import (issue 19): a file or a LLaMA-Factory dataset_info.json picked
inside an import root given to `stockade webui --import-root`, never a path outside it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stockade.web.app import ConsoleSettings, create_app
from tests.jobs.conftest import PII_RECORDS, as_user
from tests.web.conftest import log_in


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "lf").mkdir(parents=True)
    (data / "finance.json").write_text(json.dumps(PII_RECORDS, ensure_ascii=False), encoding="utf-8")
    (data / "lf" / "qa.json").write_text(json.dumps(PII_RECORDS, ensure_ascii=False), encoding="utf-8")
    (data / "lf" / "dataset_info.json").write_text(json.dumps({"finance_qa": {"file_name": "qa.json"}}))
    (data / ".secret.json").write_text("[]")
    (tmp_path / "outside.json").write_text("[]")
    (data / "link_out.json").symlink_to(tmp_path / "outside.json")
    return data


@pytest.fixture
def server_console(team_workspace: Path, roots: Path) -> TestClient:
    settings = ConsoleSettings(workspace=team_workspace, import_roots=(roots,))
    return TestClient(create_app(settings, dispatcher=False), base_url="http://127.0.0.1")


def _job_args(workspace: Path, location: str) -> list[str]:
    from stockade.jobs.service import get_job

    with as_user(workspace, "alice", "data_steward") as context:
        return get_job(context, location.rsplit("/", 1)[-1]).args


def test_browse_an_import_root(server_console: TestClient) -> None:
    log_in(server_console, "alice")
    page = server_console.get("/datasets?root=0")
    assert page.status_code == 200
    listed = page.text[page.text.index('id="server-entries"') :]
    listed = listed[: listed.index("</table>")]
    assert "finance.json" in listed and "path=lf" in listed
    assert "link_out" not in listed and ".secret" not in listed  # a link leaving the root, a hidden file
    inside = server_console.get("/datasets", params={"root": "0", "path": "lf"})
    assert "dataset_info.json" in inside.text and "qa.json" in inside.text


def test_import_a_server_file_and_dataset_info_entries(
    server_console: TestClient, team_workspace: Path, roots: Path
) -> None:
    csrf = log_in(server_console, "alice")
    form = {"csrf": csrf, "root": "0", "path": "finance.json", "name": "fin", "privacy": "block"}
    one = server_console.post("/datasets/server", data=form, follow_redirects=False)
    assert one.status_code == 303, one.text
    assert _job_args(team_workspace, one.headers["location"]) == [
        str(roots / "finance.json"),
        "--name=fin",
        "--privacy=block",
    ]
    form = {"csrf": csrf, "root": "0", "path": "lf/dataset_info.json", "datasets": "finance_qa"}
    info = server_console.post("/datasets/server", data=form, follow_redirects=False)
    assert info.status_code == 303, info.text
    assert _job_args(team_workspace, info.headers["location"]) == [
        f"--dataset-dir={roots / 'lf'}",
        "--dataset=finance_qa",
    ]
    folder = server_console.post("/datasets/server", data={**form, "path": "lf"}, follow_redirects=False)
    assert _job_args(team_workspace, folder.headers["location"])[0] == f"--dataset-dir={roots / 'lf'}"
    # fields that would do nothing are refused by name
    named = server_console.post("/datasets/server", data={**form, "name": "x"})
    assert named.status_code == 400 and "names from the file" in named.text
    entries = server_console.post(
        "/datasets/server", data={"csrf": csrf, "root": "0", "path": "finance.json", "datasets": "a"}
    )
    assert entries.status_code == 400 and "single file" in entries.text


@pytest.mark.parametrize(
    ("root", "path"),
    [
        ("0", "../outside.json"),
        ("0", "lf/../../outside.json"),
        ("0", "/etc/passwd"),
        ("0", "link_out.json"),
        ("1", "finance.json"),
        ("-1", "finance.json"),
        ("x", "finance.json"),
    ],
)
def test_nothing_outside_the_import_root(
    server_console: TestClient, team_workspace: Path, root: str, path: str
) -> None:
    from stockade.jobs.service import list_jobs

    csrf = log_in(server_console, "alice")
    refused = server_console.post("/datasets/server", data={"csrf": csrf, "root": root, "path": path})
    assert refused.status_code == 400, refused.text
    assert server_console.get("/datasets", params={"root": root, "path": path}).status_code == 400
    with as_user(team_workspace, "alice", "data_steward") as context:
        assert list_jobs(context) == []


def test_server_import_needs_data_import_and_an_import_root(
    server_console: TestClient, console: TestClient
) -> None:
    csrf = log_in(server_console, "bob")  # a reviewer may read datasets, not import or browse
    assert server_console.get("/datasets").status_code == 200
    assert server_console.get("/datasets?root=0").status_code == 403
    form = {"csrf": csrf, "root": "0", "path": "finance.json"}
    assert server_console.post("/datasets/server", data=form).status_code == 403
    csrf = log_in(console, "alice")  # a console started without --import-root
    refused = console.post("/datasets/server", data={**form, "csrf": csrf})
    assert refused.status_code == 400 and "--import-root" in refused.text


@pytest.mark.slow
def test_a_server_import_runs_and_leaves_the_source_in_place(
    server_console: TestClient, team_workspace: Path, roots: Path
) -> None:
    from stockade.jobs.service import dispatch, get_job, read_log

    csrf = log_in(server_console, "alice")
    form = {"csrf": csrf, "root": "0", "path": "lf", "datasets": "finance_qa"}
    job_id = server_console.post("/datasets/server", data=form, follow_redirects=False).headers["location"]
    job_id = job_id.rsplit("/", 1)[-1]
    with as_user(team_workspace, "console", "admin") as context:
        assert dispatch(context) == [job_id]
    deadline = time.monotonic() + 120
    while True:
        with as_user(team_workspace, "alice", "data_steward") as context:
            job = get_job(context, job_id)
        if job.status in ("succeeded", "failed", "aborted") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job.status == "succeeded", read_log(job)
    assert "finance_qa@v1" in read_log(job)
    assert (roots / "lf" / "qa.json").is_file()  # only an upload is removed, never a server file
    page = server_console.get("/datasets/finance_qa@v1")
    assert page.status_code == 200 and "110105199003072813" not in page.text
