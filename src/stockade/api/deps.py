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
    if not principal.may_use(state.model_id):
        raise ApiError(
            403, f"this credential may not call {state.model_id}", "permission", code="model_not_allowed"
        )
    return principal


Served = Annotated[ServerState, Depends(served)]
Caller = Annotated[Principal, Depends(authenticated)]
