"""``/healthz``, ``/readyz`` and ``/metrics``: for orchestrators and Prometheus, so open
(no token), and revealing no catalog content beyond counts and check results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ontolab._version import __version__
from ontolab.service._models import Health

__all__ = ["ReadyCheck", "ReadyDoc", "build_probes"]


class ReadyCheck(BaseModel):
    name: str = Field(description="catalog, migrations, storage or disk.")
    ok: bool
    detail: str = Field(description="What was seen, and what to do when it failed.")
    code: str | None = Field(None, description="The error code a command would have printed.")


class ReadyDoc(BaseModel):
    ready: bool
    checks: list[ReadyCheck]


def build_probes() -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", response_model=Health)
    def healthz() -> dict[str, str]:
        """The process is alive and answering (touches nothing else)."""
        return {"status": "ok", "version": __version__}

    @router.get(
        "/readyz",
        response_model=ReadyDoc,
        responses={
            503: {"model": ReadyDoc, "description": "Not ready; the failed checks say why."}
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        """Ready to serve: the catalog opens and its schema is current, the data dir takes a
        write and its disk has ``service.min_free_bytes`` free. 503 with the checks otherwise."""
        from ontolab.service._ready import readiness

        result = await run_in_threadpool(readiness, request.app.state.settings)
        doc: dict[str, Any] = result.to_dict()
        return JSONResponse(doc, status_code=200 if result.ready else 503)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: the catalog's (pulls, failures, freshness), the expected
        cadences, readiness and free disk, and this process's (API requests, transactions)."""
        from ontolab.obs._metrics import CONTENT_TYPE, render
        from ontolab.service._health import HealthCollector

        settings = request.app.state.settings
        body = await run_in_threadpool(
            render,
            request.app.state.metrics_catalog,
            settings,
            extra=(HealthCollector(settings),),
        )
        return Response(body, media_type=CONTENT_TYPE)

    return router
