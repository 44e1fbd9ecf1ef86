"""`stockade doctor`: statuses, exit code, and the offline checks inside a network namespace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.core import network
from stockade.workspace.doctor import Check, check_locale, exit_code
from tests.conftest import REPO, run_cli


def _by_name(checks: list[dict]) -> dict[str, dict]:
    return {check["name"]: check for check in checks}


def test_doctor_on_a_workspace(workspace_dir: Path) -> None:
    result = run_cli("-w", str(workspace_dir), "doctor", "--json")
    checks = _by_name(json.loads(result.stdout))
    assert checks["egress guard"]["status"] == "pass"
    assert checks["database"]["status"] == "pass" and "sqlite" in checks["database"]["detail"]
    assert checks["audit chain"]["status"] == "pass"
    assert checks["writable"]["status"] == "pass"
    assert checks["permissions"]["status"] == "pass"
    expected = 1 if any(c["status"] == "fail" for c in checks.values()) else 0
    assert result.returncode == expected


def test_doctor_fails_on_disk_threshold(workspace_dir: Path) -> None:
    (workspace_dir / "stockade.yaml").write_text("min_free_disk_gb: 1000000000\n")
    result = run_cli("-w", str(workspace_dir), "doctor", "--json")
    assert result.returncode == 1
    assert _by_name(json.loads(result.stdout))["free disk"]["status"] == "fail"


def test_doctor_without_workspace_fails_with_fix(tmp_path: Path) -> None:
    result = run_cli("-w", str(tmp_path / "none"), "doctor")
    assert result.returncode == 1 and "stockade init" in result.stdout


def test_locale_warning_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockade.core import environment

    monkeypatch.setattr(
        environment, "locale_settings", lambda: {"LANG": "C", "preferred_encoding": "ANSI_X3.4-1968"}
    )
    (check,) = check_locale()
    assert check.status == "warn" and "zh_CN.UTF-8" in check.fix


def test_exit_code() -> None:
    assert exit_code([Check("a", "b", "pass", ""), Check("a", "c", "warn", "")]) == 0
    assert exit_code([Check("a", "b", "fail", "")]) == 1


def test_default_route_parsing(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text("Iface\tDestination\tGateway\n eth0\t00000000\t0101A8C0\nlo\t0000007F\t00000000\n")
    route6 = tmp_path / "route6"
    route6.write_text(f"{'0' * 32} 00 {'0' * 32} 00 {'0' * 32} 00000400 00000001 00000000 00000003 eth1\n")
    assert network.default_routes(route, route6) == ["eth0 (IPv4)", "eth1 (IPv6)"]
    route.write_text("Iface\tDestination\n")
    route6.write_text("")
    assert network.default_routes(route, route6) == []


def _unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


needs_netns = pytest.mark.skipif(not _unshare_available(), reason="unshare -n is not permitted here")


@needs_netns
def test_doctor_offline_checks_pass_inside_a_network_namespace(workspace_dir: Path) -> None:
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "stockade", "-w", str(workspace_dir), "doctor", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    checks = json.loads(result.stdout)
    offline_checks = [c for c in checks if c["group"] == "offline"]
    assert {c["name"] for c in offline_checks} == {"egress guard", "proxy variables", "default route"}
    assert all(c["status"] == "pass" for c in offline_checks), offline_checks
    assert _by_name(checks)["database"]["status"] == "pass"


GUARD_SCRIPT = """
import socket, sys
from stockade.core import offline
from stockade.core.errors import EgressBlocked
offline.activate()
# loopback works: a real server and client on 127.0.0.1 inside the namespace
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
client = socket.create_connection(("127.0.0.1", port), timeout=2)
client.close(); server.close()
for target in [("10.20.30.40", 443), ("huggingface.co", 443)]:
    try:
        socket.create_connection(target, timeout=2)
    except EgressBlocked as exc:
        print("blocked", exc.address, exc.module)
    else:
        sys.exit("not blocked: %r" % (target,))
"""


@needs_netns
def test_guard_end_to_end_in_a_network_namespace() -> None:
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {sys.executable} -c '{GUARD_SCRIPT}'"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.rsplit(":", 1)[0] for line in lines] == [
        "blocked 10.20.30.40:443 __main__",
        "blocked huggingface.co:443 __main__",
    ]


@needs_netns
def test_blocked_egress_is_recorded_in_the_audit_log(workspace_dir: Path) -> None:
    script = (
        "import socket\n"
        "from stockade.workspace.service import open_workspace\n"
        f"context = open_workspace(__import__('pathlib').Path({str(workspace_dir)!r}))\n"
        "try:\n    socket.create_connection(('10.1.2.3', 80), timeout=1)\n"
        "except ConnectionError:\n    pass\n"
        "context.close()\n"
    )
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    tail = run_cli("-w", str(workspace_dir), "audit", "tail", "--json")
    last = json.loads(tail.stdout.splitlines()[-1])
    assert (
        last["action"] == "egress.blocked" and last["target"] == "10.1.2.3:80" and last["result"] == "denied"
    )
    assert last["details"]["module"].startswith("__main__")
