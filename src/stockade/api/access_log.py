"""The server's access log: one line per request under the workspace's ``logs/`` folder.

Each line holds the time, the request id (also sent as ``X-Request-Id`` and kept in the ``serve.request``
audit record), the principal's credential id, the route, the status, the latency and the token counts.
Never the prompt, the output, the query string or any header: nothing a caller typed reaches the file.
Files rotate by size and by age (:class:`SizeAndAgeRotatingHandler`).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from stockade.operations.monitor import ACCESS_FILE

LogFormat = Literal["json", "text"]
ACCESS_LOGGER = "stockade.access"
REQUEST_ID_HEADER = "X-Request-Id"
MAX_BYTES = 20 * 2**20  # rotate at 20 MiB
MAX_AGE_SECONDS = 24 * 3600  # or when the file is a day old
BACKUPS = 14
FIELDS = (
    "time",
    "request_id",
    "principal",
    "route",
    "method",
    "status",
    "latency_ms",
    "tokens_in",
    "tokens_out",
)


class JsonLines(logging.Formatter):
    """One JSON object per line: the access fields (``record.access``), else time, level and message."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "access", None)
        if fields is None:
            fields = {"time": _iso(record.created), "level": record.levelname, "message": record.getMessage()}
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class TextLines(logging.Formatter):
    """``time request_id principal METHOD route status latency tokens`` for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        f = getattr(record, "access", None)
        if f is None:
            return f"{_iso(record.created)} {record.levelname} {record.getMessage()}"
        return (
            f"{f['time']} {f['request_id']} {f['principal'] or '-'} {f['method']} {f['route']} {f['status']} "
            f"{f['latency_ms']}ms in={f['tokens_in']} out={f['tokens_out']}"
        )


FORMATTERS: dict[str, type[logging.Formatter]] = {"json": JsonLines, "text": TextLines}


class SizeAndAgeRotatingHandler(logging.handlers.RotatingFileHandler):
    """:class:`RotatingFileHandler` that also rolls over when the current file is older than ``max_age``
    seconds (the age counts from when this process opened or last rotated it)."""

    def __init__(self, filename: Path, *, max_bytes: int, max_age: float, backups: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=False)
        self.max_age = max_age
        self.opened = time.time()
        os.chmod(filename, 0o600)  # the workspace is private; so are its logs

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.max_age > 0 and time.time() - self.opened >= self.max_age:
            return True
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        super().doRollover()
        self.opened = time.time()
        if os.path.exists(self.baseFilename):
            os.chmod(self.baseFilename, 0o600)


def access_logger(
    folder: Path,
    log_format: LogFormat = "json",
    *,
    max_bytes: int = MAX_BYTES,
    max_age: float = MAX_AGE_SECONDS,
    backups: int = BACKUPS,
) -> logging.Logger:
    """A logger writing access lines to ``folder/server-access.log`` (rotated) in ``log_format``."""
    if log_format not in FORMATTERS:
        from stockade.core.errors import ConfigError

        raise ConfigError(
            f"log format {log_format!r} is not json or text", where="--log-format", fix="use json or text"
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    logger = logging.getLogger(f"{ACCESS_LOGGER}.{uuid.uuid4().hex[:8]}")  # one per server, no sharing
    logger.propagate = False  # never to the terminal's root handlers
    logger.setLevel(logging.INFO)
    handler = SizeAndAgeRotatingHandler(
        folder / ACCESS_FILE, max_bytes=max_bytes, max_age=max_age, backups=backups
    )
    handler.setFormatter(FORMATTERS[log_format]())
    logger.addHandler(handler)
    return logger


def close_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


class AccessLog:
    """Pure ASGI middleware (streaming-safe): gives each request an id (``request.state.request_id``,
    the ``X-Request-Id`` response header) and, when the response is finished, writes its access line.

    The principal and the token counts come from ``request.state`` (set by the authentication dependency
    and by :meth:`ServerState.account`); a request refused before authentication has principal null.
    """

    def __init__(self, app: Any, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        began_wall, began = time.time(), time.monotonic()
        status = 500  # unless a response starts

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.logger is not None:
                self.logger.info(
                    "access", extra={"access": self._fields(scope, state, status, began_wall, began)}
                )

    @staticmethod
    def _fields(scope: Any, state: dict, status: int, began_wall: float, began: float) -> dict[str, Any]:
        principal = state.get("principal")
        tokens = state.get("tokens") or (0, 0)
        return {
            "time": _iso(began_wall),
            "request_id": state["request_id"],
            "principal": getattr(principal, "credential_id", None),
            "route": scope.get("path", ""),  # the path only: never the query string
            "method": scope.get("method", ""),
            "status": state.get("status", status),
            "latency_ms": round((time.monotonic() - began) * 1000, 1),
            "tokens_in": tokens[0],
            "tokens_out": tokens[1],
        }
