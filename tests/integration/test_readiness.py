"""Readiness (``/readyz``'s checks) against real catalogs: missing, locked, behind, low disk."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ontolab.catalog import SCHEMA_VERSION, open_catalog
from ontolab.catalog._duckdb import DuckDBCatalog
from ontolab.service._ready import Readiness, readiness
from ontolab.settings import OntolabSettings


def _create_catalog(url: str) -> None:
    catalog = open_catalog(url)
    try:
        catalog.ensure_schema()
    finally:
        catalog.close()


def _failed(result: Readiness) -> dict[str, str | None]:
    return {c.name: c.code for c in result.checks if not c.ok}


@pytest.fixture
def ready_settings(make_settings: Callable[..., OntolabSettings]) -> OntolabSettings:
    settings = make_settings(service={"ready_timeout_s": 0.5, "min_free_bytes": 1})
    _create_catalog(settings.catalog_url)
    return settings


def test_a_fresh_catalog_is_ready(ready_settings: OntolabSettings) -> None:
    result = readiness(ready_settings)
    assert result.ready, result.reasons
    assert [c.name for c in result.checks] == ["catalog", "migrations", "storage", "disk"]
    assert result.to_dict()["ready"] is True


def test_no_catalog_is_not_ready(make_settings: Callable[..., OntolabSettings]) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    result = readiness(settings)
    assert not result.ready
    assert _failed(result)["catalog"] == "E_CATALOG_MISSING"
    assert not (settings.data_dir / "catalog.duckdb").exists(), "a probe must not create one"


@pytest.fixture
def held_catalog(ready_settings: OntolabSettings) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DuckDB file open for writing until killed."""
    path = ready_settings.data_dir / "catalog.duckdb"
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r})\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_locked_catalog_is_not_ready_and_says_so(
    ready_settings: OntolabSettings, held_catalog: subprocess.Popen[str]
) -> None:
    result = readiness(ready_settings)
    assert _failed(result)["catalog"] == "E_CATALOG_LOCKED"
    assert "held the catalog" in " ".join(result.reasons)
    held_catalog.kill()
    held_catalog.wait(10)
    assert readiness(ready_settings).ready


def test_a_catalog_behind_is_not_ready_and_the_probe_does_not_migrate(
    make_settings: Callable[..., OntolabSettings],
) -> None:
    settings = make_settings(service={"min_free_bytes": 1})
    catalog = DuckDBCatalog(settings.data_dir / "catalog.duckdb")
    catalog.migrate(up_to=2)
    catalog.close()
    result = readiness(settings)
    assert _failed(result) == {"migrations": "E_CATALOG_SCHEMA_OLD"}
    assert "ontolab db migrate" in " ".join(result.reasons)
    catalog = DuckDBCatalog(settings.data_dir / "catalog.duckdb", read_only=True)
    try:
        assert catalog.schema_version() == 2 < SCHEMA_VERSION
    finally:
        catalog.close()


def test_low_disk_is_not_ready(make_settings: Callable[..., OntolabSettings]) -> None:
    settings = make_settings(service={"min_free_bytes": "1000PB"})
    _create_catalog(settings.catalog_url)
    result = readiness(settings)
    assert _failed(result) == {"disk": "E_STORAGE_DISK_LOW"}
    assert "service.min_free_bytes" in " ".join(result.reasons)


def test_a_data_dir_that_is_not_a_directory_is_not_ready(
    make_settings: Callable[..., OntolabSettings], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = readiness(make_settings(data_dir=str(blocker), service={"min_free_bytes": 1}))
    assert "storage" in _failed(result)


def test_an_unreachable_postgresql_catalog_is_not_ready(
    make_settings: Callable[..., OntolabSettings],
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(
        catalog=f"postgresql://ontolab:secret@127.0.0.1:{port}/ontolab",
        service={"ready_timeout_s": 1, "min_free_bytes": 1},
    )
    settings.data_dir.mkdir(parents=True)
    started = time.monotonic()
    result = readiness(settings)
    assert _failed(result)["catalog"] == "E_CATALOG_OPEN"
    assert "secret" not in " ".join(result.reasons)
    assert time.monotonic() - started < 30  # bounded, not hung


def test_a_postgresql_catalog_is_ready(
    make_settings: Callable[..., OntolabSettings], postgres_db: str
) -> None:
    settings = make_settings(catalog=postgres_db, service={"min_free_bytes": 1})
    settings.data_dir.mkdir(parents=True)
    _create_catalog(postgres_db)
    result = readiness(settings)
    assert result.ready, result.reasons


def test_a_corrupt_catalog_file_is_not_ready(make_settings: Callable[..., OntolabSettings]) -> None:
    settings = make_settings(service={"min_free_bytes": 1})
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "catalog.duckdb").write_bytes(b"this is not a DuckDB file\n" * 200)
    result = readiness(settings)
    assert _failed(result)["catalog"] == "E_CATALOG_OPEN"
    assert result.to_dict()["ready"] is False
