"""`stockade serve` and `stockade chat` as a user runs them: guide flags, dev mode, real auth, audit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import run_cli


def test_serve_takes_the_deployment_guides_flags(tiny_model_dir: Path) -> None:
    result = run_cli(
        "serve",
        "--dry-run",
        "--model_name_or_path",
        str(tiny_model_dir),
        "--template",
        "qwen",
        "--infer_backend",
        "vllm",
        "--port",
        "5000",
        "--max_batch_size",
        "4",
    )
    assert result.returncode == 0, result.stderr
    for line in (
        "infer_backend: vllm",
        "port: 5000",
        "host: 127.0.0.1",
        "max_batch_size: 4",
        "template: qwen",
    ):
        assert line in result.stdout


def test_a_folder_is_refused_outside_dev_mode(workspace_dir: Path, tiny_model_dir: Path) -> None:
    result = run_cli("-w", str(workspace_dir), "serve", "--model_name_or_path", str(tiny_model_dir))
    assert result.returncode == 3
    assert "dev mode" in result.stderr and "Traceback" not in result.stderr


def test_chat_one_shot_is_greedy_and_machine_readable(workspace_dir: Path, tiny_model_dir: Path) -> None:
    args = (
        "-w",
        str(workspace_dir),
        "chat",
        str(tiny_model_dir),
        "--dev",
        "--prompt",
        "解释债券违约风险",
        "--max-new-tokens",
        "6",
    )
    first, second = run_cli(*args, "--json"), run_cli(*args, "--json")
    assert first.returncode == 0, first.stderr
    reply = json.loads(first.stdout)
    assert reply["generated_tokens"] == 6 and reply["finish_reason"] == "length" and reply["text"]
    assert json.loads(second.stdout)["text"] == reply["text"]
    plain = run_cli(*args)
    assert plain.stdout.strip() == reply["text"].strip()


def test_chat_interactive_keeps_history_until_reset(workspace_dir: Path, tiny_model_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "stockade",
        "-w",
        str(workspace_dir),
        "chat",
        str(tiny_model_dir),
        "--dev",
        "--max-new-tokens",
        "4",
    ]
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    done = subprocess.run(
        command,
        input="你好\n/reset\n你好\n/exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    replies = [line for line in done.stdout.splitlines() if line.startswith("you> model> ")]
    assert "(history cleared)" in done.stdout and len(replies) == 2
    assert replies[0] == replies[1]  # after /reset the same question gets the same (greedy) answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_end_to_end_with_real_credentials_and_audit(workspace_dir: Path, tiny_model_dir: Path) -> None:
    from stockade.security.service import issue_credential
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace_dir) as context:
        token = issue_credential(context, kind="api_key", subject=context.actor.name, roles=["admin"]).token
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "STOCKADE_HOME"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stockade",
            "-w",
            str(workspace_dir),
            "serve",
            "--model_name_or_path",
            str(tiny_model_dir),
            "--dev",
            "--port",
            str(port),
            "--max_batch_size",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        body = {"inputs": "解释债券违约风险", "parameters": {"max_new_tokens": 5}}
        denied = httpx.post(f"{url}/generate", json=body)
        served = httpx.post(f"{url}/generate", json=body, headers={"Authorization": f"Bearer {token}"})
        assert denied.status_code == 401
        assert served.status_code == 200 and served.json()["generated_text"]
        assert served.headers["x-stockade-dev-mode"] == "unapproved-model"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    audit = run_cli("-w", str(workspace_dir), "audit", "tail", "-n", "50", "--json")
    records = [json.loads(line) for line in audit.stdout.splitlines() if line.strip()]
    actions = [r["action"] for r in records]
    assert {"serve.start", "serve.request", "serve.stop"} <= set(actions)
    request = next(r for r in records if r["action"] == "serve.request" and r["details"]["status"] == 200)
    assert request["details"]["generated_tokens"] == 5 and request["details"]["dev_mode"] is True
    start = next(r for r in records if r["action"] == "serve.start")
    assert start["details"]["dev_mode"] is True and start["reason"] == "dev mode: unapproved model"
    assert "解释" not in audit.stdout  # never the prompt
