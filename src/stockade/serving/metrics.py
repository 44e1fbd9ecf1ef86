"""Prometheus metrics of the server, on a private registry (``GET /metrics`` renders it).

With NVML present (an NVIDIA driver and ``nvidia-ml-py``), each scrape also reads every GPU: memory used
and total, utilisation, temperature and power, labelled by device index and name. Without NVML those
gauges are simply absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class ServingMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, gpus: bool = True) -> None:
        """``gpus``: export the GPU gauges when NVML is present (read at each scrape)."""
        self.registry = registry = CollectorRegistry(auto_describe=True)
        if gpus:
            registry.register(GpuCollector())
        self.ttft = Histogram(
            "stockade_time_to_first_token_seconds",
            "Arrival to first token.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.inter_token = Histogram(
            "stockade_inter_token_latency_seconds",
            "Between consecutive tokens.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.e2e = Histogram(
            "stockade_e2e_request_latency_seconds",
            "Arrival to last token.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue = Histogram(
            "stockade_queue_time_seconds",
            "Waiting for a batch slot.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.prompt_tokens = Histogram(
            "stockade_request_prompt_tokens",
            "Prompt tokens per request.",
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.generated_tokens = Histogram(
            "stockade_request_generated_tokens",
            "Generated tokens per request.",
            buckets=TOKEN_BUCKETS,
            registry=registry,
        )
        self.prompt_tokens_total = Counter(
            "stockade_prompt_tokens_total", "Prompt tokens.", registry=registry
        )
        self.generated_tokens_total = Counter(
            "stockade_generated_tokens_total", "Generated tokens.", registry=registry
        )
        self.requests = Counter(
            "stockade_requests_total",
            "Finished requests by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.errors = Counter(
            "stockade_request_errors_total", "Errors by HTTP status.", ["status"], registry=registry
        )
        self.personal_data = Counter(
            "stockade_pii_detected_total",
            "Personal data found by the serving guard, by type and direction (prompt | output).",
            ["type", "direction"],
            registry=registry,
        )
        self.running = Gauge("stockade_running_requests", "Requests in the running batch.", registry=registry)
        self.waiting = Gauge("stockade_waiting_requests", "Requests waiting for a slot.", registry=registry)

    def watch(self, running: Callable[[], float], waiting: Callable[[], float]) -> None:
        """Read the running/waiting gauges from the engine at scrape time."""
        self.running.set_function(running)
        self.waiting.set_function(waiting)

    def render(self) -> bytes:
        return generate_latest(self.registry)


GPU_GAUGES = (
    ("stockade_gpu_memory_used_bytes", "GPU memory in use (NVML), by device.", "memory_used_bytes"),
    ("stockade_gpu_memory_total_bytes", "GPU memory in all (NVML), by device.", "memory_total_bytes"),
    (
        "stockade_gpu_utilization_percent",
        "GPU busy over the last sample period (NVML).",
        "utilization_percent",
    ),
    ("stockade_gpu_temperature_celsius", "GPU core temperature (NVML).", "temperature_c"),
    ("stockade_gpu_power_watts", "GPU power draw (NVML).", "power_watts"),
)


class GpuCollector:
    """Per-device GPU gauges read through NVML at scrape time; nothing when NVML is absent."""

    def describe(self) -> list[Any]:
        return []  # no NVML call at registration; the families exist only where NVML does

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from stockade.operations.monitor import read_gpus

        gpus = read_gpus()
        if not gpus:
            return
        for name, help_text, attribute in GPU_GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=["gpu", "name"])
            for gpu in gpus:
                value = getattr(gpu, attribute)
                if value is not None:  # a query this board does not support: no sample
                    family.add_metric([str(gpu.index), gpu.name], float(value))
            yield family
