"""Submit, list, show, abort and start jobs. A job is a `stockade` command (``stockade train SPEC``,
``stockade data import FILE``, ``stockade export``, ``stockade eval``) run by ``stockade.jobs.worker`` in
its own process group, as the user who submitted it; its state lives in the ``jobs`` table, its output in
``jobs/<id>/log.txt`` in the workspace. Each change of state writes its audit event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from stockade.audit.log import utc_now
from stockade.core.errors import ConfigError, StockadeError
from stockade.core.ids import new_id
from stockade.core.workspace import DIRECTORY_MODE
from stockade.governance.roles import PermissionDenied, actor_roles, require
from stockade.jobs import processes
from stockade.storage.database import make_session_factory
from stockade.storage.job_tables import Job

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

JOBS_FOLDER = "jobs"
UPLOAD_FOLDER = "upload"  # a job's uploaded file (raw data): removed when an import job ends
QUEUED, RUNNING, ABORTING = "queued", "running", "aborting"
SUCCEEDED, FAILED, ABORTED = "succeeded", "failed", "aborted"
ACTIVE = (RUNNING, ABORTING)
FINISHED = (SUCCEEDED, FAILED, ABORTED)


@dataclass(frozen=True)
class JobKind:
    permission: str  # checked at submit; the command checks it again when it runs
    command: tuple[str, ...]  # the `stockade` sub-command the job runs


KINDS: dict[str, JobKind] = {
    "train": JobKind("train.run", ("train",)),
    "import": JobKind("data.import", ("data", "import")),
    "export": JobKind("model.export", ("export",)),
    "eval": JobKind("eval.run", ("eval",)),
}
# a job always runs in the workspace it was submitted to, as its submitter
_REFUSED_OPTIONS = ("--workspace", "-w", "--resume-as", "--user")


class JobNotFound(StockadeError):
    exit_code = 4


class JobStateError(StockadeError):
    exit_code = 5


@dataclass
class JobView:
    id: str
    kind: str
    args: list[str]
    status: str
    submitted_by: str
    submitted_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None
    exit_code: int | None
    log_path: Path
    result: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    aborted_by: str | None = None

    @property
    def command(self) -> str:
        return " ".join(["stockade", *KINDS[self.kind].command, *self.args])


def job_folder(context: WorkspaceContext, job_id: str) -> Path:
    return context.workspace.root / JOBS_FOLDER / job_id


def new_job_folder(context: WorkspaceContext) -> tuple[str, Path]:
    """Reserve an id and its folder (for files the job needs: a spec, an uploaded dataset)."""
    job_id = new_id("job-")
    folder = job_folder(context, job_id)
    folder.parent.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    folder.mkdir(mode=DIRECTORY_MODE)
    return job_id, folder


def _view(context: WorkspaceContext, row: Job) -> JobView:
    return JobView(
        id=row.id,
        kind=row.kind,
        args=json.loads(row.args),
        status=row.status,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        pid=row.pid,
        exit_code=row.exit_code,
        log_path=context.workspace.root / row.log_path,
        result=json.loads(row.result or "{}"),
        message=row.message,
        aborted_by=row.aborted_by,
    )


def _check_args(kind: str, args: list[str]) -> None:
    if kind not in KINDS:
        from stockade.core.suggestions import did_you_mean

        raise ConfigError(
            f"unknown job kind {did_you_mean(kind, list(KINDS))}",
            where="job kind",
            fix=f"choose one of {', '.join(KINDS)}",
        )
    for arg in args:
        if not isinstance(arg, str) or "\x00" in arg:
            raise ConfigError("a job's arguments must be text", where=f"{kind} job", fix="pass plain strings")
        if arg.split("=", 1)[0] in _REFUSED_OPTIONS:
            raise ConfigError(
                f"{arg.split('=', 1)[0]} is not allowed in a job",
                where=f"{kind} job arguments",
                fix="a job runs in the workspace it was submitted to, as the user who submitted it",
            )


def submit(context: WorkspaceContext, kind: str, args: list[str], *, job_id: str | None = None) -> JobView:
    """Queue ``stockade <kind command> ARGS`` as the acting user (who needs the kind's permission)."""
    _check_args(kind, args)
    require(context, KINDS[kind].permission)
    if job_id is None:
        job_id, _ = new_job_folder(context)
    log_path = f"{JOBS_FOLDER}/{job_id}/log.txt"
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)  # audit head first: one lock order
        row = Job(
            id=job_id,
            kind=kind,
            args=json.dumps(args, ensure_ascii=False),
            status=QUEUED,
            submitted_by=context.actor.name,
            submitted_at=utc_now(),
            log_path=log_path,
            result="{}",
        )
        session.add(row)
        context.record("job.submit", job_id, session=session, kind=kind, args=args)
    return _view(context, row)


def submit_training(context: WorkspaceContext, spec_yaml: str) -> JobView:
    """Queue `stockade train SPEC.yaml --json-progress` for a spec given as YAML text (the console's
    Train form): the file is kept as ``jobs/<id>/train.yaml``, the spec the job ran."""
    require(context, KINDS["train"].permission)
    job_id, folder = new_job_folder(context)
    spec_file = folder / "train.yaml"
    spec_file.write_text(spec_yaml, encoding="utf-8")
    return submit(context, "train", [str(spec_file), "--json-progress"], job_id=job_id)


def list_jobs(
    context: WorkspaceContext, *, status: str | None = None, kind: str | None = None, limit: int = 200
) -> list[JobView]:
    with make_session_factory(context.engine)() as session:
        query = select(Job).order_by(Job.submitted_at.desc(), Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        if kind:
            query = query.where(Job.kind == kind)
        return [_view(context, row) for row in session.scalars(query)]


def get_job(context: WorkspaceContext, job_id: str) -> JobView:
    with make_session_factory(context.engine)() as session:
        row = session.get(Job, job_id)
        if row is None:
            raise JobNotFound(
                f"no job {job_id!r}",
                where=str(context.workspace.root),
                fix="list them with `stockade jobs list`",
            )
        return _view(context, row)


def read_log(job: JobView, *, tail_bytes: int = 64_000) -> str:
    """The end of a job's log (the command's own output: never more than the CLI prints)."""
    try:
        with open(job.log_path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - tail_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def abort(context: WorkspaceContext, job_id: str, *, reason: str = "") -> JobView:
    """Abort a queued job (it never starts) or a running one (SIGTERM to its process group).
    Only the submitter or an admin may."""
    job = get_job(context, job_id)
    if context.actor.name != job.submitted_by and "admin" not in actor_roles(context.actor):
        context.record("job.abort", job_id, result="denied", reason="not the submitter")
        raise PermissionDenied(
            f"{context.actor.name} may not abort {job_id}: it was submitted by {job.submitted_by}",
            where=job_id,
            fix="ask its submitter or an admin",
        )
    if job.status in FINISHED:
        raise JobStateError(
            f"{job_id} already {job.status}", where=job_id, fix="only queued or running jobs can be aborted"
        )
    with make_session_factory(context.engine).begin() as session:
        context.audit.lock(session)  # audit head first: one lock order
        now = utc_now()
        if job.status == QUEUED:
            changed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == QUEUED)
                .values(
                    status=ABORTED, finished_at=now, aborted_by=context.actor.name, message=reason or None
                )
            ).rowcount
        else:
            changed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE))
                .values(status=ABORTING, aborted_by=context.actor.name, message=reason or None)
            ).rowcount
        if not changed:  # it moved on meanwhile (started or finished): say so instead of guessing
            raise JobStateError(
                f"{job_id} changed state while being aborted",
                where=job_id,
                fix="look again: `stockade jobs show`",
            )
        context.record("job.abort", job_id, session=session, reason=reason or None, was=job.status)
    if job.status in ACTIVE and job.pid and processes.is_alive(job.pid, _pid_started(context, job_id)):
        processes.terminate_group(job.pid)
    return get_job(context, job_id)


def _pid_started(context: WorkspaceContext, job_id: str) -> str | None:
    with make_session_factory(context.engine)() as session:
        row = session.get(Job, job_id)
        return row.pid_started if row else None


def reconcile(context: WorkspaceContext) -> list[str]:
    """Jobs marked running whose process is gone (killed, or the machine restarted) become failed (or
    aborted, when an abort was asked); returns their ids. Safe to call from any process at any time."""
    lost: list[str] = []
    factory = make_session_factory(context.engine)
    with factory() as session:
        rows = list(session.scalars(select(Job).where(Job.status.in_(ACTIVE))))
    for row in rows:
        if row.pid is None or processes.is_alive(row.pid, row.pid_started):
            continue
        final = ABORTED if row.status == ABORTING else FAILED
        message = f"the job's process (pid {row.pid}) is gone: it was killed or the machine restarted"
        with factory.begin() as session:
            context.audit.lock(session)  # audit head first: one lock order
            changed = session.execute(
                update(Job)
                .where(Job.id == row.id, Job.status == row.status, Job.pid == row.pid)
                .values(status=final, finished_at=utc_now(), message=message)
            ).rowcount
            if changed:
                context.record("job.lost", row.id, result="error", session=session, pid=row.pid, status=final)
                lost.append(row.id)
    return lost


_children: list[subprocess.Popen] = []  # workers this process started: reaped so none stays a zombie


def _reap() -> None:
    _children[:] = [child for child in _children if child.poll() is None]


def dispatch(context: WorkspaceContext, *, max_running: int = 1) -> list[str]:
    """Start queued jobs, oldest first, while fewer than ``max_running`` run; returns the started ids.
    Each job runs in a new process group that outlives this process."""
    if max_running < 1:
        raise ConfigError("max_running must be at least 1", where="--max-jobs", fix="use 1 or more")
    _reap()
    reconcile(context)
    factory = make_session_factory(context.engine)
    started: list[str] = []
    while True:
        with factory() as session:
            running = len(list(session.scalars(select(Job.id).where(Job.status.in_(ACTIVE)))))
            next_job = session.scalar(
                select(Job).where(Job.status == QUEUED).order_by(Job.submitted_at, Job.id)
            )
        if next_job is None or running >= max_running:
            return started
        with factory.begin() as session:  # claim it: another console may be dispatching too
            claimed = session.execute(
                update(Job).where(Job.id == next_job.id, Job.status == QUEUED).values(status=RUNNING)
            ).rowcount
        if not claimed:
            continue
        log = context.workspace.root / next_job.log_path
        log.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "stockade.jobs.worker", str(context.workspace.root), next_job.id],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(log.with_name("worker.txt"), "ab"),  # noqa: SIM115 - the child owns it
                start_new_session=True,  # own process group: abort reaches the command, a restart does not
                env={key: value for key, value in os.environ.items() if key != "STOCKADE_HOME"},
            )
        except OSError as exc:
            with factory.begin() as session:
                context.audit.lock(session)  # audit head first: one lock order
                session.execute(
                    update(Job)
                    .where(Job.id == next_job.id)
                    .values(status=FAILED, finished_at=utc_now(), message=f"could not start: {exc}")
                )
                context.record("job.start", next_job.id, result="error", session=session, error=str(exc))
            continue
        _children.append(child)
        with factory.begin() as session:
            session.execute(
                update(Job)
                .where(Job.id == next_job.id)
                .values(pid=child.pid, pid_started=processes.start_time(child.pid), started_at=utc_now())
            )
        started.append(next_job.id)
