"""The console's pages: each reads a form or a path, calls one service, and renders the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from stockade.core.errors import ConfigError, StockadeError
from stockade.governance.roles import actor_roles, has_permission, require
from stockade.web.app import Console
from stockade.web.forms import (
    EXPORT_MODES,
    GUIDE_FIELDS,
    PRIVACY_MODES,
    SAVE_FIELDS,
    TRAIN_FORM,
    UploadTooLarge,
    eval_args,
    export_args,
    form_values,
    safe_upload_name,
    spec_from_form,
    train_field_rows,
    without,
)
from stockade.web.server_folders import server_entries, server_import_args, server_path
from stockade.web.views import (
    first_records,
    job_choices,
    memory_estimate,
)

PRIVACY_REPORT = "privacy-report.html"  # written beside a version's data by `data import`


def register(app: FastAPI, console: Console) -> None:
    settings = console.settings

    @app.get("/")
    def home(request: Request):
        console.user(request)
        return RedirectResponse("/jobs", status_code=303)

    # ---- jobs
    @app.get("/jobs", response_class=HTMLResponse)
    def jobs_page(request: Request):
        from stockade.jobs.service import list_jobs, reconcile

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "runs.read")
            reconcile(context)
            jobs = list_jobs(context)
            roles = actor_roles(context.actor)
            choices = job_choices(context, roles)
        return console.render(
            request,
            "jobs.html",
            user,
            jobs=jobs,
            dispatch_errors=console.dispatch_errors,
            can_export=has_permission(roles, "model.export"),
            can_eval=has_permission(roles, "eval.run"),
            export_modes=EXPORT_MODES,
            **choices,
        )

    @app.post("/jobs/export")
    async def job_export(request: Request):
        """Queue `stockade export RUN --merge|--adapter-only` (permission ``model.export``)."""
        from stockade.jobs.service import submit

        user = console.user(request)
        form = await console.posted(request, user, {"run", "mode", "name"})
        args = export_args(form)
        with console.as_user(request, user) as context:
            job = submit(context, "export", args)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.post("/jobs/eval")
    async def job_eval(request: Request):
        """Queue `stockade eval MODEL@V --dataset NAME@V ...` (permission ``eval.run``); its report shows
        on the version's page, side by side with the baseline."""
        from stockade.jobs.service import submit

        user = console.user(request)
        form = await console.posted(
            request, user, {"model", "dataset", "baseline", "task", "limit", "max_new_tokens"}
        )
        args = eval_args(form)
        with console.as_user(request, user) as context:
            job = submit(context, "eval", args)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str):
        from stockade.jobs.service import get_job, read_log

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "runs.read")
            job = get_job(context, job_id)
        fragment = request.headers.get("HX-Request") == "true"
        return console.render(
            request, "job_log.html" if fragment else "job.html", user, job=job, log=read_log(job)
        )

    @app.post("/jobs/{job_id}/abort")
    async def job_abort(request: Request, job_id: str):
        from stockade.jobs.service import abort

        user = console.user(request)
        form = await console.posted(request, user, {"reason"})
        with console.as_user(request, user) as context:
            abort(context, job_id, reason=str(form.get("reason", "")))
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    # ---- datasets
    @app.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request, root: str = "", path: str = ""):
        """Versions, the upload form and the server import form; ``?root=N&path=P`` lists a folder
        of an import root (needs ``data.import``: file names are not for every reader)."""
        from stockade.data.catalog import list_versions

        user = console.user(request)
        browse: dict[str, Any] | None = None
        with console.as_user(request, user) as context:
            require(context, "data.read")
            versions = list_versions(context)
            if root:
                require(context, "data.import")
        if root:
            target = server_path(settings.import_roots, root, path)
            base = settings.import_roots[int(root)].resolve()
            folder = target if target.is_dir() else target.parent
            browse = {
                "root": root,
                "path": target.relative_to(base).as_posix() if target != base else "",
                "folder": folder.relative_to(base).as_posix() if folder != base else "",
                "entries": server_entries(base, folder),
            }
        return console.render(
            request,
            "datasets.html",
            user,
            versions=versions,
            max_mb=settings.max_upload_bytes // (1024 * 1024),
            roots=[str(r) for r in settings.import_roots],
            browse=browse,
        )

    @app.post("/datasets/server")
    async def dataset_from_server(request: Request):
        """Import a file (or LLaMA-Factory dataset_info.json entries) already on the server, inside an
        import root: a `stockade data import` job, as an upload but without copying the file."""
        from stockade.jobs.service import submit

        user = console.user(request)
        form = await console.posted(request, user, {"root", "path", "name", "datasets", "privacy"})
        with console.as_user(request, user) as context:
            require(context, "data.import")
        privacy = str(form.get("privacy", "") or "")
        if privacy not in PRIVACY_MODES:
            raise ConfigError(
                f"unknown privacy mode {privacy!r}", where="privacy", fix="desensitize or block"
            )
        target = server_path(settings.import_roots, str(form.get("root", "")), str(form.get("path", "")))
        name = str(form.get("name", "") or "").strip()
        args = server_import_args(target, name, str(form.get("datasets", "") or ""))
        args += [f"--privacy={privacy}"] if privacy else []
        with console.as_user(request, user) as context:
            job = submit(context, "import", args)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/datasets/{reference}", response_class=HTMLResponse)
    def dataset_page(request: Request, reference: str):
        from stockade.data.catalog import show_version
        from stockade.data.versions import DATA_FILE

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "data.read")
            version = show_version(context, reference)
            data_file = context.workspace.root / version.path
            if data_file.is_dir():
                data_file = data_file / DATA_FILE
        sample = first_records(data_file, 3)
        has_report = (data_file.parent / PRIVACY_REPORT).is_file()
        return console.render(
            request, "dataset.html", user, version=version, sample=sample, has_report=has_report
        )

    @app.get("/datasets/{reference}/privacy-report", response_class=HTMLResponse)
    def dataset_privacy_report(request: Request, reference: str):
        """The import's self-contained HTML report (masked samples only), as `data import` wrote it."""
        from stockade.data.catalog import show_version

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "data.read")
            version = show_version(context, reference)
            folder = context.workspace.root / version.path
        report = (folder if folder.is_dir() else folder.parent) / PRIVACY_REPORT
        if not report.is_file():
            raise ConfigError(f"{reference} has no privacy report", where=reference)
        return HTMLResponse(report.read_text(encoding="utf-8"))

    @app.post("/datasets/upload")
    async def dataset_upload(request: Request):
        from stockade.jobs.service import UPLOAD_FOLDER, new_job_folder, submit

        user = console.user(request)
        length = int(request.headers.get("content-length") or 0)
        if not length or length > settings.max_upload_bytes + 64 * 1024:
            raise UploadTooLarge(
                f"the upload is {'of unknown size' if not length else f'{length} bytes'}; "
                f"the limit is {settings.max_upload_bytes} bytes",
                where="file",
                fix="split the file, or start the console with a larger --max-upload-mb",
            )
        form = await console.posted(request, user, {"file", "name", "privacy"})
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ConfigError("no file was sent", where="file", fix="choose a file to upload")
        filename = safe_upload_name(upload.filename)
        name = str(form.get("name", "") or "").strip() or Path(filename).stem
        privacy = str(form.get("privacy", "") or "")
        if privacy not in PRIVACY_MODES:
            raise ConfigError(
                f"unknown privacy mode {privacy!r}", where="privacy", fix="desensitize or block"
            )
        with console.as_user(request, user) as context:
            require(context, "data.import")
            job_id, folder = new_job_folder(context)
            target = folder / UPLOAD_FOLDER / filename
            target.parent.mkdir(mode=0o700)
            written = 0
            with open(target, "wb") as handle:
                while chunk := await upload.read(1024 * 1024):
                    written += len(chunk)
                    if written > settings.max_upload_bytes:
                        handle.close()
                        target.unlink()
                        raise UploadTooLarge(
                            f"the upload is over the limit of {settings.max_upload_bytes} bytes", where="file"
                        )
                    handle.write(chunk)
            args = [str(target), f"--name={name}"] + ([f"--privacy={privacy}"] if privacy else [])
            submit(context, "import", args, job_id=job_id)
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    # ---- train
    def render_train(request: Request, user, *, status: int = 200, values=None, extra="", **more: Any):
        from stockade.jobs.configs import list_configs

        with console.as_user(request, user) as context:
            require(context, "train.run")
            configs = list_configs(context)
        more.setdefault("error", None)
        more.setdefault("message", None)
        return console.render(
            request,
            "train.html",
            user,
            status=status,
            fields=train_field_rows(values or {}),
            extra=extra,
            configs=configs,
            preview="",
            estimate=None,
            **more,
        )

    @app.get("/train", response_class=HTMLResponse)
    def train_page(request: Request, config: str = ""):
        """The form; ``?config=NAME`` fills it from the workspace's ``configs/NAME``."""
        from stockade.jobs.configs import load_config

        user = console.user(request)
        if not config:
            return render_train(request, user)
        with console.as_user(request, user) as context:
            values, extra = form_values(load_config(context, config))
        return render_train(request, user, values=values, extra=extra, loaded=config)

    @app.post("/train/preview", response_class=HTMLResponse)
    async def train_preview(request: Request):
        user = console.user(request)
        form = await console.posted(request, user, TRAIN_FORM)
        estimate = None
        try:
            spec, text = spec_from_form(form)
            error = None
        except StockadeError as exc:
            text, error = "", str(exc)
        else:
            from starlette.concurrency import run_in_threadpool

            with console.as_user(request, user) as context:  # reads config.json; torch once per process
                estimate = await run_in_threadpool(memory_estimate, context, spec)
        return console.render(
            request, "train_preview.html", user, preview=text, error=error, estimate=estimate
        )

    @app.post("/train/save", response_class=HTMLResponse)
    async def train_save(request: Request):
        """Save the form's spec as ``configs/NAME`` in the workspace (as `stockade train --save-config`)."""
        return await train_submit(request, start=False)

    @app.post("/train/start")
    async def train_start(request: Request):
        """Start a `stockade train SPEC.yaml` job; with a config name, save the spec there first."""
        return await train_submit(request, start=True)

    async def train_submit(request: Request, *, start: bool):
        from stockade.jobs.configs import save_config
        from stockade.jobs.service import submit_training

        user = console.user(request)
        form = await console.posted(request, user, TRAIN_FORM | SAVE_FIELDS)
        with console.as_user(request, user) as context:
            require(context, "train.run")  # before reading the form: a refusal is a refusal
        values = {key: str(form.get(key, "")) for key in GUIDE_FIELDS}
        extra, name = str(form.get("extra", "") or ""), str(form.get("config_name", "") or "").strip()
        overwrite = str(form.get("overwrite", "") or "")
        path = None
        try:
            if overwrite not in ("", "on"):
                raise ConfigError(f"overwrite is {overwrite!r}", where="overwrite", fix="tick it or not")
            if not start and not name:
                raise ConfigError(
                    "no config name", where="config name", fix="type one, e.g. finance_cfg.yaml"
                )
            spec, text = spec_from_form(without(form, SAVE_FIELDS))
            with console.as_user(request, user) as context:
                require(context, "train.run")
                if name:
                    path = save_config(context, name, spec, overwrite=overwrite == "on")
                if start:
                    job_id = submit_training(context, text).id
        except StockadeError as exc:
            return render_train(request, user, status=400, values=values, extra=extra, error=str(exc))
        if start:
            return RedirectResponse(f"/jobs/{job_id}", status_code=303)
        assert path is not None
        return render_train(
            request, user, values=values, extra=extra, message=f"configs/{path.name}", loaded=path.name
        )

    # ---- runs
    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request):
        from stockade.training.runs import list_runs

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "runs.read")
            runs = list(reversed(list_runs(context.engine)))
        return console.render(request, "runs.html", user, runs=runs)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str):
        from stockade.training.runs import show_run

        user = console.user(request)
        from stockade.jobs.service import list_jobs, read_log

        with console.as_user(request, user) as context:
            require(context, "runs.read")
            run = show_run(context.engine, run_id)
            job = next(
                (job for job in list_jobs(context, kind="train") if job.result.get("run") == run_id), None
            )
        log = read_log(job, tail_bytes=16_000) if job else ""
        return console.render(request, "run.html", user, run=run, job=job, log=log)

    @app.get("/runs/{run_id}/metrics")
    def run_metrics(request: Request, run_id: str):
        from stockade.training.metrics import METRICS_FILE, read_metrics
        from stockade.training.runs import show_run

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "runs.read")
            run = show_run(context.engine, run_id)
            path = context.workspace.root / run.path / METRICS_FILE
        records = read_metrics(path) if path.exists() else []
        points = [r for r in records if "loss" in r]
        return JSONResponse(
            {
                "status": run.status,
                "step": [r["step"] for r in points],
                "loss": [r["loss"] for r in points],
                "total_steps": run.summary.get("steps"),
            }
        )

    from stockade.web import governance_pages

    governance_pages.register(app, console)
