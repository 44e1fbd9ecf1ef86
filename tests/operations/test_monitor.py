"""`stockade monitor` and the GPU gauges of /metrics, with a fake NVML (a ``pynvml`` module standing in for
nvidia-ml-py's), a running-run row, and a loopback server exposing the product's own metrics."""

from __future__ import annotations

import json
import os
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stockade.operations import monitor
from stockade.serving.metrics import ServingMetrics
from tests.conftest import run_cli

GIB = 2**30
FAKE_NVML = """
from types import SimpleNamespace

NVML_TEMPERATURE_GPU = 0
SHUT = []


class NVMLError(Exception):
    pass


_DEVICES = [
    dict(name="NVIDIA H100 80GB HBM3", used=30 * 2**30, total=80 * 2**30, util=87, temp=64, power=412500,
         procs=[(PID, 29 * 2**30), (999999, None)]),
    dict(name=b"NVIDIA A10", used=2**30, total=24 * 2**30, util=0, temp=35, power=None, procs=[]),
]


def nvmlInit():
    if FAIL:
        raise NVMLError("Driver Not Loaded")


def nvmlShutdown():
    SHUT.append(1)


def nvmlDeviceGetCount():
    return len(_DEVICES)


def nvmlDeviceGetHandleByIndex(i):
    return _DEVICES[i]


def nvmlDeviceGetName(h):
    return h["name"]


def nvmlDeviceGetMemoryInfo(h):
    return SimpleNamespace(used=h["used"], total=h["total"], free=h["total"] - h["used"])


def nvmlDeviceGetUtilizationRates(h):
    return SimpleNamespace(gpu=h["util"], memory=10)


def nvmlDeviceGetTemperature(h, sensor):
    assert sensor == NVML_TEMPERATURE_GPU
    return h["temp"]


def nvmlDeviceGetPowerUsage(h):
    if h["power"] is None:
        raise NVMLError("Not Supported")
    return h["power"]


def nvmlDeviceGetComputeRunningProcesses(h):
    return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in h["procs"]]
"""


def fake_nvml(pid: int = 4242, fail: bool = False) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    exec(f"PID = {pid}\nFAIL = {fail}\n" + FAKE_NVML, module.__dict__)  # noqa: S102 (test's own text)
    return module


def write_fake_nvml(folder: Path, pid: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pynvml.py").write_text(f"PID = {pid}\nFAIL = False\n" + FAKE_NVML, encoding="utf-8")
    return folder


def test_gpu_readings_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", module)
    gpus = monitor.read_gpus()
    assert gpus is not None and len(gpus) == 2
    h100, a10 = gpus
    assert (h100.name, h100.memory_used_bytes, h100.memory_total_bytes) == (
        "NVIDIA H100 80GB HBM3",
        30 * GIB,
        80 * GIB,
    )
    assert (h100.utilization_percent, h100.temperature_c, h100.power_watts) == (87.0, 64.0, 412.5)
    assert [(p.pid, p.memory_bytes) for p in h100.processes] == [(4242, 29 * GIB), (999999, None)]
    assert a10.name == "NVIDIA A10" and a10.power_watts is None  # unsupported query: None, not a failure
    assert module.SHUT == [1]  # NVML shut down after reading


def test_without_nvml_nothing_is_read_or_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(fail=True))  # a package, no driver
    assert monitor.read_gpus() is None
    assert b"stockade_gpu_" not in ServingMetrics().render()
    monkeypatch.setitem(sys.modules, "pynvml", None)  # no package at all
    assert monitor.read_gpus() is None
    assert b"stockade_gpu_" not in ServingMetrics().render()


def test_metrics_export_gpu_gauges_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    metrics = ServingMetrics()  # registering reads no GPU; each scrape does
    samples = {
        (s.name, s.labels["gpu"]): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name.startswith("stockade_gpu_")
    }
    assert samples[("stockade_gpu_memory_used_bytes", "0")] == 30 * GIB
    assert samples[("stockade_gpu_memory_total_bytes", "1")] == 24 * GIB
    assert samples[("stockade_gpu_utilization_percent", "0")] == 87
    assert samples[("stockade_gpu_temperature_celsius", "1")] == 35
    assert samples[("stockade_gpu_power_watts", "0")] == 412.5
    assert ("stockade_gpu_power_watts", "1") not in samples  # not supported on that board
    assert b'name="NVIDIA A10"' in metrics.render()
    assert b"stockade_gpu_" not in ServingMetrics(gpus=False).render()


def test_server_rates_from_two_scrapes() -> None:
    metrics = ServingMetrics(gpus=False)
    before = monitor.parse_metrics(metrics.render().decode(), at=10.0)
    for seconds in (0.5, 1.5):
        metrics.e2e.observe(seconds)
        metrics.requests.labels(route="/generate", status="200").inc()
    metrics.requests.labels(route="/generate", status="401").inc()
    metrics.errors.labels(status="401").inc()
    metrics.generated_tokens_total.inc(40)
    now = monitor.parse_metrics(metrics.render().decode(), at=12.0)
    stats = monitor.server_stats("http://x", now, before)
    assert (stats.requests_total, stats.errors_total, stats.requests_per_s) == (3, 1, 1.5)
    assert stats.latency_s_recent == pytest.approx(1.0) and stats.generated_tokens_per_s == 20
    assert monitor.server_stats("http://x", now, None).requests_per_s is None


class MetricsServer:
    """A loopback HTTP server answering GET /metrics with a ServingMetrics registry behind a bearer token."""

    def __init__(self, metrics: ServingMetrics, token: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path == "/metrics" and self.headers.get("Authorization") == f"Bearer {token}"
                body = metrics.render() if ok else b"{}"
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _add_running_run(workspace: Path, run_id: str, pid: int) -> None:
    from sqlalchemy.orm import Session

    from stockade.storage.staging import host_tag
    from stockade.storage.tables import TrainingRun
    from stockade.workspace.service import open_workspace

    with open_workspace(workspace) as context, Session(context.engine) as session, session.begin():
        for status, name in (("running", run_id), ("succeeded", "run-done")):
            session.add(
                TrainingRun(
                    id=name,
                    created_at="2026-01-01T00:00:00Z",
                    created_by="alice",
                    status=status,
                    base_model="qwen-tiny@v1",
                    base_manifest_sha256="0" * 64,
                    datasets="[]",
                    spec=json.dumps({"num_train_epochs": 4.0, "max_steps": -1}),
                    environment="{}",
                    summary="{}",
                    path=f"runs/{name}",
                )
            )
    folder = workspace / "runs" / run_id
    folder.mkdir(parents=True)
    (folder / "process.json").write_text(json.dumps({"host": host_tag(), "pid": pid}))
    lines = [
        {"step": 10, "epoch": 0.5, "loss": 2.5, "tokens_per_s": 900.0},
        {"step": 20, "epoch": 1.0, "loss": 2.1234, "tokens_per_s": 1000.0},
    ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"step": 3')


def test_monitor_once_json(workspace_dir: Path, tmp_path: Path) -> None:
    pid = os.getpid()  # a live process: opening the workspace marks runs whose process is gone failed
    _add_running_run(workspace_dir, "run-live", pid)
    metrics = ServingMetrics(gpus=False)
    metrics.e2e.observe(0.25)
    metrics.requests.labels(route="/generate", status="200").inc()
    server = MetricsServer(metrics, "key-123")
    (tmp_path / "key").write_text("key-123\n")
    nvml = write_fake_nvml(tmp_path / "nvml", pid)
    env = {"PYTHONPATH": os.pathsep.join([str(nvml), os.environ.get("PYTHONPATH", "")])}
    try:
        result = run_cli(
            "-w",
            str(workspace_dir),
            "monitor",
            "--once",
            "--json",
            "--server",
            server.url,
            "--token-file",
            str(tmp_path / "key"),
            "--interval",
            "0.2",
            env=env,
        )
        refused = run_cli("-w", str(workspace_dir), "monitor", "--once", "--server", server.url, env=env)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    shot = json.loads(result.stdout)
    assert set(shot) == {"nvml", "gpus", "runs", "server"} and shot["nvml"] is True
    first = shot["gpus"][0]
    assert first["memory_used_bytes"] == 30 * GIB and first["power_watts"] == 412.5
    assert first["processes"][0] == {"pid": pid, "memory_bytes": 29 * GIB, "owner": "run run-live"}
    assert first["processes"][1]["owner"] is None
    [run] = shot["runs"]  # the succeeded run is not listed
    assert (run["id"], run["step"], run["epoch"], run["epochs"], run["progress"]) == (
        "run-live",
        20,
        1.0,
        4.0,
        0.25,
    )
    assert (run["loss"], run["tokens_per_s"], run["pid"]) == (2.1234, 1000.0, pid)
    assert shot["server"]["requests_total"] == 1 and shot["server"]["mean_latency_s"] == 0.25
    assert shot["server"]["requests_per_s"] == 0.0  # nothing happened between the two reads
    assert refused.returncode != 0 and "HTTP 401" in refused.stderr and "--token-file" in refused.stderr


def test_monitor_once_without_nvml_and_json_without_once(workspace_dir: Path, tmp_path: Path) -> None:
    nvml = tmp_path / "nvml"
    nvml.mkdir()
    (nvml / "pynvml.py").write_text("def nvmlInit():\n    raise OSError('no driver')\n")
    env = {"PYTHONPATH": str(nvml)}
    result = run_cli("-w", str(workspace_dir), "monitor", "--once", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"nvml": False, "gpus": [], "runs": [], "server": None}
    table = run_cli("-w", str(workspace_dir), "monitor", "--once", env=env)
    assert (
        table.returncode == 0 and "no NVML" in table.stdout and "no training run is running" in table.stdout
    )
    wrong = run_cli("-w", str(workspace_dir), "monitor", "--json", env=env)
    assert wrong.returncode != 0 and "--json needs --once" in wrong.stderr


def test_logs_tail_server_and_job(workspace_dir: Path) -> None:
    from stockade.api.access_log import access_logger, close_logger

    logger = access_logger(workspace_dir / "logs")
    for number in range(5):
        logger.info("access", extra={"access": {"request_id": f"id-{number}", "status": 200}})
    close_logger(logger)
    _add_running_run(workspace_dir, "run-live", os.getpid())
    server = run_cli("-w", str(workspace_dir), "logs", "tail", "--server", "-n", "2")
    assert server.returncode == 0, server.stderr
    assert [json.loads(line)["request_id"] for line in server.stdout.splitlines()] == ["id-3", "id-4"]
    job = run_cli("-w", str(workspace_dir), "logs", "tail", "--job", "run-live")
    assert job.returncode == 0, job.stderr
    assert [json.loads(line)["step"] for line in job.stdout.splitlines()[:2]] == [10, 20]
    both = run_cli("-w", str(workspace_dir), "logs", "tail", "--server", "--job", "run-live")
    assert both.returncode != 0 and "one of --server and --job" in both.stderr
    unknown = run_cli("-w", str(workspace_dir), "logs", "tail", "--job", "run-nope")
    assert unknown.returncode != 0 and "no training run 'run-nope'" in unknown.stderr


def test_follow_reads_appended_lines_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "server-access.log"
    path.write_text("old\n")
    assert monitor.last_lines(path, 5) == ["old"]
    assert monitor.last_lines(tmp_path / "absent.log", 5) == []
    seen: list[str] = []
    steps = iter(
        [
            lambda: path.open("a").write("one\ntw"),
            lambda: path.open("a").write("o\n"),
            lambda: (path.rename(tmp_path / "server-access.log.1"), path.write_text("three\n")),
            lambda: None,
        ]
    )

    def stop() -> bool:
        action = next(steps, None)
        if action is None:
            return True
        action()
        return False

    for line in monitor.follow(path, poll=0.01, stop=stop):
        seen.append(line)
    assert seen == ["one", "two", "three"]  # "old" was there before: not followed
