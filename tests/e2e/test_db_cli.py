"""``ontolab db ...`` through the CLI: listings, migrate, backup and restore."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ontolab.catalog import MIGRATIONS, SCHEMA_VERSION

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr
LISTINGS = ("latest", "versions", "files", "validations", "stats", "events", "history")


def test_listings_never_create_a_catalog(ontolab: Run, project: Path) -> None:
    for listing in LISTINGS:
        result = ontolab("db", listing, "--json")
        assert result.code == 3, (listing, result.stderr)
        doc = result.json()
        assert doc["error_code"] == "E_CATALOG_MISSING"
        assert "ontolab init" in doc["message"]
    assert not (project / "data").exists()


def test_migrate_creates_the_schema_once_and_latest_is_then_empty(ontolab: Run) -> None:
    first = ontolab("db", "migrate", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["applied"] == [m.version for m in MIGRATIONS]
    again = ontolab("db", "migrate", "--json")
    assert (again.json()["applied"], again.json()["schema_version"]) == ([], SCHEMA_VERSION)
    empty = ontolab("db", "latest", "--json")
    assert (empty.code, empty.stdout.strip()) == (0, "[]")
    human = ontolab("db", "latest")
    assert human.code == 0
    assert "no ontology is live yet" in human.stderr


def test_listings_after_a_pull(ontolab: Run) -> None:
    assert ontolab("pull").code == 0
    latest = ontolab("db", "latest", "--json")
    assert latest.code == 0, latest.stderr
    rows = {r["ontology"]: r for r in latest.json()}
    assert set(rows) == {"hp", "kisao"}
    assert (rows["hp"]["version"], rows["hp"]["status"]) == ("2025-01-16", "good")
    assert datetime.fromisoformat(rows["kisao"]["promoted_at"]).year >= 2025

    only_hp = ontolab("db", "latest", "hp", "--json").json()
    assert [r["ontology"] for r in only_hp] == ["hp"]
    versions = ontolab("db", "versions", "--status", "good", "--json").json()
    assert {(v["ontology"], v["live"]) for v in versions} == {("hp", True), ("kisao", True)}
    assert ontolab("db", "versions", "--status", "failed", "--json").json() == []
    files = ontolab("db", "files", "kisao", "--json").json()
    assert [(f["member"], f["format"]) for f in files] == [("kisao.owl", "rdfxml")]
    validations = ontolab("db", "validations", "hp", "--limit", "1", "--json").json()
    assert len(validations) == 1
    assert validations[0]["metrics"]["classes"] > 10_000  # JSON columns come out as JSON
    stats = {s["ontology"]: s for s in ontolab("db", "stats", "--json").json()}
    assert (stats["hp"]["versions"], stats["hp"]["good"], stats["hp"]["live"]) == (
        1,
        1,
        "2025-01-16",
    )
    assert stats["hp"]["artifact_bytes"] > 1_000_000
    recent = ontolab("db", "events", "--since", "1h", "--level", "info", "--json").json()
    assert recent and {e["level"] for e in recent} == {"info"}
    assert ontolab("db", "events", "--since", "2999-01-01", "--json").json() == []
    assert len(ontolab("db", "events", "--limit", "2", "--json").json()) == 2

    table = ontolab("db", "stats")
    assert table.code == 0
    assert "hp" in table.stdout and "kisao" in table.stdout

    # Filter values reach DuckDB as quoted literals: a quote in an id is just a character.
    odd = ontolab("db", "versions", "x'); DROP TABLE versions; --", "--json")
    assert (odd.code, odd.json()) == (0, [])
    assert len(ontolab("db", "versions", "--json").json()) == 2

    bad_since = ontolab("db", "events", "--since", "last tuesday", "--json")
    assert (bad_since.code, bad_since.json()["error_code"]) == (2, "E_CLI_SINCE")
    assert ontolab("db", "versions", "--status", "sideways").code == 2


def test_backup_and_restore_through_the_cli(ontolab: Run, project: Path) -> None:
    assert ontolab("pull", "kisao").code == 0
    backup = ontolab("db", "backup", "snap", "--json")
    assert backup.code == 0, backup.stderr
    assert backup.json()["tables"]["versions"] == 1
    assert (project / "snap" / "manifest.json").is_file()
    refused = ontolab("db", "backup", "snap", "--json")
    assert (refused.code, refused.json()["error_code"]) == (2, "E_BACKUP_EXISTS")

    # After the backup the catalog changes: hp is pulled and goes live.
    assert ontolab("pull", "hp").code == 0
    assert {r["ontology"] for r in ontolab("db", "latest", "--json").json()} == {"hp", "kisao"}
    restored = ontolab("db", "restore", "snap", "--json")
    assert restored.code == 0, restored.stderr
    assert restored.json()["previous_catalog"].endswith("catalog.duckdb.pre-restore")
    assert [r["ontology"] for r in ontolab("db", "latest", "--json").json()] == ["kisao"]

    (project / "snap" / "versions.parquet").write_bytes(b"PAR1 not really")
    damaged = ontolab("db", "restore", "snap", "--json")
    assert (damaged.code, damaged.json()["error_code"]) == (3, "E_BACKUP_CORRUPT")
    assert [r["ontology"] for r in ontolab("db", "latest", "--json").json()] == ["kisao"]
    missing = ontolab("db", "restore", "nowhere", "--json")
    assert (missing.code, missing.json()["error_code"]) == (2, "E_BACKUP_MISSING")


def test_a_locked_catalog_exits_3(ontolab: Run, project: Path) -> None:
    assert ontolab("db", "migrate").code == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(60)",
            str(project / "data" / "catalog.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = ontolab("db", "latest", "--json", env={"ONTOLAB_CATALOG_LOCK_TIMEOUT_S": "1"})
        assert result.code == 3
        assert result.json()["error_code"] == "E_CATALOG_LOCKED"
    finally:
        holder.kill()
        holder.communicate()
