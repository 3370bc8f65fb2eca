"""The DuckDB catalog file: short transactions, taking turns with other processes.

DuckDB lets one process at a time open a file for writing (or several only for reading).
ontolab therefore holds the file only while it is busy: a connection is opened on demand,
reused by the transactions that follow in quick succession (opening costs ~20 ms, a
transaction on an open connection ~2 ms), and closed once the process has been idle for
:data:`IDLE_CLOSE_S`. A process that finds the file locked retries with backoff and leaves a
note (``<catalog>.wanted``, its pid, touched on every retry); a process that holds the file
and sees a fresh note from someone else closes its connection and steps aside until the note
goes stale, so a notebook querying in a loop and two pulls all make progress. Waiting longer
than the lock timeout gives ``E_CATALOG_LOCKED`` instead of an obscure failure.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ontolab.catalog._backend import CatalogBackend, Connection, utcnow
from ontolab.catalog._schema import SCHEMA_VERSION
from ontolab.errors import CatalogError, CatalogLocked

__all__ = ["IDLE_CLOSE_S", "DuckDBCatalog", "parse_catalog_url", "utcnow"]

IDLE_CLOSE_S = 0.25
# A waiting process re-touches its note at least this often; older notes are stale.
WANTED_FRESH_S = 0.3
_RETRY_MAX_S = 0.05


def parse_catalog_url(url: str) -> Path:
    """``duckdb:///rel/or/abs.duckdb`` or a plain path → the DuckDB file path."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("", "duckdb"):
        raise CatalogError(
            f"catalog URL {url!r}: {scheme}:// is not a catalog backend; use "
            "duckdb:///path/to/catalog.duckdb or postgresql://user@host/db",
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


def _is_config_conflict(exc: duckdb.Error) -> bool:
    # This process already has the file open read-write; a read-only open must share that.
    return "different configuration" in str(exc)


class DuckDBCatalog(CatalogBackend):
    """A catalog in one DuckDB file.

    Parameters
    ----------
    path
        The database file; created (with its directory) on first write.
    lock_timeout_s
        How long to wait for another process to let go of the file.
    read_only
        Open for queries only (several readers can share the file); writes raise.
    """

    kind = "duckdb"

    def __init__(
        self, path: Path, *, lock_timeout_s: float = 60.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.read_only = read_only
        self._wanted = self.path.with_name(self.path.name + ".wanted")
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_lock = threading.RLock()  # a DuckDB connection serves one thread at a time
        self._idle: threading.Timer | None = None

    @property
    def url(self) -> str:  # type: ignore[override]
        return f"duckdb:///{self.path}"

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    def close(self) -> None:
        """Release the file now (also happens by itself after a short idle period)."""
        with self._con_lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._con is not None:
                self._con.close()
                self._con = None

    def ensure_schema(self) -> None:
        if self._migrated:
            return
        if not self.read_only:
            super().ensure_schema()
            return
        if not self.exists():
            raise CatalogError(
                f"there is no catalog at {self.path} yet; run 'ontolab init' or 'ontolab pull'",
                code="E_CATALOG_MISSING",
                path=str(self.path),
            )
        if self._reader_version() < SCHEMA_VERSION:
            # A reader of an older file brings it up to date once, through a writer.
            writer = DuckDBCatalog(self.path, lock_timeout_s=self.lock_timeout_s)
            try:
                writer.ensure_schema()
            finally:
                writer.close()
        self._migrated = True

    def _reader_version(self) -> int:
        with self._read() as con:
            try:
                row = con.execute("SELECT max(version) FROM schema_version").fetchone()
            except CatalogError:
                return 0  # no schema_version table: an empty file
        return int(row[0]) if row and row[0] is not None else 0

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The process's connection: opened on demand, closed when idle or on error."""
        with self._con_lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._con is not None and self._someone_waits():
                self.close()
                self._step_aside()
            if self._con is None:
                if not self.read_only:
                    try:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                    except OSError as exc:
                        raise CatalogError(
                            f"cannot create {self.path.parent}: {exc.strerror}",
                            code="E_CATALOG_OPEN",
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

    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.002
        read_only = self.read_only
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if read_only and _is_config_conflict(exc):
                    read_only = False
                    continue
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
            self._leave_note()
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _RETRY_MAX_S)

    # -- taking turns -----------------------------------------------------------------------
    def _leave_note(self) -> None:
        # In a read-only directory waiting still works, only less fairly.
        with contextlib.suppress(OSError):
            self._wanted.write_text(str(os.getpid()))

    def _someone_waits(self) -> bool:
        """A fresh note from another process: it has been refused the file just now."""
        try:
            if time.time() - self._wanted.stat().st_mtime > WANTED_FRESH_S:
                return False
            return self._wanted.read_text().strip() != str(os.getpid())
        except (OSError, ValueError):
            return False

    def _step_aside(self) -> None:
        deadline = time.monotonic() + self.lock_timeout_s
        while self._someone_waits() and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self.read_only:
            raise CatalogError(
                "this catalog handle is read-only", code="E_CATALOG_READ_ONLY", path=str(self.path)
            )
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
    def _read(self) -> Iterator[Connection]:
        with self._connection() as con:
            try:
                yield con
            except duckdb.Error as exc:
                raise CatalogError(f"catalog query failed: {exc}", code="E_CATALOG_READ") from exc

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.reader() as con:
            duck: Any = con
            return duck.execute(sql, params).fetch_arrow_table()

    def insert_arrow(self, con: Connection, table: str, rows: Any) -> int:
        name = f"_ontolab_batch_{threading.get_ident()}"
        duck: Any = con
        duck.register(name, rows)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # noqa: S608
        finally:
            duck.unregister(name)
        return int(rows.num_rows)
