"""One conformance suite for every catalog backend: a DuckDB file and a real PostgreSQL server.

Every test taking ``catalog_backend`` / ``catalog_url`` runs once per backend (ids ``duckdb``
and ``postgresql``) and asserts what the pipeline, the CLI and the query API rely on: the
same migrations, the same recorded facts, the same pointer semantics, the same error codes,
and on a real pulled catalog the same doctor, query API, prune, backup and restore.
``test_listings_agree_across_backends`` loads identical rows into both and compares results;
``test_a_backup_restores_across_backends`` moves a catalog from one engine to the other.
"""

from __future__ import annotations

import inspect
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest

import ontolab
from ontolab import pipeline
from ontolab.catalog import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CatalogBackend,
    FileRecord,
    ImportRecord,
    Recorder,
    TermsRecord,
    ValidationRecord,
    VersionOutcome,
    backup_catalog,
    demote,
    dicts,
    doctor,
    listings,
    live_version,
    open_catalog,
    promote,
    prune,
    record_outcome,
    restore_catalog,
    rollback,
)
from ontolab.catalog._postgres import format_placeholders
from ontolab.errors import CatalogError, CatalogLocked, PromotionRefused, UnknownOntology
from ontolab.models import Artifact, FetchResult, Plan, PlanItem, Source
from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import Mirror, hpo_obo_path

pytestmark = pytest.mark.integration

URL = "http://mirror.test/obo/{o}/releases/{v}/{o}.obo"


# -- helpers -------------------------------------------------------------------------------


def rows(
    catalog: CatalogBackend, sql: str, params: list[Any] | None = None
) -> list[tuple[Any, ...]]:
    with catalog.reader() as con:
        return [tuple(row) for row in con.execute(sql, params).fetchall()]


def direct(url: str, *statements: str) -> None:
    """Run statements with the engine's own driver, bypassing the code under test."""
    if url.startswith("duckdb:///"):
        con = duckdb.connect(url.removeprefix("duckdb:///"))
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def fetched(
    tmp_path: Path,
    ontology: str = "hp",
    version: str = "v1",
    *,
    outcome: str = "fetched",
) -> FetchResult:
    item = PlanItem(
        ontology=ontology, resolver="obo", url=URL.format(o=ontology, v=version), version=version
    )
    blob = tmp_path / f"{ontology}-{version}.obo"
    blob.write_bytes(f"format-version: 1.2\ndata-version: {version}\n".encode())
    sha = (ontology + version).encode().hex().ljust(64, "0")[:64]
    artifact = Artifact(
        ontology=ontology,
        url=item.url,
        sha256=sha,
        size=blob.stat().st_size,
        path=blob,
        final_url=item.url,
        etag=f'"{version}"',
        resolver="obo",
        version=version,
        fetched_at=datetime(2025, 1, 2, 3, 4, 5),
    )
    return FetchResult(item=item, outcome=outcome, artifact=artifact, bytes_transferred=10)  # type: ignore[arg-type]


def stage(catalog: CatalogBackend, tmp_path: Path, ontology: str, *versions: str) -> None:
    recorder = Recorder(catalog, "run-1")
    for version in versions:
        recorder.record_fetch(fetched(tmp_path, ontology, version), version)
        time.sleep(0.002)  # distinct created_at, as separate pulls would have


def good(catalog: CatalogBackend, ontology: str, version: str, *, promote: bool = False) -> None:
    outcome = VersionOutcome(ontology, version, "ab" * 32, "good")
    record_outcome(catalog, outcome, run_id="run-1", promote=promote)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def user_tables(catalog: CatalogBackend) -> set[str]:
    found = rows(
        catalog,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')",
    )
    return {name for (name,) in found}


# -- migrations ----------------------------------------------------------------------------


def test_fresh_migrate_applies_every_migration_once(
    catalog_backend: CatalogBackend, catalog_url: str
) -> None:
    assert not catalog_backend.exists()
    assert catalog_backend.migrate() == [m.version for m in MIGRATIONS]
    assert catalog_backend.exists()
    assert catalog_backend.schema_version() == SCHEMA_VERSION
    recorded = rows(catalog_backend, "SELECT version, description FROM schema_version")
    assert sorted(recorded) == [(m.version, m.description) for m in MIGRATIONS]
    assert {"runs", "versions", "files", "latest", "latest_history"} <= user_tables(catalog_backend)
    catalog_backend.close()
    again = open_catalog(catalog_url)  # as another process would: reads the version back
    try:
        assert again.migrate() == []
        assert again.schema_version() == SCHEMA_VERSION
        assert len(rows(again, "SELECT * FROM schema_version")) == len(MIGRATIONS)
    finally:
        again.close()


MIGRATE = """
import sys, time
from pathlib import Path
from ontolab.catalog import open_catalog
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
catalog = open_catalog(sys.argv[1], lock_timeout_s=30)
print(catalog.migrate())
catalog.close()
"""


def test_two_processes_migrating_a_fresh_catalog_at_once_both_succeed(
    catalog_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, catalog_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(0.5)  # all three are waiting at the start line
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    # each migration was applied by exactly one of them (on DuckDB they may take turns)
    applied = sorted(v for out, _ in outputs for v in json.loads(out))
    assert applied == [m.version for m in MIGRATIONS], outputs
    catalog = open_catalog(catalog_url)
    try:
        assert len(rows(catalog, "SELECT * FROM schema_version")) == len(MIGRATIONS)
    finally:
        catalog.close()


def test_a_newer_schema_is_refused_before_any_write(
    catalog_backend: CatalogBackend, catalog_url: str
) -> None:
    catalog_backend.migrate()
    catalog_backend.close()
    direct(
        catalog_url,
        f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, 'future', "
        "CAST('2030-01-01' AS TIMESTAMP))",
    )
    newer = open_catalog(catalog_url)
    try:
        with pytest.raises(CatalogError) as info, newer.transaction() as con:
            con.execute(
                "INSERT INTO runs (run_id, command, started_at, ontolab_version) "
                "VALUES ('r', 'pull', CAST('2030-01-01' AS TIMESTAMP), 'x')"
            )
        assert info.value.code == "E_CATALOG_SCHEMA_NEWER"
        assert "upgrade ontolab" in info.value.message
    finally:
        newer.close()
    reader = open_catalog(catalog_url, read_only=True)
    try:
        assert rows(reader, "SELECT count(*) FROM runs") == [(0,)]
    finally:
        reader.close()


def test_read_only_handle_reads_refuses_writes_and_needs_a_catalog(
    catalog_backend: CatalogBackend, catalog_url: str
) -> None:
    missing = open_catalog(catalog_url, read_only=True)
    with pytest.raises(CatalogError) as info, missing.reader():
        pass
    assert info.value.code == "E_CATALOG_MISSING"
    missing.close()
    Recorder(catalog_backend, "run-1").start_run("pull")
    catalog_backend.close()  # in one process, a read-only DuckDB handle shares a writer's
    reader = open_catalog(catalog_url, read_only=True)
    try:
        assert rows(reader, "SELECT run_id, status FROM runs") == [("run-1", "running")]
        with pytest.raises(CatalogError) as refused, reader.transaction():
            pass
        assert refused.value.code == "E_CATALOG_READ_ONLY"
        with pytest.raises(CatalogError) as sneaked, reader.reader() as con:
            con.execute("DELETE FROM runs")
        assert sneaked.value.code == "E_CATALOG_READ"
        assert rows(reader, "SELECT count(*) FROM runs") == [(1,)]
    finally:
        reader.close()


def test_read_only_handle_upgrades_an_older_schema_once(catalog_url: str) -> None:
    older = [
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
        "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)",
        *MIGRATIONS[0].statements,
        "INSERT INTO schema_version VALUES (1, 'core', CAST('2024-01-01' AS TIMESTAMP))",
    ]
    direct(catalog_url, *older)
    reader = open_catalog(catalog_url, read_only=True)
    try:
        assert rows(reader, "SELECT count(*) FROM latest") == [(0,)]  # a migration 3 table
        assert reader.schema_version() == SCHEMA_VERSION
    finally:
        reader.close()


# -- the recorder --------------------------------------------------------------------------


def test_runs_plans_and_events_are_recorded(catalog_backend: CatalogBackend) -> None:
    recorder = Recorder(catalog_backend, "run-1")
    recorder.start_run("pull")
    recorder.start_run("pull")  # idempotent
    item = PlanItem("hp", "obo", URL.format(o="hp", v="v1"), version="v1", expected_size=2**40)
    plan = Plan(items=(item, PlanItem("go", "ols", URL.format(o="go", v="g1"), version="g1")))
    sources = [Source("hp", ("obo",), title="Human Phenotype"), Source("go", ("ols", "obo"))]
    recorder.record_plan(plan, sources)
    recorder.record_plan(plan, sources)
    later = Recorder(catalog_backend, "run-2")
    later.record_plan(Plan(items=(PlanItem("hp", "obo", item.url, version="v2"),)), sources[:1])
    assert [(p.ontology, p.version, p.expected_size) for p in later.last_plan()] == [
        ("go", "g1", None),
        ("hp", "v2", None),
    ]
    assert rows(catalog_backend, "SELECT count(*) FROM plans") == [(3,)]
    assert rows(
        catalog_backend,
        "SELECT expected_size FROM plans WHERE run_id = 'run-1' AND ontology = 'hp'",
    ) == [(2**40,)]
    assert sorted(rows(catalog_backend, "SELECT ontology, resolvers, title FROM sources")) == [
        ("go", "ols,obo", None),
        ("hp", "obo", "Human Phenotype"),
    ]
    from ontolab.catalog import Event

    recorder.event(Event("plan.failed", level="error", ontology="go", payload={"n": 1}))
    recorder.finish_run("finished")
    assert rows(catalog_backend, "SELECT status FROM runs WHERE run_id = 'run-1'") == [
        ("finished",)
    ]
    assert rows(
        catalog_backend, "SELECT finished_at IS NOT NULL FROM runs WHERE run_id = 'run-1'"
    ) == [(True,)]
    assert rows(catalog_backend, "SELECT event, level, run_id, payload FROM events") == [
        ("plan.failed", "error", "run-1", '{"n": 1}')
    ]


def test_fetches_fetched_unchanged_and_failed(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    recorder = Recorder(catalog_backend, "run-1")
    first = fetched(tmp_path, "hp", "v1")
    recorder.record_fetch(first, "v1")
    recorder.record_fetch(fetched(tmp_path, "hp", "v1", outcome="unchanged"), "v1")
    failed = FetchResult(
        item=first.item, outcome="failed", error_code="E_HTTP_500", reason="http", message="500"
    )
    recorder.record_fetch(failed)
    assert rows(catalog_backend, "SELECT ontology, version, status, sha256 FROM versions") == [
        ("hp", "v1", "staged", first.artifact.sha256)  # type: ignore[union-attr]
    ]
    assert rows(catalog_backend, "SELECT count(*) FROM artifacts") == [(1,)]
    events = rows(catalog_backend, "SELECT event, level, error_code FROM events ORDER BY ts")
    assert events == [
        ("fetch.fetched", "info", None),
        ("fetch.unchanged", "info", None),
        ("fetch.failed", "error", "E_HTTP_500"),
    ]
    known = recorder.known_artifact("hp", first.item.url)
    assert known is not None
    assert (known.sha256, known.etag, known.version, known.path) == (
        first.artifact.sha256,  # type: ignore[union-attr]
        '"v1"',
        "v1",
        first.artifact.path,  # type: ignore[union-attr]
    )
    assert known.fetched_at == datetime(2025, 1, 2, 3, 4, 5)
    assert recorder.known_artifact("hp", "http://elsewhere/hp.obo") is None
    assert recorder.version_status("hp", "v1") == "staged"
    assert recorder.version_status("hp", "v9") is None
    stored = recorder.stored_version("hp", None)
    assert stored is not None and stored[0] == "v1"
    assert stored[1].sha256 == first.artifact.sha256  # type: ignore[union-attr]
    assert recorder.stored_version("hp", "v9") is None
    assert recorder.live("hp") is None and recorder.live_versions() == {}


# -- outcomes ------------------------------------------------------------------------------


def outcome(status: str = "good", n_files: int = 2, **kwargs: Any) -> VersionOutcome:
    return VersionOutcome(
        "hp",
        "v1",
        "ab" * 32,
        status,  # type: ignore[arg-type]
        reason=kwargs.get("reason"),
        files=tuple(
            FileRecord(f"m{i}.obo", f"/x/m{i}.obo", 10 * i + 1, f"{i:064x}", "obo", ("gzip",))
            for i in range(n_files)
        ),
        validations=(ValidationRecord("stream", True, metrics={"classes": 3}),),
        terms=(TermsRecord("m0.obo", "/t/m0.parquet", 3),),
        imports=(ImportRecord("http://purl.obolibrary.org/obo/ro.owl", False, message="off"),),
    )


def test_record_outcome_replaces_files_terms_imports_and_appends_validations(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1")
    record_outcome(catalog_backend, outcome(n_files=3), run_id="run-1")
    record_outcome(catalog_backend, outcome(n_files=2), run_id="run-2")
    assert rows(
        catalog_backend, "SELECT member, size, format, chain FROM files ORDER BY member"
    ) == [("m0.obo", 1, "obo", "gzip"), ("m1.obo", 11, "obo", "gzip")]
    assert rows(catalog_backend, "SELECT member, row_count FROM terms") == [("m0.obo", 3)]
    assert rows(catalog_backend, "SELECT iri, resolved FROM imports") == [
        ("http://purl.obolibrary.org/obo/ro.owl", False)
    ]
    assert rows(
        catalog_backend, "SELECT run_id, passed, metrics FROM validations ORDER BY run_id"
    ) == [("run-1", True, '{"classes": 3}'), ("run-2", True, '{"classes": 3}')]
    assert rows(catalog_backend, "SELECT status FROM versions") == [("good",)]
    assert live_version_of(catalog_backend, "hp") is None  # not promoted unless asked


def live_version_of(catalog: CatalogBackend, ontology: str) -> str | None:
    with catalog.reader() as con:
        return live_version(con, ontology)


def history(catalog: CatalogBackend, ontology: str = "hp") -> list[tuple[Any, ...]]:
    return rows(
        catalog,
        "SELECT action, version, previous_version, actor, reason FROM latest_history "
        "WHERE ontology = ? ORDER BY moved_at",
        [ontology],
    )


def test_record_outcome_promotes_and_a_rejected_live_version_is_demoted(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v0", "v1")
    good(catalog_backend, "hp", "v0", promote=True)
    moved = record_outcome(catalog_backend, outcome("good"), run_id="run-1", promote=True)
    assert moved is not None and (moved.version, moved.previous) == ("v1", "v0")
    assert live_version_of(catalog_backend, "hp") == "v1"
    # re-validation rejects the live version: the pointer returns to v0 in the same write
    demoted = record_outcome(
        catalog_backend, outcome("rejected", reason="parse error"), run_id="run-2"
    )
    assert demoted is not None and demoted.action == "demote"
    assert live_version_of(catalog_backend, "hp") == "v0"
    assert [h[:3] for h in history(catalog_backend)] == [
        ("promote", "v0", None),
        ("promote", "v1", "v0"),
        ("demote", "v0", "v1"),
    ]
    assert history(catalog_backend)[-1][4] == "now rejected: parse error"


# -- the latest pointer --------------------------------------------------------------------


def test_only_a_good_recorded_version_can_be_live(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1")
    with pytest.raises(PromotionRefused) as refused:
        promote(catalog_backend, "hp", "v1")
    assert refused.value.code == "E_PROMOTE_NOT_GOOD"
    with pytest.raises(UnknownOntology) as unknown:
        promote(catalog_backend, "hp", "v9")
    assert unknown.value.code == "E_VERSION_UNKNOWN"
    assert rows(catalog_backend, "SELECT count(*) FROM latest") == [(0,)]
    assert history(catalog_backend) == []


def test_promote_and_rollback_walk_back_through_history(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1", "v2", "v3")
    for version in ("v1", "v2", "v3"):
        good(catalog_backend, "hp", version)
        moved = promote(catalog_backend, "hp", version, actor="ci@host", reason="nightly")
        assert moved.changed and moved.version == version
    again = promote(catalog_backend, "hp", "v3", actor="ci@host")
    assert not again.changed  # already live: a no-op, not recorded
    assert [rollback(catalog_backend, "hp", actor="me@box").version for _ in range(2)] == [
        "v2",
        "v1",
    ]
    with pytest.raises(PromotionRefused) as nothing:
        rollback(catalog_backend, "hp")
    assert nothing.value.code == "E_ROLLBACK_NO_TARGET"
    with pytest.raises(PromotionRefused) as never:
        rollback(catalog_backend, "go")
    assert never.value.code == "E_ROLLBACK_NO_TARGET"
    assert history(catalog_backend) == [
        ("promote", "v1", None, "ci@host", "nightly"),
        ("promote", "v2", "v1", "ci@host", "nightly"),
        ("promote", "v3", "v2", "ci@host", "nightly"),
        ("rollback", "v2", "v3", "me@box", "rollback"),
        ("rollback", "v1", "v2", "me@box", "rollback"),
    ]
    latest_row = rows(catalog_backend, "SELECT version, promoted_by, reason FROM latest")
    assert latest_row == [("v1", "me@box", "rollback")]


def test_demote_falls_back_to_the_previous_good_version_or_to_nothing(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1", "v2")
    good(catalog_backend, "hp", "v1", promote=True)
    good(catalog_backend, "hp", "v2", promote=True)
    with catalog_backend.transaction() as con:
        first = demote(con, "hp", reason="file missing", actor="doctor")
    with catalog_backend.transaction() as con:
        second = demote(con, "hp", reason="file missing", actor="doctor")
    assert (first.version, first.previous) == ("v1", "v2")
    assert (second.version, second.previous) == (None, "v1")
    assert live_version_of(catalog_backend, "hp") is None
    assert history(catalog_backend)[-2:] == [
        ("demote", "v1", "v2", "doctor", "file missing"),
        ("demote", None, "v1", "doctor", "file missing"),
    ]


def test_deleting_a_live_version_fails_and_changes_nothing(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1", "v2")
    good(catalog_backend, "hp", "v1", promote=True)
    with pytest.raises(CatalogError) as info, catalog_backend.transaction() as con:
        con.execute("DELETE FROM versions WHERE ontology = 'hp'")
    assert info.value.code == "E_CATALOG_WRITE"
    assert rows(catalog_backend, "SELECT count(*) FROM versions") == [(2,)]
    with catalog_backend.transaction() as con:  # a version that is not live can go
        con.execute("DELETE FROM versions WHERE ontology = 'hp' AND version = 'v2'")
    assert rows(catalog_backend, "SELECT version FROM versions") == [("v1",)]


# -- transactions and errors ---------------------------------------------------------------

INSERT_RUN = (
    "INSERT INTO runs (run_id, command, started_at, ontolab_version) "
    "VALUES (?, 'pull', CAST('2025-01-01' AS TIMESTAMP), 'test')"
)


def write_then_fail(catalog: CatalogBackend) -> None:
    with catalog.transaction() as con:
        con.execute(INSERT_RUN, ["r1"])
        raise RuntimeError("boom")


def write_then_violate(catalog: CatalogBackend) -> None:
    with catalog.transaction() as con:
        con.execute(INSERT_RUN, ["r2"])
        con.execute(INSERT_RUN, ["r2"])  # primary key violation


def test_an_error_inside_a_transaction_leaves_no_partial_rows(
    catalog_backend: CatalogBackend,
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail(catalog_backend)
    with pytest.raises(CatalogError) as info:
        write_then_violate(catalog_backend)
    assert info.value.code == "E_CATALOG_WRITE"
    assert rows(catalog_backend, "SELECT count(*) FROM runs") == [(0,)]
    with catalog_backend.transaction() as con:  # the handle is still usable
        con.execute(INSERT_RUN, ["r3"])
    assert rows(catalog_backend, "SELECT run_id FROM runs") == [("r3",)]


def test_a_read_only_handle_in_use_does_not_block_a_writer_in_the_same_process(
    catalog_backend: CatalogBackend, catalog_url: str
) -> None:
    # A notebook: query the catalog, then pull in the next cell (within the idle period).
    catalog_backend.migrate()
    catalog_backend.close()
    reader = open_catalog(catalog_url, read_only=True)
    writer = open_catalog(catalog_url, lock_timeout_s=5)
    try:
        for run_id in ("r1", "r2"):
            assert rows(reader, "SELECT count(*) FROM runs") == [(int(run_id[1]) - 1,)]
            with writer.transaction() as con:
                con.execute(INSERT_RUN, [run_id])
        assert rows(reader, "SELECT run_id FROM runs ORDER BY run_id") == [("r1",), ("r2",)]
    finally:
        reader.close()
        writer.close()


def test_a_bad_query_is_a_read_error(catalog_backend: CatalogBackend) -> None:
    with pytest.raises(CatalogError) as info:
        rows(catalog_backend, "SELECT no_such_column FROM runs")
    assert info.value.code == "E_CATALOG_READ"
    assert rows(catalog_backend, "SELECT count(*) FROM runs") == [(0,)]


def test_an_unopenable_catalog_is_an_open_error_without_the_password(
    catalog_url: str, tmp_path: Path
) -> None:
    if catalog_url.startswith("duckdb"):
        garbage = tmp_path / "not-a-catalog.duckdb"
        garbage.write_bytes(b"this is not a DuckDB file\n" * 1000)
        url = f"duckdb:///{garbage}"
    else:
        url = f"postgresql://ontolab:pa55-w0rd@127.0.0.1:{closed_port()}/catalog"
    catalog = open_catalog(url, lock_timeout_s=2)
    with pytest.raises(CatalogError) as info:
        catalog.ensure_schema()
    assert info.value.code == "E_CATALOG_OPEN"
    assert "pa55-w0rd" not in str(info.value)
    assert "pa55-w0rd" not in repr(catalog) + catalog.location
    catalog.close()


def test_a_server_refusing_the_login_is_an_open_error_without_the_password(
    postgres_db: str,
) -> None:
    wrong_db = postgres_db.rsplit("/", 1)[0] + "/no_such_db"
    wrong_user = postgres_db.replace("ontolab@", "nobody:pa55-w0rd@")
    for url in (wrong_db.replace("ontolab@", "ontolab:pa55-w0rd@"), wrong_user):
        catalog = open_catalog(url, lock_timeout_s=2)
        with pytest.raises(CatalogError) as info:
            catalog.ensure_schema()
        assert info.value.code == "E_CATALOG_OPEN"
        assert "pa55-w0rd" not in str(info.value)
        assert "***" in str(info.value)


def test_placeholders_are_rewritten_and_literal_percents_survive() -> None:
    assert format_placeholders("SELECT ? , ?") == "SELECT %s , %s"
    assert format_placeholders("x LIKE 'a%' AND y = ?") == "x LIKE 'a%%' AND y = %s"
    assert format_placeholders("SELECT 1") == "SELECT 1"


def test_like_with_a_literal_percent_works_with_and_without_parameters(
    catalog_backend: CatalogBackend,
) -> None:
    with catalog_backend.transaction() as con:
        for run_id in ("abc", "a%c", "xyz"):
            con.execute(INSERT_RUN, [run_id])
    assert rows(catalog_backend, "SELECT count(*) FROM runs WHERE run_id LIKE 'a%'") == [(2,)]
    assert rows(
        catalog_backend,
        "SELECT run_id FROM runs WHERE run_id LIKE 'a%' AND command = ? ORDER BY run_id",
        ["pull"],
    ) == [("a%c",), ("abc",)]
    assert rows(catalog_backend, "SELECT 'what?', '100%'") == [("what?", "100%")]


# -- bulk rows -----------------------------------------------------------------------------

SCRATCH = (
    "CREATE TABLE scratch (id BIGINT PRIMARY KEY, small INTEGER, flag BOOLEAN, "
    "score DOUBLE PRECISION, label VARCHAR, seen_at TIMESTAMP, day DATE)"
)
EXPECTED_TYPES = {
    "id": pa.int64(),
    "small": pa.int32(),
    "flag": pa.bool_(),
    "score": pa.float64(),
    "label": pa.string(),
    "seen_at": pa.timestamp("us"),
    "day": pa.date32(),
}


def test_insert_arrow_and_query_arrow_round_trip(catalog_backend: CatalogBackend) -> None:
    batch = pa.table(
        {
            "id": pa.array([2**62, -(2**63) + 1, 0, 7], pa.int64()),
            "small": pa.array([1, None, -(2**31), 2**31 - 1], pa.int32()),
            "flag": pa.array([True, False, None, True]),
            "score": pa.array([1.5, None, -0.0, 1e300]),
            "label": pa.array(["Straße", "日本語 🧬", None, 'tab\tnew\nline \\ "q" ,']),
            "seen_at": pa.array(
                [datetime(2025, 1, 2, 3, 4, 5, 678901), None, datetime(1970, 1, 1), None],
                pa.timestamp("us"),
            ),
            "day": pa.array([date(2025, 1, 2), None, date(1999, 12, 31), None], pa.date32()),
        }
    )
    with catalog_backend.transaction() as con:
        con.execute(SCRATCH)
        assert catalog_backend.insert_arrow(con, "scratch", batch) == 4
    back = catalog_backend.query_arrow("SELECT * FROM scratch ORDER BY id")
    assert dict(zip(back.column_names, back.schema.types, strict=True)) == EXPECTED_TYPES
    assert back.to_pylist() == batch.sort_by("id").to_pylist()
    # no rows, or only NULLs, still typed: a notebook's frame keeps its columns' types
    empty = catalog_backend.query_arrow("SELECT * FROM scratch WHERE id = ?", [-1])
    assert dict(zip(empty.column_names, empty.schema.types, strict=True)) == EXPECTED_TYPES
    nulls = catalog_backend.query_arrow("SELECT small, label, seen_at FROM scratch WHERE id = 0")
    assert nulls.schema.types == [pa.int32(), pa.string(), pa.timestamp("us")]


def test_a_failed_bulk_insert_leaves_nothing(catalog_backend: CatalogBackend) -> None:
    with catalog_backend.transaction() as con:
        con.execute(SCRATCH)
    duplicate = pa.table({"id": pa.array([1, 2, 1], pa.int64()), "label": ["a", "b", "c"]})
    with pytest.raises(CatalogError) as info:
        insert_then_bulk(catalog_backend, duplicate)
    assert info.value.code == "E_CATALOG_WRITE"
    assert rows(catalog_backend, "SELECT count(*) FROM scratch") == [(0,)]


def insert_then_bulk(catalog: CatalogBackend, batch: pa.Table) -> None:
    with catalog.transaction() as con:
        con.execute("INSERT INTO scratch (id, label) VALUES (?, ?)", [99, "before"])
        catalog.insert_arrow(con, "scratch", batch)


# -- concurrency ---------------------------------------------------------------------------

HOLD_FILE = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held(catalog_url: str) -> Iterator[None]:
    """Another client blocking writes: a process holding the DuckDB file, or a PostgreSQL
    transaction holding an exclusive lock on ``latest``."""
    if catalog_url.startswith("duckdb"):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_FILE, catalog_url.removeprefix("duckdb:///"), "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
            yield
        finally:
            proc.kill()
            proc.communicate(timeout=10)
        return
    with psycopg.connect(catalog_url) as conn:
        conn.execute("LOCK TABLE latest IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_a_writer_blocked_by_another_client_gets_a_clear_locked_error(
    catalog_backend: CatalogBackend, catalog_url: str, tmp_path: Path
) -> None:
    stage(catalog_backend, tmp_path, "hp", "v1")
    good(catalog_backend, "hp", "v1")
    catalog_backend.close()
    impatient = open_catalog(catalog_url, lock_timeout_s=1)
    try:
        with held(catalog_url):
            started = time.monotonic()
            with pytest.raises(CatalogLocked) as info:
                promote(impatient, "hp", "v1")
            waited = time.monotonic() - started
        assert info.value.code == "E_CATALOG_LOCKED"
        assert 0.9 <= waited < 10
        assert promote(impatient, "hp", "v1").version == "v1"  # released: it goes through
    finally:
        impatient.close()


# -- listings ------------------------------------------------------------------------------

T0 = datetime(2025, 3, 1, 12, 0, 0)


def at(seconds: int) -> datetime:
    return T0.replace(second=seconds)


def load_fixture(catalog: CatalogBackend) -> None:
    """The same rows, with fixed timestamps, for both backends."""
    versions = [
        ("hp", "v1", "good", 1),
        ("hp", "v2", "good", 2),
        ("hp", "v3", "rejected", 3),
        ("go", "g1", "good", 4),
        ("go", "g2", "staged", 5),
    ]
    tables: dict[str, dict[str, Any]] = {
        "versions": {
            "ontology": [v[0] for v in versions],
            "version": [v[1] for v in versions],
            "version_iri": [f"http://x/{v[0]}/{v[1]}" for v in versions],
            "release_date": pa.array([date(2025, 1, v[3]) for v in versions], pa.date32()),
            "licence": ["CC-BY-4.0", "CC-BY-4.0", None, "CC0", "CC0"],
            "status": [v[2] for v in versions],
            "reason": [None, None, "parse error", None, None],
            "resolver": ["obo"] * 5,
            "sha256": [f"{v[3]:064x}" for v in versions],
            "run_id": ["run-1"] * 5,
            "created_at": pa.array([at(v[3]) for v in versions], pa.timestamp("us")),
            "updated_at": pa.array([at(v[3]) for v in versions], pa.timestamp("us")),
            "pinned": [False, True, False, False, False],
        },
        "artifacts": {
            "ontology": ["hp", "hp", "go"],
            "url": ["http://x/hp1", "http://x/hp2", "http://x/go1"],
            "sha256": [f"{i:064x}" for i in (1, 2, 4)],
            "size": pa.array([2**33, 5, 7], pa.int64()),
            "store_path": ["/s/1", "/s/2", "/s/4"],
            "fetched_at": pa.array([at(1), at(2), at(4)], pa.timestamp("us")),
            "elapsed_s": [0.5, 0.25, 1.0],
        },
        "files": {
            "ontology": ["hp", "hp", "go"],
            "version": ["v1", "v2", "g1"],
            "member": ["hp.obo", "hp.obo", "go.owl"],
            "artifact_sha256": [f"{i:064x}" for i in (1, 2, 4)],
            "path": ["/e/hp1", "/e/hp2", "/e/go1"],
            "size": pa.array([2**34, 11, 13], pa.int64()),
            "sha256": ["a" * 64, "b" * 64, "c" * 64],
            "format": ["obo", "obo", None],
            "chain": [None, "gzip", None],
            "created_at": pa.array([at(1), at(2), at(4)], pa.timestamp("us")),
        },
        "validations": {
            "validation_id": ["val1", "val2", "val3"],
            "run_id": ["run-1"] * 3,
            "ontology": ["hp", "hp", "go"],
            "version": ["v2", "v3", "g1"],
            "member": ["hp.obo", None, "go.owl"],
            "validator": ["stream", "stream", "stream"],
            "passed": [True, False, True],
            "skipped": [False, False, False],
            "error_code": [None, "E_PARSE_OBO", None],
            "metrics": ['{"classes": 3}', None, "{}"],
            "validated_at": pa.array([at(2), at(3), at(4)], pa.timestamp("us")),
            "duration_s": [0.1, None, 2.5],
        },
        "latest": {
            "ontology": ["hp", "go"],
            "version": ["v2", "g1"],
            "promoted_at": pa.array([at(6), at(7)], pa.timestamp("us")),
            "promoted_by": ["ci@host", "me@box"],
            "reason": ["pull", None],
        },
        "latest_history": {
            "history_id": ["h1", "h2", "h3"],
            "ontology": ["hp", "hp", "go"],
            "version": ["v1", "v2", "g1"],
            "previous_version": [None, "v1", None],
            "action": ["promote", "promote", "promote"],
            "actor": ["ci@host", "ci@host", "me@box"],
            "moved_at": pa.array([at(1), at(6), at(7)], pa.timestamp("us")),
        },
        "events": {
            "event_id": ["e1", "e2", "e3"],
            "ts": pa.array([at(1), at(3), at(8)], pa.timestamp("us")),
            "run_id": ["run-1", "run-1", None],
            "level": ["info", "error", "info"],
            "event": ["fetch.fetched", "validate.rejected", "latest.promote"],
            "ontology": ["hp", "hp", "go"],
            "version": ["v1", "v3", "g1"],
            "duration_s": [1.25, None, None],
            "error_code": [None, "E_PARSE_OBO", None],
            "payload": ['{"bytes": 5}', None, None],
        },
    }
    with catalog.transaction() as con:
        for table in ("versions", "artifacts", "files", "validations", "latest",
                      "latest_history", "events"):  # fmt: skip
            catalog.insert_arrow(con, table, pa.table(tables[table]))


def listing_calls() -> Iterator[tuple[str, Callable[..., Any], dict[str, Any]]]:
    for name in listings.LISTINGS:
        listing = getattr(listings, name)
        yield name, listing, {}
        if "ontology" in inspect.signature(listing).parameters:
            yield name, listing, {"ontology": "hp"}


def run_listings(catalog: CatalogBackend) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
    results = {}
    for name, listing, kwargs in listing_calls():
        sql, params = listing(**kwargs)
        with catalog.reader() as con:
            cursor = con.execute(sql, params)
            results[f"{name}{kwargs}"] = ([c[0] for c in cursor.description], dicts(cursor))
    return results


def test_listings_agree_across_backends(tmp_path: Path, postgres_db: str) -> None:
    duck = open_catalog(f"duckdb:///{tmp_path / 'catalog.duckdb'}")
    pg = open_catalog(postgres_db)
    try:
        for catalog in (duck, pg):
            load_fixture(catalog)
        on_duck, on_pg = run_listings(duck), run_listings(pg)
        assert on_duck.keys() == on_pg.keys()
        for key, (columns, found) in on_duck.items():
            assert on_pg[key][0] == columns, key
            assert on_pg[key][1] == found, key
            types_pg = [{c: type(v).__name__ for c, v in row.items()} for row in on_pg[key][1]]
            assert types_pg == [{c: type(v).__name__ for c, v in r.items()} for r in found], key
        # a listing is not vacuous: each has rows in this fixture
        assert all(found for key, (_, found) in on_duck.items() if "ontology" not in key)
        latest_rows = on_duck["latest{}"][1]
        assert [(r["ontology"], r["version"], r["status"]) for r in latest_rows] == [
            ("go", "g1", "good"),
            ("hp", "v2", "good"),
        ]
        stats = {r["ontology"]: r for r in on_duck["stats{}"][1]}
        assert (stats["hp"]["versions"], stats["hp"]["good"], stats["hp"]["live"]) == (3, 2, "v2")
        assert stats["hp"]["file_bytes"] == 2**34 + 11
        # Arrow results have the same schema on both engines
        for name, listing, kwargs in listing_calls():
            sql, params = listing(**kwargs)
            a, b = duck.query_arrow(sql, params), pg.query_arrow(sql, params)
            assert a.schema.names == b.schema.names, name
            assert a.to_pylist() == b.to_pylist(), name
    finally:
        duck.close()
        pg.close()


# -- on a pulled catalog: doctor, the query API, prune, backup and restore -------------------


def test_a_pulled_catalog_through_doctor_query_prune_and_backup(
    catalog_url: str,
    mirror: Mirror,
    mirror_settings: Callable[..., OntolabSettings],
    tmp_path: Path,
) -> None:
    hp_kisao = [
        {"id": "hp", "resolver": "obo", "format": "obo"},
        {"id": "kisao", "resolver": "obo"},
    ]
    settings = load_settings(mirror_settings(hp_kisao), catalog=catalog_url)
    receipt = pipeline.pull(settings=settings)
    assert {(r.ontology, r.outcome) for r in receipt.rows} == {
        ("hp", "fetched"),
        ("kisao", "fetched"),
    }
    catalog = open_catalog(catalog_url)
    try:
        checked = doctor(catalog, settings.data_dir, settings=settings)
        assert checked.ok, checked.remaining
        with ontolab.connect(settings) as lab:
            assert lab.backend == catalog.kind
            latest = lab.latest()
            assert latest["ontology"].to_list() == ["hp", "kisao"]
            assert latest["version"].to_list() == ["2025-01-16", "2.34"]
            assert latest["status"].to_list() == ["good", "good"]

        # a second hp release (that passes the gates); keep one version per ontology: the
        # old hp goes, files too
        newer = tmp_path / "hp-next.obo"
        newer.write_text(
            hpo_obo_path()
            .read_text(encoding="utf-8")
            .replace("hp/releases/2025-01-16", "hp/releases/2025-09-09")
        )
        mirror.publish("hp", "2025-09-09", newer, filename="hp.obo")
        assert pipeline.pull(["hp"], settings=settings).rows[0].outcome == "fetched"
        pruned = prune(catalog, settings.data_dir, keep=1)
        assert [(v.ontology, v.version) for v in pruned.versions] == [("hp", "2025-01-16")]
        assert pruned.bytes_freed >= hpo_obo_path().stat().st_size
        assert rows(catalog, "SELECT ontology, version FROM versions ORDER BY ontology") == [
            ("hp", "2025-09-09"),
            ("kisao", "2.34"),
        ]
        assert doctor(catalog, settings.data_dir, settings=settings).ok

        before = run_listings(catalog)
        backup_catalog(catalog, tmp_path / "backup")
        with catalog.transaction() as con:
            con.execute("DELETE FROM events")
            con.execute("DELETE FROM validations")
        restored = restore_catalog(catalog, tmp_path / "backup")
        assert restored.schema_version == SCHEMA_VERSION
        assert run_listings(catalog) == before
    finally:
        catalog.close()


def test_a_backup_restores_across_backends(tmp_path: Path, postgres_db: str) -> None:
    duck = open_catalog(f"duckdb:///{tmp_path / 'catalog.duckdb'}")
    pg = open_catalog(postgres_db)
    try:
        load_fixture(duck)
        backup_catalog(duck, tmp_path / "from-duckdb")
        restore_catalog(pg, tmp_path / "from-duckdb")
        assert run_listings(pg) == run_listings(duck)
        with pg.transaction() as con:  # and back: PostgreSQL's backup into a fresh DuckDB file
            con.execute("DELETE FROM events WHERE event_id = 'e1'")
        backup_catalog(pg, tmp_path / "from-postgresql")
        again = open_catalog(f"duckdb:///{tmp_path / 'again.duckdb'}")
        try:
            restore_catalog(again, tmp_path / "from-postgresql")
            assert run_listings(again) == run_listings(pg)
            assert rows(again, "SELECT count(*) FROM events") == [(2,)]
        finally:
            again.close()
    finally:
        duck.close()
        pg.close()
