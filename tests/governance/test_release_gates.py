"""Release gates (governance.gates in stockade.yaml): checked at submit against the stored evaluation
reports, enforced at approve, overridable only by a reviewer who did not make the version, audited.

Reports are stored the way the evaluation service stores them (a report JSON file in the workspace,
an ``eval_reports`` row with the file's SHA-256 and ``summary_of`` as its summary); the gates read
only those, so no model has to run here (the evaluation service has its own tests)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from stockade.core.errors import ConfigError
from stockade.core.hashing import canonical_json, sha256_file
from stockade.evaluation.report import summary_of
from stockade.governance.lifecycle import GateFailed, LifecycleError, SelfApproval, transition
from stockade.storage.database import make_session_factory
from stockade.storage.model_tables import EvalReport, ModelVersion
from stockade.workspace.service import open_workspace
from tests.governance.conftest import add_users, add_version, as_user

RISK_GATE = {
    "evaluations": [
        {
            "dataset": "risk-report-test",
            "task": "risk-report",
            "min": {"grade_accuracy": 0.6, "section_completeness": 0.9},
            "max_regression": {"rouge_l": 0.05},
        }
    ]
}
CLEAN = ["风险等级：中。客户A年收入50万，负债率适中。"] * 3


def _policy(root: Path, gates: dict[str, Any]) -> None:
    path = root / "stockade.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    settings.setdefault("governance", {})["gates"] = gates
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")


def _store_report(
    root: Path,
    ref: str,
    dataset: str,
    metrics: dict[str, float],
    *,
    baseline: dict[str, float] | None = None,
    task: str | None = None,
    outputs: list[str] = CLEAN,
    report_id: str | None = None,
) -> str:
    """Write a report JSON + ``eval_reports`` row for ``ref`` as stockade.evaluation.service does."""
    name, version = ref.split("@v")
    with open_workspace(root) as context, make_session_factory(context.engine).begin() as session:
        row = session.query(ModelVersion).filter_by(name=name, version=int(version)).one()
        report_id = report_id or f"eval-{row.id}-{len(session.query(EvalReport).all())}"
        report = {
            "id": report_id,
            "created_at": f"2026-12-01T00:00:{len(session.query(EvalReport).all()):02d}Z",
            "created_by": "alice",
            "dataset": {"ref": dataset, "content_sha256": "c" * 64, "evaluated": len(outputs), "limit": None},
            "candidate": {"ref": ref, "id": row.id, "metrics": metrics},
            "baseline": {"ref": "fin@v0", "id": "mv-base", "metrics": baseline} if baseline else None,
            "delta": {k: metrics[k] - baseline[k] for k in metrics if k in baseline} if baseline else {},
            "examples": [
                {"index": i, "prompt": "生成风险评估报告", "reference": "…", "candidate": {"output": text}}
                for i, text in enumerate(outputs)
            ],
            "settings": {"max_new_tokens": 128, "limit": None, "template": None, "task": task},
        }
        folder = root / "models" / "_eval" / report_id
        folder.mkdir(parents=True)
        path = folder / "report.json"
        path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        session.add(
            EvalReport(
                id=report_id,
                model_version_id=row.id,
                dataset=dataset,
                created_at=report["created_at"],
                created_by="alice",
                path=path.relative_to(root).as_posix(),
                sha256=sha256_file(path),
                summary=canonical_json(summary_of(report)),
            )
        )
    return report_id


def _step(root: Path, user: str, role: str, ref: str, action: str, **kwargs: Any):
    with as_user(root, user, role) as context:
        return transition(context, ref, action, reason="checked the eval report", **kwargs)


def _audit(root: Path, action: str) -> list[dict[str, Any]]:
    connection = sqlite3.connect(root / "stockade.db")
    try:
        query = "SELECT actor, target, result, reason, details FROM audit_records WHERE action=? ORDER BY seq"
        rows = connection.execute(query, (action,)).fetchall()
    finally:
        connection.close()
    keys = ("actor", "target", "result", "reason")
    return [{**dict(zip(keys, row[:4], strict=True)), **json.loads(row[4])} for row in rows]


def _stage(root: Path, ref: str) -> str:
    name, version = ref.split("@v")
    with open_workspace(root) as context, make_session_factory(context.engine)() as session:
        return session.query(ModelVersion).filter_by(name=name, version=int(version)).one().stage


def _risk_version(root: Path, grade_accuracy: float, rouge_l: float = 0.50) -> str:
    _policy(root, {"staging": RISK_GATE})
    ref = add_version(root, with_report=False)
    metrics = {"grade_accuracy": grade_accuracy, "section_completeness": 1.0, "rouge_l": rouge_l}
    _store_report(
        root, ref, "risk-report-test@v1", metrics, baseline={**metrics, "rouge_l": 0.52}, task="risk-report"
    )
    return ref


def test_a_passing_gate_is_recorded_and_the_approval_goes_through(team: Path) -> None:
    ref = _risk_version(team, grade_accuracy=0.75)
    submitted = _step(team, "alice", "trainer", ref, "submit")
    assert [(g.gate, g.passed) for g in submitted.gates] == [
        ("dataset risk-report-test with task risk-report", True)
    ]
    numbers = {(n["metric"], n["check"]): n for n in submitted.gates[0].numbers}
    assert numbers["grade_accuracy", "min"]["value"] == 0.75
    assert numbers["rouge_l", "max_regression"]["value"] == pytest.approx(0.02)
    [event] = _audit(team, "model.submit")
    assert event["gates_passed"] is True and event["gates"][0]["numbers"][0]["limit"] == 0.6

    approved = _step(team, "bob", "reviewer", ref, "approve")
    assert approved.stage == "approved" and not approved.gate_overridden
    assert _audit(team, "model.approve")[-1]["gate_override"] is False
    assert _audit(team, "model.gate_override") == []


def test_a_failing_gate_fails_with_its_numbers_and_blocks_approval(team: Path) -> None:
    ref = _risk_version(team, grade_accuracy=0.40, rouge_l=0.40)
    submitted = _step(team, "alice", "trainer", ref, "submit")  # recorded, not blocked
    assert submitted.stage == "submitted"
    [gate] = submitted.gates
    assert not gate.passed
    failed = {n["metric"]: (n["value"], n["limit"]) for n in gate.numbers if not n["passed"]}
    assert failed == {"grade_accuracy": (0.40, 0.6), "rouge_l": (pytest.approx(0.12), 0.05)}
    assert "grade_accuracy=0.4000 (min 0.6000, FAILS)" in gate.line()
    assert _audit(team, "model.submit")[0]["gates_passed"] is False

    with pytest.raises(GateFailed, match=r"grade_accuracy=0\.4000 \(min 0\.6000, FAILS\)") as refused:
        _step(team, "bob", "reviewer", ref, "approve")
    assert refused.value.exit_code == 3
    assert _stage(team, ref) == "submitted"
    [denied] = _audit(team, "model.approve")
    assert (denied["actor"], denied["result"]) == ("bob", "denied")
    assert denied["reason"].startswith("release gate failed") and denied["gates"][0]["passed"] is False


def test_an_override_by_a_reviewer_who_did_not_make_it_is_accepted_and_audited(team: Path) -> None:
    ref = _risk_version(team, grade_accuracy=0.40)
    _step(team, "alice", "trainer", ref, "submit")
    result = _step(team, "bob", "reviewer", ref, "approve", override_gate="pilot on non-core business only")
    assert result.stage == "approved" and result.gate_overridden
    [override] = _audit(team, "model.gate_override")
    assert (override["actor"], override["target"], override["reason"]) == (
        "bob",
        ref,
        "pilot on non-core business only",
    )
    assert override["failed"][0]["numbers"][0]["value"] == 0.40
    assert "alice" in override["makers"]
    assert _audit(team, "model.approve")[-1]["gate_override"] is True


def test_the_maker_cannot_override_their_own_gate(team: Path) -> None:
    add_users(team, {"erin": ["trainer", "reviewer"]})
    _policy(team, {"staging": RISK_GATE})
    ref = add_version(team, trained_by="erin", with_report=False)
    metrics = {"grade_accuracy": 0.1, "section_completeness": 1.0, "rouge_l": 0.5}
    _store_report(team, ref, "risk-report-test@v1", metrics, baseline=metrics, task="risk-report")
    _step(team, "erin", "trainer,reviewer", ref, "submit")
    with pytest.raises(SelfApproval):
        _step(team, "erin", "trainer,reviewer", ref, "approve", override_gate="I trust my model")
    assert _stage(team, ref) == "submitted"
    assert _audit(team, "model.gate_override") == []
    assert _audit(team, "model.approve")[-1]["result"] == "denied"


def test_a_missing_evaluation_names_the_command_to_run(team: Path) -> None:
    _policy(
        team,
        {
            "staging": {
                "evaluations": [
                    {"benchmark": "ceval", "min": {"accuracy": 0.3}},
                    {
                        "dataset": "risk-report-test",
                        "task": "risk-report",
                        "max_regression": {"rouge_l": 0.0},
                    },
                ]
            }
        },
    )
    deployed = add_version(team, with_report=True)  # fin@v1, deployed: the natural baseline
    _step(team, "alice", "trainer", deployed, "submit")
    _step(team, "bob", "reviewer", deployed, "approve", override_gate="first release")
    _step(team, "alice", "trainer", deployed, "deploy")
    ref = add_version(team, with_report=True)  # fin@v2; its only report is on another dataset
    result = _step(team, "alice", "trainer", ref, "submit")
    commands = [(g.passed, g.command) for g in result.gates]
    assert commands == [
        (False, f"stockade eval {ref} --benchmark ceval --data DIR"),
        (False, f"stockade eval {ref} --dataset risk-report-test --task risk-report --baseline {deployed}"),
    ]
    with pytest.raises(GateFailed, match=f"run: stockade eval {ref} --benchmark ceval --data DIR"):
        _step(team, "bob", "reviewer", ref, "approve")


def test_an_override_is_refused_when_every_gate_passes(team: Path) -> None:
    ref = _risk_version(team, grade_accuracy=0.9)
    _step(team, "alice", "trainer", ref, "submit")
    with pytest.raises(LifecycleError, match="passes every release gate"):
        _step(team, "bob", "reviewer", ref, "approve", override_gate="just in case")
    assert _stage(team, ref) == "submitted"


def test_personal_data_in_sampled_answers_fails_the_gate_without_logging_it(team: Path) -> None:
    gate = {"evaluations": [{"dataset": "risk-report-test"}], "pii": {"sample": 50, "max_spans": 0}}
    _policy(team, {"staging": gate})
    ref = add_version(team, with_report=False)
    leaked = [*CLEAN, "请联系客户，手机13912345678", "身份证11010519491231002X"]
    _store_report(team, ref, "risk-report-test@v1", {"rouge_l": 0.5}, outputs=leaked)
    result = _step(team, "alice", "trainer", ref, "submit")
    assert [g.passed for g in result.gates] == [True, False]
    [number] = result.gates[1].numbers
    assert (number["value"], number["answers"], number["by_type"]) == (2, 5, {"id_card": 1, "mobile": 1})
    details = json.dumps(_audit(team, "model.submit"), ensure_ascii=False)
    assert "13912345678" not in details and "11010519491231002X" not in details

    _policy(team, {"staging": {**gate, "pii": {"sample": 50, "max_spans": 2}}})
    assert _step(team, "bob", "reviewer", ref, "approve").stage == "approved"


def test_the_pii_sample_size_is_honoured(team: Path) -> None:
    _policy(team, {"staging": {"evaluations": [{"dataset": "d"}], "pii": {"sample": 3, "max_spans": 99}}})
    ref = add_version(team, with_report=False)
    _store_report(team, ref, "d@v1", {"rouge_l": 0.5}, outputs=CLEAN * 4)
    [_, pii] = _step(team, "alice", "trainer", ref, "submit").gates
    assert pii.numbers[0]["answers"] == 3


def test_an_altered_report_file_does_not_count(team: Path) -> None:
    ref = _risk_version(team, grade_accuracy=0.9)
    with open_workspace(team) as context, make_session_factory(context.engine)() as session:
        path = team / session.query(EvalReport).one().path
    path.write_text(path.read_text(encoding="utf-8").replace("0.9", "0.99"), encoding="utf-8")
    [gate] = _step(team, "alice", "trainer", ref, "submit").gates
    assert not gate.passed and "missing or altered" in (gate.problem or "")


def test_a_metric_the_report_lacks_fails_by_name(team: Path) -> None:
    _policy(team, {"staging": {"evaluations": [{"dataset": "d", "min": {"label_acuracy": 0.5}}]}})
    ref = add_version(team, with_report=False)
    _store_report(team, ref, "d@v1", {"rouge_l": 0.5, "label_accuracy": 0.9})
    [gate] = _step(team, "alice", "trainer", ref, "submit").gates
    assert not gate.passed and "no label_acuracy" in (gate.problem or "")
    assert "label_accuracy" in (gate.problem or "")


def test_the_production_gate_applies_to_production_versions_only(team: Path) -> None:
    _policy(team, {"production": {"evaluations": [{"dataset": "d", "min": {"rouge_l": 0.9}}]}})
    staging = add_version(team, with_report=False)
    production = add_version(team, tags=["production"], with_report=False)
    for ref in (staging, production):
        _store_report(team, ref, "d@v1", {"rouge_l": 0.5})
    assert _step(team, "alice", "trainer", staging, "submit").gates == []
    [gate] = _step(team, "alice", "trainer", production, "submit").gates
    assert (gate.stage, gate.passed) == ("production", False)


def test_lower_is_better_metrics_regress_upwards(team: Path) -> None:
    _policy(team, {"staging": {"evaluations": [{"dataset": "d", "max_regression": {"loss": 0.1}}]}})
    ref = add_version(team, with_report=False)
    _store_report(team, ref, "d@v1", {"loss": 1.5}, baseline={"loss": 1.3})
    [gate] = _step(team, "alice", "trainer", ref, "submit").gates
    assert not gate.passed and gate.numbers[0]["value"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"evaluations": [{"dataset": "d", "benchmark": "ceval"}]}, "not both"),
        ({"evaluations": [{"min": {"rouge_l": 0.5}}]}, "name the required evaluation"),
        ({"evaluations": [{"dataset": "d", "min": {"loss": 1.0}}]}, "lower is better"),
        ({"evaluations": [{"benchmark": "ceval"}], "pii": {"max_spans": 0}}, "require one"),
        ({"evaluations": [{"dataset": "d", "minimum": {"rouge_l": 0.5}}]}, "minimum"),
    ],
)
def test_a_bad_policy_is_refused_with_a_clear_error(workspace_dir: Path, gate: dict, message: str) -> None:
    _policy(workspace_dir, {"staging": gate})
    with pytest.raises(ConfigError, match=message), open_workspace(workspace_dir) as context:
        _ = context.workspace.settings


def test_an_unknown_benchmark_name_is_refused_at_submit(team: Path) -> None:
    _policy(team, {"staging": {"evaluations": [{"benchmark": "cevl"}]}})
    ref = add_version(team)
    with pytest.raises(ConfigError, match="unknown benchmark 'cevl'"):
        _step(team, "alice", "trainer", ref, "submit")
    assert _stage(team, ref) == "draft"


def test_without_a_policy_nothing_changes(team: Path) -> None:
    ref = add_version(team)
    assert _step(team, "alice", "trainer", ref, "submit").gates == []
    with pytest.raises(LifecycleError, match="no release gate is configured"):
        _step(team, "bob", "reviewer", ref, "approve", override_gate="x")
    assert _step(team, "bob", "reviewer", ref, "approve").stage == "approved"
    assert "gates" not in _audit(team, "model.submit")[0]


@pytest.mark.slow
def test_the_cli_prints_the_gates_and_takes_an_override(team: Path, tmp_path: Path) -> None:
    from tests.conftest import run_cli
    from tests.governance.conftest import PASSWORD

    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    ws = ("--workspace", str(team))
    ref = _risk_version(team, grade_accuracy=0.40)

    assert run_cli(*ws, "login", "alice", "--password-file", str(password)).returncode == 0
    submitted = run_cli(*ws, "registry", "submit", ref, "--reason", "pilot candidate")
    assert submitted.returncode == 0, submitted.stderr
    assert "FAIL staging: dataset risk-report-test with task risk-report" in submitted.stdout
    assert "grade_accuracy=0.4000 (min 0.6000, FAILS)" in submitted.stdout
    assert "--override-gate" in submitted.stdout

    assert run_cli(*ws, "login", "bob", "--password-file", str(password)).returncode == 0
    refused = run_cli(*ws, "registry", "approve", ref, "--reason", "looks fine")
    assert refused.returncode == 3 and "grade_accuracy=0.4000" in refused.stderr
    assert "Traceback" not in refused.stderr
    approved = run_cli(
        *ws, "registry", "approve", ref, "--reason", "looks fine", "--override-gate", "non-core pilot"
    )
    assert approved.returncode == 0, approved.stderr
    assert "release gate overridden" in approved.stdout and "submitted → approved" in approved.stdout
    shown = json.loads(run_cli(*ws, "registry", "show", ref).stdout)
    assert shown["gates"][0]["passed"] is False and shown["gates"][0]["report"]


@pytest.mark.slow
def test_a_real_task_evaluation_on_a_tiny_model_meets_the_gate(team: Path, tmp_path: Path) -> None:
    """`task init risk-report` → import its held-out set → `eval --task` with the real evaluation service
    on a tiny model → submit: the gate's numbers are the stored report's; approve enforces them."""
    pytest.importorskip("torch")
    from stockade.data.imports import plan_imports, run_imports
    from stockade.evaluation.service import evaluate
    from stockade.models.store.service import import_model
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate
    from stockade.tasks.scaffold import init_task
    from tests.models.store_setup import copy_model, tiny_model

    init_task("risk-report", tmp_path / "pilot")
    with open_workspace(team) as context:  # the admin: imports the base model, evaluates, submits
        base = import_model(
            context, copy_model(tiny_model({}, tmp_path, "qwen2"), tmp_path / "base"), "base"
        ).view
        plans = plan_imports(
            path=None,
            name=None,
            formatting="auto",
            encoding="utf-8",
            dataset_dir=tmp_path / "pilot",
            datasets="risk-report-test",
        )
        gate = import_gate(context.privacy_key(), load_policy(None, mode=None))
        run_imports(
            context, plans, gate=gate, allow_reason=None, skip_invalid=False, max_problems=5, tokenizer=None
        )
        outcome = evaluate(
            context, base.ref, "risk-report-test@v1", task="risk-report", limit=4, max_new_tokens=8
        )
    grade = outcome.summary["candidate"]["grade_accuracy"]
    assert grade < 0.5  # eight tokens of a random tiny model are no risk report
    _policy(
        team,
        {
            "staging": {
                "evaluations": [
                    {"dataset": "risk-report-test", "task": "risk-report", "min": {"grade_accuracy": 0.5}}
                ],
                "pii": {"sample": 4, "max_spans": 1000},
            }
        },
    )
    with open_workspace(team) as context:
        submitted = transition(context, base.ref, "submit", reason="pilot")
    evaluation, pii = submitted.gates
    assert (evaluation.passed, evaluation.report) == (False, outcome.id)
    assert evaluation.numbers[0]["value"] == grade
    assert pii.passed and pii.numbers[0]["answers"] == 4
    with pytest.raises(GateFailed):
        _step(team, "bob", "reviewer", base.ref, "approve")
    approved = _step(team, "bob", "reviewer", base.ref, "approve", override_gate="format checked by hand")
    assert approved.stage == "approved" and approved.gate_overridden
