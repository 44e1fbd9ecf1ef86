"""`stockade doctor`: statuses, exit code, and the offline checks inside a network namespace."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stockade.core import network
from stockade.workspace.doctor import Check, check_locale, check_native, exit_code
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


def test_doctor_says_whether_the_privacy_gate_runs_its_c_extension(
    workspace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from stockade.privacy.detectors import _segment  # noqa: F401
    except ImportError:
        pytest.skip("the optional C extension is not built here")
    checks = _by_name(json.loads(run_cli("-w", str(workspace_dir), "doctor", "--json").stdout))
    assert checks["privacy native code"]["status"] == "pass"
    monkeypatch.setenv("STOCKADE_NATIVE", "off")
    [check] = check_native()
    assert check.status == "warn" and "STOCKADE_NATIVE" in check.detail
    # as if not built: no module, and no attribute of the package left from the import above
    monkeypatch.setitem(sys.modules, "stockade.privacy.detectors._segment", None)
    monkeypatch.delattr(sys.modules["stockade.privacy.detectors"], "_segment")
    monkeypatch.delenv("STOCKADE_NATIVE")
    [check] = check_native()
    assert check.status == "warn" and "not built" in check.detail and "C compiler" in check.fix


def test_doctor_fails_on_disk_threshold(workspace_dir: Path) -> None:
    (workspace_dir / "stockade.yaml").write_text("min_free_disk_gb: 1000000000\n")
    result = run_cli("-w", str(workspace_dir), "doctor", "--json")
    assert result.returncode == 1
    assert _by_name(json.loads(result.stdout))["free disk"]["status"] == "fail"


def test_doctor_before_init_runs_the_machine_checks(tmp_path: Path) -> None:
    """Issue 15 item 15: before `init` the machine checks (disk, locale, GPU) still run, and only the
    workspace is to come (a warning with the command), so the exit code reflects the machine."""
    result = run_cli("-w", str(tmp_path / "none"), "doctor", "--json")
    checks = _by_name(json.loads(result.stdout))
    assert {"python", "GPU (NVML)", "UTF-8 locale", "egress guard", "free disk"} <= set(checks)
    assert (
        checks["free disk"]["status"] in ("pass", "fail") and str(tmp_path) in checks["free disk"]["detail"]
    )
    assert checks["workspace"]["status"] == "warn"
    assert checks["workspace"]["fix"].startswith(f"stockade init {tmp_path / 'none'}")
    expected = 1 if any(c["status"] == "fail" for c in checks.values()) else 0
    assert result.returncode == expected


def test_doctor_on_a_folder_that_init_would_refuse_fails_with_fix(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("someone else's")
    result = run_cli("-w", str(tmp_path / "other"), "doctor")
    assert result.returncode == 1 and "stockade init" in result.stdout


@pytest.mark.parametrize(
    ("driver", "built_for", "status"),
    [
        ((11, 7), "12.6", "fail"),  # the guide's CUDA 11.7 driver under torch 2.13's CUDA 12 build
        ((11, 7), "11.8", "pass"),  # minor version compatibility: an 11.x driver runs 11.8
        ((12, 2), "12.6", "pass"),
        ((12, 2), None, "warn"),  # a CPU build of torch on a GPU server
    ],
)
def test_cuda_driver_is_checked_against_the_torch_build_and_says_why(driver, built_for, status) -> None:
    from stockade.workspace.doctor import check_driver

    check = check_driver(driver, built_for)
    assert check.status == status, check
    if status != "pass":
        assert "PyTorch brings its own CUDA runtime" in check.fix and "driver" in check.fix


def test_no_gpu_advice_names_the_driver_not_a_cuda_toolkit(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockade.workspace.doctor import check_gpu

    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails: no driver
    (check,) = check_gpu()
    assert check.status == "warn" and "11.8" not in check.fix
    assert "no CUDA toolkit is needed" in check.fix and "CUDA 11.7" in check.fix


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


def test_a_gpu_server_gets_the_driver_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from stockade.workspace import doctor

    fake = SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlSystemGetDriverVersion=lambda: "515.105.01",
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda index: index,
        nvmlDeviceGetMemoryInfo=lambda handle: SimpleNamespace(total=80 * 2**30),
        nvmlDeviceGetName=lambda handle: "NVIDIA A100",
        nvmlSystemGetCudaDriverVersion_v2=lambda: 11070,
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(doctor, "torch_cuda_version", lambda: "12.6")
    gpu, driver = doctor.check_gpu()
    assert gpu.status == "pass" and "CUDA 11.7" in gpu.detail
    assert driver.status == "fail" and "PyTorch is built for CUDA 12.6" in driver.detail
