"""The console's pages: each reads a form or a path, calls one service, and renders the result."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.datastructures import FormData, UploadFile

from stockade.core.errors import ConfigError, StockadeError
from stockade.governance.roles import require
from stockade.web.app import Console

UPLOAD_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
_UNSAFE = re.compile(r"[^\w.\-]+")
PRIVACY_MODES = ("", "desensitize", "block")
# the deployment guide's fields first (model and data path, epochs, batch size, learning rate, LoRA, 4-bit)
GUIDE_FIELDS = (
    "model_name_or_path",
    "dataset",
    "template",
    "finetuning_type",
    "num_train_epochs",
    "per_device_train_batch_size",
    "learning_rate",
    "lora_rank",
    "quantization_bit",
)
MODEL_ACTIONS = ("submit", "approve", "reject")
PRIVACY_REPORT = "privacy-report.html"  # written beside a version's data by `data import`


class UploadTooLarge(ConfigError):
    exit_code = 2


def safe_upload_name(raw: str) -> str:
    """The last path part of a browser-given file name, with anything but letters, digits, '.', '_'
    and '-' replaced; no leading dot. Never a path: '../../etc/passwd' becomes 'passwd' (and is refused
    for its suffix)."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    if not base or not base.lower().endswith(UPLOAD_SUFFIXES):
        raise ConfigError(
            f"cannot import an upload named {raw!r}",
            where="file",
            fix=f"upload a {', '.join(UPLOAD_SUFFIXES)} file",
        )
    return base


def check_fields(form: FormData, allowed: set[str]) -> None:
    """Refuse a form field the page does not know, by name (nothing is silently ignored)."""
    unknown = sorted(set(form.keys()) - allowed - {"csrf"})
    if unknown:
        raise ConfigError(
            f"unknown form field(s): {', '.join(unknown)}",
            where="form",
            fix=f"send only {', '.join(sorted(allowed))}",
        )


def train_field_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The Train form's inputs, from TrainSpec's fields (type, default, description)."""
    from stockade.core.specs import TrainSpec

    keys = TrainSpec.accepted_keys()
    rows = []
    for key in GUIDE_FIELDS:
        field_name = keys.get(key, key)
        info = TrainSpec.model_fields[field_name]
        default = info.get_default(call_default_factory=True)
        shown = values.get(key, default)
        if isinstance(shown, list):
            shown = ",".join(str(item) for item in shown)
        rows.append(
            {
                "key": key,
                "value": "" if shown is None else shown,
                "help": info.description or "",
                "default": default,
            }
        )
    return rows


def spec_from_form(form: FormData) -> tuple[Any, str]:
    """A TrainSpec from the form (empty fields keep their default) plus the extra-keys YAML; the
    errors are the CLI's (all problems at once, with did-you-mean)."""
    from stockade.core.specs import TrainSpec, load_spec

    check_fields(form, set(GUIDE_FIELDS) | {"extra"})
    data: dict[str, Any] = {}
    extra_text = str(form.get("extra", "") or "")
    if extra_text.strip():
        try:
            extra = yaml.safe_load(extra_text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"the other keys are not valid YAML: {exc}", where="other keys") from None
        if not isinstance(extra, dict):
            raise ConfigError("the other keys must be a YAML mapping (key: value)", where="other keys")
        data.update(extra)
    for key in GUIDE_FIELDS:
        value = str(form.get(key, "") or "").strip()
        if value:
            data[key] = (
                [part.strip() for part in value.split(",") if part.strip()] if key == "dataset" else value
            )
    spec = load_spec(TrainSpec, data=data)
    return spec, yaml.safe_dump(
        spec.model_dump(mode="json", exclude_unset=True), allow_unicode=True, sort_keys=False
    )


def register(app: FastAPI, console: Console) -> None:
    settings = console.settings

    async def posted(request: Request, user, allowed: set[str]) -> FormData:
        form = await request.form()
        console.check_csrf(request, user, str(form.get("csrf", "")))
        check_fields(form, allowed)
        return form

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
        return console.render(request, "jobs.html", user, jobs=jobs, dispatch_errors=console.dispatch_errors)

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
        form = await posted(request, user, {"reason"})
        with console.as_user(request, user) as context:
            abort(context, job_id, reason=str(form.get("reason", "")))
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    # ---- datasets
    @app.get("/datasets", response_class=HTMLResponse)
    def datasets_page(request: Request):
        from stockade.data.catalog import list_versions

        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "data.read")
            versions = list_versions(context)
        return console.render(
            request,
            "datasets.html",
            user,
            versions=versions,
            max_mb=settings.max_upload_bytes // (1024 * 1024),
        )

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
        sample = _first_records(data_file, 3)
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
        form = await posted(request, user, {"file", "name", "privacy"})
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
    @app.get("/train", response_class=HTMLResponse)
    def train_page(request: Request):
        user = console.user(request)
        with console.as_user(request, user) as context:
            require(context, "train.run")
        return console.render(
            request, "train.html", user, fields=train_field_rows({}), preview="", error=None
        )

    @app.post("/train/preview", response_class=HTMLResponse)
    async def train_preview(request: Request):
        user = console.user(request)
        form = await posted(request, user, set(GUIDE_FIELDS) | {"extra"})
        try:
            _, text = spec_from_form(form)
            error = None
        except StockadeError as exc:
            text, error = "", str(exc)
        return console.render(request, "train_preview.html", user, preview=text, error=error)

    @app.post("/train/start")
    async def train_start(request: Request):
        from stockade.jobs.service import new_job_folder, submit

        user = console.user(request)
        form = await posted(request, user, set(GUIDE_FIELDS) | {"extra"})
        try:
            _, text = spec_from_form(form)
        except StockadeError as exc:
            values = {key: str(form.get(key, "")) for key in GUIDE_FIELDS}
            return console.render(
                request,
                "train.html",
                user,
                status=400,
                fields=train_field_rows(values),
                preview="",
                error=str(exc),
            )
        with console.as_user(request, user) as context:
            require(context, "train.run")
            job_id, folder = new_job_folder(context)
            spec_file = folder / "train.yaml"
            spec_file.write_text(text, encoding="utf-8")
            submit(context, "train", [str(spec_file), "--json-progress"], job_id=job_id)
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

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

    @app.post("/models/action", response_class=HTMLResponse)
    async def model_action(request: Request):
        from stockade.governance.lifecycle import transition
        from stockade.governance.registry import list_registry

        user = console.user(request)
        form = await posted(request, user, {"ref", "action", "reason"})
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
        form = await posted(request, user, {"model", "compare", "prompt", "max_new_tokens"})
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
        await posted(request, user, set())
        with console.as_user(request, user) as context:
            require(context, "audit.verify")
            result = verify_chain(context.audit, CheckpointVerifier.for_workspace(context.workspace.root))
        verdict = "ok" if result.ok else (result.problem or "failed")
        return console.render(request, "verify.html", user, result=result, verdict=verdict)

    # ---- admin (read-only)
    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        from stockade.governance.roles import ROLE_SUMMARY
        from stockade.governance.users import list_users

        user = console.user(request)
        with console.as_user(request, user) as context:
            users = list_users(context)
        return console.render(request, "admin.html", user, users=users, role_summary=ROLE_SUMMARY)


def _first_records(path: Path, count: int) -> list[str]:
    """The first records of a stored (already desensitized) version, as the model's input text."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    try:
        records = json.loads(text)
        items = records[:count] if isinstance(records, list) else []
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines()[:count] if line.strip()]
    return [json.dumps(item, ensure_ascii=False, indent=1) for item in items]
