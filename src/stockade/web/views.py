"""What pages show beside a service's answer, read through services: the Train page's memory estimate,
the choices of the job forms, settings as rows, stored evaluation reports and a dataset's first records."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from stockade.core.errors import StockadeError
from stockade.governance.roles import has_permission, require


def memory_estimate(context: Any, spec: Any) -> Any:
    """`stockade doctor --for`'s verdict for the spec on this machine (the estimator's peak against the
    free GPU memory, or RAM on CPU), for a registered model version; ``None`` without a model. A path
    model is not read by the console (only the workspace's versions)."""
    from stockade.core.references import parse_model_reference
    from stockade.resources.plan import registered_model_folder
    from stockade.workspace.doctor import Check, check_training_spec

    if not spec.model:
        return None
    try:
        if parse_model_reference(spec.model, where="model").kind == "path":
            return Check("resources", "estimate", "warn", "not estimated: the console estimates "
                         "registered model versions only", "`stockade estimate --model FOLDER`")  # fmt: skip
        require(context, "model.read")
        folder = registered_model_folder(context.engine, context.workspace.root, spec.model)
    except StockadeError as exc:
        return Check("resources", "estimate", "warn", f"not estimated: {exc.what}", exc.fix or "")
    return check_training_spec(spec, folder)


def job_choices(context: Any, roles: tuple[str, ...]) -> dict[str, list[str]]:
    """What the export and evaluation forms offer: finished runs, active model and dataset versions
    (each only for a role that may read them)."""
    from stockade.data.catalog import list_versions
    from stockade.governance.registry import list_registry
    from stockade.training.runs import list_runs

    runs = [run.id for run in reversed(list_runs(context.engine)) if run.status == "succeeded"]
    models = (
        [v["ref"] for v in list_registry(context) if v["status"] == "active"]
        if has_permission(roles, "registry.read")
        else []
    )
    datasets = (
        [v.ref for v in list_versions(context) if v.status == "active"]
        if has_permission(roles, "data.read")
        else []
    )
    return {"run_choices": runs, "model_choices": models, "dataset_choices": datasets}


_URL_PASSWORD = re.compile(r"(//[^:/@]*):[^@/]*@")


def settings_table(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Settings as dotted keys and values (as stockade.yaml spells them); a password in a database URL
    is never shown."""
    rows: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(settings_table(value, f"{name}."))
            continue
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        rows.append((name, _URL_PASSWORD.sub(r"\1:***@", shown)))
    return rows


def eval_report_file(context: Any, report_id: str, name: str) -> Path:
    """A stored evaluation report's file (``models/_eval/ID/NAME``, written by
    ``evaluation.service.store_report``); ``report_id`` comes from the registry, never from a form."""
    from stockade.evaluation.service import REPORTS_FOLDER

    return context.workspace.folder("models") / REPORTS_FOLDER / report_id / name


def report_summary(path: Path) -> dict[str, Any]:
    """The metrics of a report's JSON as rows: candidate, baseline and the change (coloured better or
    worse as the HTML report colours it: lower loss and perplexity are better)."""
    from stockade.evaluation.report import HEADLINE, LOWER_IS_BETTER

    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"missing": True, "rows": []}
    candidate, baseline = report["candidate"], report.get("baseline")
    rows = [
        {
            "metric": name,
            "candidate": candidate["metrics"].get(name),
            "baseline": baseline["metrics"].get(name) if baseline else None,
            "delta": report.get("delta", {}).get(name) if baseline else None,
            "lower_is_better": name in LOWER_IS_BETTER,
        }
        for name in (*HEADLINE, *report.get("task_metrics", ()))
        if name in candidate["metrics"]
    ]
    return {
        "missing": False,
        "candidate_ref": candidate["ref"],
        "baseline_ref": baseline["ref"] if baseline else None,
        "examples": len(report.get("examples", [])),
        "rows": rows,
    }


def first_records(path: Path, count: int) -> list[str]:
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
