"""The app factory: ``create_app(settings)`` wires routes, auth, errors, metrics and the
background refresh; the routes hold no business logic (they read through the query API).

The catalog is opened on first use, not at start: a service started before ``ontolab init``
answers ``/healthz``, reports not-ready on ``/readyz`` and serves once the catalog exists.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from ontolab._version import __version__
from ontolab.catalog import open_catalog
from ontolab.service._api import build_router
from ontolab.service._auth import require_token
from ontolab.service._probes import build_probes
from ontolab.service._problems import install_handlers
from ontolab.service._reader import Reader
from ontolab.service._telemetry import RequestMetrics
from ontolab.settings import OntolabSettings, parse_duration

if TYPE_CHECKING:
    from ontolab.service._scheduler import Scheduler

__all__ = ["SCHEDULER_STOP_S", "create_app"]

log = logging.getLogger(__name__)

# On shutdown, a pull in progress gets this long to finish its current step.
SCHEDULER_STOP_S = 10.0

_DESCRIPTION = """\
Read-only access to an ontolab catalog: stored ontologies, versions, files, validations,
events, term-level diffs and terms tables.

Listings are paged (`limit`, `offset`; the answer's `next` is the following page). Errors
are `application/problem+json` documents whose `code` is a stable ontolab error code.
`/healthz`, `/readyz` and `/metrics` are open; `/api/v1` needs a bearer token when the
service has one (`ONTOLAB_SERVICE__TOKEN`).
"""


def create_app(settings: OntolabSettings) -> FastAPI:
    """The ASGI app serving ``settings``' catalog.

    Parameters
    ----------
    settings
        Where the catalog and data dir are, and ``service`` (page sizes, token, readiness,
        ``refresh_every``).
    """
    every_s = (
        parse_duration(settings.service.refresh_every, where="service.refresh_every")
        if settings.service.refresh_every
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler: Scheduler | None = None
        if every_s is not None:
            from ontolab.service._scheduler import Scheduler

            scheduler = Scheduler(settings, every_s)
            scheduler.start()
            log.info("refreshing every %s", settings.service.refresh_every)
        app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop(timeout_s=SCHEDULER_STOP_S)
            app.state.reader.close()
            app.state.metrics_catalog.close()

    token = settings.service.token
    app = FastAPI(
        title="ontolab",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # The interactive pages load scripts from a CDN; the JSON document is what counts.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.scheduler = None
    app.state.reader = Reader(settings)
    app.state.metrics_catalog = open_catalog(
        settings.catalog_url, lock_timeout_s=settings.service.ready_timeout_s, read_only=True
    )
    install_handlers(app)
    app.include_router(build_probes())
    statuses = (401, 422, 503) if token is not None else (422, 503)
    app.include_router(
        build_router(settings, statuses=statuses),
        dependencies=[require_token(token)] if token is not None else [],
    )
    app.add_middleware(RequestMetrics)
    return app
