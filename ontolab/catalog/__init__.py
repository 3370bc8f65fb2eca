"""The catalog: schema and migrations, backends (DuckDB, PostgreSQL), and what is recorded."""

from __future__ import annotations

from ontolab.catalog import _listings as listings
from ontolab.catalog._backend import CatalogBackend, Connection, dicts, redact_url, utcnow
from ontolab.catalog._duckdb import DuckDBCatalog, parse_catalog_url
from ontolab.catalog._latest import (
    Promotion,
    current_actor,
    demote,
    live_version,
    promote,
    rollback,
)
from ontolab.catalog._outcomes import (
    FileRecord,
    ImportRecord,
    Status,
    TermsRecord,
    ValidationRecord,
    VersionOutcome,
    record_outcome,
)
from ontolab.catalog._postgres import PostgresCatalog
from ontolab.catalog._records import Event, Recorder
from ontolab.catalog._schema import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CatalogBackend",
    "Connection",
    "DuckDBCatalog",
    "Event",
    "FileRecord",
    "ImportRecord",
    "Migration",
    "PostgresCatalog",
    "Promotion",
    "Recorder",
    "Status",
    "TermsRecord",
    "ValidationRecord",
    "VersionOutcome",
    "current_actor",
    "demote",
    "dicts",
    "listings",
    "live_version",
    "open_catalog",
    "parse_catalog_url",
    "promote",
    "record_outcome",
    "redact_url",
    "rollback",
    "utcnow",
]


def open_catalog(
    url: str, *, lock_timeout_s: float = 60.0, read_only: bool = False
) -> CatalogBackend:
    """The catalog a URL names: ``duckdb:///path`` (or a path) or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresCatalog(url, lock_timeout_s=lock_timeout_s, read_only=read_only)
    return DuckDBCatalog(parse_catalog_url(url), lock_timeout_s=lock_timeout_s, read_only=read_only)
