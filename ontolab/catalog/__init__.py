"""The catalog: schema and migrations, backends (DuckDB, PostgreSQL), and what is recorded."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from ontolab.catalog._postgres import PostgresCatalog
from ontolab.catalog._schema import MIGRATIONS, SCHEMA_VERSION, Migration

if TYPE_CHECKING:
    from ontolab.catalog._backup import (
        BackupManifest,
        RestoreReceipt,
        backup_catalog,
        read_backup,
        restore_catalog,
    )
    from ontolab.catalog._doctor import doctor
    from ontolab.catalog._findings import FINDINGS, DoctorReport, Finding
    from ontolab.catalog._outcomes import (
        FileRecord,
        ImportRecord,
        Status,
        TermsRecord,
        ValidationRecord,
        VersionOutcome,
        record_outcome,
    )
    from ontolab.catalog._prune import PruneReport, prune
    from ontolab.catalog._records import Event, Recorder

# Every CLI command imports this package, and `ontolab db latest` must start in well under
# half a second: what only writers, doctor, prune and backups need loads on first use.
_LAZY = {
    **dict.fromkeys(
        ("BackupManifest", "RestoreReceipt", "backup_catalog", "read_backup", "restore_catalog"),
        "_backup",
    ),
    **dict.fromkeys(("FINDINGS", "DoctorReport", "Finding"), "_findings"),
    **dict.fromkeys(
        (
            *("FileRecord", "ImportRecord", "Status", "TermsRecord"),
            *("ValidationRecord", "VersionOutcome", "record_outcome"),
        ),
        "_outcomes",
    ),
    **dict.fromkeys(("PruneReport", "prune"), "_prune"),
    **dict.fromkeys(("Event", "Recorder"), "_records"),
    "doctor": "_doctor",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"ontolab.catalog.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ontolab.catalog' has no attribute {name!r}")


__all__ = [
    "FINDINGS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "BackupManifest",
    "CatalogBackend",
    "Connection",
    "DoctorReport",
    "DuckDBCatalog",
    "Event",
    "FileRecord",
    "Finding",
    "ImportRecord",
    "Migration",
    "PostgresCatalog",
    "Promotion",
    "PruneReport",
    "Recorder",
    "RestoreReceipt",
    "Status",
    "TermsRecord",
    "ValidationRecord",
    "VersionOutcome",
    "backup_catalog",
    "current_actor",
    "demote",
    "dicts",
    "doctor",
    "listings",
    "live_version",
    "open_catalog",
    "parse_catalog_url",
    "promote",
    "prune",
    "read_backup",
    "record_outcome",
    "redact_url",
    "restore_catalog",
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
