"""``GET /health`` (no credential: load balancers call it), ``GET /metrics`` (Prometheus) and the schema."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from stockade.api.deps import Caller, Served

router = APIRouter(tags=["meta"])


@router.get("/health")
async def health(state: Served) -> Response:
    """200 while serving; 503 once draining, so balancers stop sending."""
    if state.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
async def metrics(state: Served, _: Caller) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@router.get("/openapi.json", include_in_schema=False)
async def openapi_schema(request: Request, _: Caller) -> Response:
    """The OpenAPI schema, for authenticated callers only (it names every route and parameter)."""
    return JSONResponse(request.app.openapi())
