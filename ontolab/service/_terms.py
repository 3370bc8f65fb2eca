"""``/api/v1/ontologies/{ontology}/terms``: a version's terms table, paged, with a prefix
filter on id or label.

The terms table is an Ibis table over the version's Parquet files (an in-memory DuckDB, not
the catalog); a page is one ``ORDER BY id LIMIT .. OFFSET ..`` over it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ontolab.catalog import listings
from ontolab.service._models import TermPage
from ontolab.service._pages import PageParams
from ontolab.service._params import PRINTABLE, OntologyPath
from ontolab.service._reader import canonical, reader_of

__all__ = ["add_term_routes"]


def add_term_routes(router: APIRouter, pages: Any, *, responses: dict[int | str, Any]) -> None:
    """Add the terms route to ``router`` (``pages``: the paging dependency)."""

    @router.get(
        "/ontologies/{ontology}/terms", tags=["terms"], response_model=TermPage, responses=responses
    )
    def terms(
        request: Request,
        ontology: OntologyPath,
        version: Annotated[
            str | None,
            Query(pattern=PRINTABLE, max_length=200, description="Default: the live version."),
        ] = None,
        q: Annotated[
            str | None,
            Query(
                pattern=PRINTABLE,
                max_length=200,
                description="Only terms whose id starts with q, or whose label does "
                "(ignoring case).",
            ),
        ] = None,
        page: PageParams = pages,
    ) -> dict[str, Any]:
        """A page of a version's terms, ordered by id."""
        with reader_of(request).view() as view:
            ontology = canonical(view, ontology)
            if version is None:
                live = view.sql(*listings.latest(ontology))["version"].to_list()
                version = str(live[0]) if live else None
            table = view.terms(ontology, version)  # 404s for unknown ids and versions
            if q:
                table = table.filter(
                    table.id.startswith(q) | table.label.lower().startswith(q.lower())
                )
            total = int(table.count().to_pyarrow().as_py())
            rows = table.order_by("id").limit(page.limit, offset=page.offset).to_pyarrow()
        return {
            "ontology": ontology,
            "version": version,
            **page.page(rows.to_pylist(), total),
        }
