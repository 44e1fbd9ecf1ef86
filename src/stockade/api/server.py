"""Run the API under uvicorn: loopback unless told, TLS when given, graceful drain on SIGTERM."""

from __future__ import annotations

import errno
import signal
import socket
import ssl
from collections.abc import Callable
from typing import Any

from stockade.api.connections import ConnectionLimits, guarded_h11
from stockade.core.errors import StockadeError


class PortUnavailable(StockadeError):
    """The address and port to serve on cannot be bound (taken, not ours, or no such address)."""

    exit_code = 2


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now, before anything slow (loading a model) happens.

    The socket is handed to uvicorn (``server.run(sockets=[...])``), so the port checked is the port
    served: nobody can take it in between. Raises :class:`PortUnavailable` with what to do.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is not "in use"
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(
                f"port {port} is already in use: another process (perhaps another `stockade serve`) "
                "listens on it",
                where=shown,
                fix=f"stop that process (`ss -ltnp 'sport = :{port}'` names it), or choose another port "
                "with --port",
            ) from None
        if exc.errno == errno.EACCES:
            raise PortUnavailable(
                f"not allowed to listen on port {port} (ports below 1024 need privileges)",
                where=shown,
                fix="choose a port above 1023 with --port (put nginx in front for 443)",
            ) from None
        raise PortUnavailable(
            f"cannot listen on {shown}: {exc.strerror or exc}",
            where=shown,
            fix="check --host (an address of this machine, e.g. 127.0.0.1 or 0.0.0.0) and --port",
        ) from None
    sock.set_inheritable(True)
    return sock


def uvicorn_server(
    app: Any,
    *,
    host: str,
    port: int,
    on_drain: Callable[[], None],
    drain_timeout: float,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_client_ca: str | None = None,
    limits: ConnectionLimits | None = None,
) -> Any:
    """A uvicorn server whose first SIGTERM/SIGINT calls ``on_drain`` (refuse new work) and then lets
    uvicorn stop listening, wait up to ``drain_timeout`` s for in-flight responses, and return.

    ``limits``: head and body timeouts, keep-alive, the largest head and the connections per address
    (:mod:`stockade.api.connections`; the defaults when None)."""
    import uvicorn

    limits = limits or ConnectionLimits()
    options: dict[str, Any] = {}
    if tls_cert:
        options.update(ssl_certfile=tls_cert, ssl_keyfile=tls_key)
        if tls_client_ca:
            options.update(ssl_ca_certs=tls_client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=max(1, int(drain_timeout)),
        server_header=False,
        http=guarded_h11(limits, render_connection_refusal),
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        **options,
    )

    if tls_cert:
        answer_plain_http_with_400(config)

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig in (signal.SIGTERM, signal.SIGINT) and not self.should_exit:
                on_drain()
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM:
                # uvicorn re-raises captured signals after shutting down (the process then dies of
                # SIGTERM); a drained stop is the expected end of a service: exit 0 instead.
                captured = getattr(self, "_captured_signals", None)
                if captured is not None:
                    captured[:] = [s for s in captured if s != signal.SIGTERM]

    return DrainingServer(config)


def render_connection_refusal(path: str, status: int, message: str, code: str) -> dict:
    """A refusal of :mod:`stockade.api.connections` (408, 429) in the error shape of ``path``'s routes."""
    from stockade.api.errors import ApiError, error_body

    return error_body(
        ApiError(status, message, "overloaded" if status == 429 else "validation", code=code), path
    )


def answer_plain_http_with_400(config: Any) -> None:
    """Serve TLS through :class:`~stockade.api.tls_sniff.TlsOrPlainHttp`: the same TLS (and client
    certificate checks), and a plain-HTTP request on the port gets a 400 saying to use https://."""
    import asyncio

    from stockade.api.errors import ApiError, error_body
    from stockade.api.tls_sniff import TlsOrPlainHttp

    config.load()  # builds config.ssl (the certificate, key and client CA) and the HTTP protocol class
    context, http = config.ssl, config.http_protocol_class
    config.ssl = None  # the listening socket speaks plain TCP; each connection's first byte decides

    def render(path: str, status: int, message: str) -> dict:
        return error_body(ApiError(status, message, "validation", code="https_required"), path)

    def protocol(**kwargs: Any) -> asyncio.Protocol:
        return TlsOrPlainHttp(lambda: http(**kwargs), context, render, asyncio.get_running_loop())

    config.http_protocol_class = protocol


def drain_hook(app: Any) -> Callable[[], None]:
    """What to do on SIGTERM: /health answers 503 and the engine accepts no new requests."""

    def drain() -> None:
        state = app.state.served
        state.draining = True
        state.engine.begin_drain()

    return drain
