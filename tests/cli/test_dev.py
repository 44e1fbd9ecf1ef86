"""`stockade dev tiny-model | generate` through the CLI, with the audit record it leaves."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_tiny_model_is_recorded_and_generates(workspace_dir: Path) -> None:
    out = workspace_dir / "models" / "tiny-llama"
    built = run_cli("-w", str(workspace_dir), "dev", "tiny-model", "--arch", "llama", "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "Built tiny llama model" in built.stdout
    tail = run_cli("-w", str(workspace_dir), "audit", "tail", "--json")
    record = json.loads(tail.stdout.splitlines()[-1])
    assert record["action"] == "model.tiny.build" and record["target"] == str(out.resolve())
    assert record["details"]["arch"] == "llama" and len(record["details"]["weights_sha256"]) == 64
    generated = run_cli("dev", "generate", "--model", str(out), "--max-new-tokens", "4")
    assert generated.returncode == 0, generated.stderr
    assert "new tokens: 4" in generated.stdout


def test_tiny_model_errors_are_clear(tmp_path: Path) -> None:
    unknown = run_cli("dev", "tiny-model", "--arch", "qwen", "--out", str(tmp_path / "m"))
    assert unknown.returncode == 2 and "did you mean" in unknown.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    full = run_cli("dev", "tiny-model", "--arch", "qwen2", "--out", str(tmp_path / "full"))
    assert full.returncode == 1 and "not empty" in full.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_generate_refuses_a_folder_without_a_model(tmp_path: Path) -> None:
    result = run_cli("dev", "generate", "--model", str(tmp_path))
    assert result.returncode == 2 and "config.json" in result.stderr and "dev tiny-model" in result.stderr
