"""`stockade model import | list | show | verify | rm` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.models.store_setup import copy_model, tiny_model

pytest.importorskip("torch")

BUILT: dict[str, Path] = {}


def _cli(workspace: Path, *args: str):
    return run_cli("-w", str(workspace), *args)


def test_model_commands_end_to_end(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    source = copy_model(tiny_model(BUILT, tmp_path, "glm4"), tmp_path / "GLM-4-tiny")

    imported = _cli(workspace, "model", "import", str(source), "--name", "glm4-tiny", "--tag", "pilot")
    assert imported.returncode == 0, imported.stderr
    assert "registered glm4-tiny@v1: Glm4ForCausalLM, suggested template glm4" in imported.stdout
    assert "hashing" in imported.stdout and "copying" in imported.stdout  # the progress bars

    listed = json.loads(_cli(workspace, "model", "list", "--json").stdout)
    assert [(v["ref"], v["kind"], v["stage"], v["tags"]) for v in listed] == [
        ("glm4-tiny@v1", "base", "draft", ["pilot"])
    ]
    shown = json.loads(_cli(workspace, "model", "show", "glm4-tiny").stdout)
    assert shown["lineage"]["source"] == str(source) and len(shown["manifest"]["files"]) == 6

    assert _cli(workspace, "model", "verify", "glm4-tiny@v1").returncode == 0
    (workspace / "models/glm4-tiny/v1/config.json").write_text("{}")
    verified = _cli(workspace, "model", "verify", "glm4-tiny@v1")
    assert verified.returncode == 1 and "changed  config.json" in verified.stdout

    bin_only = copy_model(source, tmp_path / "bin-only")
    (bin_only / "model.safetensors").rename(bin_only / "pytorch_model.bin")
    refused = _cli(workspace, "model", "import", str(bin_only), "--name", "pickled")
    assert (
        refused.returncode == 2
        and "How to fix" in refused.stderr
        and "allow_pickle_weights" in refused.stderr
    )
    assert "Traceback" not in refused.stderr

    removed = _cli(workspace, "model", "rm", "glm4-tiny@v1", "--reason", "test")
    assert removed.returncode == 0 and not (workspace / "models/glm4-tiny/v1").exists()
    missing = _cli(workspace, "model", "show", "other@v3")
    assert missing.returncode == 2 and "glm4-tiny@v1 (removed)" in missing.stderr


@pytest.mark.parametrize("given", ["Qwen/Qwen-7B", "https://huggingface.co/Qwen/Qwen-7B"])
def test_import_of_a_hub_id_explains_as_train_and_serve_do(tmp_path: Path, given: str) -> None:
    # issue 15 item 1: it said only "not a folder"
    workspace = tmp_path / "ws"
    assert run_cli("init", str(workspace)).returncode == 0
    result = run_cli("-w", str(workspace), "model", "import", given, "--name", "qwen", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{given!r} is not a folder on this machine" in result.stderr
    assert "Stockade never downloads" in result.stderr
    assert "copy the model folder onto this machine" in result.stderr
    assert "stockade model import /path/to/Qwen-7B --name qwen-7b" in result.stderr
