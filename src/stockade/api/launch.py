"""``stockade serve`` end to end: resolve what to serve, load it, authenticate, audit, run, drain."""

from __future__ import annotations

import time
from typing import Any

from stockade.api.app import create_app
from stockade.api.connections import ConnectionLimits
from stockade.api.server import PortUnavailable, bind_listener, drain_hook, uvicorn_server
from stockade.serving.audit_writer import AuditWriter
from stockade.serving.pii_guard import PiiGuard
from stockade.serving.service import build_engine, chat_template
from stockade.serving.target import resolve_target


def with_tls_paths(context: Any, spec: Any) -> Any:
    """``--tls`` without ``tls_cert``: the workspace's server certificate (and its CA for mTLS checks)."""
    if not spec.tls or spec.tls_cert:
        return spec
    from stockade.security.pki import default_server_tls

    paths = default_server_tls(context.workspace.folder("pki"))
    return spec.model_copy(update={"tls_cert": str(paths.cert), "tls_key": str(paths.key)})


def pii_guard(settings: Any, pii_filter: str | None, pii_filter_prompts: str = "off") -> PiiGuard:
    """The output guard: the ``--pii-filter`` flag, else the workspace's ``serve_pii_filter``."""
    return PiiGuard(pii_filter or settings.serve_pii_filter, pii_filter_prompts)


def serve(
    context: Any,
    spec: Any,
    *,
    announce: Any = print,
    pii_filter: str | None = None,
    pii_filter_prompts: str = "off",
    log_format: str = "json",
) -> None:
    """Blocks until SIGTERM/SIGINT, then drains. ``context``: an open WorkspaceContext.

    ``log_format``: json | text, the format of the access log in the workspace's ``logs/`` folder.

    ``pii_filter``: mask | block | off for responses; None takes the workspace's ``serve_pii_filter``.
    ``pii_filter_prompts``: the same for prompts.
    """
    guard = pii_guard(context.workspace.settings, pii_filter, pii_filter_prompts)
    spec = with_tls_paths(context, spec)
    listener = _listen(context, spec)  # before loading anything: a taken port fails in a second
    try:
        _serve_on(context, spec, listener, guard, announce, log_format)
    finally:
        listener.close()


def _listen(context: Any, spec: Any) -> Any:
    """The bound, listening socket; a port that cannot be bound is audited (``serve.start`` error)."""
    try:
        return bind_listener(spec.host, spec.port)
    except PortUnavailable as exc:
        context.record(
            "serve.start",
            str(spec.model or ""),
            result="error",
            reason=exc.what,
            host=spec.host,
            port=spec.port,
        )
        raise


def _serve_on(
    context: Any, spec: Any, listener: Any, guard: PiiGuard, announce: Any, log_format: str = "json"
) -> None:
    from stockade.api.access_log import access_logger, close_logger
    from stockade.security.authenticator import build_authenticator, build_middleware

    port = listener.getsockname()[1]  # the port asked for; the one chosen for --port 0
    target = resolve_target(context, spec)
    engine = build_engine(target, spec)
    template = chat_template(target, engine.tokenizer)
    audit = AuditWriter(context)
    access = access_logger(context.workspace.folder("logs"), log_format)  # type: ignore[arg-type]
    app = create_app(
        engine,
        authenticator=build_authenticator(context, spec),
        template=template,
        model_id=target.label,
        dev=target.dev,
        audit=audit,
        request_timeout=spec.request_timeout,
        pii_guard=guard,
        middleware=build_middleware(context),
        access_log=access,
    )
    server = uvicorn_server(
        app,
        host=spec.host,
        port=spec.port,
        on_drain=drain_hook(app),
        drain_timeout=spec.request_timeout,
        tls_cert=spec.tls_cert,
        tls_key=spec.tls_key,
        tls_client_ca=spec.tls_client_ca,
        limits=ConnectionLimits.from_settings(context.workspace.settings.security),
    )
    details = {
        "host": spec.host,
        "port": port,
        "backend": engine.info.backend,
        "device": engine.info.device,
        "max_batch_size": engine.info.max_batch_size,
        "max_queue": engine.info.max_waiting,
        "context": engine.info.context,
        "adapter": str(target.adapter) if target.adapter else None,
        "adapters": {a.label: a.verified for a in target.adapters},  # served unmerged, each file-checked
        "stage": target.stage,
        "tls": bool(spec.tls_cert),
        "dev_mode": target.dev,
        "verified": target.verified,  # {"ref", "mode": fast|full, "files", "hashed"}; None for a dev folder
        **guard.describe(),
    }
    context.record(
        "serve.start", target.label, reason="dev mode: unapproved model" if target.dev else None, **details
    )
    scheme = "https" if spec.tls_cert else "http"
    announce(
        f"serving {target.label} on {scheme}://{spec.host}:{port} "
        f"({engine.info.backend}, {engine.info.device}; personal data in responses: {guard.output}, "
        f"in prompts: {guard.prompts})"
    )
    started = time.monotonic()
    try:
        engine.start()
        server.run(sockets=[listener])
    finally:
        engine.stop()
        app.state.served.prompt_workers.close()
        audit.close()
        close_logger(access)
        counters = engine.counters()
        context.record(
            "serve.stop",
            target.label,
            seconds=round(time.monotonic() - started, 1),
            decode_passes=counters.decode_passes,
            decoded_rows=counters.decoded_rows,
        )
