"""What `stockade monitor` shows and `/metrics` exports: GPUs through NVML, the workspace's running training
runs with their progress, and a server's request rate and latency read from its ``/metrics``.

Read-only: nothing here changes state, so nothing is audited. NVML comes from ``nvidia-ml-py`` (the
``pynvml`` module); without it, or without an NVIDIA driver, :func:`read_gpus` returns None and the callers
show no GPU section (and export no GPU gauges) instead of failing.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stockade.core.errors import ConfigError

GIB = 2**30
ACCESS_FILE = (
    "server-access.log"  # the server's access log in the workspace's logs/ (stockade.api.access_log)
)


@dataclass
class GpuProcess:
    pid: int
    memory_bytes: int | None
    owner: str | None = None  # "run RUN_ID" when a running training run has this pid; else None


@dataclass
class GpuReading:
    index: int
    name: str
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    utilization_percent: float | None  # GPU busy, last sample period
    temperature_c: float | None
    power_watts: float | None
    processes: list[GpuProcess] = field(default_factory=list)


def _nvml() -> Any | None:
    """The initialised pynvml module, or None when there is no NVML (no package, no driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    return pynvml


def _maybe(call: Any, *args: Any) -> Any:
    """An NVML query a device may not support (power on some boards, processes in containers): None."""
    try:
        return call(*args)
    except Exception:
        return None


def read_gpus() -> list[GpuReading] | None:
    """One reading per GPU NVML sees; None when NVML is unavailable (an empty list: a driver, no GPU)."""
    nvml = _nvml()
    if nvml is None:
        return None
    try:
        readings = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(handle)
            memory = _maybe(nvml.nvmlDeviceGetMemoryInfo, handle)
            rates = _maybe(nvml.nvmlDeviceGetUtilizationRates, handle)
            temperature = _maybe(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
            milliwatts = _maybe(nvml.nvmlDeviceGetPowerUsage, handle)
            processes = _maybe(nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []
            readings.append(
                GpuReading(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_used_bytes=int(memory.used) if memory is not None else None,
                    memory_total_bytes=int(memory.total) if memory is not None else None,
                    utilization_percent=float(rates.gpu) if rates is not None else None,
                    temperature_c=float(temperature) if temperature is not None else None,
                    power_watts=milliwatts / 1000 if milliwatts is not None else None,
                    processes=[GpuProcess(int(p.pid), _process_memory(p)) for p in processes],
                )
            )
        return readings
    finally:
        _maybe(nvml.nvmlShutdown)


def _process_memory(process: Any) -> int | None:
    used = getattr(process, "usedGpuMemory", None)
    return int(used) if isinstance(used, int) else None  # NVML reports None where it cannot tell


@dataclass
class RunProgress:
    id: str
    created_by: str
    created_at: str
    base_model: str
    step: int | None
    epoch: float | None
    epochs: float | None  # the spec's num_train_epochs
    max_steps: int | None
    progress: float | None  # 0..1 from step/max_steps, else epoch/epochs
    loss: float | None
    tokens_per_s: float | None
    pid: int | None  # from the run folder's process.json, when the run is on this host


def running_runs(engine: Any, workspace_root: Path) -> list[RunProgress]:
    """The training runs whose status is ``running``, with the last line of their ``metrics.jsonl``."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from stockade.storage.tables import TrainingRun
    from stockade.training.metrics import METRICS_FILE, read_metrics

    out = []
    with Session(engine) as session:
        rows = session.scalars(
            select(TrainingRun).where(TrainingRun.status == "running").order_by(TrainingRun.created_at)
        ).all()
        for row in rows:
            try:
                spec = json.loads(row.spec or "{}")
            except json.JSONDecodeError:
                spec = {}
            run_dir = workspace_root / row.path
            metrics = run_dir / METRICS_FILE
            last = (read_metrics(metrics) or [{}])[-1] if metrics.is_file() else {}
            step, epoch = last.get("step"), last.get("epoch")
            max_steps = spec.get("max_steps") if (spec.get("max_steps") or 0) > 0 else None
            epochs = spec.get("num_train_epochs")
            progress = None
            if max_steps and step is not None:
                progress = min(1.0, step / max_steps)
            elif epochs and epoch is not None:
                progress = min(1.0, epoch / float(epochs))
            out.append(
                RunProgress(
                    id=row.id,
                    created_by=row.created_by,
                    created_at=row.created_at,
                    base_model=row.base_model,
                    step=step,
                    epoch=epoch,
                    epochs=epochs,
                    max_steps=max_steps,
                    progress=round(progress, 4) if progress is not None else None,
                    loss=last.get("loss"),
                    tokens_per_s=last.get("tokens_per_s"),
                    pid=_process_pid(run_dir),
                )
            )
    return out


def _process_pid(run_dir: Path) -> int | None:
    """The pid in the run folder's ``process.json`` (written by the run's process), when on this host."""
    from stockade.storage.staging import host_tag
    from stockade.training.runs import PROCESS_FILE

    try:
        process = json.loads((run_dir / PROCESS_FILE).read_text(encoding="utf-8"))
        return int(process["pid"]) if process.get("host") == host_tag() else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


@dataclass
class ServerSample:
    """Totals from one scrape of a server's ``/metrics``."""

    at: float
    requests: float
    errors: float
    latency_sum: float
    latency_count: float
    prompt_tokens: float
    generated_tokens: float
    running: float
    waiting: float


@dataclass
class ServerStats:
    url: str
    requests_total: float
    errors_total: float
    running: float
    waiting: float
    mean_latency_s: float | None  # over the server's lifetime
    requests_per_s: float | None  # between the two samples (None from a single one)
    latency_s_recent: float | None  # mean over the requests finished between the two samples
    generated_tokens_per_s: float | None


def parse_metrics(text: str, at: float | None = None) -> ServerSample:
    """The totals :class:`ServerStats` needs from a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + float(sample.value)
    return ServerSample(
        at=time.monotonic() if at is None else at,
        requests=values.get("stockade_requests_total", 0.0),
        errors=values.get("stockade_request_errors_total", 0.0),
        latency_sum=values.get("stockade_e2e_request_latency_seconds_sum", 0.0),
        latency_count=values.get("stockade_e2e_request_latency_seconds_count", 0.0),
        prompt_tokens=values.get("stockade_prompt_tokens_total", 0.0),
        generated_tokens=values.get("stockade_generated_tokens_total", 0.0),
        running=values.get("stockade_running_requests", 0.0),
        waiting=values.get("stockade_waiting_requests", 0.0),
    )


def server_stats(url: str, now: ServerSample, before: ServerSample | None) -> ServerStats:
    """Rates between ``before`` and ``now`` (two scrapes of the same server)."""
    rate = recent = tokens = None
    if before is not None and now.at > before.at:
        seconds = now.at - before.at
        rate = max(0.0, now.requests - before.requests) / seconds
        tokens = max(0.0, now.generated_tokens - before.generated_tokens) / seconds
        finished = now.latency_count - before.latency_count
        recent = (now.latency_sum - before.latency_sum) / finished if finished > 0 else None
    mean = now.latency_sum / now.latency_count if now.latency_count else None
    return ServerStats(
        url=url,
        requests_total=now.requests,
        errors_total=now.errors,
        running=now.running,
        waiting=now.waiting,
        mean_latency_s=mean,
        requests_per_s=rate,
        latency_s_recent=recent,
        generated_tokens_per_s=tokens,
    )


def scrape(url: str, token: str | None, *, timeout: float = 5.0) -> ServerSample:
    """GET ``URL/metrics`` (a bearer ``token``: /metrics needs a credential)."""
    import httpx

    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(
            f"server URL {url!r} has no scheme", where="--server", fix="e.g. http://127.0.0.1:5000"
        )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{base}/metrics", headers=headers, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"could not read {base}/metrics: {exc.__class__.__name__}",
            where="--server",
            fix="check that `stockade serve` runs at that address",
        ) from exc
    if response.status_code != 200:
        raise ConfigError(
            f"{base}/metrics answered HTTP {response.status_code}",
            where="--server",
            fix="pass a credential allowed to read metrics: --token-file FILE (an API key)"
            if response.status_code in (401, 403)
            else "check the server's address",
        )
    return parse_metrics(response.text)


@dataclass
class Snapshot:
    gpus: list[GpuReading] | None
    runs: list[RunProgress]
    server: ServerStats | None
    nvml: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "nvml": self.gpus is not None,
            "gpus": [asdict(g) for g in self.gpus] if self.gpus is not None else [],
            "runs": [asdict(r) for r in self.runs],
            "server": _finite(asdict(self.server)) if self.server is not None else None,
        }


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def snapshot(engine: Any, workspace_root: Path, server: ServerStats | None = None) -> Snapshot:
    """GPUs, running runs (their owners marked on the GPU processes) and the server's figures."""
    gpus = read_gpus()
    runs = running_runs(engine, workspace_root)
    owners = {run.pid: f"run {run.id}" for run in runs if run.pid is not None}
    for gpu in gpus or []:
        for process in gpu.processes:
            process.owner = owners.get(process.pid)
    return Snapshot(gpus=gpus, runs=runs, server=server)


__all__ = [
    "GpuReading",
    "RunProgress",
    "ServerStats",
    "Snapshot",
    "parse_metrics",
    "read_gpus",
    "running_runs",
    "scrape",
    "server_stats",
    "snapshot",
]


# --- `stockade logs tail` -------------------------------------------------------------------------------


def log_file(workspace_root: Path, engine: Any, *, server: bool, run_id: str | None) -> Path:
    """The file `stockade logs tail` reads: the server's access log, or a run's ``metrics.jsonl`` (one JSON
    line per logged step: the run's own log)."""
    from sqlalchemy.orm import Session

    from stockade.storage.tables import TrainingRun
    from stockade.training.metrics import METRICS_FILE

    if server == (run_id is not None):
        raise ConfigError(
            "give one of --server and --job RUN_ID", where="stockade logs tail", fix="e.g. --server"
        )
    if server:
        return workspace_root / "logs" / ACCESS_FILE
    with Session(engine) as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise ConfigError(
                f"no training run {run_id!r}", where="--job", fix="list them with `stockade runs list`"
            )
        return workspace_root / row.path / METRICS_FILE


def last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` complete lines of ``path`` (none when it does not exist yet)."""
    if count <= 0 or not path.is_file():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def follow(path: Path, *, poll: float = 0.5, stop: Any = None) -> Any:
    """Yield the lines appended to ``path`` from now on, until ``stop()`` is true. A rotated file (a new one
    at the same name) or a truncated one is read again from its start; a torn last line waits for its
    newline."""
    handle = None
    inode = None
    partial = ""

    def reopen(from_end: bool) -> None:
        nonlocal handle, inode, partial
        if handle is not None:
            handle.close()
        handle, inode, partial = None, None, ""
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 (kept across polls)
        except FileNotFoundError:
            return
        inode = os.fstat(handle.fileno()).st_ino
        if from_end:
            handle.seek(0, os.SEEK_END)

    reopen(from_end=True)
    try:
        while stop is None or not stop():
            if handle is not None:
                chunk = handle.read()
                if chunk:
                    partial += chunk
                    *complete, partial = partial.split("\n")
                    yield from complete
                    continue
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and (
                handle is None or current.st_ino != inode or current.st_size < handle.tell()
            ):
                reopen(from_end=False)  # created, rotated or truncated: the new file from its start
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()
