"""The app factory: routes, error shapes, authentication on every route but ``/health``, dev-mode header."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from stockade import __version__
from stockade.api.access_log import AccessLog
from stockade.api.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_validation_error,
    render_refusal,
)
from stockade.api.prompt_limits import OversizedBodyGuard
from stockade.api.routes import completions, meta, openai, tgi
from stockade.api.state import DEV_HEADER, ServerState
from stockade.api.tokenizing import PromptWorkers
from stockade.core.errors import StockadeError
from stockade.security.principal import Authenticator
from stockade.serving.metrics import ServingMetrics
from stockade.serving.pii_guard import PiiGuard
from stockade.serving.protocol import Engine


def create_app(
    engine: Engine,
    *,
    authenticator: Authenticator,
    template: Any,
    model_id: str,
    dev: bool = False,
    audit: Any = None,
    metrics: ServingMetrics | None = None,
    request_timeout: float | None = 300.0,
    pii_guard: PiiGuard | None = None,
    middleware: list[tuple[type, dict[str, Any]]] | None = None,
    prompt_workers: PromptWorkers | None = None,
    access_log: logging.Logger | None = None,
) -> FastAPI:
    """The serving API over ``engine``. ``authenticator`` is required: there is no way to switch it off.

    ``middleware``: ASGI middleware as (class, kwargs), each added around the previous ones (the security
    layer's allowlist, rate and body limits). ``dev``: every response carries ``X-Stockade-Dev-Mode``.
    ``pii_guard``: the privacy detectors over responses (and prompts); None means off (tests).
    ``prompt_workers``: the threads that filter, template and tokenise prompts (default: 4, one per
    credential at a time).
    ``access_log``: where each request's access line goes (:mod:`stockade.api.access_log`); None writes
    none. Every response carries ``X-Request-Id`` either way.
    """
    if authenticator is None:
        raise StockadeError(
            "the API needs an authenticator", fix="pass authenticator=...; there is no anonymous mode"
        )
    metrics = metrics or ServingMetrics()
    counters = engine.counters
    metrics.watch(lambda: counters().running, lambda: counters().waiting)
    # No public schema or docs pages: every route but /health needs a credential (meta.py serves
    # /openapi.json behind the authenticator).
    app = FastAPI(
        title="Stockade serving API", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.served = ServerState(
        engine=engine,
        template=template,
        model_id=model_id,
        authenticator=authenticator,
        metrics=metrics,
        audit=audit,
        dev=dev,
        request_timeout=request_timeout,
        pii_guard=pii_guard or PiiGuard("off"),
        prompt_workers=prompt_workers or PromptWorkers(),
        adapters=tuple(getattr(engine, "adapters", ())),
    )
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    for error in (ApiError, StockadeError, Exception):
        app.add_exception_handler(error, handle_api_error)
    app.include_router(meta.router)
    app.include_router(tgi.router)
    app.include_router(openai.router)
    app.include_router(completions.router)
    # innermost: behind the allowlist and the address rate limit, before the body is read
    app.add_middleware(OversizedBodyGuard, served=app.state.served)
    for cls, kwargs in middleware or []:
        if getattr(cls, "renders_errors", False):  # its refusals in this API's error shapes
            kwargs = {"render_error": render_refusal, **kwargs}
        app.add_middleware(cls, **kwargs)
    if dev:  # outermost, so that the security layer's own refusals carry it too
        app.add_middleware(DevModeHeader)
    # outermost of all: every request, refused or not, gets an id and an access line
    app.add_middleware(AccessLog, logger=access_log)
    return app


class DevModeHeader:
    """Adds ``X-Stockade-Dev-Mode: unapproved-model`` to every response (pure ASGI: streaming-safe)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((DEV_HEADER[0].lower().encode(), DEV_HEADER[1].encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
