"""The DuckDB catalog on real files: migrations, transactions, cross-process locking, records."""

from __future__ import annotations

import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ontolab.catalog import (
    MIGRATIONS,
    SCHEMA_VERSION,
    DuckDBCatalog,
    Recorder,
    parse_catalog_url,
)
from ontolab.errors import CatalogError, CatalogLocked, is_transient
from ontolab.models import Artifact, FetchResult, Plan, PlanItem, Source

pytestmark = pytest.mark.integration

INSERT_RUN = (
    "INSERT INTO runs (run_id, command, started_at, ontolab_version) "
    "VALUES (?, 'pull', now()::TIMESTAMP, 'test')"
)
# Holds a read-write DuckDB connection (and so the file lock) for argv[2] seconds.
HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


# Uses the catalog, then exits around the moment its idle connection is closed.
EXIT_SOON = """
import sys, time
from pathlib import Path
from ontolab.catalog import DuckDBCatalog, _duckdb
catalog = DuckDBCatalog(Path(sys.argv[1]))
with catalog.transaction() as con:
    con.execute("SELECT 1")
time.sleep(getattr(_duckdb, "IDLE_CLOSE_S", 0.25) + float(sys.argv[2]))
"""


@pytest.fixture
def new_catalog(tmp_path: Path) -> Iterator[Callable[..., DuckDBCatalog]]:
    """DuckDBCatalog factory; every catalog made is closed at teardown."""
    made: list[DuckDBCatalog] = []

    def make(name: str = "catalog.duckdb", **kwargs: Any) -> DuckDBCatalog:
        made.append(DuckDBCatalog(tmp_path / name, **kwargs))
        return made[-1]

    yield make
    for catalog in made:
        catalog.close()


def rows(where: Path | DuckDBCatalog, sql: str) -> list[tuple[object, ...]]:
    """Query the file directly, bypassing the catalog code under test.

    A catalog is closed first: it keeps the file open for a moment after its last use.
    """
    if isinstance(where, DuckDBCatalog):
        where.close()
        where = where.path
    con = duckdb.connect(str(where), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def created_tables() -> set[str]:
    pattern = re.compile(r"CREATE TABLE (\w+)")
    return {
        match[1]
        for migration in MIGRATIONS
        for statement in migration.statements
        if (match := pattern.search(statement))
    }


@contextmanager
def catalog_held(path: Path, hold_s: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the catalog's write lock for ``hold_s`` seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(hold_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with proc:  # closes both pipes on exit
        try:
            assert proc.stdout is not None and proc.stderr is not None
            ready, _, _ = select.select([proc.stdout], [], [], 30.0)
            line = proc.stdout.readline() if ready else ""
            if line.strip() != "holding":
                proc.kill()
                proc.wait(timeout=10)
                pytest.fail(f"the holder never took the catalog: {proc.stderr.read()}")
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


# -- migrations ----------------------------------------------------------------------------


def test_fresh_catalog_gets_every_migration(new_catalog: Callable[..., DuckDBCatalog]) -> None:
    catalog = new_catalog("sub/catalog.duckdb")
    assert catalog.migrate() == [m.version for m in MIGRATIONS]
    assert catalog.schema_version() == SCHEMA_VERSION
    tables = rows(catalog, "SELECT table_name FROM information_schema.tables")
    assert {t for (t,) in tables} == {*created_tables(), "schema_version"}
    recorded = rows(catalog, "SELECT version, description FROM schema_version ORDER BY version")
    assert recorded == [(m.version, m.description) for m in MIGRATIONS]


def test_migrate_again_applies_nothing(new_catalog: Callable[..., DuckDBCatalog]) -> None:
    first = new_catalog()
    first.migrate()
    first.close()
    # a new handle (as another process would have) reads the version from the file
    again = new_catalog()
    assert again.migrate() == []
    assert rows(again, "SELECT count(*) FROM schema_version") == [(len(MIGRATIONS),)]


def test_a_catalog_with_rows_upgrades_through_every_later_migration(
    new_catalog: Callable[..., DuckDBCatalog],
) -> None:
    # A user's catalog from an older ontolab holds versions; later migrations alter that table.
    old = new_catalog()
    assert old.migrate(up_to=2) == [1, 2]
    with old._transaction() as con:  # transaction() would migrate to the newest first
        con.execute(
            "INSERT INTO versions (ontology, version, status, sha256, created_at, updated_at) "
            "VALUES ('hp', '2024-01-01', 'good', 'ab', now(), now())"
        )
    old.close()
    upgraded = new_catalog()
    assert upgraded.migrate() == [m.version for m in MIGRATIONS if m.version > 2]
    assert rows(upgraded, "SELECT version, pinned, timings FROM versions") == [
        ("2024-01-01", False, None)
    ]


def _future_version(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "INSERT INTO schema_version VALUES (?, 'from a newer ontolab', now()::TIMESTAMP)",
            [SCHEMA_VERSION + 1],
        )
    finally:
        con.close()


def test_catalog_migrated_by_a_newer_ontolab_is_refused(
    new_catalog: Callable[..., DuckDBCatalog],
) -> None:
    catalog = new_catalog()
    catalog.migrate()
    catalog.close()
    _future_version(catalog.path)
    with pytest.raises(CatalogError) as info:
        catalog.migrate()
    assert info.value.code == "E_CATALOG_SCHEMA_NEWER"
    assert info.value.path == str(catalog.path)
    assert rows(catalog, "SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION + 1,)]


def test_newer_schema_is_refused_before_any_write(
    tmp_path: Path, new_catalog: Callable[..., DuckDBCatalog]
) -> None:
    path = tmp_path / "catalog.duckdb"  # made by hand, as a newer ontolab would have
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
            "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
    finally:
        con.close()
    _future_version(path)
    catalog = new_catalog()
    with pytest.raises(CatalogError) as info, catalog.transaction():
        pass
    assert info.value.code == "E_CATALOG_SCHEMA_NEWER"
    assert {t for (t,) in rows(catalog, "SELECT table_name FROM information_schema.tables")} == {
        "schema_version"
    }


# -- transactions --------------------------------------------------------------------------


def _write_then_fail(catalog: DuckDBCatalog) -> None:
    with catalog.transaction() as con:
        con.execute(INSERT_RUN, ["r1"])
        con.execute(INSERT_RUN, ["r2"])
        raise RuntimeError("boom")


def test_a_transaction_that_raises_rolls_back(new_catalog: Callable[..., DuckDBCatalog]) -> None:
    catalog = new_catalog()
    with pytest.raises(RuntimeError, match="boom"):
        _write_then_fail(catalog)
    assert rows(catalog, "SELECT count(*) FROM runs") == [(0,)]
    with catalog.transaction() as con:  # the catalog is still usable
        con.execute(INSERT_RUN, ["r3"])
    assert rows(catalog, "SELECT run_id FROM runs") == [("r3",)]


def _write_then_violate(catalog: DuckDBCatalog) -> None:
    with catalog.transaction() as con:
        con.execute(INSERT_RUN, ["r1"])
        con.execute(INSERT_RUN, ["r1"])  # primary key violation


def test_a_failed_statement_rolls_back_and_is_translated(
    new_catalog: Callable[..., DuckDBCatalog],
) -> None:
    catalog = new_catalog()
    with pytest.raises(CatalogError) as info:
        _write_then_violate(catalog)
    assert info.value.code == "E_CATALOG_WRITE"
    assert isinstance(info.value.__cause__, duckdb.Error)
    assert rows(catalog, "SELECT count(*) FROM runs") == [(0,)]


# -- locking across processes --------------------------------------------------------------


def test_catalog_held_by_another_process_times_out_as_locked(
    new_catalog: Callable[..., DuckDBCatalog],
) -> None:
    catalog = new_catalog(lock_timeout_s=0.5)
    catalog.ensure_schema()
    catalog.close()
    with catalog_held(catalog.path, hold_s=30.0):
        started = time.monotonic()
        with pytest.raises(CatalogLocked) as info, catalog.transaction():
            pass
        waited = time.monotonic() - started
    assert info.value.code == "E_CATALOG_LOCKED"
    assert info.value.path == str(catalog.path)
    assert is_transient(info.value)
    assert 0.5 <= waited < 2.0


def test_catalog_released_within_the_timeout_is_written(
    new_catalog: Callable[..., DuckDBCatalog],
) -> None:
    catalog = new_catalog(lock_timeout_s=10.0)
    catalog.ensure_schema()
    catalog.close()
    with catalog_held(catalog.path, hold_s=0.5) as holder:
        started = time.monotonic()
        with catalog.transaction() as con:
            con.execute(INSERT_RUN, ["after-wait"])
        waited = time.monotonic() - started
        assert holder.wait(timeout=10) == 0
    assert 0.2 <= waited < 10.0  # it did wait for the holder, and not for the full timeout
    assert rows(catalog, "SELECT run_id FROM runs") == [("after-wait",)]


def test_exiting_right_after_using_the_catalog_does_not_crash(tmp_path: Path) -> None:
    # Exits land around the moment the idle connection is closed, where a close running in
    # a daemon thread during interpreter shutdown used to abort the process (SIGABRT).
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", EXIT_SOON, str(tmp_path / f"c{i}.duckdb"), f"{i * 0.01:.2f}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failures.append((proc.returncode, err.decode(errors="replace")[-300:]))
    assert failures == []


# -- catalog URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected", "absolute"),
    [
        ("duckdb:///rel/catalog.duckdb", Path("rel/catalog.duckdb"), False),
        ("duckdb:////abs/catalog.duckdb", Path("/abs/catalog.duckdb"), True),
        ("data/catalog.duckdb", Path("data/catalog.duckdb"), False),
        ("/srv/catalog.duckdb", Path("/srv/catalog.duckdb"), True),
    ],
)
def test_parse_catalog_url(url: str, expected: Path, absolute: bool) -> None:
    parsed = parse_catalog_url(url)
    assert parsed == expected
    assert parsed.is_absolute() is absolute


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("postgresql://user@host/db", "E_CATALOG_BACKEND"),
        ("postgres://user@host/db", "E_CATALOG_BACKEND"),
        ("duckdb:///", "E_CATALOG_URL"),
    ],
)
def test_parse_catalog_url_refuses(url: str, code: str) -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog_url(url)
    assert info.value.code == code


# -- the recorder --------------------------------------------------------------------------


def _fetched(tmp_path: Path) -> FetchResult:
    blob = tmp_path / "blob"
    blob.write_bytes(b"format-version: 1.2\n")
    item = PlanItem(
        ontology="hp",
        resolver="obo",
        url="http://mirror.test/obo/hp/releases/2025-01-16/hp.obo",
        version="2025-01-16",
    )
    artifact = Artifact(
        ontology="hp",
        url=item.url,
        sha256="ab" * 32,
        size=20,
        path=blob,
        final_url=item.url,
        etag='"abc"',
        resolver="obo",
        fetched_at=datetime.now(UTC),
    )
    return FetchResult(item=item, outcome="fetched", artifact=artifact, bytes_transferred=20)


def test_recording_the_same_fetch_twice_is_idempotent(
    tmp_path: Path, new_catalog: Callable[..., DuckDBCatalog]
) -> None:
    catalog = new_catalog()
    recorder = Recorder(catalog, "run-1")
    result = _fetched(tmp_path)
    recorder.record_fetch(result, "2025-01-16")
    recorder.record_fetch(result, "2025-01-16")
    assert rows(catalog, "SELECT ontology, url, sha256, version FROM artifacts") == [
        ("hp", result.item.url, "ab" * 32, "2025-01-16")
    ]
    assert rows(catalog, "SELECT ontology, version, status, sha256 FROM versions") == [
        ("hp", "2025-01-16", "staged", "ab" * 32)
    ]
    assert rows(catalog, "SELECT event, run_id, version FROM events") == [
        ("fetch.fetched", "run-1", "2025-01-16"),
        ("fetch.fetched", "run-1", "2025-01-16"),
    ]
    # what the next fetch's conditional GET reads back
    known = recorder.known_artifact("hp", result.item.url)
    assert known is not None
    assert (known.sha256, known.etag, known.version) == ("ab" * 32, '"abc"', "2025-01-16")


def test_recording_the_same_plan_twice_is_idempotent(
    tmp_path: Path, new_catalog: Callable[..., DuckDBCatalog]
) -> None:
    catalog = new_catalog()
    recorder = Recorder(catalog, "run-1")
    plan = Plan(items=(_fetched(tmp_path).item,))
    sources = [Source("hp", ("obo",))]
    recorder.record_plan(plan, sources)
    recorder.record_plan(plan, sources)
    assert rows(catalog, "SELECT run_id, ontology, version FROM plans") == [
        ("run-1", "hp", "2025-01-16")
    ]
    assert rows(catalog, "SELECT ontology, resolvers FROM sources") == [("hp", "obo")]
    assert [i.version for i in recorder.last_plan()] == ["2025-01-16"]
