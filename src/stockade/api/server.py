"""Run the API under uvicorn: loopback unless told, TLS when given, graceful drain on SIGTERM."""

from __future__ import annotations

import signal
import ssl
from collections.abc import Callable
from typing import Any


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
) -> Any:
    """A uvicorn server whose first SIGTERM/SIGINT calls ``on_drain`` (refuse new work) and then lets
    uvicorn stop listening, wait up to ``drain_timeout`` s for in-flight responses, and return."""
    import uvicorn

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
        **options,
    )

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


def drain_hook(app: Any) -> Callable[[], None]:
    """What to do on SIGTERM: /health answers 503 and the engine accepts no new requests."""

    def drain() -> None:
        state = app.state.served
        state.draining = True
        state.engine.begin_drain()

    return drain
