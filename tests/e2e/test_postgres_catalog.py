"""``catalog: postgresql://...`` through the real CLI: every command against a real server.

The config's catalog URL carries a password (the test server trusts loopback, so any password
is accepted): no command may print it. A server that refuses us, or is not there, is exit 3
with ``E_CATALOG_OPEN``, again without the password.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml

from ontolab.catalog import SCHEMA_VERSION
from ontolab.testing import Mirror

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr

SECRET = "s3cret-Pa55"
HP = "2025-01-16"
HP_NEXT = "2025-09-09"


def with_password(url: str, password: str = SECRET) -> str:
    return url.replace("ontolab@", f"ontolab:{password}@", 1)


@pytest.fixture
def pg_project(project: Path, postgres_db: str) -> str:
    """The e2e project, its catalog in PostgreSQL; returns the catalog URL (with password)."""
    url = with_password(postgres_db)
    config = yaml.safe_load((project / "ontolab.yaml").read_text())
    config["catalog"] = url
    # The tests below publish a one-term "release" after HPO; the gates rightly reject such a
    # drop (docs/gates.md). These tests are about the shared catalog, so hp goes ungated.
    for entry in config["ontologies"]:
        if entry["id"] == "hp":
            entry["gates"] = {"enabled": False}
    (project / "ontolab.yaml").write_text(yaml.safe_dump(config))
    return url


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(sql.encode())
        return cursor.fetchall() if cursor.description else []


def ok(result: Any) -> Any:
    """The result's JSON document, after checking the exit code and that nothing leaked."""
    assert SECRET not in result.stdout + result.stderr
    assert result.code == 0, result.stdout + result.stderr
    return result.json()


def duckdb_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix == ".duckdb" or "postgres" in p.name]


def test_init_creates_the_schema_in_postgresql_not_a_file(
    tmp_path: Path, ontolab: Run, postgres_db: str
) -> None:
    target = tmp_path / "fresh"
    result = ontolab("init", str(target), "--json", env={"ONTOLAB_CATALOG": postgres_db})
    assert result.code == 0, result.stderr
    assert result.json()["schema_version"] == SCHEMA_VERSION
    assert query(postgres_db, "SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION,)]
    assert (target / ".ontolab").is_dir()  # the data dir still holds the artifact store
    assert duckdb_files(tmp_path) == []


def test_every_command_works_on_a_postgresql_catalog(
    ontolab: Run, project: Path, pg_project: str, mirror: Mirror
) -> None:
    planned = ok(ontolab("plan", "--json"))
    assert {i["ontology"]: i["version"] for i in planned["items"]} == {"hp": HP, "kisao": "2.34"}

    pulled = ok(ontolab("pull", "--json"))
    assert {(r["ontology"], r["version"], r["outcome"]) for r in pulled["rows"]} == {
        ("hp", HP, "fetched"),
        ("kisao", "2.34", "fetched"),
    }
    assert query(pg_project, "SELECT ontology, version FROM latest ORDER BY ontology") == [
        ("hp", HP),
        ("kisao", "2.34"),
    ]
    assert duckdb_files(project) == []  # nothing fell back to a local catalog file

    validated = ok(ontolab("validate", "hp", "--json"))
    assert (validated["ontology"], validated["version"], validated["status"]) == ("hp", HP, "good")

    again = ok(ontolab("pull", "--json"))
    assert {r["outcome"] for r in again["rows"]} == {"unchanged"}

    latest = ok(ontolab("db", "latest", "--json"))
    assert [(r["ontology"], r["version"], r["status"]) for r in latest] == [
        ("hp", HP, "good"),
        ("kisao", "2.34", "good"),
    ]
    assert all(r["promoted_at"] for r in latest)
    for listing in ("versions", "files", "validations", "stats", "events", "history"):
        assert ok(ontolab("db", listing, "--json")), listing

    # a second hp release: pull promotes it, rollback returns, promote moves forward again
    newer = project / "hp-next.obo"
    newer.write_text(
        f"format-version: 1.2\ndata-version: hp/releases/{HP_NEXT}\n\n"
        "[Term]\nid: HP:0000001\nname: All\n"
    )
    mirror.publish("hp", HP_NEXT, newer, filename="hp.obo")
    row = ok(ontolab("pull", "hp", "--json"))["rows"][0]
    assert (row["version"], row["outcome"]) == (HP_NEXT, "fetched")
    back = ok(ontolab("rollback", "hp", "--reason", "bad release", "--json"))
    assert (back["version"], back["previous"], back["action"]) == (HP, HP_NEXT, "rollback")
    forward = ok(ontolab("promote", "hp", HP_NEXT, "--json"))
    assert (forward["version"], forward["previous"]) == (HP_NEXT, HP)
    refused = ontolab("promote", "hp", "1900-01-01", "--json")
    assert refused.code == 1 and refused.json()["error_code"] == "E_VERSION_UNKNOWN"
    moves = ok(ontolab("db", "history", "hp", "--json"))
    assert [m["action"] for m in moves][:3] == ["promote", "rollback", "promote"]
    assert "bad release" in [m["reason"] for m in moves]

    shown = ok(ontolab("show", "hp", "--json"))
    assert (shown["ontology"], shown["version"], shown["live"]) == ("hp", HP_NEXT, HP_NEXT)
    assert {v["version"] for v in shown["versions"]} == {HP, HP_NEXT}
    changed = ok(ontolab("diff", "hp", "--from", HP, "--to", HP_NEXT, "--json"))
    assert changed["total"] > 10_000  # nearly every HPO term is gone from the tiny release

    assert ok(ontolab("doctor", "--json"))["ok"] is True
    pruned = ok(ontolab("prune", "--keep", "1", "--json"))
    assert [(v["ontology"], v["version"]) for v in pruned["versions"]] == [("hp", HP)]
    assert query(pg_project, "SELECT version FROM versions WHERE ontology = 'hp'") == [(HP_NEXT,)]
    assert ok(ontolab("doctor", "--json"))["ok"] is True

    # backup, lose a row, restore: the catalog is back as it was
    before = ok(ontolab("db", "latest", "--json"))
    ok(ontolab("db", "backup", str(project / "backup"), "--json"))
    query(pg_project, "DELETE FROM events")
    assert query(pg_project, "SELECT count(*) FROM events") == [(0,)]
    ok(ontolab("db", "restore", str(project / "backup"), "--json"))
    assert ok(ontolab("db", "latest", "--json")) == before
    assert query(pg_project, "SELECT count(*) FROM events")[0][0] > 0
    migrated = ok(ontolab("db", "migrate", "--json"))
    assert (migrated["applied"], migrated["schema_version"]) == ([], SCHEMA_VERSION)


# -- a server that refuses us --------------------------------------------------------------


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def password_role(postgres_url: str) -> Iterator[str]:
    """A role that must log in with a password; returns its name (the password is SECRET).

    The test server trusts every loopback login, so one ``pg_hba.conf`` line, for this role
    only, is put in front for the test and taken out again afterwards.
    """
    role = f"pw_{uuid.uuid4().hex[:8]}"
    rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'".encode())
        original = _hba(conn)
        _write_hba(conn, rule + original)
        try:
            yield role
        finally:
            _write_hba(conn, original)
            conn.execute(f"DROP ROLE {role}".encode())


def _hba(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT pg_read_file(current_setting('hba_file'))").fetchone()
    assert row is not None
    return str(row[0])


def _write_hba(conn: psycopg.Connection[Any], text: str) -> None:
    # Large-object export writes the file as the server's own user, who owns the data dir.
    row = conn.execute("SELECT lo_from_bytea(0, convert_to(%s, 'UTF8'))", [text]).fetchone()
    assert row is not None
    conn.execute("SELECT lo_export(%s, current_setting('hba_file'))", [row[0]])
    conn.execute("SELECT lo_unlink(%s)", [row[0]])
    conn.execute("SELECT pg_reload_conf()")


def test_wrong_password_or_no_server_exits_3_without_the_password(
    ontolab: Run, postgres_db: str, password_role: str
) -> None:
    server = urlsplit(postgres_db)
    right = f"postgresql://{password_role}:{SECRET}@{server.netloc.split('@')[1]}{server.path}"
    wrong = right.replace(SECRET, "wrong-" + SECRET[::-1])
    with psycopg.connect(right) as conn:  # the role and its password really work
        assert conn.execute("SELECT current_user").fetchone() == (password_role,)
    unreachable = f"postgresql://ontolab:{SECRET}@127.0.0.1:{closed_port()}/catalog"
    for url, secret, why in (
        (wrong, "wrong-" + SECRET[::-1], "password authentication failed"),
        (unreachable, SECRET, "Connection refused"),
    ):
        for args in (("db", "latest", "--json"), ("pull", "--json"), ("plan",)):
            result = ontolab(*args, env={"ONTOLAB_CATALOG": url}, timeout=60)
            output = result.stdout + result.stderr
            assert result.code == 3, (args, output)
            assert "E_CATALOG_OPEN" in output, (args, output)
            assert secret not in output, (args, output)
            assert why in output.replace("\n", " "), (args, output)
