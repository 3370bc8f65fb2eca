"""The catalog: schema and migrations, short transactions, and what the pipeline records."""

from __future__ import annotations

from ontolab.catalog._duckdb import DuckDBCatalog, parse_catalog_url, utcnow
from ontolab.catalog._outcomes import (
    FileRecord,
    ImportRecord,
    Status,
    TermsRecord,
    ValidationRecord,
    VersionOutcome,
    record_outcome,
)
from ontolab.catalog._records import Event, Recorder
from ontolab.catalog._schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DuckDBCatalog",
    "Event",
    "FileRecord",
    "ImportRecord",
    "Migration",
    "Recorder",
    "Status",
    "TermsRecord",
    "ValidationRecord",
    "VersionOutcome",
    "open_catalog",
    "parse_catalog_url",
    "record_outcome",
    "utcnow",
]


def open_catalog(url: str, *, lock_timeout_s: float = 60.0) -> DuckDBCatalog:
    """The catalog a URL names (``duckdb:///path``)."""
    return DuckDBCatalog(parse_catalog_url(url), lock_timeout_s=lock_timeout_s)
