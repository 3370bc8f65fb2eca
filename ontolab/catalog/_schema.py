"""The catalog schema as ordered, forward-only migrations.

Each migration runs once, in one transaction, and records itself in ``schema_version``. The SQL
is the portable subset DuckDB and PostgreSQL share, so one list serves both backends.
Tables added from migration 3 on reference ``versions`` with foreign keys; the older child
tables (files, validations, terms, imports) predate them and DuckDB cannot add a foreign key
to an existing table, so prune and doctor keep those consistent instead.
Tables are shaped for the later stages (status, latest pointer, validations) already: a
version's ``status`` moves staged → good/rejected/failed, and artifacts keep every fetch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core: runs, sources, plans, versions, artifacts, events",
        (
            """CREATE TABLE runs (
                run_id VARCHAR PRIMARY KEY,
                command VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                status VARCHAR NOT NULL DEFAULT 'running',
                ontolab_version VARCHAR NOT NULL
            )""",
            """CREATE TABLE sources (
                ontology VARCHAR PRIMARY KEY,
                resolvers VARCHAR NOT NULL,
                origin VARCHAR NOT NULL,
                title VARCHAR,
                licence VARCHAR,
                first_seen TIMESTAMP NOT NULL,
                last_checked TIMESTAMP NOT NULL
            )""",
            """CREATE TABLE plans (
                run_id VARCHAR NOT NULL,
                ontology VARCHAR NOT NULL,
                resolver VARCHAR NOT NULL,
                url VARCHAR NOT NULL,
                version VARCHAR,
                version_iri VARCHAR,
                expected_size BIGINT,
                etag VARCHAR,
                last_modified VARCHAR,
                content_type VARCHAR,
                licence VARCHAR,
                planned_at TIMESTAMP NOT NULL,
                PRIMARY KEY (run_id, ontology)
            )""",
            """CREATE TABLE versions (
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                version_iri VARCHAR,
                release_date DATE,
                licence VARCHAR,
                status VARCHAR NOT NULL
                    CHECK (status IN ('staged', 'good', 'rejected', 'failed')),
                reason VARCHAR,
                resolver VARCHAR,
                sha256 VARCHAR NOT NULL,
                run_id VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                provenance VARCHAR,
                PRIMARY KEY (ontology, version)
            )""",
            """CREATE TABLE artifacts (
                ontology VARCHAR NOT NULL,
                url VARCHAR NOT NULL,
                sha256 VARCHAR NOT NULL,
                size BIGINT NOT NULL,
                final_url VARCHAR,
                etag VARCHAR,
                last_modified VARCHAR,
                content_type VARCHAR,
                resolver VARCHAR,
                version VARCHAR,
                store_path VARCHAR NOT NULL,
                fetched_at TIMESTAMP NOT NULL,
                elapsed_s DOUBLE PRECISION,
                redirects VARCHAR,
                run_id VARCHAR,
                PRIMARY KEY (ontology, url, sha256)
            )""",
            "CREATE INDEX artifacts_by_sha ON artifacts (sha256)",
            """CREATE TABLE events (
                event_id VARCHAR PRIMARY KEY,
                ts TIMESTAMP NOT NULL,
                run_id VARCHAR,
                level VARCHAR NOT NULL,
                event VARCHAR NOT NULL,
                ontology VARCHAR,
                version VARCHAR,
                stage VARCHAR,
                duration_s DOUBLE PRECISION,
                error_code VARCHAR,
                message VARCHAR,
                payload VARCHAR
            )""",
            "CREATE INDEX events_by_ts ON events (ts)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        2,
        "validation: extracted files, validations, terms tables, imports",
        (
            """CREATE TABLE files (
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                member VARCHAR NOT NULL,
                artifact_sha256 VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                size BIGINT NOT NULL,
                sha256 VARCHAR NOT NULL,
                format VARCHAR,
                chain VARCHAR,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (ontology, version, member)
            )""",
            """CREATE TABLE validations (
                validation_id VARCHAR PRIMARY KEY,
                run_id VARCHAR,
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                member VARCHAR,
                validator VARCHAR NOT NULL,
                passed BOOLEAN NOT NULL,
                skipped BOOLEAN NOT NULL,
                reason VARCHAR,
                error_code VARCHAR,
                metrics VARCHAR,
                messages VARCHAR,
                validated_at TIMESTAMP NOT NULL,
                duration_s DOUBLE PRECISION
            )""",
            "CREATE INDEX validations_by_version ON validations (ontology, version)",
            """CREATE TABLE terms (
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                member VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                row_count BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                PRIMARY KEY (ontology, version, member)
            )""",
            """CREATE TABLE imports (
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                iri VARCHAR NOT NULL,
                resolved BOOLEAN NOT NULL,
                url VARCHAR,
                sha256 VARCHAR,
                import_version VARCHAR,
                message VARCHAR,
                PRIMARY KEY (ontology, version, iri)
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        3,
        "lifecycle: latest pointer and its history, gate results, pins",
        (
            "ALTER TABLE versions ADD COLUMN pinned BOOLEAN DEFAULT false",
            """CREATE TABLE gate_results (
                gate_id VARCHAR PRIMARY KEY,
                run_id VARCHAR,
                ontology VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                gate VARCHAR NOT NULL,
                passed BOOLEAN NOT NULL,
                severity VARCHAR NOT NULL,
                details VARCHAR,
                evaluated_at TIMESTAMP NOT NULL,
                FOREIGN KEY (ontology, version) REFERENCES versions (ontology, version)
            )""",
            "CREATE INDEX gate_results_by_version ON gate_results (ontology, version)",
            # One row per ontology: the live version. The foreign key makes deleting a live
            # version impossible, whatever prune or a hand-written query tries.
            """CREATE TABLE latest (
                ontology VARCHAR PRIMARY KEY,
                version VARCHAR NOT NULL,
                promoted_at TIMESTAMP NOT NULL,
                promoted_by VARCHAR NOT NULL,
                reason VARCHAR,
                run_id VARCHAR,
                FOREIGN KEY (ontology, version) REFERENCES versions (ontology, version)
            )""",
            """CREATE TABLE latest_history (
                history_id VARCHAR PRIMARY KEY,
                ontology VARCHAR NOT NULL,
                version VARCHAR,
                previous_version VARCHAR,
                action VARCHAR NOT NULL
                    CHECK (action IN ('promote', 'rollback', 'demote')),
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                moved_at TIMESTAMP NOT NULL,
                run_id VARCHAR
            )""",
            "CREATE INDEX latest_history_by_ontology ON latest_history (ontology, moved_at)",
            "CREATE INDEX events_by_ontology ON events (ontology, ts)",
            "CREATE INDEX versions_by_created ON versions (ontology, created_at)",
            "CREATE INDEX files_by_version ON files (ontology, version)",
        ),
    ),
)

# DuckDB cannot commit two ALTERs of one table that holds rows in one transaction: one each.
MIGRATIONS += (
    Migration(4, "versions: stage timings", ("ALTER TABLE versions ADD COLUMN timings VARCHAR",)),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
