"""What validation and the gates decided about a version, recorded in one transaction.

The pipeline converts the extract, validate and gate stages' receipts into these plain
records (gate results as ``gate_results`` rows), so the catalog depends on none of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ontolab.catalog._backend import CatalogBackend, Connection, utcnow
from ontolab.catalog._latest import Promotion, demote, live_version, promote_in
from ontolab.models import VersionStatus

Status = VersionStatus


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
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    tools: dict[str, str] = field(default_factory=dict)  # package -> version, for provenance


def record_outcome(
    catalog: CatalogBackend,
    outcome: VersionOutcome,
    *,
    run_id: str | None,
    promote: bool = False,
    gates: Sequence[Mapping[str, Any]] = (),
) -> Promotion | None:
    """Replace the version's files, terms and imports, append validations and gate results
    (``gates``: rows keyed by the ``gate_results`` columns), set its status.

    In the same transaction, a good version is promoted when ``promote`` is set, and a live
    version that is no longer good is demoted, so the live version is always a good one.
    Earlier gate results stay, as history.
    """
    now = utcnow()
    key = [outcome.ontology, outcome.version]
    with catalog.transaction() as con:
        for table in ("files", "terms", "imports"):
            con.execute(f"DELETE FROM {table} WHERE ontology = ? AND version = ?", key)  # noqa: S608
        if outcome.files:
            catalog.insert_arrow(con, "files", _file_rows(outcome, now))
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
        _insert_gate_rows(con, gates)
        timings, provenance = _merged_json(con, key, outcome)
        con.execute(
            "UPDATE versions SET status = ?, reason = ?, updated_at = ?, timings = ?, "
            "provenance = ? WHERE ontology = ? AND version = ?",
            [outcome.status, outcome.reason, now, timings, provenance, *key],
        )
        if outcome.status == "good" and promote:
            return promote_in(con, outcome.ontology, outcome.version, reason="pull", run_id=run_id)
        if outcome.status != "good" and live_version(con, outcome.ontology) == outcome.version:
            return demote(con, outcome.ontology, reason=f"now {outcome.status}: {outcome.reason}")
    return None


GATE_COLUMNS = (
    "gate_id",
    "run_id",
    "ontology",
    "version",
    "gate",
    "passed",
    "severity",
    "details",
    "evaluated_at",
)


def record_gate_results(catalog: CatalogBackend, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append gate results (the catalog suite's, which judge no single outcome) in one
    transaction."""
    if rows:
        with catalog.transaction() as con:
            _insert_gate_rows(con, rows)


def _insert_gate_rows(con: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = ", ".join(GATE_COLUMNS)
    marks = ", ".join("?" * len(GATE_COLUMNS))
    for row in rows:
        con.execute(
            f"INSERT INTO gate_results ({columns}) VALUES ({marks})",  # noqa: S608
            [row.get(column) for column in GATE_COLUMNS],
        )


def previous_good(
    catalog: CatalogBackend, ontology: str, version: str
) -> tuple[str, list[Path]] | None:
    """The version a new one is compared with, and its terms tables.

    The live version, else the newest good one created before ``version``; never
    ``version`` itself. A candidate whose terms tables are gone (pruned, deleted by hand) is
    passed over for the next one.
    """
    with catalog.reader() as con:
        live = live_version(con, ontology)
        rows = con.execute(
            "SELECT version, created_at FROM versions WHERE ontology = ? AND status = 'good' "
            "AND version <> ? ORDER BY created_at DESC, version DESC",
            [ontology, version],
        ).fetchall()
        own = con.execute(
            "SELECT created_at FROM versions WHERE ontology = ? AND version = ?",
            [ontology, version],
        ).fetchone()
        created = own[0] if own else None
        candidates = [live] if live is not None and live != version else []
        candidates += [str(v) for v, at in rows if v != live and (created is None or at < created)]
        for candidate in candidates:
            paths = [
                Path(str(p))
                for (p,) in con.execute(
                    "SELECT path FROM terms WHERE ontology = ? AND version = ? ORDER BY member",
                    [ontology, candidate],
                ).fetchall()
            ]
            if paths and all(p.is_file() for p in paths):
                return candidate, paths
    return None


def _merged_json(
    con: Connection, key: list[str], outcome: VersionOutcome
) -> tuple[str | None, str | None]:
    """The version's timings and provenance with this outcome's stages and tools merged in."""
    row = con.execute(
        "SELECT timings, provenance FROM versions WHERE ontology = ? AND version = ?", key
    ).fetchone()
    timings: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    provenance: dict[str, Any] = json.loads(row[1]) if row and row[1] else {}
    timings.update({stage: round(s, 4) for stage, s in outcome.timings.items()})
    if outcome.tools:
        provenance["tools"] = {**provenance.get("tools", {}), **outcome.tools}
    return (json.dumps(timings) if timings else None), (
        json.dumps(provenance) if provenance else None
    )


def _file_rows(outcome: VersionOutcome, now: datetime) -> Any:
    """The version's extracted files as one Arrow batch (bulk insert, not row by row)."""
    import pyarrow as pa

    files = outcome.files
    return pa.table(
        {
            "ontology": [outcome.ontology] * len(files),
            "version": [outcome.version] * len(files),
            "member": [f.member for f in files],
            "artifact_sha256": [outcome.artifact_sha256] * len(files),
            "path": [f.path for f in files],
            "size": pa.array([f.size for f in files], pa.int64()),
            "sha256": [f.sha256 for f in files],
            "format": pa.array([f.format for f in files], pa.string()),
            "chain": pa.array(["+".join(f.chain) or None for f in files], pa.string()),
            "created_at": pa.array([now] * len(files), pa.timestamp("us")),
        }
    )


def _insert_validation(
    con: Connection, outcome: VersionOutcome, v: ValidationRecord, run_id: str | None
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
