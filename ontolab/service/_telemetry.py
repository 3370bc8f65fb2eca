"""Request metrics: ``ontolab_api_requests_total{route,method,status}`` and
``ontolab_api_request_duration_seconds{route}`` on the process registry.

``route`` is the route's template (``/api/v1/ontologies/{ontology}``), never the raw path, so
label values stay bounded however clients spell their URLs; requests no route matched count
as ``<unmatched>``.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

__all__ = ["RequestMetrics"]

UNMATCHED = "<unmatched>"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@functools.cache
def _instruments() -> tuple[Counter, Histogram]:
    # Once per process: the registry refuses a second metric of the same name, and tests
    # build many apps.
    from prometheus_client import Counter, Histogram

    from ontolab.obs._metrics import process_registry

    registry = process_registry()
    requests = Counter(
        "ontolab_api_requests",
        "HTTP requests answered, by route template, method and status.",
        ["route", "method", "status"],
        registry=registry,
    )
    seconds = Histogram(
        "ontolab_api_request_duration_seconds",
        "Time to answer an HTTP request (to the last byte), by route template.",
        ["route"],
        buckets=BUCKETS,
        registry=registry,
    )
    return requests, seconds


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests, self.seconds = _instruments()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.requests.labels(template, scope["method"], str(status)).inc()
            self.seconds.labels(template).observe(time.perf_counter() - started)
