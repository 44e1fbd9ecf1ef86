"""`stockade data preview`: records rendered with a template, trained text marked, tokens counted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_preview_renders_with_template(workspace_dir: Path, tmp_path: Path) -> None:
    from stockade.models.tiny import build_tiny_model

    model = build_tiny_model("qwen2", tmp_path / "tiny")
    source = tmp_path / "d.json"
    source.write_text(
        json.dumps([{"instruction": "解释债券违约风险", "input": "", "output": "违约即无法还本付息。"}])
    )
    assert run_cli("-w", str(workspace_dir), "data", "import", str(source), "--name", "f").returncode == 0
    result = run_cli(
        "-w", str(workspace_dir), "data", "preview", "f", "--model", str(model.path), "--template", "qwen"
    )
    assert result.returncode == 0, result.stderr
    assert "<|im_start|>user\n解释债券违约风险<|im_end|>" in result.stdout
    assert "template qwen" in result.stdout and "trained" in result.stdout
    wrong = run_cli(
        "-w", str(workspace_dir), "data", "preview", "f", "--model", str(model.path), "--template", "qwn"
    )
    assert wrong.returncode == 2 and "did you mean 'qwen'" in wrong.stderr
