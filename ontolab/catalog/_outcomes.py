"""What validation decided about a version, recorded in one transaction.

The pipeline converts the extract and validate stages' receipts into these plain records, so
the catalog depends on neither stage.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from ontolab.catalog._duckdb import DuckDBCatalog, utcnow

Status = Literal["staged", "good", "rejected", "failed"]


@dataclass(frozen=True)
class FileRecord:
    member: str
    path: str
    size: int
    sha256: str
    format: str | None = None
    chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationRecord:
    validator: str
    passed: bool
    member: str | None = None
    skipped: bool = False
    reason: str | None = None
    error_code: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    messages: tuple[dict[str, Any], ...] = ()
    duration_s: float | None = None


@dataclass(frozen=True)
class TermsRecord:
    member: str
    path: str
    row_count: int


@dataclass(frozen=True)
class ImportRecord:
    iri: str
    resolved: bool
    url: str | None = None
    sha256: str | None = None
    import_version: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class VersionOutcome:
    """Everything validation produced for one version, and the resulting status."""

    ontology: str
    version: str
    artifact_sha256: str
    status: Status
    reason: str | None = None
    error_code: str | None = None
    files: tuple[FileRecord, ...] = ()
    validations: tuple[ValidationRecord, ...] = ()
    terms: tuple[TermsRecord, ...] = ()
    imports: tuple[ImportRecord, ...] = ()


def record_outcome(catalog: DuckDBCatalog, outcome: VersionOutcome, *, run_id: str | None) -> None:
    """Replace the version's files, terms and imports, append validations, set its status."""
    now = utcnow()
    key = [outcome.ontology, outcome.version]
    with catalog.transaction() as con:
        for table in ("files", "terms", "imports"):
            con.execute(f"DELETE FROM {table} WHERE ontology = ? AND version = ?", key)  # noqa: S608
        for f in outcome.files:
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    *key,
                    f.member,
                    outcome.artifact_sha256,
                    f.path,
                    f.size,
                    f.sha256,
                    f.format,
                    "+".join(f.chain) or None,
                    now,
                ],
            )
        for t in outcome.terms:
            con.execute(
                "INSERT INTO terms VALUES (?, ?, ?, ?, ?, ?)",
                [*key, t.member, t.path, t.row_count, now],
            )
        for i in outcome.imports:
            con.execute(
                "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [*key, i.iri, i.resolved, i.url, i.sha256, i.import_version, i.message],
            )
        for v in outcome.validations:
            _insert_validation(con, outcome, v, run_id)
        con.execute(
            "UPDATE versions SET status = ?, reason = ?, updated_at = ? "
            "WHERE ontology = ? AND version = ?",
            [outcome.status, outcome.reason, now, *key],
        )


def _insert_validation(
    con: duckdb.DuckDBPyConnection, outcome: VersionOutcome, v: ValidationRecord, run_id: str | None
) -> None:
    con.execute(
        "INSERT INTO validations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            uuid.uuid4().hex,
            run_id,
            outcome.ontology,
            outcome.version,
            v.member,
            v.validator,
            v.passed,
            v.skipped,
            v.reason,
            v.error_code,
            json.dumps(v.metrics, default=str) if v.metrics else None,
            json.dumps(list(v.messages), default=str) if v.messages else None,
            utcnow(),
            v.duration_s,
        ],
    )
