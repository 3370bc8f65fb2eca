"""Pages: ``?limit=`` (bounded by ``service.max_page_size``) and ``?offset=``, and the
``{"items", "limit", "offset", "total", "next"}`` envelope every listing answers with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

__all__ = ["Page", "PageParams", "page_params", "plain_rows"]

T = TypeVar("T")
# Deeper than any listing gets; keeps OFFSET inside every backend's integer range.
MAX_OFFSET = 2**31 - 1


class Page(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    limit: int = Field(description="Rows asked for.")
    offset: int = Field(description="Rows skipped.")
    total: int | None = Field(description="Rows in the whole listing, when cheap to count.")
    next: str | None = Field(description="URL of the next page; null on the last one.")


@dataclass(frozen=True)
class PageParams:
    """What a request asked for, with the request to build ``next`` from."""

    limit: int
    offset: int
    request: Request

    def page(self, items: list[Any], total: int | None) -> dict[str, Any]:
        """The envelope for ``items`` (at most ``limit`` of them) out of ``total``."""
        more = self.offset + len(items) < total if total is not None else len(items) >= self.limit
        following = None
        if more and items:
            following = str(
                self.request.url.include_query_params(
                    limit=self.limit, offset=self.offset + len(items)
                )
            )
        return {
            "items": items,
            "limit": self.limit,
            "offset": self.offset,
            "total": total,
            "next": following,
        }


def page_params(default: int, maximum: int) -> Any:
    """A dependency reading ``limit`` (1..``maximum``, default ``default``) and ``offset``.

    Bounds are part of the OpenAPI document, so a client sees them, and a ``limit`` over the
    maximum is a 422 rather than a silently shorter page.
    """
    default = min(default, maximum)

    # Defaults rather than Annotated: the bounds are this call's values, which string
    # annotations (from __future__) could not see.
    def params(
        request: Request,
        limit: int = Query(
            default, ge=1, le=maximum, description=f"Rows per page (max {maximum})."
        ),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Rows to skip."),
    ) -> PageParams:
        return PageParams(limit, offset, request)

    return Depends(params)


def _plain(value: Any) -> Any:
    # The catalog stores naive UTC; the API says so (ISO 8601 with a Z).
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value


def plain_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Catalog rows with timestamps marked as UTC."""
    return [{k: _plain(v) for k, v in row.items()} for row in rows]
