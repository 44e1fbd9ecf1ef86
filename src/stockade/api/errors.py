"""Errors in the shape each route family's clients expect: TGI ``{error, error_type}``, OpenAI
``{error: {message, type, param, code}}`` (paths under ``/v1/``).

Every error has that shape, whoever raises it: the routes, request validation, FastAPI/Starlette's own
``HTTPException`` (404, 405, a body that is not UTF-8 JSON) and the security middleware's refusals
(403 allowlist, 413 body, 429 rate) through :func:`render_refusal`."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from stockade.core.errors import StockadeError
from stockade.security.principal import AccessDenied, AuthenticationFailed
from stockade.serving.errors import Overloaded, ServingError

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    451: "invalid_request_error",
    503: "service_unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """An error response: HTTP ``status``, a message safe to show, a TGI ``kind``, extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers, self.code = (
            status,
            message,
            kind,
            headers or {},
            code,
        )
        self.param = param  # the request field at fault (OpenAI's ``error.param``)


def refuse(field: str, why: str) -> ApiError:
    """A request field this server does not serve (with that value): HTTP 422 naming it, and why."""
    return ApiError(422, f"{field}: {why}", "validation", param=field)


def from_exception(exc: Exception) -> ApiError:
    """Map the serving and security errors to HTTP."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthenticationFailed):
        return ApiError(401, _with_fix(exc), "authentication", headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, AccessDenied):
        status = getattr(exc, "http_status", 403)
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(max(1, round(retry)))} if retry is not None else {}
        kind = "overloaded" if status == 429 else "permission"
        return ApiError(status, _with_fix(exc), kind, headers=headers)
    if isinstance(exc, Overloaded):
        return ApiError(429, exc.what, exc.kind, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, ServingError):
        return ApiError(exc.status, exc.what, exc.kind, code=getattr(exc, "code", None))
    if isinstance(exc, StockadeError):
        return ApiError(422, exc.what, "validation")
    return ApiError(500, f"internal error ({exc.__class__.__name__})", "generation")


# the security middleware's refusals: reason -> (TGI error_type, OpenAI code)
REFUSALS = {
    "allowlist": ("permission", "address_not_allowed"),
    "rate": ("overloaded", "rate_limit_exceeded"),
    "body": ("validation", "request_too_large"),
}
BODY_NOT_UTF8 = (
    "the request body is not UTF-8 JSON (a GBK or other non-UTF-8 encoding, or bytes cut short). "
    "How to fix: send the JSON encoded as UTF-8 with Content-Type: application/json; e.g. save the file "
    "as UTF-8 and use curl --data-binary @body.json"
)


def render_refusal(path: str, status: int, message: str, reason: str) -> dict:
    """The body of a security middleware refusal, in the shape of ``path``'s route family."""
    kind, code = REFUSALS.get(reason, ("permission", reason))
    return error_body(ApiError(status, message, kind, code=code), path)


def _with_fix(exc: StockadeError) -> str:
    """A refusal's message and how to get past it (the caller cannot see the server's log)."""
    return f"{exc.what}. How to fix: {exc.fix}" if exc.fix else exc.what


def is_openai(path: str) -> bool:
    return path.startswith("/v1/")


def error_body(error: ApiError, path: str) -> dict:
    if is_openai(path):
        kind = OPENAI_TYPES.get(error.status, "server_error")
        return {
            "error": {
                "message": error.message,
                "type": kind,
                "param": error.param,
                "code": error.code or kind,
            }
        }
    return {"error": error.message, "error_type": error.kind}


def error_response(error: ApiError, path: str) -> JSONResponse:
    return JSONResponse(error_body(error, path), status_code=error.status, headers=error.headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    error = from_exception(exc)
    state = getattr(request.app.state, "served", None)
    if state is not None:
        state.account(request, status=error.status)
    return error_response(error, request.url.path)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI/Starlette's own errors (unknown route, wrong method, unreadable body), never ``{"detail"}``."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, ClientDisconnect):
        # the body never came whole: the client went, or the connection guard cut a slow body (408 sent)
        gone = ApiError(499, "the client closed the connection", "validation")
        return await handle_api_error(request, gone)
    if status == 400 and exc.detail == "There was an error parsing the body":
        message = BODY_NOT_UTF8
    elif status == 404:
        message = f"no route {request.url.path[:200]}: see the routes in docs/serving.md"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path[:200]}"
    else:
        message = str(exc.detail)
    kind = "validation" if status < 500 else "generation"
    headers = dict(exc.headers or {})
    return await handle_api_error(request, ApiError(status, message, kind, headers=headers))


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    return await handle_api_error(request, ApiError(422, problems or "invalid request", "validation"))
