"""What a request can fail with, each carrying the HTTP status the API answers with."""

from __future__ import annotations

from stockade.core.errors import StockadeError


class ServingError(StockadeError):
    """A request the engine cannot serve. ``status`` is the HTTP status; ``kind`` names it for clients."""

    status = 500
    kind = "generation"


class InvalidRequest(ServingError):
    """Bad parameters, or input too long for the model's context (HTTP 422)."""

    status = 422
    kind = "validation"


class Overloaded(ServingError):
    """The waiting queue is full (HTTP 429 with Retry-After)."""

    status = 429
    kind = "overloaded"

    def __init__(self, what: str, *, retry_after: int = 1, fix: str | None = None) -> None:
        super().__init__(what, fix=fix)
        self.retry_after = retry_after


class Unavailable(ServingError):
    """The server is draining (SIGTERM) or the engine stopped (HTTP 503)."""

    status = 503
    kind = "unavailable"


class RequestTimedOut(ServingError):
    """The per-request time limit passed before generation finished (HTTP 504)."""

    status = 504
    kind = "incomplete_generation"


class PersonalDataBlocked(ServingError):
    """The output guard (or prompt guard) is in block mode and found personal data (HTTP 451)."""

    status = 451
    kind = "personal_data"
    code = "content_filter"  # OpenAI's name for a response withheld by a filter
