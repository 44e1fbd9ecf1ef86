"""kill -9 at every write window (issue 14, items 3 and 7).

Each case runs the real CLI in a subprocess that SIGKILLs itself at a named window
(``STOCKADE_TEST_KILL_AT``, :func:`stockade.storage.staging.crash_window`), checks that the window was
reached (what the kill left on disk), then runs `stockade audit verify` (which opens the workspace, so
recovery runs first, and must pass with its records) and asserts: no orphan folder (no staging folder,
commit marker or half-written checkpoint; every version and run folder registered), no raw personal data
anywhere in the workspace, no run stuck ``running``, the recovery audited, and the interrupted work
possible again.
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockade.storage.staging import CRASH_WINDOWS, KILL_VARIABLE
from tests.conftest import REPO, run_cli
from tests.models.store_setup import import_dataset, tiny_model, train_one_step

pytest.importorskip("torch")
pytest.importorskip("peft")

pytestmark = pytest.mark.slow

ID_NUMBER = "110101199003074258"  # a valid resident ID number (check digit 8)
SAMPLES = json.loads((REPO / "src/stockade/data/samples/finance_qa_zh.json").read_text(encoding="utf-8"))
BUILT: dict[str, Path] = {}


@dataclass(frozen=True)
class Window:
    command: str  # a key of _commands
    kill_at: str  # a name in CRASH_WINDOWS
    left: tuple[str, ...]  # globs (under the workspace) of what the kill leaves, proving the window was hit
    recovered: tuple[str, ...]  # the recovery.* audit actions the next open writes
    registered: tuple[str, ...] = field(default=())  # versions the kill leaves committed


WINDOWS = {
    "dataset-import-staging": Window(
        "data",
        "dataset.staging",
        ("datasets/.staging/import-*/records.sealed",),
        ("recovery.staging_removed",),
    ),
    "dataset-import-rename": Window(
        "data",
        "dataset.rename",
        ("datasets/clients/v1/data.jsonl", "datasets/.staging/import-*"),
        ("recovery.orphan_removed", "recovery.staging_removed"),
    ),
    "dataset-import-commit": Window(
        "data",
        "dataset.commit",
        ("datasets/clients/.commit-v1-*", "datasets/.staging/import-*"),
        ("recovery.staging_removed",),
        ("clients@v1",),
    ),
    "model-import-staging": Window(
        "model", "model.staging", ("models/tiny2/.staging-*/*",), ("recovery.staging_removed",)
    ),
    "model-import-rename": Window(
        "model", "model.rename", ("models/tiny2/v1/config.json",), ("recovery.orphan_removed",)
    ),
    "model-import-commit": Window("model", "model.commit", ("models/tiny2/.commit-v1-*",), (), ("tiny2@v1",)),
    "export-merge-rename": Window(
        "export", "model.rename", ("models/merged/v1/config.json",), ("recovery.orphan_removed",)
    ),
    "export-merge-commit": Window(
        "export", "model.commit", ("models/merged/.commit-v1-*",), (), ("merged@v1",)
    ),
    "training-before-first-checkpoint": Window(
        "train", "train.started", ("runs/*/process.json",), ("recovery.run_interrupted",)
    ),
    "checkpoint-write": Window(
        "train", "train.checkpoint", ("runs/*/checkpoints/.tmp-step-1",), ("recovery.run_interrupted",)
    ),
}


def test_every_named_window_is_covered() -> None:
    assert {window.kill_at for window in WINDOWS.values()} == set(CRASH_WINDOWS)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A workspace with a registered tiny model, a desensitized dataset and a finished one-step LoRA run;
    each case works on a copy of it."""
    from stockade.models.store.service import import_model
    from stockade.workspace.service import initialize_workspace, open_workspace

    root = tmp_path_factory.mktemp("integrity")
    workspace = root / "ws"
    initialize_workspace(workspace)
    source = tiny_model(BUILT, root, "qwen2")
    with open_workspace(workspace) as context:
        import_model(context, source, "tiny")
        import_dataset(context, root, "finance", rows=8)
        run = train_one_step(context, "tiny@v1", "finance@v1", "qwen")
    planted = root / "clients.json"
    record = {"instruction": "登记客户证件", "input": f"身份证号码 {ID_NUMBER}", "output": "已登记。"}
    planted.write_text(json.dumps([*SAMPLES[:6], record], ensure_ascii=False), encoding="utf-8")
    config = root / "train.yaml"
    spec = {
        "model": "tiny@v1",
        "dataset": "finance@v1",
        "template": "qwen",
        "finetuning_type": "lora",
        "lora_rank": 4,
        "max_steps": 2,
        "save_steps": 1,
        "per_device_train_batch_size": 2,
        "cutoff_len": 64,
        "gradient_checkpointing": False,
    }
    config.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return {"workspace": workspace, "source": source, "run": run, "planted": planted, "config": config}


def _commands(template: dict) -> dict[str, list[str]]:
    return {
        "data": ["data", "import", str(template["planted"]), "--name", "clients"],
        "model": ["model", "import", str(template["source"]), "--name", "tiny2"],
        "export": ["export", template["run"], "--merge", "--name", "merged"],
        "train": ["train", str(template["config"])],
    }


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    ]


def _crash_leftovers(root: Path) -> list[str]:
    patterns = (
        "datasets/.staging/*",
        "*/*/.staging-*",
        "*/*/.commit-v*",
        "runs/*/checkpoints/.tmp-*",
        "runs/*/checkpoints/.old-*",
        "**/*.sealed*",
    )
    return sorted({p.relative_to(root).as_posix() for pattern in patterns for p in root.glob(pattern)})


def _state(root: Path) -> dict:
    """What the database registers, read after the CLI's workspace open has recovered."""
    from stockade.storage.model_tables import ModelVersion
    from stockade.storage.tables import AuditRecord, DatasetVersion, TrainingRun
    from stockade.workspace.service import open_workspace

    with open_workspace(root) as context, Session(context.engine) as session:
        return {
            "models": {f"{r.name}@v{r.version}": r.path for r in session.scalars(select(ModelVersion))},
            "datasets": {
                f"{r.name}@v{r.version}": Path(r.path).parent.as_posix()
                for r in session.scalars(select(DatasetVersion))
            },
            "runs": {r.id: (r.status, r.reason, r.path) for r in session.scalars(select(TrainingRun))},
            "actions": [r.action for r in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))],
        }


@pytest.mark.parametrize("case", list(WINDOWS))
def test_kill_at_the_window_leaves_nothing_behind(case: str, template: dict, tmp_path: Path) -> None:
    window = WINDOWS[case]
    workspace = tmp_path / "ws"
    shutil.copytree(template["workspace"], workspace, symlinks=True)
    command = _commands(template)[window.command]
    before = _state(workspace)

    killed = run_cli("-w", str(workspace), *command, env={KILL_VARIABLE: window.kill_at}, timeout=300)
    assert killed.returncode == -signal.SIGKILL, f"never reached {window.kill_at}: {killed.stderr[-2000:]}"
    for pattern in window.left:
        assert list(workspace.glob(pattern)), f"the kill at {window.kill_at} left no {pattern}"
    assert _files_holding(workspace, ID_NUMBER.encode()) == [], "raw personal data on disk after the kill"

    # a command that opens the workspace (recovering what the kill left), then checks the audit chain,
    # the recovery records included
    verified = run_cli("-w", str(workspace), "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    assert _crash_leftovers(workspace) == []
    state = _state(workspace)
    folders = {p.relative_to(workspace).as_posix() for p in workspace.glob("models/*/v*")}
    assert folders == set(state["models"].values()), "a model version folder without its row"
    folders = {p.relative_to(workspace).as_posix() for p in workspace.glob("datasets/*/v*")}
    assert folders == set(state["datasets"].values()), "a dataset version folder without its row"
    folders = {p.relative_to(workspace).as_posix() for p in workspace.glob("runs/*")}
    assert folders == {path for _, _, path in state["runs"].values()}, "a run folder without its row"
    assert [run for run, (status, _, _) in state["runs"].items() if status == "running"] == []
    new = set(state["models"]) - set(before["models"]) | set(state["datasets"]) - set(before["datasets"])
    assert new == set(window.registered)
    recovered = {action for action in state["actions"][len(before["actions"]) :] if "recovery." in action}
    assert recovered == set(window.recovered)
    assert _files_holding(workspace, ID_NUMBER.encode()) == [], (
        "raw personal data outside a desensitized version"
    )

    if window.command == "train":  # a run killed before or while checkpointing can be removed
        (interrupted,) = [run for run, (_, reason, _) in state["runs"].items() if reason == "interrupted"]
        removed = run_cli("-w", str(workspace), "runs", "rm", interrupted)
        assert removed.returncode == 0, removed.stderr
    elif not window.registered:  # the interrupted import or export is not blocked by what it left
        again = run_cli("-w", str(workspace), *command, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert _crash_leftovers(workspace) == []
