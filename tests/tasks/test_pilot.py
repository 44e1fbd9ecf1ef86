"""Each preset end to end on a tiny model: `task init` → import its data through dataset_info.json →
one training step with its template → export the adapter → `eval --task` on the held-out set, with
the baseline; the task metrics in the report are the ones the parser gives on the stored answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stockade.core.errors import ConfigError, StockadeError
from tests.conftest import run_cli
from tests.models.store_setup import copy_model, tiny_model, train_one_step

pytest.importorskip("torch")
pytest.importorskip("peft")
pytestmark = pytest.mark.slow

BUILT: dict[str, Path] = {}
NAMES = ["compliance-review", "customer-service", "risk-report"]


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory):
    from stockade.models.store.service import import_model
    from stockade.workspace.service import initialize_workspace, open_workspace

    root = tmp_path_factory.mktemp("pilot")
    initialize_workspace(root / "ws")
    with open_workspace(root / "ws") as context:
        base = import_model(context, copy_model(tiny_model(BUILT, root, "qwen2"), root / "base"), "base").view
        yield {"root": root, "context": context, "base": base, "adapters": {}}


def _import(context, folder: Path, names: list[str]) -> list[str]:
    from stockade.data.imports import plan_imports, run_imports
    from stockade.privacy.policy import load_policy
    from stockade.privacy.service import import_gate

    plans = plan_imports(
        path=None,
        name=None,
        formatting="auto",
        encoding="utf-8",
        dataset_dir=folder,
        datasets=",".join(names),
    )
    gate = import_gate(context.privacy_key(), load_policy(None, mode=None))
    outcomes = run_imports(
        context, plans, gate=gate, allow_reason=None, skip_invalid=False, max_problems=5, tokenizer=None
    )
    assert [outcome.version.privacy["status"] for outcome in outcomes] == ["passed"] * len(names)
    return [outcome.version.ref for outcome in outcomes]


@pytest.mark.parametrize("name", NAMES)
def test_init_train_and_evaluate_with_the_task_metrics(pilot: dict, name: str, monkeypatch) -> None:
    from stockade.evaluation import service
    from stockade.evaluation.task_metrics import task_scores
    from stockade.models.store.export import export_run
    from stockade.tasks.presets import load_preset
    from stockade.tasks.scaffold import init_task

    context, base, preset = pilot["context"], pilot["base"], load_preset(name)
    folder = pilot["root"] / name
    init_task(name, folder, model=base.ref)
    train_ref, test_ref = _import(context, folder, [name, f"{name}-test"])
    assert (train_ref, test_ref) == (f"{name}@v1", f"{name}-test@v1")
    run_id = train_one_step(context, base.ref, train_ref, preset.template)
    adapter = export_run(context, run_id, merge=False, name=f"{name}-lora").view
    pilot["adapters"][name] = adapter.ref

    seen: list[int] = []
    real = service.run_model

    def spy(*args, **kwargs):
        seen.append(kwargs["max_new_tokens"])
        kwargs["max_new_tokens"] = 6  # keep the tiny model's answers short; the default was checked
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "run_model", spy)
    calls: list[tuple[int, int]] = []
    outcome = service.evaluate(
        context,
        adapter.ref,
        test_ref,
        baseline=base.ref,
        limit=3,
        task=name,
        progress=lambda *a: calls.append(a),
    )
    assert seen == [preset.eval.max_new_tokens] * 2  # the preset's default, for candidate and baseline
    assert calls == [(done, 6) for done in range(7)]  # a progress bar's (done, total): 3 answers × 2 models
    report = json.loads(outcome.json_path.read_text(encoding="utf-8"))
    assert report["task_metrics"] == preset.metrics and report["settings"]["task"] == name
    references = [row["reference"].strip() for row in report["examples"]]
    for side in ("candidate", "baseline"):
        outputs = [row[side]["output"] for row in report["examples"]]
        expected = task_scores(preset, outputs, references)
        metrics = report[side]["metrics"]
        for metric in preset.metrics:
            assert metric in metrics
            same = math.isnan(expected.metrics[metric]) and math.isnan(metrics[metric])
            assert same or metrics[metric] == expected.metrics[metric]
        assert [row[side]["task"] for row in report["examples"]] == expected.per_example
    for metric in preset.metrics:
        delta = report["candidate"]["metrics"][metric] - report["baseline"]["metrics"][metric]
        assert (math.isnan(delta) and math.isnan(report["delta"][metric])) or report["delta"][metric] == delta
    assert set(preset.metrics) <= set(outcome.summary["candidate"])
    html = outcome.html_path.read_text(encoding="utf-8")
    assert {"compliance-review": "macro-F1", "customer-service": "hand-off precision"}.get(
        name, "grade accuracy"
    ) in html


def test_a_dataset_in_another_format_or_an_unknown_task_is_refused(pilot: dict) -> None:
    from stockade.evaluation.service import evaluate

    context = pilot["context"]
    if "risk-report" not in pilot["adapters"]:
        pytest.skip("needs the risk-report pilot above")
    with pytest.raises(StockadeError, match="do not follow the compliance-review output format"):
        evaluate(
            context,
            pilot["adapters"]["risk-report"],
            "risk-report-test@v1",
            limit=2,
            task="compliance-review",
        )
    with pytest.raises(ConfigError, match="unknown task 'kyc'"):
        evaluate(context, pilot["adapters"]["risk-report"], "risk-report-test@v1", task="kyc")


def test_the_eval_command_prints_the_task_metrics(pilot: dict) -> None:
    if "risk-report" not in pilot["adapters"]:
        pytest.skip("needs the risk-report pilot above")
    workspace = str(pilot["root"] / "ws")
    done = run_cli(
        "-w", workspace, "eval", pilot["adapters"]["risk-report"], "--dataset", "risk-report-test@v1",
        "--task", "risk-report", "--limit", "1", "--max-new-tokens", "4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "grade accuracy" in done.stdout and "section completeness" in done.stdout
