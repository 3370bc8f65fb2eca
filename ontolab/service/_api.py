"""``/api/v1``: read-only JSON over the catalog, paged, every answer typed.

Routes read through :class:`~ontolab.query.CatalogView` and the SQL listings of
:mod:`ontolab.catalog`; they shape answers and add no rules of their own. Unknown ontologies
and versions are 404s with the codes ``ontolab show`` uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ontolab.catalog import listings
from ontolab.models import VersionStatus
from ontolab.service._files import add_file_routes
from ontolab.service._models import (
    DiffPage,
    Event,
    LiveVersion,
    OntologyDetail,
    OntologySummary,
    Version,
)
from ontolab.service._pages import Page, PageParams, page_params, plain_rows
from ontolab.service._params import PRINTABLE, OntologyPath, Text
from ontolab.service._problems import problem, problem_responses
from ontolab.service._reader import canonical, json_columns, reader_of, sql_page
from ontolab.service._terms import add_term_routes
from ontolab.settings import OntolabSettings

__all__ = ["build_router"]

Status = VersionStatus
Level = Literal["debug", "info", "warning", "error"]


def _naive_utc(value: datetime | None) -> datetime | None:
    """A filter time as the catalog stores it (naive UTC); naive input is taken as UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def build_router(settings: OntolabSettings, *, statuses: tuple[int, ...]) -> APIRouter:
    """The API routes, with pages bounded as ``settings.service`` says.

    ``statuses`` are the error answers every route may give (401 only with a token set).
    """
    pages = page_params(settings.service.page_size, settings.service.max_page_size)
    router = APIRouter(prefix="/api/v1", responses=problem_responses(*statuses))
    not_found = problem_responses(404)

    @router.get("/ontologies", tags=["ontologies"], response_model=Page[OntologySummary])
    def ontologies(request: Request, page: PageParams = pages) -> dict[str, Any]:
        """Every stored ontology: its live version, status, title and licence."""
        with reader_of(request).view() as view:
            versions = view.versions().rows(named=True)
            sources = view.sql("SELECT ontology, title, licence FROM sources").rows(named=True)
            titles = view.sql(
                "SELECT l.ontology, m.metrics FROM latest l JOIN validations m "
                "ON m.ontology = l.ontology AND m.version = l.version "
                "AND m.validator = 'stream' AND m.passed ORDER BY m.validated_at DESC"
            ).rows(named=True)
        items = _summaries(versions, sources, json_columns(titles, "metrics"))
        return page.page(items[page.offset : page.offset + page.limit], len(items))

    @router.get(
        "/ontologies/{ontology}",
        tags=["ontologies"],
        response_model=OntologyDetail,
        responses=not_found,
    )
    def ontology(request: Request, ontology: OntologyPath, version: Text = None) -> dict[str, Any]:
        """One ontology: licence, provenance and versions; details for ``version`` (default:
        the live one, else the newest)."""
        with reader_of(request).view() as view:
            doc = view.show(ontology, version).to_dict()
            versions = plain_rows(view.versions(doc["ontology"]).rows(named=True))
        return {**doc, "versions": versions}

    @router.get(
        "/ontologies/{ontology}/versions",
        tags=["ontologies"],
        response_model=Page[Version],
        responses=not_found,
    )
    def versions(
        request: Request,
        ontology: OntologyPath,
        status: Annotated[
            Status | None, Query(description="Only versions with this status.")
        ] = None,
        page: PageParams = pages,
    ) -> dict[str, Any]:
        """Every recorded version of an ontology, newest first."""
        with reader_of(request).view() as view:
            ontology = canonical(view, ontology)
            rows, total = sql_page(
                view, listings.versions(ontology, status), page.limit, page.offset
            )
        return page.page(plain_rows(rows), total)

    @router.get("/latest", tags=["ontologies"], response_model=Page[LiveVersion])
    def latest(request: Request, page: PageParams = pages) -> dict[str, Any]:
        """The live version of each ontology."""
        with reader_of(request).view() as view:
            rows, total = sql_page(view, listings.latest(), page.limit, page.offset)
        return page.page(plain_rows(rows), total)

    add_file_routes(router, pages, responses=not_found, data_dir=settings.data_dir)

    @router.get("/events", tags=["events"], response_model=Page[Event])
    def events(
        request: Request,
        ontology: Text = None,
        run_id: Text = None,
        level: Level | None = None,
        since: Annotated[
            datetime | None, Query(description="ISO 8601; without an offset, UTC.")
        ] = None,
        page: PageParams = pages,
    ) -> dict[str, Any] | JSONResponse:
        """The event log, newest first."""
        try:
            after = _naive_utc(since)
        except OverflowError:
            return problem(422, "E_API_INVALID_REQUEST", "since: out of range")
        query = listings.events(ontology, level=level, run_id=run_id, since=after, limit=None)
        with reader_of(request).view() as view:
            rows, total = sql_page(view, query, page.limit, page.offset)
        return page.page(plain_rows(json_columns(rows, "payload")), total)

    @router.get(
        "/ontologies/{ontology}/diff", tags=["terms"], response_model=DiffPage, responses=not_found
    )
    def diff(
        request: Request,
        ontology: OntologyPath,
        from_version: Annotated[
            str | None,
            Query(
                alias="from",
                pattern=PRINTABLE,
                max_length=200,
                description="Older version (default: the one stored before 'to').",
            ),
        ] = None,
        to_version: Annotated[
            str | None,
            Query(
                alias="to",
                pattern=PRINTABLE,
                max_length=200,
                description="Newer version (default: the live one, else the newest good).",
            ),
        ] = None,
        change: Annotated[
            Literal["added", "removed", "obsoleted", "unobsoleted", "relabelled", "reparented"]
            | None,
            Query(description="Only changes of this kind."),
        ] = None,
        page: PageParams = pages,
    ) -> dict[str, Any]:
        """Term-level changes between two stored versions: counts per kind, a page of rows."""
        reader = reader_of(request)
        with reader.view() as view:
            changes = reader.diff(view, ontology, from_version, to_version)
        table = changes.frame()
        if change is not None:
            table = table.filter(table["change"] == change)
        rows = table.slice(page.offset, page.limit).rows(named=True)
        return {
            "ontology": changes.ontology,
            "from": changes.from_version,
            "to": changes.to_version,
            "summary": changes.counts,
            **page.page(rows, table.height),
        }

    add_term_routes(router, pages, responses=not_found)

    @router.get("/scheduler", tags=["service"])
    def scheduler(request: Request) -> dict[str, Any]:
        """The background refresh (``serve --refresh-every``): last and next pull."""
        running = request.app.state.scheduler
        if running is None:
            return {"enabled": False}
        return {"enabled": True, **running.status()}

    return router


def _summaries(
    versions: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    titles: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per ontology from its versions (newest first), source and live metrics."""
    by_source = {str(s["ontology"]): s for s in sources}
    declared: dict[str, dict[str, Any]] = {}
    for row in titles:
        metrics = row["metrics"] if isinstance(row["metrics"], dict) else {}
        seen = declared.setdefault(str(row["ontology"]), {})
        for key in ("title", "licence"):
            if metrics.get(key) and not seen.get(key):
                seen[key] = metrics[key]
    out: dict[str, dict[str, Any]] = {}
    for v in versions:
        name = str(v["ontology"])
        entry = out.get(name)
        if entry is None:  # the newest version of this ontology
            source = by_source.get(name, {})
            meta = declared.get(name, {})
            entry = out[name] = {
                "ontology": name,
                "live_version": None,
                "status": v["status"],
                "versions": 0,
                "good": 0,
                "title": source.get("title") or meta.get("title"),
                "licence": source.get("licence") or meta.get("licence"),
                "newest": v["created_at"],
            }
        entry["versions"] += 1
        entry["good"] += v["status"] == "good"
        if v["live"]:
            entry["live_version"] = v["version"]
            entry["status"] = v["status"]
            entry["licence"] = v["licence"] or entry["licence"]
    return plain_rows(sorted(out.values(), key=lambda e: str(e["ontology"])))
