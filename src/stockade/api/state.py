"""What the routes share: the engine, how prompts are built, who may call, metrics and the audit trail."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from stockade.api.tokenizing import PromptWorkers
from stockade.security.principal import Authenticator
from stockade.security.ratelimit import RefusalTally
from stockade.serving.metrics import ServingMetrics
from stockade.serving.pii_guard import PiiGuard
from stockade.serving.protocol import Engine

DEV_HEADER = ("X-Stockade-Dev-Mode", "unapproved-model")
# refusals whose audit records are coalesced: 4xx, but not 451 (personal data blocked: each one is
# recorded with the types found) nor 499 (the client left)
COALESCED = frozenset(range(400, 499)) - {451}


@dataclass
class ServerState:
    engine: Engine
    template: Any  # a ChatTemplateLike
    model_id: str
    authenticator: Authenticator
    metrics: ServingMetrics = field(default_factory=ServingMetrics)
    audit: Any = None  # AuditWriter, or None (tests without a workspace)
    dev: bool = False
    draining: bool = False
    request_timeout: float | None = 300.0
    pii_guard: PiiGuard = field(default_factory=lambda: PiiGuard("off"))
    started: float = field(default_factory=time.time)
    prompt_workers: PromptWorkers = field(default_factory=PromptWorkers)
    refusals: RefusalTally = field(default_factory=RefusalTally)
    adapters: tuple[str, ...] = ()  # adapter versions served on the base, chosen per request

    @property
    def served_models(self) -> tuple[str, ...]:
        """What requests may name: the base, then its adapters."""
        return (self.model_id, *self.adapters)

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    def personal_data(self, request: Request) -> dict[str, Counter[str]]:
        """This request's counts of personal data by type, per direction (``prompt``, ``output``)."""
        counts = getattr(request.state, "personal_data", None)
        if counts is None:
            counts = request.state.personal_data = {"prompt": Counter(), "output": Counter()}
        return counts

    def account(
        self,
        request: Request,
        *,
        status: int,
        prompt_tokens: int = 0,
        generated_tokens: int = 0,
        end_user: str | None = None,
    ) -> None:
        """Count a finished call and queue its audit record (never the prompt or output). A request refused
        before generating (4xx) is recorded once a minute per address, credential, route and status, with
        ``refusals``: how many it stands for (a flood of refusals cannot flood the audit log). ``end_user``
        (OpenAI's ``user``) is recorded as a SHA-256 prefix, so one end user's calls can be traced
        without the identifier itself (it may be personal data) entering the audit log."""
        if getattr(request.state, "accounted", False):
            return
        request.state.accounted = True
        request.state.status = status  # for the access line (a stream's status once it has ended)
        request.state.tokens = (prompt_tokens, generated_tokens)
        route = request.url.path
        self.metrics.requests.labels(route=route, status=str(status)).inc()
        if status >= 400:
            self.metrics.errors.labels(status=str(status)).inc()
        found = self.personal_data(request)
        for direction, counts in found.items():
            for kind, count in counts.items():
                self.metrics.personal_data.labels(type=kind, direction=direction).inc(count)
        if self.audit is None:
            return
        refusals = 0
        principal = getattr(request.state, "principal", None)
        if status in COALESCED and not prompt_tokens and not generated_tokens:  # refused before generating
            client = request.client.host if request.client else ""
            caller = principal.credential_id if principal else None
            refusals = self.refusals.due((client, caller, request.url.path, status))
            if not refusals:
                return  # counted; the next record of this refusal carries the count
        guard: dict[str, object] = {}
        if self.pii_guard.output != "off" or self.pii_guard.prompts != "off":
            # counts by type only: never the values
            guard = {
                "pii_filter": self.pii_guard.output,
                "pii_filter_prompts": self.pii_guard.prompts,
                "pii_output": dict(found["output"]),
                "pii_prompt": dict(found["prompt"]),
            }
        started = getattr(request.state, "started", None)
        self.audit.record(
            "serve.request",
            self.model_id,
            result="ok" if status < 400 else "error",
            route=route,
            status=status,
            caller=principal.credential_id if principal else None,
            subject=principal.subject if principal else None,
            prompt_tokens=prompt_tokens,
            generated_tokens=generated_tokens,
            latency_ms=round((time.monotonic() - started) * 1000, 1) if started else None,
            request_id=getattr(request.state, "request_id", None),
            dev_mode=self.dev,
            **({"adapter": request.state.adapter} if getattr(request.state, "adapter", None) else {}),
            **guard,
            **({"end_user": _digest(end_user)} if end_user else {}),
            **({"refusals": refusals} if refusals else {}),
        )


def _digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
