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

LISTINGS = ("latest", "versions", "files", "validations", "stats", "events", "history")


def _where(filters: dict[str, Any], alias: str = "") -> Query:
    prefix = f"{alias}." if alias else ""
    clauses = [f"{prefix}{column} = ?" for column, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _since(where: str, params: list[Any], column: str, since: datetime | None) -> Query:
    if since is None:
        return where, params
    return where + (" AND" if where else " WHERE") + f" {column} >= ?", [*params, since]


def _limit(limit: int | None) -> str:
    return f" LIMIT {int(limit)}" if limit else ""


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


def versions(
    ontology: str | None = None,
    status: str | None = None,
    *,
    version: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> Query:
    """Every recorded version, newest first per ontology, with whether it is live."""
    where, params = _where({"ontology": ontology, "status": status, "version": version}, "v")
    where, params = _since(where, params, "v.created_at", since)
    return (
        "SELECT v.ontology, v.version, v.status, v.reason, "  # noqa: S608
        "(l.version IS NOT NULL) AS live, v.pinned, v.version_iri, v.release_date, "
        "v.licence, v.resolver, v.sha256, v.run_id, v.created_at, v.updated_at "
        "FROM versions v LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version"
        f"{where} ORDER BY v.ontology, v.created_at DESC, v.version DESC{_limit(limit)}",
        params,
    )


def files(
    ontology: str | None = None, version: str | None = None, *, limit: int | None = None
) -> Query:
    """Extracted files."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, member, format, size, sha256, path, "  # noqa: S608
        f"artifact_sha256, chain, created_at FROM files{where} "
        f"ORDER BY ontology, version, member{_limit(limit)}",
        params,
    )


def validations(
    ontology: str | None = None, version: str | None = None, *, limit: int | None = None
) -> Query:
    """Validator results, newest first."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, member, validator, passed, skipped, reason, "  # noqa: S608
        "error_code, metrics, messages, validated_at, duration_s, run_id, validation_id "
        f"FROM validations{where} ORDER BY validated_at DESC, ontology, validator{_limit(limit)}",
        params,
    )


def events(
    ontology: str | None = None,
    *,
    level: str | None = None,
    run_id: str | None = None,
    version: str | None = None,
    since: datetime | None = None,
    limit: int | None = 100,
) -> Query:
    """The event log, newest first."""
    where, params = _where(
        {"ontology": ontology, "level": level, "run_id": run_id, "version": version}
    )
    where, params = _since(where, params, "ts", since)
    return (
        "SELECT ts, level, event, ontology, version, stage, duration_s, "  # noqa: S608
        f"error_code, message, payload, run_id, event_id FROM events{where} "
        f"ORDER BY ts DESC{_limit(limit)}",
        params,
    )


def history(
    ontology: str | None = None, *, since: datetime | None = None, limit: int | None = None
) -> Query:
    """Moves of the latest pointer (promote, rollback, demote), newest first."""
    where, params = _where({"ontology": ontology})
    where, params = _since(where, params, "moved_at", since)
    return (
        "SELECT ontology, action, version, previous_version, actor, reason, "  # noqa: S608
        f"moved_at, run_id, history_id FROM latest_history{where} "
        f"ORDER BY moved_at DESC, ontology{_limit(limit)}",
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


# -- one ontology in detail: `ontolab show`, `ontolab diff` and the query API -----------------


def ontology_names(ontology: str) -> Query:
    """The recorded spellings of an ontology id, matched without regard to case."""
    return (
        "SELECT DISTINCT ontology FROM versions WHERE lower(ontology) = lower(?) ORDER BY ontology",
        [ontology],
    )


def version_detail(ontology: str, version: str) -> Query:
    """One version with its provenance and stage timings (JSON text)."""
    return (
        "SELECT v.ontology, v.version, v.status, v.reason, (l.version IS NOT NULL) AS live, "
        "v.pinned, v.version_iri, v.release_date, v.licence, v.resolver, v.sha256, v.run_id, "
        "v.created_at, v.updated_at, v.provenance, v.timings FROM versions v "
        "LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version "
        "WHERE v.ontology = ? AND v.version = ?",
        [ontology, version],
    )


def source(ontology: str) -> Query:
    """How the ontology is configured to be found, and since when."""
    return (
        "SELECT ontology, resolvers, origin, title, licence, first_seen, last_checked "
        "FROM sources WHERE ontology = ?",
        [ontology],
    )


def artifacts(ontology: str | None = None, sha256: str | None = None) -> Query:
    """Downloads: where the bytes came from and where they are stored, newest first."""
    where, params = _where({"ontology": ontology, "sha256": sha256})
    return (
        "SELECT ontology, version, url, final_url, redirects, sha256, size, etag, "  # noqa: S608
        "last_modified, content_type, resolver, store_path, fetched_at, elapsed_s, run_id "
        f"FROM artifacts{where} ORDER BY fetched_at DESC, ontology",
        params,
    )


def gate_results(ontology: str | None = None, version: str | None = None) -> Query:
    """Gate verdicts, newest first."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, gate, passed, severity, details, evaluated_at, "  # noqa: S608
        f"run_id, gate_id FROM gate_results{where} ORDER BY evaluated_at DESC, gate",
        params,
    )


def terms_tables(ontology: str | None = None, version: str | None = None) -> Query:
    """The Parquet terms table of each validated file."""
    where, params = _where({"ontology": ontology, "version": version})
    return (
        "SELECT ontology, version, member, path, row_count, created_at "  # noqa: S608
        f"FROM terms{where} ORDER BY ontology, version, member",
        params,
    )


def imports(ontology: str, version: str) -> Query:
    """The ``owl:imports`` of a version and whether each was resolved."""
    return (
        "SELECT iri, resolved, url, sha256, import_version, message FROM imports "
        "WHERE ontology = ? AND version = ? ORDER BY iri",
        [ontology, version],
    )


def metrics(ontology: str) -> Query:
    """The streaming validator's metrics (JSON text) of every good version, oldest first."""
    return (
        "SELECT v.version, v.status, v.created_at, (l.version IS NOT NULL) AS live, "
        "m.member, m.metrics, m.validated_at, "
        "(SELECT CAST(sum(t.row_count) AS BIGINT) FROM terms t "
        " WHERE t.ontology = v.ontology AND t.version = v.version) AS terms "
        "FROM versions v JOIN validations m ON m.ontology = v.ontology "
        "AND m.version = v.version AND m.validator = 'stream' AND m.passed "
        "LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version "
        "WHERE v.ontology = ? AND v.status = 'good' "
        "ORDER BY v.created_at, v.version, m.validated_at",
        [ontology],
    )


def storage(ontology: str | None = None) -> Query:
    """Bytes per version: the downloaded artifact and the files extracted from it.

    A file that is the artifact itself (nothing to unpack) points into the store and is not
    counted twice.
    """
    where, params = _where({"ontology": ontology}, "v")
    return (
        "SELECT v.ontology, v.version, v.status, (l.version IS NOT NULL) AS live, "  # noqa: S608
        "v.created_at, CAST(coalesce(a.size, 0) AS BIGINT) AS artifact_bytes, "
        "CAST(coalesce(f.extracted, 0) AS BIGINT) AS extracted_bytes, "
        "CAST(coalesce(f.n, 0) AS BIGINT) AS files FROM versions v "
        "LEFT JOIN latest l ON l.ontology = v.ontology AND l.version = v.version "
        "LEFT JOIN (SELECT ontology, sha256, max(size) AS size FROM artifacts "
        " GROUP BY ontology, sha256) a ON a.ontology = v.ontology AND a.sha256 = v.sha256 "
        "LEFT JOIN (SELECT f.ontology, f.version, count(*) AS n, "
        " sum(CASE WHEN s.store_path IS NULL THEN f.size ELSE 0 END) AS extracted "
        " FROM files f LEFT JOIN (SELECT DISTINCT store_path FROM artifacts) s "
        " ON s.store_path = f.path GROUP BY f.ontology, f.version) f "
        "ON f.ontology = v.ontology AND f.version = v.version"
        f"{where} ORDER BY v.ontology, v.created_at DESC, v.version DESC",
        params,
    )


def slow_queries(limit: int | None = 10) -> Query:
    """Slow and profiled catalog queries recorded by query handles, slowest first."""
    return (
        "SELECT ts, event, duration_s, payload, run_id FROM events "  # noqa: S608
        "WHERE event IN ('query.slow', 'query.profiled') "
        f"ORDER BY duration_s DESC, ts DESC{_limit(limit)}",
        [],
    )
