"""Prometheus metrics of the server, on a private registry (``GET /metrics`` renders it)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class ServingMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
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
