"""Dependencies of the routes (``Annotated`` aliases): the shared state and the authenticated caller."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from stockade.api.errors import ApiError
from stockade.api.state import ServerState
from stockade.governance.roles import has_permission, roles_with
from stockade.security.principal import Principal


def served(request: Request) -> ServerState:
    return request.app.state.served


def authenticated(request: Request) -> Principal:
    """Every route but ``/health``: the ``Authorization`` header must name a caller allowed this model.

    A plain ``def``: FastAPI runs it in the thread pool, as the authenticator may read the database.
    """
    request.state.started = time.monotonic()
    state: ServerState = request.app.state.served
    client = request.client.host if request.client else ""
    principal = state.authenticator.authenticate(request.headers.get("authorization"), client)
    request.state.principal = principal
    if not has_permission(principal.roles, "model.call"):
        raise ApiError(
            403,
            f"this credential's roles ({', '.join(sorted(principal.roles)) or 'none'}) may not call models; "
            f"a token needs one of: {', '.join(roles_with('model.call'))}",
            "permission",
            code="role_not_allowed",
        )
    if not any(principal.may_use(model) for model in state.served_models):
        raise ApiError(
            403, f"this credential may not call {state.model_id}", "permission", code="model_not_allowed"
        )
    return principal


def choose_model(
    request: Request, state: ServerState, principal: Principal, name: str | None, field: str
) -> str | None:
    """The adapter a request names in ``field`` (None: the base, also when ``name`` is the base's id);
    404 for a model not served here, 403 for one this credential may not call. The choice is recorded
    on the request (its audit record names the adapter)."""
    if name is not None and name not in state.served_models:
        raise ApiError(
            404,
            f"{field}: the model {name!r} is not served here (serving {', '.join(state.served_models)})",
            "validation",
            code="model_not_found",
            param=field,
        )
    chosen = name or state.model_id
    if not principal.may_use(chosen):
        allowed = [m for m in state.served_models if principal.may_use(m)]
        raise ApiError(
            403,
            f"this credential may not call {chosen}; it may call {', '.join(allowed)} (name it in {field})",
            "permission",
            code="model_not_allowed",
            param=field,
        )
    adapter = None if chosen == state.model_id else chosen
    request.state.adapter = adapter
    return adapter


Served = Annotated[ServerState, Depends(served)]
Caller = Annotated[Principal, Depends(authenticated)]
