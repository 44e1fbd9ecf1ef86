"""The model store: import (complete-folder check, manifest, detection), safe loading, verify, remove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.core.hashing import folder_manifest, sha256_file
from stockade.models.store.detect import IncompleteModel, inspect_folder, suggest_template
from stockade.models.store.safety import POLICY_FILE, UnsafeModel
from stockade.models.store.service import import_model, list_models, remove_model, show_model, verify_model
from tests.models.store_setup import audit_actions, copy_model, tiny_model

pytest.importorskip("torch")

BUILT: dict[str, Path] = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(BUILT, tmp_path_factory.mktemp("store-models"), "qwen2")


def test_import_copies_hashes_detects_and_audits(context, built: Path, tmp_path: Path) -> None:
    source = copy_model(built, tmp_path / "src")
    phases: dict[str, int] = {}

    def progress(phase: str, total: int):
        phases[phase] = 0

        def advance(done: int) -> None:
            phases[phase] += done

        return advance

    outcome = import_model(context, source, "qwen-tiny", progress=progress)
    view = outcome.view
    assert outcome.created and view.ref == "qwen-tiny@v1" and view.kind == "base" and view.stage == "draft"
    assert view.architecture == "Qwen2ForCausalLM" and view.template == "qwen"
    assert view.path == "models/qwen-tiny/v1"
    stored = context.workspace.root / view.path
    # the manifest hash is the training lineage's hash of the same files
    assert view.manifest_sha256 == folder_manifest(source)["sha256"] == folder_manifest(stored)["sha256"]
    files = {f["path"]: f["sha256"] for f in view.manifest["files"]}
    assert files["model.safetensors"] == sha256_file(source / "model.safetensors")
    total = sum(p.stat().st_size for p in source.iterdir())
    assert phases == {"hashing": total, "copying": total, "verifying": total}
    assert not list((stored.parent).glob(".staging-*"))
    assert ("model.import", "qwen-tiny@v1", "ok") in audit_actions(context)
    again = import_model(context, source, "qwen-tiny")
    assert not again.created and again.view.ref == "qwen-tiny@v1"
    (source / "extra.txt").write_text("notes")
    assert import_model(context, source, "qwen-tiny").view.ref == "qwen-tiny@v2"
    assert [v.ref for v in list_models(context)] == ["qwen-tiny@v1", "qwen-tiny@v2"]


def _drop(folder: Path, name: str) -> None:
    (folder / name).unlink()


def _shard_index(folder: Path, _name: str) -> None:
    index = {
        "metadata": {},
        "weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("damage", "name", "message"),
    [
        (_drop, "config.json", "missing config.json"),
        (_drop, "model.safetensors", "missing weights"),
        (_drop, "tokenizer.json", "missing a tokenizer"),
        (_shard_index, "", "model-00002-of-00002.safetensors"),
    ],
)
def test_incomplete_folders_are_refused(built: Path, tmp_path: Path, damage, name: str, message: str) -> None:
    folder = copy_model(built, tmp_path / "m")
    damage(folder, name)
    with pytest.raises(IncompleteModel) as error:
        inspect_folder(folder)
    assert message in str(error.value) and error.value.fix


def _bin_only(folder: Path) -> None:
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")


def test_bin_only_folder_is_refused_unless_the_policy_allows_pickle(
    context, built: Path, tmp_path: Path
) -> None:
    folder = copy_model(built, tmp_path / "binonly")
    _bin_only(folder)
    with pytest.raises(UnsafeModel) as error:
        import_model(context, folder, "pickled")
    text = str(error.value)
    assert "pickle" in text and "safetensors" in text and "allow_pickle_weights: true" in text
    assert list_models(context) == []
    (context.workspace.root / POLICY_FILE).write_text("allow_pickle_weights: true\n")
    assert import_model(context, folder, "pickled").view.ref == "pickled@v1"


def test_remote_code_is_refused_until_each_file_is_allowlisted(context, built: Path, tmp_path: Path) -> None:
    folder = copy_model(built, tmp_path / "remote")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_chatglm.py").write_text("print('runs when loaded')\n")
    (folder / "tokenization_chatglm.py").write_text("TOKENIZER = 1\n")
    digests = {
        name: sha256_file(folder / name) for name in ("modeling_chatglm.py", "tokenization_chatglm.py")
    }
    with pytest.raises(UnsafeModel) as error:
        import_model(context, folder, "glm3")
    text = str(error.value)
    assert all(f"{name} sha256 {digest}" in text for name, digest in digests.items())
    assert "remote_code_allowlist" in text and "docs/models.md" in text
    policy = context.workspace.root / POLICY_FILE
    policy.write_text(f"remote_code_allowlist:\n  - sha256: {digests['modeling_chatglm.py']}\n")
    with pytest.raises(UnsafeModel) as partly:  # one file approved is not enough
        import_model(context, folder, "glm3")
    assert "tokenization_chatglm.py" in str(partly.value) and "modeling_chatglm.py sha256" not in str(
        partly.value
    )
    policy.write_text(
        "remote_code_allowlist:\n"
        + "".join(f"  - sha256: {d}\n    file: {n}\n    approved_by: admin\n" for n, d in digests.items())
    )
    assert import_model(context, folder, "glm3").view.ref == "glm3@v1"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda f: (f / "model.safetensors").open("r+b").write(b"\x00\x01"),
            {"changed": ["model.safetensors"]},
        ),
        (lambda f: (f / "evil.py").write_text("import os"), {"added": ["evil.py"]}),
        (lambda f: (f / "chat_template.jinja").unlink(), {"removed": ["chat_template.jinja"]}),
    ],
)
def test_verify_names_exactly_the_file_that_changed(
    context, built: Path, tmp_path: Path, tamper, expected
) -> None:
    view = import_model(context, copy_model(built, tmp_path / "src"), "tampered").view
    assert verify_model(context, view.ref).ok
    tamper(context.workspace.root / view.path)
    result = verify_model(context, view.ref)
    assert not result.ok
    assert result.diff.as_dict() == {"changed": [], "added": [], "removed": [], **expected}
    actions = audit_actions(context)
    assert (
        actions.count(("model.verify", view.ref, "ok")) == 1
        and ("model.verify", view.ref, "error") in actions
    )


def test_remove_deletes_files_keeps_the_record_and_refuses_use(context, built: Path, tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    from stockade.models.store.resolve import resolve_model_version

    source = copy_model(built, tmp_path / "src")
    view = import_model(context, source, "gone").view
    with pytest.raises(StockadeError, match="say which version"):
        remove_model(context, "gone")
    from stockade.storage.model_tables import ModelVersion

    for stage in ("approved", "deployed"):  # servable versions are retired first
        with Session(context.engine) as session, session.begin():
            session.get(ModelVersion, view.id).stage = stage
        with pytest.raises(StockadeError, match=f"(?s)is {stage}.*registry retire gone@v1"):
            remove_model(context, "gone@v1")
    with Session(context.engine) as session, session.begin():
        session.get(ModelVersion, view.id).stage = "retired"
    removed = remove_model(context, "gone@v1", reason="superseded")
    assert removed.status == "removed" and not (context.workspace.root / view.path).exists()
    assert show_model(context, "gone@v1").manifest_sha256 == view.manifest_sha256
    with Session(context.engine) as session, pytest.raises(StockadeError) as error:
        resolve_model_version(session, "gone@v1")
    assert "was removed" in str(error.value) and "gone@v1 (removed)" in str(error.value)
    with Session(context.engine) as session, pytest.raises(StockadeError, match="no model version 'nope@v1'"):
        resolve_model_version(session, "nope@v1")
    assert ("model.remove", "gone@v1", "ok") in audit_actions(context)
    # an in-place import never has its (user-owned) folder deleted
    in_place = import_model(context, source, "kept", copy=False).view
    assert in_place.path == str(source.resolve())
    remove_model(context, "kept@v1")
    assert (source / "config.json").is_file()


def test_training_resolves_a_registered_version_and_refuses_broken_ones(
    context, built: Path, tmp_path: Path
) -> None:
    from stockade.core.specs import TrainSpec, load_spec
    from stockade.training.resolve import resolve_plan
    from tests.models.store_setup import import_dataset

    view = import_model(context, copy_model(built, tmp_path / "src"), "base").view
    dataset = import_dataset(context, tmp_path, "fin", rows=2)
    spec = load_spec(TrainSpec, data={"model": view.ref, "dataset": dataset, "template": "qwen"})
    root = context.workspace.root
    plan = resolve_plan(context.engine, root, False, spec)  # no dev mode needed for registered models
    assert plan.model_dir == root / view.path and plan.model_manifest_sha256 == view.manifest_sha256
    (root / view.path / "tokenizer.json").write_text("{}")
    with pytest.raises(StockadeError, match=r"no longer match its manifest \(changed: tokenizer.json\)"):
        resolve_plan(context.engine, root, False, spec)
    remove_model(context, view.ref)
    with pytest.raises(StockadeError, match="was removed"):
        resolve_plan(context.engine, root, False, spec)


@pytest.mark.parametrize(
    ("model_type", "config", "template"),
    [
        ("qwen2", {}, "qwen"),
        ("qwen3", {}, "qwen3"),
        ("llama", {"vocab_size": 128256}, "llama3"),
        ("llama", {"vocab_size": 32000}, "llama2"),
        ("glm4", {}, "glm4"),
        ("chatglm", {}, "chatglm3"),
        ("mistral", {}, "mistral"),
        ("gpt2", {}, None),
    ],
)
def test_suggested_templates(model_type: str, config: dict, template: str | None) -> None:
    assert suggest_template(model_type, config) == template


def test_a_folder_inside_its_own_store_folder_is_refused(context, built: Path) -> None:
    """The deployment guide copies weights to models/Qwen-7B by hand: importing that as Qwen-7B would
    stage the copy inside the source."""
    folder = copy_model(built, context.workspace.root / "models" / "Qwen-7B")
    with pytest.raises(StockadeError, match="where the store keeps Qwen-7B's versions"):
        import_model(context, folder, "Qwen-7B")
    assert import_model(context, folder, "qwen-7b-store").view.path == "models/qwen-7b-store/v1"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in built.iterdir())
