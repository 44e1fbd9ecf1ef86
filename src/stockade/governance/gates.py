"""Release gates: what a model version's stored evaluation reports must show before it is approved.

The policy is ``governance.gates`` in stockade.yaml (``stockade.core.settings.GateSettings``): per stage,
required evaluations (a dataset, a benchmark and/or a task preset) with minimum scores and the
largest regression against the baseline recorded in the report, and optionally a personal-data check
of sampled stored answers. Every version meets the ``staging`` gate; a version tagged ``production``
meets the ``production`` gate as well.

Gates only read what is stored: the version's ``eval_reports`` rows and their report JSON files, whose
SHA-256 must still match the row. Nothing is generated here. A missing evaluation fails its gate with
the ``stockade eval ...`` command that produces it. Results carry numbers and personal-data span
counts per type only — never prompts, answers or the personal data itself.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.core.errors import ConfigError
from stockade.core.hashing import sha256_file
from stockade.core.settings import GateEvaluation, StageGate
from stockade.storage.model_tables import EvalReport, ModelVersion

if TYPE_CHECKING:
    from stockade.workspace.service import WorkspaceContext

STAGE_ORDER = ("staging", "production")
LOWER_IS_BETTER = {"loss", "perplexity"}
TOLERANCE = 1e-9  # float noise of stored scores


@dataclass
class GateResult:
    """One gate's verdict: ``numbers`` holds each checked metric (value, limit, passed)."""

    stage: str
    gate: str
    passed: bool
    report: str | None = None
    baseline: str | None = None
    numbers: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (a NaN score becomes null) for the audit log and ``--json``."""
        data = {key: value for key, value in asdict(self).items() if value not in (None, [])}
        for number in data.get("numbers", []):
            for key, value in number.items():
                if isinstance(value, float) and math.isnan(value):
                    number[key] = None
        return data

    def line(self) -> str:
        """One line for a terminal: PASS/FAIL, the gate, its numbers, what to do."""
        parts = [f"{'PASS' if self.passed else 'FAIL'} {self.stage}: {self.gate}"]
        if self.report:
            parts.append(f"(report {self.report}{f' vs {self.baseline}' if self.baseline else ''})")
        parts += [_number_text(n) for n in self.numbers]
        if self.problem:
            parts.append(f"— {self.problem}")
        if self.command:
            parts.append(f"— run: {self.command}")
        return " ".join(parts)


def _number_text(number: dict[str, Any]) -> str:
    mark = "ok" if number["passed"] else "FAILS"
    if number["check"] == "min":
        return f"{number['metric']}={_fmt(number['value'])} (min {_fmt(number['limit'])}, {mark})"
    if number["check"] == "max_regression":
        return f"{number['metric']} regression={_fmt(number['value'])} (max {_fmt(number['limit'])}, {mark})"
    return (
        f"{number['metric']}={number['value']} in {number['answers']} answers (max {number['limit']}, {mark})"
    )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def stages_of(row: ModelVersion) -> tuple[str, ...]:
    """The gates a version meets: staging, and production too when it is tagged ``production``."""
    tags = json.loads(row.tags or "[]")
    return STAGE_ORDER if "production" in tags else ("staging",)


def has_gates(gate: StageGate) -> bool:
    return bool(gate.evaluations or gate.pii)


def check_gates(context: WorkspaceContext, session: Session, row: ModelVersion) -> list[GateResult]:
    """Evaluate every configured gate of ``row``'s stages against its stored reports."""
    policy = context.workspace.settings.governance.gates
    results: list[GateResult] = []
    for stage in stages_of(row):
        gate: StageGate = getattr(policy, stage)
        if not has_gates(gate):
            continue
        _check_names(stage, gate)
        used: list[dict[str, Any]] = []
        for requirement in gate.evaluations:
            result, report = _check_evaluation(context, session, row, stage, requirement)
            results.append(result)
            if report is not None and "examples" in report:
                used.append(report)
        if gate.pii:
            results.append(_check_pii(stage, gate, used))
    return results


def _check_names(stage: str, gate: StageGate) -> None:
    """Refuse a benchmark or task name no evaluation can produce (a gate that could never pass)."""
    from stockade.evaluation.choice import BENCHMARKS
    from stockade.tasks.presets import preset_names

    for i, requirement in enumerate(gate.evaluations):
        where = f"stockade.yaml: governance.gates.{stage}.evaluations[{i}]"
        if requirement.benchmark and requirement.benchmark not in BENCHMARKS:
            raise ConfigError(
                f"unknown benchmark {requirement.benchmark!r} in a release gate",
                where=where + ".benchmark",
                fix=f"choose one of: {', '.join(sorted(BENCHMARKS))}",
            )
        if requirement.task and requirement.task not in preset_names():
            raise ConfigError(
                f"unknown task {requirement.task!r} in a release gate",
                where=where + ".task",
                fix=f"choose one of: {', '.join(preset_names())} (stockade task list)",
            )


def _describe(requirement: GateEvaluation) -> str:
    if requirement.benchmark:
        return f"benchmark {requirement.benchmark}"
    text = f"dataset {requirement.dataset}" if requirement.dataset else "a dataset"
    return text + (f" with task {requirement.task}" if requirement.task else "")


def _matches_name(requirement: GateEvaluation, dataset: str) -> bool:
    if requirement.benchmark:
        return dataset.startswith(f"{requirement.benchmark}@sha256:")
    if requirement.dataset:
        if "@v" in requirement.dataset:
            return dataset == requirement.dataset
        return dataset.startswith(f"{requirement.dataset}@v")
    return "@sha256:" not in dataset  # task only: any dataset evaluation


def _read_report(context: WorkspaceContext, report: EvalReport) -> dict[str, Any] | None:
    """The report JSON when its file is present and matches the SHA-256 recorded with it."""
    path = context.workspace.root / report.path
    if not path.is_file() or sha256_file(path) != report.sha256:
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _command(
    context: WorkspaceContext, session: Session, row: ModelVersion, requirement: GateEvaluation
) -> str:
    ref = f"{row.name}@v{row.version}"
    if requirement.benchmark:
        command = f"stockade eval {ref} --benchmark {requirement.benchmark} --data DIR"
    else:
        command = f"stockade eval {ref} --dataset {requirement.dataset or 'DATASET@vN'}"
        if requirement.task:
            command += f" --task {requirement.task}"
    if requirement.max_regression:
        command += f" --baseline {_deployed(session, row) or 'BASELINE@vN'}"
    return command


def _deployed(session: Session, row: ModelVersion) -> str | None:
    """The version of the same name deployed now (the natural baseline), if any."""
    query = select(ModelVersion).where(
        ModelVersion.name == row.name,
        ModelVersion.stage == "deployed",
        ModelVersion.status == "active",
        ModelVersion.id != row.id,
    )
    deployed = session.scalars(query.order_by(ModelVersion.version.desc()).limit(1)).first()
    return f"{deployed.name}@v{deployed.version}" if deployed else None


def _check_evaluation(
    context: WorkspaceContext,
    session: Session,
    row: ModelVersion,
    stage: str,
    requirement: GateEvaluation,
) -> tuple[GateResult, dict[str, Any] | None]:
    name = _describe(requirement)
    query = select(EvalReport).where(EvalReport.model_version_id == row.id)
    rows = [r for r in session.scalars(query.order_by(EvalReport.created_at.desc(), EvalReport.id.desc()))]
    altered: list[str] = []
    for candidate in rows:
        if not _matches_name(requirement, candidate.dataset):
            continue
        report = _read_report(context, candidate)
        if report is None:
            altered.append(candidate.id)
            continue
        if requirement.task and (report.get("settings") or {}).get("task") != requirement.task:
            continue
        if requirement.max_regression and not report.get("baseline"):
            continue  # a report without a baseline cannot show a regression; look for one that has
        return _score(stage, name, requirement, candidate.id, report), report
    needs = " with a baseline" if requirement.max_regression else ""
    problem = f"no stored evaluation report of {name}{needs}"
    if altered:
        problem += f" (report files missing or altered: {', '.join(altered)})"
    result = GateResult(
        stage, name, False, problem=problem, command=_command(context, session, row, requirement)
    )
    return result, None


def _score(
    stage: str, name: str, requirement: GateEvaluation, report_id: str, report: dict[str, Any]
) -> GateResult:
    candidate = report["candidate"]["metrics"]
    baseline_side = report.get("baseline") or {}
    baseline = baseline_side.get("metrics") or {}
    numbers: list[dict[str, Any]] = []
    missing: list[str] = []
    for metric, limit in requirement.min.items():
        value = candidate.get(metric)
        if value is None:
            missing.append(metric)
            continue
        ok = not math.isnan(value) and value >= limit - TOLERANCE
        numbers.append({"metric": metric, "check": "min", "value": value, "limit": limit, "passed": ok})
    for metric, limit in requirement.max_regression.items():
        if metric not in candidate or metric not in baseline:
            missing.append(metric)
            continue
        drop = baseline[metric] - candidate[metric]
        if metric in LOWER_IS_BETTER:
            drop = -drop
        ok = not math.isnan(drop) and drop <= limit + TOLERANCE
        numbers.append(
            {
                "metric": metric,
                "check": "max_regression",
                "value": drop,
                "limit": limit,
                "candidate": candidate[metric],
                "baseline_value": baseline[metric],
                "passed": ok,
            }
        )
    problem = None
    if missing:
        problem = (
            f"the report has no {', '.join(sorted(set(missing)))} "
            f"(it has: {', '.join(sorted(candidate)) or 'nothing'}); fix the metric names in the gate"
        )
    passed = not missing and all(n["passed"] for n in numbers)
    return GateResult(
        stage,
        name,
        passed,
        report=report_id,
        baseline=baseline_side.get("ref"),
        numbers=numbers,
        problem=problem,
    )


def _check_pii(stage: str, gate: StageGate, reports: list[dict[str, Any]]) -> GateResult:
    """Personal-data spans in a seeded sample of each used dataset report's stored answers."""
    from stockade.privacy.detectors import detect_all

    assert gate.pii is not None
    name = "personal data in answers"
    if not reports:
        return GateResult(
            stage,
            name,
            False,
            problem="no stored answers to check: the required dataset evaluations are missing",
        )
    checked, types = 0, Counter[str]()
    for report in reports:
        answers = [example["candidate"]["output"] for example in report["examples"]]
        if len(answers) > gate.pii.sample:
            answers = random.Random(report["id"]).sample(  # noqa: S311 (a sample, not a secret)
                answers, gate.pii.sample
            )
        for answer in answers:
            for span in detect_all(answer):
                types[str(getattr(span.type, "value", span.type))] += 1
        checked += len(answers)
    spans = sum(types.values())
    number = {
        "metric": "pii_spans",
        "check": "max",
        "value": spans,
        "limit": gate.pii.max_spans,
        "answers": checked,
        "by_type": dict(sorted(types.items())),
        "passed": spans <= gate.pii.max_spans,
    }
    return GateResult(
        stage,
        name,
        number["passed"],
        report=", ".join(r["id"] for r in reports),
        numbers=[number],
    )


def failing(results: list[GateResult]) -> list[GateResult]:
    return [result for result in results if not result.passed]
