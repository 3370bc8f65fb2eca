"""The read API: ``ontolab.connect()`` → a read-only catalog handle.

Listings, per-version metrics, storage and slow queries as polars DataFrames; terms tables
as Ibis tables; term-level diffs between stored versions; a query profiler and a schema
inspector. Nothing here writes to the catalog except the handle's own query-timing events.
"""

from __future__ import annotations

from ontolab.query._diff import CHANGES, TermDiff
from ontolab.query._overview import Overview
from ontolab.query._profile import QueryProfile
from ontolab.query._schema_info import SchemaInfo
from ontolab.query._view import CatalogView, connect

__all__ = [
    "CHANGES",
    "CatalogView",
    "Overview",
    "QueryProfile",
    "SchemaInfo",
    "TermDiff",
    "connect",
]
