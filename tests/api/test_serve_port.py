"""A second `stockade serve` on a taken port: refused before the model loads, with a clear message and
a failed `serve.start` audit record (never "serving … on :PORT" followed by a raw [Errno 98])."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from stockade.api.server import PortUnavailable, bind_listener
from stockade.workspace.service import open_workspace
from tests.conftest import run_cli


def test_serve_on_a_taken_port_fails_before_loading(workspace_dir: Path, tiny_model_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli(
            "-w", str(workspace_dir), "serve", "--dev", "--model_name_or_path", str(tiny_model_dir),
            "--port", str(port),
        )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "serving" not in result.stdout and "Traceback" not in result.stderr
    assert "Errno" not in result.stderr
    assert f"port {port} is already in use" in result.stderr and "--port" in result.stderr
    with open_workspace(workspace_dir) as context:
        records = [r for r in context.audit.records() if r.action.startswith("serve.")]
    assert [(r.action, r.result) for r in records] == [("serve.start", "error")]
    assert json.loads(records[0].details)["port"] == port and "in use" in (records[0].reason or "")


def test_bind_listener_holds_the_port_it_checked() -> None:
    sock = bind_listener("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(PortUnavailable, match="already in use") as refused:
            bind_listener("127.0.0.1", port)
        assert refused.value.fix and "--port" in refused.value.fix
    finally:
        sock.close()
    bind_listener("127.0.0.1", port).close()  # free again once closed
