"""The DuckDB catalog file: short transactions, waiting politely for other writers.

DuckDB lets one process at a time open a file for writing. ontolab therefore opens the file
per transaction and closes it straight after, so several pulls (and readers between them) can
share a catalog; a process that finds the file locked retries with backoff, then reports
``E_CATALOG_LOCKED`` instead of failing obscurely.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ontolab.catalog._schema import MIGRATIONS, SCHEMA_VERSION
from ontolab.errors import CatalogError, CatalogLocked

_migrated: set[Path] = set()


def utcnow() -> datetime:
    """Naive UTC: what TIMESTAMP columns hold, the same on DuckDB and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


_migrate_lock = threading.Lock()


def parse_catalog_url(url: str) -> Path:
    """``duckdb:///rel/or/abs.duckdb`` or a plain path → the DuckDB file path."""
    if url.startswith(("postgresql://", "postgres://")):
        raise CatalogError(
            "a PostgreSQL catalog is not supported by this version of ontolab yet; "
            "use duckdb:///path/to/catalog.duckdb",
            code="E_CATALOG_BACKEND",
        )
    # SQLAlchemy's rule: duckdb:///rel/x.duckdb is relative, duckdb:////abs/x.duckdb absolute.
    path = url.removeprefix("duckdb://")
    if url.startswith("duckdb:///"):
        path = path[1:]
    if not path:
        raise CatalogError(f"catalog URL {url!r} names no file", code="E_CATALOG_URL")
    return Path(path)


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    # DuckDB reports a held file lock only as an IOException with this text.
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


class DuckDBCatalog:
    """A catalog in one DuckDB file.

    Parameters
    ----------
    path
        The database file; created (with its directory) on first use.
    lock_timeout_s
        How long to wait for another process's write transaction.
    """

    def __init__(self, path: Path, *, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    @property
    def url(self) -> str:
        return f"duckdb:///{self.path}"

    def _connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise CatalogError(
                        f"cannot open the catalog: {exc}",
                        code="E_CATALOG_OPEN",
                        path=str(self.path),
                    ) from exc
                if time.monotonic() >= deadline:
                    raise CatalogLocked(
                        f"another process has held the catalog for over {self.lock_timeout_s:.0f}s",
                        path=str(self.path),
                    ) from exc
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.25)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction on a fresh connection: commit on success, else roll back."""
        self.ensure_schema()
        with self._transaction() as con:
            yield con

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot create {self.path.parent}: {exc.strerror}") from exc
        con = self._connect()
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise CatalogError(
                f"catalog transaction failed: {exc}", code="E_CATALOG_WRITE", path=str(self.path)
            ) from exc
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection for queries."""
        self.ensure_schema()
        con = self._connect()
        try:
            yield con
        except duckdb.Error as exc:
            raise CatalogError(f"catalog query failed: {exc}", code="E_CATALOG_READ") from exc
        finally:
            con.close()

    def schema_version(self) -> int:
        with self._transaction() as con:
            return _current_version(con)

    def ensure_schema(self) -> None:
        """Apply pending migrations once per process (idempotent, safe across processes)."""
        key = self.path.resolve()
        if key in _migrated:
            return
        with _migrate_lock:
            if key not in _migrated:
                self.migrate()
                _migrated.add(key)

    def migrate(self) -> list[int]:
        """Apply every pending migration, each in its own transaction; return those applied."""
        applied: list[int] = []
        with self._transaction() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)"
            )
        for migration in MIGRATIONS:
            with self._transaction() as con:
                current = _current_version(con)
                if migration.version <= current:
                    continue
                if current > SCHEMA_VERSION:
                    raise CatalogError(
                        f"catalog schema {current} is newer than this ontolab ({SCHEMA_VERSION}); "
                        "upgrade ontolab",
                        code="E_CATALOG_SCHEMA_NEWER",
                    )
                for statement in migration.statements:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, utcnow()],
                )
                applied.append(migration.version)
        return applied


def _current_version(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0
