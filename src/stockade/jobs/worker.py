"""``python -m stockade.jobs.worker WORKSPACE JOB_ID``: run one claimed job to its end.

Started by ``jobs.service.dispatch`` in its own process group. It opens a session for the submitter
(``delegation``), runs ``stockade <command> ARGS`` with ``STOCKADE_SESSION`` naming that session, copies
the command's output into the job's log (noting the run id a training job announces), and writes the
outcome. SIGTERM (an abort) is passed to the command; the job then ends as aborted."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from stockade.audit.log import utc_now
from stockade.jobs import delegation
from stockade.jobs.service import ABORTED, ABORTING, ACTIVE, FAILED, KINDS, SUCCEEDED, UPLOAD_FOLDER, get_job
from stockade.storage.database import make_session_factory
from stockade.storage.job_tables import Job
from stockade.workspace.service import Actor, open_workspace


def _finish(
    context, job_id: str, status: str, exit_code: int | None, message: str | None, result: dict
) -> None:
    current = get_job(context, job_id).status
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)  # audit head first: one lock order
        values = {"finished_at": utc_now(), "exit_code": exit_code, "result": json.dumps(result)}
        final = ABORTED if current == ABORTING else status
        values["status"] = final
        if message and final != ABORTED:
            values["message"] = message
        session.execute(update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE)).values(**values))
        context.record(
            "job.finish",
            job_id,
            result="ok" if final == SUCCEEDED else "error",
            session=session,
            status=final,
            exit_code=exit_code,
            **result,
        )


def _note_result(context, job_id: str, result: dict) -> None:
    with make_session_factory(context.engine).begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(result=json.dumps(result)))


def run(root: Path, job_id: str) -> int:
    context = open_workspace(root, actor=Actor(name="stockade-jobs", source=f"job:{job_id}"))
    with context:
        job = get_job(context, job_id)
        user = delegation.active_user(context, job.submitted_by)
        context.actor = Actor(
            name=job.submitted_by, role=delegation.roles_of(user) if user else None, source=f"job:{job_id}"
        )
        if user is None:
            _finish(context, job_id, FAILED, None, f"{job.submitted_by} is disabled or gone", {})
            return 1
        if job.status == ABORTING:  # aborted between its claim and this start: never run it
            _finish(context, job_id, ABORTED, None, None, {})
            return 0
        delegation.open_session(context, user, job_id)
        context.record("job.start", job_id, pid=os.getpid(), command=job.command)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"STOCKADE_HOME", "STOCKADE_SESSION"}
        }
        env.update(
            {
                "STOCKADE_SESSION": delegation.session_name(job_id),
                "PYTHONIOENCODING": "utf-8",
                "COLUMNS": "120",
                "PYTHONUNBUFFERED": "1",
            }
        )
        argv = [
            sys.executable,
            "-m",
            "stockade",
            "--workspace",
            str(context.workspace.root),
            *KINDS[job.kind].command,
            *job.args,
        ]
        result: dict = {}
        try:
            with open(job.log_path, "ab") as log:
                log.write(f"$ {job.command}\n".encode())
                log.flush()
                child = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=job.log_path.parent,
                )

                def forward(signum, _frame) -> None:
                    child.send_signal(signum)

                signal.signal(signal.SIGTERM, forward)
                assert child.stdout is not None
                for line in child.stdout:
                    log.write(line)
                    log.flush()
                    if line.startswith(b'{"event": "start"'):
                        with contextlib.suppress(ValueError, KeyError):
                            result["run"] = json.loads(line)["run"]
                            _note_result(context, job_id, result)  # the console links the live run
                code = child.wait()
        finally:
            delegation.close_session(context, job_id)
            uploads = job.log_path.parent / UPLOAD_FOLDER
            if job.kind == "import" and uploads.is_dir():  # raw personal data: only the gated version stays
                shutil.rmtree(uploads, ignore_errors=True)
                result["upload_removed"] = True
        _finish(
            context,
            job_id,
            SUCCEEDED if code == 0 else FAILED,
            code,
            None if code == 0 else f"the command exited with {code}",
            result,
        )
        return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2]))
