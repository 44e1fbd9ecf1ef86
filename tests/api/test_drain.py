"""SIGTERM: the in-flight request completes, new connections are refused, the process exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.serving.helpers import TOKEN

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_drains_then_exits_zero(tiny_model_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.api.drain_server", str(tiny_model_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("READY"), line + process.stderr.read()
        url = f"http://127.0.0.1:{line.split()[1]}"
        first_token = threading.Event()
        result: dict = {}

        def stream() -> None:
            body = {"inputs": "解释债券违约风险", "parameters": {"max_new_tokens": 300}}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            events = []
            with httpx.stream(
                "POST", f"{url}/generate_stream", json=body, headers=headers, timeout=60
            ) as response:
                for text in response.iter_lines():
                    if text.startswith("data:"):
                        events.append(json.loads(text[5:]))
                        first_token.set()
            result["events"] = events

        client = threading.Thread(target=stream)
        client.start()
        assert first_token.wait(30)
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        refused = False
        while time.monotonic() < deadline and not refused:
            try:
                httpx.get(f"{url}/health", timeout=1)
                time.sleep(0.05)
            except httpx.TransportError:
                refused = True
        assert refused, "new connections were still accepted while draining"
        client.join(60)
        events = result["events"]
        assert len(events) == 300 and events[-1]["details"]["finish_reason"] == "length"
        assert process.wait(30) == 0
        assert "EXITED drained=True" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
