"""The DuckDB catalog file: short transactions, waiting politely for other writers.

DuckDB lets one process at a time open a file for writing. ontolab therefore holds the file
only while it is busy: a connection is opened on demand, reused by the transactions that follow
in quick succession (opening costs ~20 ms, a transaction on an open connection ~2 ms), and
closed once the process has been idle for :data:`IDLE_CLOSE_S`, so several pulls (and readers
between them) can share a catalog. A process that finds the file locked retries with backoff,
then reports ``E_CATALOG_LOCKED`` instead of failing obscurely.
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

IDLE_CLOSE_S = 0.25
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
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_lock = threading.RLock()  # a DuckDB connection serves one thread at a time
        self._idle: threading.Timer | None = None

    def close(self) -> None:
        """Release the file now (also happens by itself after a short idle period)."""
        with self._con_lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._con is not None:
                self._con.close()
                self._con = None

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The process's connection: opened on demand, closed when idle or on error."""
        with self._con_lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._con is None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise CatalogError(
                        f"cannot create {self.path.parent}: {exc.strerror}", code="E_CATALOG_OPEN"
                    ) from exc
                self._con = self._connect()
            try:
                yield self._con
            except BaseException:
                self.close()  # never reuse a connection in an unknown state
                raise
            self._idle = threading.Timer(IDLE_CLOSE_S, self.close)
            # Not a daemon: interpreter shutdown waits (<= IDLE_CLOSE_S) for the close. A daemon
            # thread caught inside DuckDB's close at exit aborts the process (SIGABRT).
            self._idle.daemon = False
            self._idle.start()

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
        with self._connection() as con:
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
                    f"catalog transaction failed: {exc}",
                    code="E_CATALOG_WRITE",
                    path=str(self.path),
                ) from exc

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for queries (the process's shared one)."""
        self.ensure_schema()
        with self._connection() as con:
            try:
                yield con
            except duckdb.Error as exc:
                raise CatalogError(f"catalog query failed: {exc}", code="E_CATALOG_READ") from exc

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
                # Before the skip below: a newer catalog has every known migration applied.
                if current > SCHEMA_VERSION:
                    raise CatalogError(
                        f"catalog schema {current} is newer than this ontolab ({SCHEMA_VERSION}); "
                        "upgrade ontolab",
                        code="E_CATALOG_SCHEMA_NEWER",
                        path=str(self.path),
                    )
                if migration.version <= current:
                    continue
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
