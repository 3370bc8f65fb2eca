"""The throwaway PostgreSQL server: it starts, listens on 127.0.0.1 only, and really stops."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from ontolab.testing import PostgresServer
from ontolab.testing import postgres as postgres_module

pytestmark = pytest.mark.integration

# URLs handed out by postgres_db so far in this session, to compare the two runs below.
SEEN_DB_URLS: list[str] = []


def refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def test_server_accepts_connections_on_loopback_only(postgres_url: str) -> None:
    url = urlsplit(postgres_url)
    assert (url.scheme, url.hostname, url.username, url.path) == (
        "postgresql",
        "127.0.0.1",
        "ontolab",
        "/ontolab",
    )
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        row = conn.execute("SELECT current_database(), current_user, host(inet_server_addr())")
        assert row.fetchone() == ("ontolab", "ontolab", "127.0.0.1")
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (1,)
        conn.rollback()
    # Another loopback address reaches the same host but not this server.
    assert url.port is not None
    assert refuses("127.0.0.2", url.port)


@pytest.mark.parametrize("run", [1, 2])
def test_postgres_db_gives_each_test_a_fresh_database(
    run: int, postgres_url: str, postgres_db: str
) -> None:
    name = urlsplit(postgres_db).path.lstrip("/")
    assert postgres_db not in SEEN_DB_URLS
    assert postgres_db != postgres_url
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,), "a table from another test leaked into this database"
        conn.execute("CREATE TABLE marker (run int)")
        conn.execute("INSERT INTO marker VALUES (%s)", (run,))
    with psycopg.connect(postgres_url) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert name in names
    # The earlier run's database was dropped when that test ended.
    assert not names & {urlsplit(seen).path.lstrip("/") for seen in SEEN_DB_URLS}
    SEEN_DB_URLS.append(postgres_db)


def test_stop_really_stops_the_server() -> None:
    server = PostgresServer().start()
    port, data_dir = server.port, server.data_dir
    try:
        assert data_dir.stat().st_uid != 0, "postgres must not run as root"
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert refuses("127.0.0.1", port)
    assert not data_dir.parent.exists()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_missing_postgresql_is_an_error_not_a_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_module, "_DEBIAN_ROOT", tmp_path / "postgresql")
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql"):
        PostgresServer().start()
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql"):
        PostgresServer(bin_dir=tmp_path).start()
