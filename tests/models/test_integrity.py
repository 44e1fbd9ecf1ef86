"""Verify before use (issue 14, item 1): serving, chat, eval, export and training refuse a version whose
files no longer match its manifest, naming the files, and audit it as ``model.verify_failed``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from stockade.models.store.integrity import ModelTampered, check_files, verify_before_use
from stockade.models.store.manifest import Manifest
from stockade.models.store.service import import_model
from stockade.storage.model_tables import ModelVersion
from tests.conftest import run_cli
from tests.models.store_setup import audit_actions, copy_model, tiny_model

pytest.importorskip("torch")

BUILT: dict[str, Path] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(BUILT, tmp_path_factory.mktemp("integrity-models"), "qwen2")


def _row(context, view) -> ModelVersion:
    with Session(context.engine) as session:
        row = session.get(ModelVersion, view.id)
        session.expunge(row)
        return row


def _approve(context, view) -> None:
    with Session(context.engine) as session, session.begin():
        session.get(ModelVersion, view.id).stage = "approved"


def _edit_config(folder: Path, *, keep_times: bool = False) -> None:
    """Change one byte of config.json's value without changing its size (optionally restoring its mtime)."""
    path = folder / "config.json"
    before = path.stat()
    text = path.read_text()
    digit = next(i for i, c in enumerate(text) if c.isdigit())
    path.write_text(text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1 :])
    assert path.stat().st_size == before.st_size
    if keep_times:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_import_records_sizes_and_times_and_the_fast_path_hashes_nothing(
    context, built: Path, tmp_path: Path
) -> None:
    view = import_model(context, copy_model(built, tmp_path / "src"), "fast").view
    files = view.manifest["files"]
    assert files and all({"bytes", "mtime_ns", "ctime_ns"} <= set(f) for f in files)
    root, row = context.workspace.root, _row(context, view)
    fast = verify_before_use(root, row, purpose="test")
    assert (fast.files, fast.hashed, fast.mode) == (len(files), 0, "fast")
    full = verify_before_use(root, row, purpose="test", mode="full")
    assert full.hashed == len(files)


def test_a_tampered_approved_version_is_not_served(context, built: Path, tmp_path: Path) -> None:
    from stockade.core.specs import ServeSpec
    from stockade.serving.target import resolve_target

    view = import_model(context, copy_model(built, tmp_path / "src"), "served").view
    _approve(context, view)
    target = resolve_target(context, ServeSpec(model=view.ref))
    assert target.verified == {
        "ref": view.ref,
        "mode": "fast",
        "files": len(view.manifest["files"]),
        "hashed": 0,
    }
    assert not target.allow_pickle
    _edit_config(context.workspace.root / view.path)
    with pytest.raises(ModelTampered) as error:
        resolve_target(context, ServeSpec(model=view.ref))
    assert "changed: config.json" in str(error.value) and error.value.exit_code == 1
    assert ("model.verify_failed", view.ref, "denied") in audit_actions(context)


def test_a_same_size_edit_with_its_mtime_put_back_is_still_caught(
    context, built: Path, tmp_path: Path
) -> None:
    view = import_model(context, copy_model(built, tmp_path / "src"), "sneaky").view
    folder = context.workspace.root / view.path
    _edit_config(folder, keep_times=True)
    diff, hashed = check_files(folder, Manifest.from_dict(view.manifest), "fast")
    assert diff.changed == ["config.json"] and hashed == 1  # the ctime moved: re-hashed


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda f: (f / "evil.py").write_text("import os"), {"added": ["evil.py"]}),
        (lambda f: (f / "tokenizer.json").unlink(), {"removed": ["tokenizer.json"]}),
        (lambda f: (f / "link.py").symlink_to("/etc/passwd"), {"added": ["link.py"]}),
    ],
)
def test_added_removed_and_linked_files_are_refused(context, built: Path, tmp_path: Path, tamper, expected):
    view = import_model(context, copy_model(built, tmp_path / "src"), "t").view
    tamper(context.workspace.root / view.path)
    with pytest.raises(ModelTampered):
        verify_before_use(context.workspace.root, _row(context, view), purpose="test", record=context.record)
    diff, _ = check_files(context.workspace.root / view.path, Manifest.from_dict(view.manifest))
    assert {k: v for k, v in diff.as_dict().items() if v} == expected


def test_versions_imported_before_times_were_recorded_are_hashed(
    context, built: Path, tmp_path: Path
) -> None:
    view = import_model(context, copy_model(built, tmp_path / "src"), "old").view
    old = {"files": [{k: f[k] for k in ("path", "sha256", "bytes")} for f in view.manifest["files"]]}
    with Session(context.engine) as session, session.begin():
        session.get(ModelVersion, view.id).manifest = json.dumps(old)
    row = _row(context, view)
    assert verify_before_use(context.workspace.root, row, purpose="test").hashed == len(old["files"])
    _edit_config(context.workspace.root / view.path)
    with pytest.raises(ModelTampered, match=r"config\.json"):
        verify_before_use(context.workspace.root, row, purpose="test")


@pytest.mark.slow
def test_chat_eval_export_and_train_refuse_a_tampered_version(built: Path, tmp_path: Path) -> None:
    from stockade.storage.tables import TrainingRun
    from stockade.workspace.service import open_workspace
    from tests.models.store_setup import import_dataset

    workspace = tmp_path / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    with open_workspace(workspace) as context:
        view = import_model(context, copy_model(built, tmp_path / "src"), "qwen").view
        dataset = import_dataset(context, tmp_path, "fin", rows=2)
        run_dir = workspace / "runs" / "run-fake"
        (run_dir / "adapter").mkdir(parents=True)
        (run_dir / "adapter" / "adapter_config.json").write_text("{}")
        with Session(context.engine) as session, session.begin():
            session.add(
                TrainingRun(
                    id="run-fake",
                    created_at="2026-01-01T00:00:00Z",
                    created_by="test",
                    status="succeeded",
                    base_model=str(workspace / view.path),
                    base_manifest_sha256=view.manifest_sha256,
                    datasets="[]",
                    spec=json.dumps({"model": view.ref}),
                    environment="{}",
                    summary="{}",
                    path="runs/run-fake",
                )
            )
    _edit_config(workspace / view.path)
    commands = {
        "chat": ["chat", view.ref, "--dev", "--prompt-file", str(tmp_path / "prompt.txt")],
        "eval": ["eval", view.ref, "--dataset", dataset, "--verify", "full"],
        "export": ["export", "run-fake", "--adapter-only"],
        "train": ["train", "--model", view.ref, "--dataset", dataset, "--template", "qwen"],
    }
    (tmp_path / "prompt.txt").write_text("你好")
    for command, args in commands.items():
        refused = run_cli("-w", str(workspace), *args)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert "changed: config.json" in refused.stderr and "Traceback" not in refused.stderr, command
    with open_workspace(workspace) as context:
        failed = [a for a in audit_actions(context) if a[0] == "model.verify_failed"]
    assert failed == [("model.verify_failed", view.ref, "denied")] * 4
