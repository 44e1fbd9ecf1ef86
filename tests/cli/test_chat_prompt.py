"""`stockade chat --prompt-file FILE` and `--prompt -` (stdin): the prompt need not be in argv, where the
process list shows it (issue 14, item 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.models.store_setup import tiny_model

pytest.importorskip("torch")

BUILT: dict[str, Path] = {}
PROMPT = "解释债券违约风险"


@pytest.mark.slow
def test_the_prompt_can_come_from_a_file_or_stdin(workspace_dir: Path, tmp_path: Path) -> None:
    model = tiny_model(BUILT, tmp_path, "qwen2")
    common = ["-w", str(workspace_dir), "chat", str(model), "--dev", "--max-new-tokens", "4", "--json"]
    in_argv = run_cli(*common, "--prompt", PROMPT)
    assert in_argv.returncode == 0, in_argv.stderr
    expected = json.loads(in_argv.stdout)["text"]
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT, encoding="utf-8")
    from_file = run_cli(*common, "--prompt-file", str(prompt_file))
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["text"] == expected
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    from_stdin = subprocess.run(
        [sys.executable, "-m", "stockade", *common, "--prompt", "-"],
        input=PROMPT,
        capture_output=True,
        text=True,
        env={**env, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout)["text"] == expected
    both = run_cli(*common, "--prompt", PROMPT, "--prompt-file", str(prompt_file))
    assert both.returncode == 2 and "not both" in both.stderr
