"""Model bundles: packed on the outside with the model store's own manifest, verified by
`stockade model import BUNDLE` before anything is copied or registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockade.core.errors import StockadeError
from stockade.models.store.manifest import build_manifest
from stockade.operations.model_bundle import open_model_bundle, pack_model
from stockade.operations.signing import generate_key_pair
from tests.conftest import run_cli
from tests.operations.backup_setup import fake_model


@pytest.fixture
def signed_bundle(tmp_path: Path) -> tuple[Path, Path]:
    generate_key_pair(tmp_path / "org.key")
    model = fake_model(tmp_path / "qwen-tiny")
    packed = pack_model(model, tmp_path / "bundle", sign_key=tmp_path / "org.key")
    assert packed.manifest_sha256 == build_manifest(model).sha256  # the store's own manifest hash
    return packed.folder, tmp_path / "org.key.pub"


def _models(workspace: Path) -> list[dict]:
    listed = run_cli("-w", str(workspace), "model", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_model_bundle_round_trip_registers_the_bundles_manifest(
    signed_bundle: tuple[Path, Path], workspace_dir: Path
) -> None:
    bundle, public = signed_bundle
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["kind"] == "model" and manifest["model"]["architecture"] == "Qwen2ForCausalLM"
    assert {f["path"] for f in manifest["files"]} == {
        "model/config.json", "model/model.safetensors", "model/tokenizer.json", "model/tokenizer_config.json"
    }  # fmt: skip
    result = run_cli(
        "-w",
        str(workspace_dir),
        "model",
        "import",
        str(bundle),
        "--name",
        "tiny",
        "--trusted-key",
        str(public),
    )
    assert result.returncode == 0, result.stderr
    assert "bundle verified: 4 files, signed by" in result.stdout and "registered" in result.stdout
    [view] = _models(workspace_dir)
    assert view["manifest_sha256"] == manifest["model"]["manifest_sha256"]


def test_a_tampered_model_bundle_is_refused_and_nothing_registered(
    signed_bundle: tuple[Path, Path], workspace_dir: Path
) -> None:
    bundle, public = signed_bundle
    weights = bundle / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")  # one byte of the weights
    result = run_cli(
        "-w",
        str(workspace_dir),
        "model",
        "import",
        str(bundle),
        "--name",
        "tiny",
        "--trusted-key",
        str(public),
    )
    assert result.returncode == 3, result.stderr
    assert "changed: model/model.safetensors" in result.stderr
    assert _models(workspace_dir) == []


def test_model_import_of_a_bundle_needs_a_key_or_says_unsigned(
    signed_bundle: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, public = signed_bundle
    with pytest.raises(StockadeError, match="no trusted key"):
        open_model_bundle(bundle, trusted_key=None, allow_unsigned=False)
    generate_key_pair(tmp_path / "other.key")
    with pytest.raises(StockadeError, match="not by the trusted key"):
        open_model_bundle(bundle, trusted_key=tmp_path / "other.key.pub", allow_unsigned=False)
    assert open_model_bundle(bundle, trusted_key=public, allow_unsigned=False).signed_by
    # the options mean nothing for a plain folder, so they are refused there, not ignored
    plain = run_cli("model", "import", str(bundle / "model"), "--name", "x", "--allow-unsigned")
    assert plain.returncode == 1 and "apply to model bundles only" in plain.stderr


def test_files_changed_between_verify_and_copy_are_refused(
    signed_bundle: tuple[Path, Path], workspace_dir: Path
) -> None:
    """The store re-hashes what it copies and compares with the verified bundle's manifest hash."""
    from stockade.models.store.service import import_model, list_models
    from stockade.workspace.service import open_workspace

    bundle, _ = signed_bundle
    packed = open_model_bundle(bundle, trusted_key=None, allow_unsigned=True)
    (packed.model_folder / "tokenizer.json").write_text('{"changed": true}')
    with open_workspace(workspace_dir) as context:
        with pytest.raises(StockadeError, match="not to the bundle's"):
            import_model(
                context, packed.model_folder, "tiny", expected_manifest_sha256=packed.manifest_sha256
            )
        assert list_models(context) == []


def test_an_install_bundle_is_not_a_model_bundle(tmp_path: Path) -> None:
    from tests.operations.bundle_setup import fake_wheelhouse

    with pytest.raises(StockadeError, match="not a model bundle"):
        open_model_bundle(fake_wheelhouse(tmp_path / "b"), trusted_key=None, allow_unsigned=True)


def test_bundle_model_command_packs_and_refuses_an_incomplete_folder(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "m")
    result = run_cli("bundle", "model", str(model), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "model bundle written" in result.stdout and "unsigned" in result.stdout
    (model / "tokenizer.json").unlink()
    refused = run_cli("bundle", "model", str(model), "--out", str(tmp_path / "out2"))
    assert refused.returncode != 0 and "tokenizer" in refused.stderr and not (tmp_path / "out2").exists()
