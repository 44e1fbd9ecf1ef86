"""The issue's "done when", for each preset, through the command line: `task init` → `data import` →
`train` (a tiny model, two steps) → `export --merge` (compliance review, as docs/tasks.md) or
`--adapter-only` (the others) → `eval --task --baseline` → `registry submit`
prints each gate's pass/fail with the report's numbers → `approve` is refused while the gate fails (exit
code 3, no override) → after `reject`, a policy the numbers meet, and a new `submit`, the gate passes and
`approve` goes through → `deploy`.

Commands run in-process through typer's CliRunner (a subprocess per command would spend most of the
time importing torch); an error is read the way ``stockade.cli.app.main`` prints it (its exit code and
message). Users log in with ``STOCKADE_SESSION`` naming their session, as two terminals would."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from stockade.core.errors import StockadeError
from tests.models.store_setup import copy_model, tiny_model

pytest.importorskip("torch")
pytest.importorskip("peft")
pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
BUILT: dict[str, Path] = {}
GATED = {  # the task metric each preset's gate sets a minimum for (never NaN on the first records)
    "compliance-review": "label_accuracy",
    "risk-report": "section_completeness",
    "customer-service": "tool_call_accuracy",
}
TRAIN = (
    "--max_steps", "2", "--cutoff_len", "256", "--lora_rank", "4", "--per_device_train_batch_size", "2",
    "--gradient_accumulation_steps", "1", "--learning_rate", "0.05", "--save_steps", "100",
    "--num_train_epochs", "1",
)  # fmt: skip


def _cli(workspace: Path, user: str, *args: str) -> tuple[int, str]:
    """Run ``stockade -w WORKSPACE ARGS`` as ``user``'s terminal; (exit code, output + error message)."""
    from typer.testing import CliRunner

    from stockade.cli.app import app

    result = CliRunner().invoke(
        app, ["-w", str(workspace), *args], env={"STOCKADE_SESSION": f"pilot-{user}", "COLUMNS": "200"}
    )
    error = result.exception
    if isinstance(error, StockadeError):
        return error.exit_code, result.output + str(error)
    if error is not None and not isinstance(error, SystemExit):
        raise error
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A workspace with alice (data steward and trainer), bob (reviewer) and a tiny base model."""
    from stockade.governance.users import add_user
    from stockade.models.store.service import import_model
    from stockade.workspace.service import initialize_workspace, open_workspace

    root = tmp_path_factory.mktemp("release")
    workspace = root / "ws"
    initialize_workspace(workspace)
    with open_workspace(workspace) as context:
        add_user(context, "alice", ["data_steward", "trainer"], PASSWORD)
        add_user(context, "bob", ["reviewer"], PASSWORD)
        base = import_model(context, copy_model(tiny_model(BUILT, root, "qwen2"), root / "base"), "base")
    password = root / "password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    for user in ("alice", "bob"):
        code, out = _cli(workspace, user, "login", user, "--password-file", str(password))
        assert code == 0, out
    return {"root": root, "workspace": workspace, "base": base.view.ref}


def _gate(workspace: Path, name: str, metric: str, minimum: float) -> None:
    path = workspace / "stockade.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    evaluation = {"dataset": f"{name}-test", "task": name, "min": {metric: minimum}}
    evaluation["max_regression"] = {"loss": 100.0}  # against the baseline the report compares with
    settings.setdefault("governance", {})["gates"] = {"staging": {"evaluations": [evaluation]}}
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")


def _numbers(text: str) -> str:
    return " ".join(text.split())  # rich may wrap a long gate line


@pytest.mark.parametrize("name", list(GATED))
def test_init_train_evaluate_submit_and_the_gate_decides_the_approval(team: dict, name: str) -> None:
    workspace, folder, base = team["workspace"], team["root"] / name, team["base"]
    code, out = _cli(workspace, "alice", "task", "init", name, "--out", str(folder), "--model", base)
    assert code == 0, out
    code, out = _cli(
        workspace, "alice", "data", "import", "--dataset-dir", str(folder), "--dataset", f"{name},{name}-test"
    )
    assert code == 0, out
    runs = workspace / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    code, out = _cli(workspace, "alice", "train", str(folder / "train.yaml"), *TRAIN)
    assert code == 0, out
    [run] = set(runs.iterdir()) - before
    merge = name == "compliance-review"
    model = f"{name}-model" if merge else f"{name}-lora"
    code, out = _cli(
        workspace, "alice", "export", run.name, "--merge" if merge else "--adapter-only", "--name", model
    )
    assert code == 0, out
    candidate = f"{model}@v1"

    code, out = _cli(
        workspace, "alice", "eval", candidate, "--config", str(folder / "eval.yaml"),
        "--baseline", base, "--limit", "4", "--max-new-tokens", "8", "--batch-size", "4", "--json",
    )  # fmt: skip
    assert code == 0, out
    evaluated = json.loads(out[out.index("{") :])
    metric = GATED[name]
    value = evaluated["candidate"][metric]
    assert not math.isnan(value) and 0 <= value <= 1
    report = json.loads(Path(evaluated["report_json"]).read_text(encoding="utf-8"))
    assert metric in evaluated["candidate"]  # eval.yaml's task: the preset's metrics were added
    assert report["settings"]["batch_size"] == 4 and report["settings"]["task"] == name
    assert isinstance(report["worst"], list) and report["baseline"]["ref"] == base

    # a minimum above the candidate's score: the gate fails with the numbers, approval is refused
    _gate(workspace, name, metric, min(1.0, value + 0.25) if value < 1 else 1.5)
    code, out = _cli(workspace, "alice", "registry", "submit", candidate, "--reason", "pilot candidate")
    assert code == 0, out
    out = _numbers(out)
    assert f"FAIL staging: dataset {name}-test with task {name}" in out
    assert f"{metric}={value:.4f}" in out and "FAILS" in out
    code, out = _cli(workspace, "bob", "registry", "approve", candidate, "--reason", "looks fine")
    assert code == 3 and f"{metric}={value:.4f}" in _numbers(out), out
    assert "--override-gate" in out
    shown = json.loads(_cli(workspace, "bob", "registry", "show", candidate)[1])
    assert shown["stage"] == "submitted"

    # the numbers meet the policy: after a new submission the gate passes and the approval goes through
    code, out = _cli(workspace, "bob", "registry", "reject", candidate, "--reason", "gate failed")
    assert code == 0, out
    _gate(workspace, name, metric, value)
    code, out = _cli(workspace, "alice", "registry", "submit", candidate, "--reason", "meets the gate")
    assert code == 0 and f"PASS staging: dataset {name}-test with task {name}" in _numbers(out), out
    code, out = _cli(workspace, "bob", "registry", "approve", candidate, "--reason", "gate met")
    assert code == 0 and "approved" in out, out
    code, out = _cli(workspace, "alice", "registry", "deploy", candidate, "--reason", "non-core pilot")
    assert code == 0, out
    shown = json.loads(_cli(workspace, "bob", "registry", "show", candidate)[1])
    assert shown["stage"] == "deployed" and shown["gates"][0]["passed"] is True
