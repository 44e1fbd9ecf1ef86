"""`stockade jobs list | show | abort`: the queue the web console submits to (train, import, export,
eval as separate processes, each as its submitter). The CLI sees and aborts the same jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from stockade.cli.output import console, escape, new_table, print_json, status_text
from stockade.cli.state import state

app = typer.Typer(
    help="Queued and running jobs (train, import, export, eval): list, show, abort.", no_args_is_help=True
)


def _as_dict(job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "command": job.command,
        "status": job.status,
        "submitted_by": job.submitted_by,
        "submitted_at": job.submitted_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "pid": job.pid,
        "exit_code": job.exit_code,
        "result": job.result,
        "message": job.message,
        "aborted_by": job.aborted_by,
        "log": str(job.log_path),
    }


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="Only jobs in this state (queued, running, failed...).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs, newest first (jobs whose process is gone are marked failed first)."""
    from stockade.governance.roles import require
    from stockade.jobs.service import list_jobs, reconcile
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "runs.read")
        reconcile(context)
        jobs = list_jobs(context, status=status)
    if as_json:
        print_json([_as_dict(job) for job in jobs])
        return
    table = new_table("id", "kind", "status", "by", "submitted (UTC)", "result")
    for job in jobs:
        table.add_row(
            job.id,
            job.kind,
            status_text(job.status),
            escape(job.submitted_by),
            job.submitted_at,
            escape(", ".join(f"{k} {v}" for k, v in job.result.items()) or (job.message or "")),
        )
    console.print(table)


@app.command()
def show(
    job_id: Annotated[str, typer.Argument(help="The job's id (from `stockade jobs list`).")],
    log_lines: Annotated[
        int, typer.Option("--log", min=0, help="How many of the log's last lines to print.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A job's command, state, process and the end of its log."""
    from stockade.governance.roles import require
    from stockade.jobs.service import get_job, read_log, reconcile
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        require(context, "runs.read")
        reconcile(context)
        job = get_job(context, job_id)
    if as_json:
        print_json(_as_dict(job))
        return
    for key, value in _as_dict(job).items():
        if value not in (None, {}, ""):
            console.print(f"{key}: {escape(str(value))}")
    if log_lines:
        tail = read_log(job).splitlines()[-log_lines:]
        console.print(f"--- last {len(tail)} line(s) of the log ---")
        for line in tail:
            console.print(escape(line), soft_wrap=True)


@app.command()
def abort(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Abort a queued job (it never starts) or a running one (its processes get SIGTERM).
    Only the submitter or an admin may."""
    from stockade.jobs.service import abort as abort_job
    from stockade.workspace.service import open_workspace

    with open_workspace(state.workspace) as context:
        job = abort_job(context, job_id, reason=reason)
    console.print(f"{job.id}: {job.status}")
