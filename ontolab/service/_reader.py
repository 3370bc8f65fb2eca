"""The service's read-only catalog handle: opened on first use, shared, one request at a time.

One :class:`~ontolab.query.CatalogView` serves every request (it keeps DuckDB's connection
for queries in quick succession and lets go when idle, so pulls in other processes get in).
A DuckDB connection serves one thread at a time, and so does the view's in-memory DuckDB for
terms tables: requests take turns through a lock. A catalog that cannot be opened is retried
on the next request, so the service recovers once ``ontolab init`` or a pull has run.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from ontolab.catalog import listings
from ontolab.errors import CatalogError, UnknownOntology

if TYPE_CHECKING:
    from fastapi import Request

    from ontolab.query import CatalogView, TermDiff
    from ontolab.settings import OntolabSettings

__all__ = [
    "API_LOCK_WAIT_S",
    "Reader",
    "canonical",
    "json_columns",
    "reader_of",
    "require_version",
    "sql_page",
]

# A request waits at most this long for another process's catalog transaction (a pull's are
# milliseconds); longer is a 503 with Retry-After rather than a hung client.
API_LOCK_WAIT_S = 10.0
# Term diffs kept for paging (an HPO diff is a few thousand rows).
DIFFS_KEPT = 4


class Reader:
    """Hands out the shared view, one request at a time.

    Parameters
    ----------
    settings
        Where the catalog is; ``catalog_lock_timeout_s`` is capped at :data:`API_LOCK_WAIT_S`.
    """

    def __init__(self, settings: OntolabSettings) -> None:
        wait = min(settings.catalog_lock_timeout_s, API_LOCK_WAIT_S)
        self.settings = settings.model_copy(update={"catalog_lock_timeout_s": wait})
        self._view: CatalogView | None = None
        self._lock = threading.Lock()
        # Paging through a diff asks for the same comparison again: the last few are kept.
        self._diffs: OrderedDict[tuple[str, str, str], TermDiff] = OrderedDict()

    @contextmanager
    def view(self) -> Iterator[CatalogView]:
        """The view, for one request's queries."""
        with self._lock:
            if self._view is None:
                from ontolab.query import CatalogView

                # A read-only service never writes: no query.slow events (the request
                # latency histogram on /metrics covers slow answers).
                self._view = CatalogView(self.settings, slow_query_s=math.inf)
            try:
                yield self._view
            except CatalogError:
                # The catalog went away or broke under us: start afresh on the next request.
                self._close()
                raise

    def diff(self, view: CatalogView, ontology: str, v1: str | None, v2: str | None) -> TermDiff:
        """``view.compare(...)``, remembered: two stored versions' terms do not change."""
        key = view.diff_versions(ontology, v1, v2)
        found = self._diffs.get(key)
        if found is None:
            found = view.compare(*key)
            self._diffs[key] = found
            while len(self._diffs) > DIFFS_KEPT:
                self._diffs.popitem(last=False)
        self._diffs.move_to_end(key)
        return found

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._view is not None:
            view, self._view = self._view, None
            view.close()


def reader_of(request: Request) -> Reader:
    """The app's reader (built by the app factory)."""
    reader: Reader = request.app.state.reader
    return reader


def canonical(view: CatalogView, ontology: str) -> str:
    """The id as recorded (``HP`` finds ``hp``); 404 for an ontology never stored."""
    found = view.sql(*listings.ontology_names(ontology))["ontology"].to_list()
    if ontology in found:
        return ontology
    if len(found) == 1:
        return str(found[0])
    raise UnknownOntology(
        f"no version of {ontology!r} is recorded in the catalog; GET /api/v1/ontologies "
        "lists what is stored",
        code="E_ONTOLOGY_NOT_STORED",
        ontology_id=ontology,
    )


def require_version(view: CatalogView, ontology: str, version: str) -> None:
    """404 unless ``version`` of ``ontology`` is recorded."""
    if view.sql(*listings.versions(ontology, version=version)).height == 0:
        raise UnknownOntology(
            f"no version {version!r} of {ontology!r} is recorded; GET "
            f"/api/v1/ontologies/{ontology}/versions lists them",
            code="E_VERSION_UNKNOWN",
            ontology_id=ontology,
        )


def sql_page(
    view: CatalogView, query: tuple[str, list[Any]], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a listing (which must end in its ORDER BY and carry no LIMIT), and the
    listing's row count."""
    sql, params = query
    rows = view.sql(f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}", params)
    total = view.sql(f"SELECT count(*) AS n FROM ({sql}) AS listing", params)  # noqa: S608
    return rows.rows(named=True), int(total["n"][0])


def json_columns(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    """Rows with the JSON text of ``columns`` parsed (text that is not JSON stays text)."""
    out = []
    for row in rows:
        parsed = dict(row)
        for column in columns:
            value = parsed.get(column)
            if isinstance(value, str):
                with suppress(ValueError):
                    parsed[column] = json.loads(value)
        out.append(parsed)
    return out
