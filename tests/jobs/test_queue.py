"""The job queue: jobs run as separate processes as their submitter, survive the process that started
them, can be aborted, and a job whose process vanished is detected from the database alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from stockade.governance.roles import PermissionDenied
from stockade.jobs import processes
from stockade.jobs.service import (
    abort,
    dispatch,
    get_job,
    list_jobs,
    new_job_folder,
    read_log,
    reconcile,
    submit,
)
from stockade.storage.database import make_session_factory
from stockade.storage.governance_tables import UserSession
from stockade.storage.job_tables import Job
from stockade.storage.tables import AuditRecord
from tests.conftest import run_cli
from tests.jobs.conftest import as_user, write_pii_dataset


def _wait_finished(root: Path, job_id: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with as_user(root, "alice", "trainer") as context:
            status = get_job(context, job_id).status
        if status in {"succeeded", "failed", "aborted"}:
            return status
        time.sleep(0.3)
    raise AssertionError(f"{job_id} still {status}")


def _set_running(root: Path, job_id: str, pid: int, started: str | None) -> None:
    with (
        as_user(root, "alice", "trainer") as context,
        make_session_factory(context.engine).begin() as session,
    ):
        session.execute(
            update(Job).where(Job.id == job_id).values(status="running", pid=pid, pid_started=started)
        )


@pytest.mark.slow
def test_an_import_job_runs_as_its_submitter_and_outlives_its_dispatcher(
    team_workspace: Path, tmp_path: Path
) -> None:
    with as_user(team_workspace, "alice", "trainer,data_steward") as context:
        job_id, folder = new_job_folder(context)
        (folder / "upload").mkdir()
        data = write_pii_dataset(folder / "upload" / "clients.json")  # as the console stores an upload
        job = submit(context, "import", [str(data), "--name", "clients"], job_id=job_id)
        assert job.status == "queued" and job.command.startswith("stockade data import")
    # dispatched from a short-lived process that exits at once: the job must not die with it
    code = (
        "import sys; from pathlib import Path; from stockade.jobs.service import dispatch; "
        "from stockade.workspace.service import Actor, open_workspace; "
        f"c = open_workspace(Path({str(team_workspace)!r}), actor=Actor('console')); "
        "print(dispatch(c)); c.close()"
    )
    started = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert job.id in started.stdout
    assert _wait_finished(team_workspace, job.id) == "succeeded"
    with as_user(team_workspace, "alice", "trainer") as context:
        done = get_job(context, job.id)
        log = read_log(done)
        assert done.exit_code == 0 and "stored clients@v1" in log
        assert done.result.get("upload_removed") and not data.exists()  # the raw upload does not stay
        assert "110105199003072813" not in log  # the log is the CLI's output: no raw personal data
        with make_session_factory(context.engine)() as session:
            records = {r.action: r for r in session.scalars(select(AuditRecord).where(AuditRecord.seq > 0))}
            # the import itself is audited as alice, through the job's delegated session
            data_import = [r for r in session.scalars(select(AuditRecord)) if r.action == "dataset.import"]
            assert data_import and all(r.actor == "alice" for r in data_import), [
                (r.action, r.actor) for r in data_import
            ]
            assert records["job.finish"].actor == "alice"
            job_session = session.scalar(select(UserSession).where(UserSession.source == f"job:{job.id}"))
            assert job_session is not None and job_session.ended_at is not None  # ended with the job
    assert not list((team_workspace / "sessions").glob(f"*{job.id}*"))  # its token file is gone
    listed = run_cli("-w", str(team_workspace), "jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["status"] == "succeeded"


def test_a_job_needs_the_permission_of_its_kind(team_workspace: Path) -> None:
    with (
        as_user(team_workspace, "bob", "reviewer") as context,
        pytest.raises(PermissionDenied, match=r"data\.import"),
    ):
        submit(context, "import", ["x.json"])
    with as_user(team_workspace, "alice", "trainer") as context:
        with pytest.raises(Exception, match="did you mean 'train'"):
            submit(context, "trian", [])
        with pytest.raises(Exception, match="--workspace is not allowed"):
            submit(context, "train", ["--workspace=/elsewhere"])


def test_queued_jobs_wait_for_a_free_slot_and_abort_before_start(team_workspace: Path) -> None:
    with as_user(team_workspace, "alice", "trainer") as context:
        first = submit(context, "train", ["a.yaml"])
        second = submit(context, "train", ["b.yaml"])
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        _set_running(team_workspace, first.id, sleeper.pid, processes.start_time(sleeper.pid))
        with as_user(team_workspace, "alice", "trainer") as context:
            assert dispatch(context, max_running=1) == []  # one runs: the second waits
            with (
                pytest.raises(PermissionDenied, match="submitted by alice"),
                as_user(team_workspace, "bob", "reviewer") as bob,
            ):
                abort(bob, second.id)
            assert abort(context, second.id, reason="not needed").status == "aborted"
            assert dispatch(context, max_running=1) == []  # an aborted job never starts
    finally:
        sleeper.kill()
        sleeper.wait()


def test_abort_terminates_the_running_process_group(team_workspace: Path) -> None:
    with as_user(team_workspace, "alice", "trainer") as context:
        job = submit(context, "train", ["a.yaml"])
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    _set_running(team_workspace, job.id, sleeper.pid, processes.start_time(sleeper.pid))
    result = run_cli("-w", str(team_workspace), "jobs", "abort", job.id, env={"STOCKADE_SESSION": "none"})
    assert result.returncode == 3, result.stdout + result.stderr  # nobody logged in: not the submitter
    with as_user(team_workspace, "alice", "trainer") as context:
        assert abort(context, job.id).status == "aborting"
    assert sleeper.wait(timeout=10) == -15  # SIGTERM reached it
    with as_user(team_workspace, "alice", "trainer") as context:
        assert reconcile(context) == [job.id]
        assert get_job(context, job.id).status == "aborted"


def test_a_dead_or_reused_pid_marks_the_job_failed_after_a_restart(team_workspace: Path) -> None:
    with as_user(team_workspace, "alice", "trainer") as context:
        gone = submit(context, "train", ["a.yaml"])
        reused = submit(context, "train", ["b.yaml"])
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    _set_running(team_workspace, gone.id, dead_pid.pid, "12345")
    _set_running(team_workspace, reused.id, os.getpid(), "1")  # alive, but started at another time
    # a fresh process (the console after a restart) sees it from the database alone
    listed = run_cli(
        "-w", str(team_workspace), "jobs", "show", gone.id, "--json", env={"STOCKADE_SESSION": "t"}
    )
    assert listed.returncode == 3  # reading jobs needs a login like every other read
    with as_user(team_workspace, "bob", "reviewer") as context:
        assert sorted(reconcile(context)) == sorted([gone.id, reused.id])
        views = {job.id: job for job in list_jobs(context)}
    assert views[gone.id].status == "failed" and "is gone" in (views[gone.id].message or "")
    assert views[reused.id].status == "failed"


def test_a_job_aborted_between_its_claim_and_its_start_never_runs(team_workspace: Path) -> None:
    with as_user(team_workspace, "alice", "trainer") as context:
        job = submit(context, "train", ["never.yaml"])
    with (
        as_user(team_workspace, "alice", "trainer") as context,
        make_session_factory(context.engine).begin() as s,
    ):
        s.execute(update(Job).where(Job.id == job.id).values(status="aborting", aborted_by="alice"))
    worker = subprocess.run(
        [sys.executable, "-m", "stockade.jobs.worker", str(team_workspace), job.id],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    with as_user(team_workspace, "alice", "trainer") as context:
        done = get_job(context, job.id)
    assert done.status == "aborted" and not done.log_path.exists()  # the command never started


def test_a_training_submitted_as_yaml_keeps_its_spec_and_needs_train_run(team_workspace: Path) -> None:
    from stockade.jobs.service import submit_training

    with as_user(team_workspace, "bob", "reviewer") as context, pytest.raises(PermissionDenied):
        submit_training(context, "model: tiny@v1\n")
    assert not (team_workspace / "jobs").exists() or not list((team_workspace / "jobs").iterdir())
    with as_user(team_workspace, "alice", "trainer") as context:
        job = submit_training(context, "model: tiny@v1\n")
    spec = team_workspace / "jobs" / job.id / "train.yaml"
    assert spec.read_text() == "model: tiny@v1\n"
    assert job.command == f"stockade train {spec} --json-progress" and job.submitted_by == "alice"
