"""The catalog's standard listings, as SQL: one home for what ``db ...``, ``show``, the
query API and the service list.

Each listing is a function returning ``(sql, params)`` in the portable dialect, so callers
choose the shape of the result: the CLI fetches rows (no pyarrow, no polars: it must start
fast), the query API fetches Arrow and hands out polars frames.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

Query = tuple[str, list[Any]]

LISTINGS = ("latest", "versions", "files", "validations", "stats", "events")


def _where(filters: dict[str, Any], alias: str = "") -> Query:
    prefix = f"{alias}." if alias else ""
    clauses = [f"{prefix}{column} = ?" for column, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def latest(ontology: str | None = None) -> Query:
    """One row per ontology with a live version."""
    where, params = _where({"ontology": ontology}, "l")
    return (
        "SELECT l.ontology, l.version, v.status, l.promoted_at, l.promoted_by, "  # noqa: S608
        "l.reason AS promoted_because, v.version_iri, v.release_date, v.licence, v.sha256, "
        "v.created_at FROM latest l JOIN versions v "
        f"ON v.ontology = l.ontology AND v.version = l.version{where} ORDER BY l.ontology",
        params,
    )


def versions(ontology: str | None = None, status: str | None = None) -> Query:
    """Every recorded version, newest first per ontology, with whether it is live."""
    where, params = _where({"ontology": ontology, "status": status}, "v")
    return (
        "SELECT v.ontology, v.version, v.status, v.reason, "  # noqa: S608
        "(l.version IS NOT NULL) AS live, v.pinned, v.version_iri, v.release_date, "
        "v.licence, v.resolver, v.sha256, v.run_id, v.created_at, v.updated_at "
        "FROM versions v LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version"
        f"{where} ORDER BY v.ontology, v.created_at DESC, v.version DESC",
        params,
    )


def files(ontology: str | None = None, version: str | None = None) -> Query:
    """Extracted files."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, member, format, size, sha256, path, "  # noqa: S608
        f"artifact_sha256, chain, created_at FROM files{where} "
        "ORDER BY ontology, version, member",
        params,
    )


def validations(ontology: str | None = None, version: str | None = None) -> Query:
    """Validator results, newest first."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, member, validator, passed, skipped, reason, "  # noqa: S608
        "error_code, metrics, messages, validated_at, duration_s, run_id, validation_id "
        f"FROM validations{where} ORDER BY validated_at DESC, ontology, validator",
        params,
    )


def events(
    ontology: str | None = None,
    *,
    level: str | None = None,
    run_id: str | None = None,
    since: datetime | None = None,
    limit: int | None = 100,
) -> Query:
    """The event log, newest first."""
    where, params = _where({"ontology": ontology, "level": level, "run_id": run_id})
    if since is not None:
        where += (" AND" if where else " WHERE") + " ts >= ?"
        params.append(since)
    tail = f" LIMIT {int(limit)}" if limit else ""
    return (
        "SELECT ts, level, event, ontology, version, stage, duration_s, "  # noqa: S608
        f"error_code, message, payload, run_id, event_id FROM events{where} "
        f"ORDER BY ts DESC{tail}",
        params,
    )


def stats(ontology: str | None = None) -> Query:
    """Per ontology: versions by status, the live one, and bytes stored."""
    where, params = _where({"ontology": ontology}, "v")
    return (
        "SELECT v.ontology, count(*) AS versions, "  # noqa: S608
        "CAST(sum(CASE WHEN v.status = 'good' THEN 1 ELSE 0 END) AS BIGINT) AS good, "
        "CAST(sum(CASE WHEN v.status = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) AS rejected, "
        "CAST(sum(CASE WHEN v.status = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, "
        "CAST(sum(CASE WHEN v.status = 'staged' THEN 1 ELSE 0 END) AS BIGINT) AS staged, "
        "max(l.version) AS live, max(v.created_at) AS newest, "
        "(SELECT CAST(coalesce(sum(a.size), 0) AS BIGINT) FROM artifacts a "
        " WHERE a.ontology = v.ontology) AS artifact_bytes, "
        "(SELECT CAST(coalesce(sum(f.size), 0) AS BIGINT) FROM files f "
        " WHERE f.ontology = v.ontology) AS file_bytes "
        "FROM versions v LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version"
        f"{where} GROUP BY v.ontology ORDER BY v.ontology",
        params,
    )
