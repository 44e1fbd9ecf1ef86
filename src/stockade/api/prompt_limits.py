"""Cheap refusals of oversized prompts, before anything expensive (parsing, the PII filter, tokenising).

A token of any tokenizer this server loads is at most a few bytes of UTF-8, so a prompt of more than
``BYTES_PER_TOKEN`` × the model's context in bytes cannot fit the context: it is refused with 422 at
once, in the route family's error shape, without tokenising it (tokenising 1 MB takes seconds).

Two checks: :class:`OversizedBodyGuard` refuses a generation request from its ``Content-Length`` alone,
before the body is read, when no JSON body holding a prompt that small can be that long; and
:func:`check_prompt_bytes` counts the prompt's own bytes after parsing, before the prompt is tokenised.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request

from stockade.api.errors import ApiError, error_body, refuse

BYTES_PER_TOKEN = 8
#: JSON spells a character in at most 6 bytes per byte of its UTF-8 (``\u0001`` for one byte)
JSON_BYTES_PER_BYTE = 6
#: the rest of a body: parameters, roles, stop sequences
BODY_ALLOWANCE = 64 * 1024
GENERATION_PATHS = frozenset({"/generate", "/generate_stream", "/", "/v1/chat/completions"})


def prompt_byte_limit(context: int) -> int:
    return BYTES_PER_TOKEN * context


def body_byte_limit(context: int) -> int:
    """The longest JSON body that can hold a prompt of :func:`prompt_byte_limit` bytes."""
    return JSON_BYTES_PER_BYTE * prompt_byte_limit(context) + BODY_ALLOWANCE


def check_prompt_bytes(texts: Iterable[str], context: int, field: str) -> None:
    """Raise 422 (naming ``field``) when the texts together are more than 8 bytes per context token.

    Counted without copying where the character count decides: a string of n characters is n to 4n bytes.
    """
    limit = prompt_byte_limit(context)
    total = 0
    for text in texts:
        total += len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
        if total > limit:
            break
    if total > limit:
        raise refuse(field, _too_long(f"the prompt is over {limit} bytes", context, limit))


def tail_within_limit(text: str, context: int) -> str:
    """The end of ``text`` that fits :func:`prompt_byte_limit` (TGI ``truncate`` keeps the last tokens: only
    they are tokenised then); a character cut in two is dropped. A text that fits is returned as it is."""
    limit = prompt_byte_limit(context)
    if len(text) <= limit // 4:  # at most 4 bytes a character: fits
        return text
    tail = text[-limit:].encode("utf-8", "surrogatepass")[-limit:]
    return tail.decode("utf-8", "ignore") if len(tail) == limit else text


def _too_long(what: str, context: int, limit: int) -> str:
    return (
        f"{what}: the model's context is {context} tokens, so a prompt may have at most {limit} bytes "
        f"of UTF-8 ({BYTES_PER_TOKEN} per token; checked before tokenising). Shorten the prompt"
    )


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class OversizedBodyGuard:
    """Pure ASGI: a generation request whose ``Content-Length`` exceeds :func:`body_byte_limit` gets 422
    before its body is parsed (uvicorn reads the rest of the body past and throws it away)."""

    def __init__(self, app: Any, *, served: Any) -> None:
        self.app = app
        self.served = served  # ServerState: the engine's context, and accounting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") in GENERATION_PATHS
        ):
            length = _content_length(scope)
            context = self.served.engine.info.context
            if length is not None and length > body_byte_limit(context):
                await self._refuse(scope, send, length, context)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, length: int, context: int) -> None:
        path = scope["path"]
        field = "messages" if path.startswith("/v1/") else "inputs"
        limit = prompt_byte_limit(context)
        error = refuse(
            field, _too_long(f"the request body is {length} bytes, too long for any prompt", context, limit)
        )
        self.served.account(Request(scope), status=error.status)
        await _respond(send, error, path)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length" and value.isdigit():
            return int(value)
    return None


async def _respond(send: Send, error: ApiError, path: str) -> None:
    body = json.dumps(error_body(error, path), ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
