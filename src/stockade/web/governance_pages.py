"""The console's review and oversight pages: Models (maker-checker, deploy, a version's reports and
lineage), Playground, Monitor, Audit (search, verify, export) and Admin (read-only) — each calls the
service the CLI calls."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from stockade.core.errors import ConfigError
from stockade.governance.roles import require
from stockade.web.app import Console
from stockade.web.views import eval_report_file, report_summary, settings_table

MODEL_ACTIONS = ("submit", "approve", "reject", "deploy", "retire")  # governance.lifecycle.ACTIONS


def register(app: FastAPI, console: Console) -> None:
    # ---- models
    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, message: str | None = None):
        from stockade.governance.registry import list_registry

        user = console.user(request)
        with console.as_user(request, user) as context:
            versions = list_registry(context)
        return console.render(
            request, "models.html", user, versions=versions, actions=MODEL_ACTIONS, message=message
        )

    @app.get("/models/{reference}", response_class=HTMLResponse)
    def model_page(request: Request, reference: str):
        """A version: stage, approvals, transitions, release gates (`stockade registry show`), its lineage
        (`stockade registry lineage`) and its evaluation reports, each against its baseline."""
        from stockade.governance.lineage import model_lineage
        from stockade.governance.registry import version_history

        user = console.user(request)
        with console.as_user(request, user) as context:
            history = version_history(context, reference)
            lineage = model_lineage(context, reference)
            reports = [
                {**entry, **report_summary(eval_report_file(context, entry["id"], "report.json"))}
                for entry in history["eval_reports"]
            ]
        return console.render(
            request,
            "model.html",
            user,
            history=history,
            lineage=lineage,
            reports=reports,
            actions=MODEL_ACTIONS,
        )

    @app.get("/models/{reference}/reports/{report_id}", response_class=HTMLResponse)
    def model_report(request: Request, reference: str, report_id: str):
        """An evaluation report of this version as `stockade eval` wrote it (HTML, side by side with the
        baseline); only a report the registry lists for the version."""
        from stockade.governance.registry import version_history

        user = console.user(request)
        with console.as_user(request, user) as context:
            history = version_history(context, reference)
            if report_id not in {entry["id"] for entry in history["eval_reports"]}:
                raise ConfigError(
                    f"{history['ref']} has no evaluation report {report_id!r}",
                    where="report",
                    fix=f"open one listed on /models/{history['ref']}",
                )
            path = eval_report_file(context, report_id, "report.html")
        return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.post("/models/action", response_class=HTMLResponse)
    async def model_action(request: Request):
        from stockade.governance.lifecycle import transition
        from stockade.governance.registry import list_registry

        user = console.user(request)
        form = await console.posted(request, user, {"ref", "action", "reason"})
        action = str(form.get("action", ""))
        if action not in MODEL_ACTIONS:
            raise ConfigError(f"unknown action {action!r}", where="action", fix=", ".join(MODEL_ACTIONS))
        with console.as_user(request, user) as context:
            result = transition(context, str(form.get("ref", "")), action, reason=str(form.get("reason", "")))
            versions = list_registry(context)
        message = f"{result.ref}: {result.stage_before} → {result.stage}"
        return console.render(
            request, "models.html", user, versions=versions, actions=MODEL_ACTIONS, message=message
        )

    # ---- playground: an approved version, loaded in this process as `stockade chat` does
    @app.get("/playground", response_class=HTMLResponse)
    def playground_page(request: Request):
        from stockade.governance.registry import list_registry

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "model.call")
            versions = [v for v in list_registry(context) if v["stage"] in ("approved", "deployed")]
        return console.render(request, "playground.html", user, versions=versions)

    @app.post("/playground/ask", response_class=HTMLResponse)
    async def playground_ask(request: Request):
        from starlette.concurrency import run_in_threadpool

        user = console.user(request)
        form = await console.posted(request, user, {"model", "compare", "prompt", "max_new_tokens"})
        prompt = str(form.get("prompt", "") or "")
        if not prompt.strip():
            raise ConfigError("the prompt is empty", where="prompt", fix="type a question")
        try:
            max_new = int(str(form.get("max_new_tokens", "") or "64"))
        except ValueError:
            raise ConfigError("max_new_tokens must be a whole number", where="max_new_tokens") from None
        if not 1 <= max_new <= 1024:
            raise ConfigError("max_new_tokens must be between 1 and 1024", where="max_new_tokens")
        models = [str(form.get("model", ""))] + ([str(form.get("compare"))] if form.get("compare") else [])
        replies = []
        with console.as_user(request, user) as context:
            for reference in models:
                replies.append(
                    await run_in_threadpool(
                        console.playground.ask, context, reference, prompt, max_new_tokens=max_new
                    )
                )
        return console.render(request, "playground_replies.html", user, replies=replies)

    # ---- monitor
    @app.get("/monitor", response_class=HTMLResponse)
    def monitor_page(request: Request):
        from stockade.jobs.service import list_jobs
        from stockade.operations.monitor import read_gpus, running_runs

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "runs.read")
            jobs = [job for job in list_jobs(context) if job.status in ("queued", "running", "aborting")]
            runs = running_runs(context.engine, context.workspace.root)
        return console.render(request, "monitor.html", user, gpus=read_gpus(), jobs=jobs, runs=runs)

    # ---- audit
    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, actor: str = "", action: str = "", count: int = 200):
        from stockade.audit.log import record_as_dict

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "audit.read")
            records = [record_as_dict(r) for r in context.audit.tail(min(max(count, 1), 2000) * 5)]
        records = [
            r for r in records if (not actor or r["actor"] == actor) and (not action or action in r["action"])
        ][-count:]
        return console.render(
            request,
            "audit.html",
            user,
            records=list(reversed(records)),
            actor=actor,
            action=action,
            verdict=None,
        )

    @app.post("/audit/verify", response_class=HTMLResponse)
    async def audit_verify(request: Request):
        from stockade.audit import verify_chain
        from stockade.audit.checkpoints import CheckpointVerifier

        user = console.user(request)
        await console.posted(request, user, set())
        with console.as_user(request, user) as context:
            require(context, "audit.verify")
            result = verify_chain(context.audit, CheckpointVerifier.for_workspace(context.workspace.root))
        verdict = "ok" if result.ok else (result.problem or "failed")
        return console.render(request, "verify.html", user, result=result, verdict=verdict)

    @app.post("/audit/export")
    async def audit_export(request: Request):
        """`stockade audit export` as a download: the same service writes the file (0600, audited
        ``audit.export``) in a private temporary folder, removed once the response is sent."""
        import shutil
        import tempfile

        from starlette.background import BackgroundTask
        from starlette.responses import FileResponse

        from stockade.audit.export import FORMATS, export_records

        user = console.user(request)
        form = await console.posted(request, user, {"since", "until", "format"})
        fmt = str(form.get("format", "") or "jsonl")
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}", where="format", fix=f"use {' or '.join(FORMATS)}")
        with console.as_user(request, user) as context:
            require(context, "audit.export")
            folder = Path(tempfile.mkdtemp(prefix="stockade-audit-export-"))
            out = folder / f"audit.{fmt}"
            try:
                count = export_records(
                    context.audit,
                    context,
                    out,
                    fmt=fmt,
                    since=str(form.get("since", "") or "") or None,
                    until=str(form.get("until", "") or "") or None,
                )
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        return FileResponse(
            out,
            media_type="text/csv" if fmt == "csv" else "application/x-ndjson",
            filename=f"stockade-audit.{fmt}",
            headers={"X-Stockade-Records": str(count)},
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    # ---- admin (read-only)
    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        """Users and roles; the workspace's settings; API credentials for those who may manage them
        (`stockade token list --all`). All read-only: changes go through the CLI."""
        from stockade.governance.roles import ROLE_SUMMARY, actor_roles, has_permission
        from stockade.governance.users import list_users
        from stockade.security.service import list_credentials

        user = console.user(request)
        with console.as_user(request, user) as context:
            users = list_users(context)
            settings_rows = settings_table(context.workspace.settings.model_dump(mode="json"))
            tokens = None
            if has_permission(actor_roles(context.actor), "token.manage"):
                tokens = list_credentials(context, include_inactive=True)
        return console.render(
            request,
            "admin.html",
            user,
            users=users,
            role_summary=ROLE_SUMMARY,
            settings_rows=settings_rows,
            tokens=tokens,
        )
