"""`make demo`'s script runs end to end: init → users → model store → gated data → train (CPU proof) →
merge → eval → maker-checker approval → HTTPS serving with a token → audit verify."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from stockade.training.ddp_check import free_port
from tests.conftest import REPO, run_cli


def test_demo_script_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DEMO_WORKSPACE"] = str(tmp_path / "demo")
    env["COLUMNS"] = "200"
    env["DEMO_PORT"] = str(free_port())
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "new tokens: 8" in result.stdout
    assert "stored finance@v1: 3 records" in result.stdout
    assert "blocks it, nothing was imported" in result.stderr
    assert "110105199003072813" not in result.stdout + result.stderr  # never shown, even when found
    assert "<身份证号>" in result.stdout  # the preview shows the desensitized record
    assert "output: 'LPR是贷款市场报价利率，是银行贷款定价的主要参考。'" in result.stdout  # the CPU proof
    assert "finance-qwen@v1: submitted → approved" in result.stdout  # bob approved
    assert "alice (roles: trainer) may not do `registry.approve`" in result.stderr  # maker-checker
    assert "HTTP 401" in result.stdout  # no token, no answer
    assert '{"generated_text":' in result.stdout  # the deployment guide's curl body, over HTTPS
    assert '"content":"LPR是贷款市场报价利率，是银行贷款定价的主要参考。"' in result.stdout  # OpenAI route
    assert re.search(r"audit log intact: \d+ records, chain and head verified; \d+ signed", result.stdout)
    assert "Demo finished" in result.stdout

    # Done-when: verify passes on the demo workspace and names the record after any single edit.
    workspace = tmp_path / "demo"
    assert run_cli("-w", str(workspace), "audit", "verify").returncode == 0
    connection = sqlite3.connect(workspace / "stockade.db")
    connection.execute('UPDATE audit_records SET details=\'{"arch":"llama"}\' WHERE seq=2')
    connection.commit()
    connection.close()
    tampered = run_cli("-w", str(workspace), "audit", "verify")
    assert tampered.returncode == 1 and "record #2 was edited" in tampered.stdout
