"""The DuckDB catalog file: short transactions, taking turns with other processes.

DuckDB lets one process at a time open a file for writing (or several only for reading).
ontolab therefore holds the file only while it is busy: a connection is opened for a unit of
work (a transaction or a query; opening costs ~25 ms, a unit on an open connection ~2 ms).
A read-only handle (a notebook, the service) keeps it for the queries that follow in quick
succession and closes it once idle for :data:`IDLE_CLOSE_S`; a read-write handle (a pull)
closes it after every unit. The idle close runs on a timer thread, which needs the GIL, and a
pull goes on to parse ontologies in C code that holds the GIL for seconds (fastobo: ~4 s for
HPO): a writer that lingered would keep everyone out that long, a minute for a big ontology.

A process that finds the file locked retries with backoff and leaves a note
(``<catalog>.wanted``, naming it by host, pid and a random part: two containers sharing a
volume are both pid 1; touched on every retry, removed once it gets in). Every process
checks for a fresh note from someone else after each unit (and closes at once instead of
idling) and before the next one (closes if need be, and steps aside until that waiter is in),
so a notebook querying in a loop and two pulls all make progress. Waiting longer than the lock
timeout gives ``E_CATALOG_LOCKED`` instead of an obscure failure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ontolab.catalog._backend import (
    CatalogBackend,
    Connection,
    _require_identifier,
    redact_url,
    utcnow,
)
from ontolab.errors import CatalogError, CatalogLocked

# The catalog's transactions are small, and under DuckDB 1.5's multi-threaded checkpoints the
# file's indexes were seen losing rows after many short writes ("Failed to delete all rows
# from index" on a later DELETE); one thread never showed it in the same loops.
CONNECTION_CONFIG: dict[str, str | bool | int | float | list[str]] = {"threads": 1}

__all__ = ["IDLE_CLOSE_S", "DuckDBCatalog", "parse_catalog_url", "utcnow"]

IDLE_CLOSE_S = 0.25
# A waiting process re-touches its note at least this often; older notes are stale.
WANTED_FRESH_S = 0.3
_RETRY_MAX_S = 0.05
# A process that stepped aside waits at most this long for the waiter to get in, then queues.
STEP_ASIDE_MAX_S = 1.0
# Every handle in this process: DuckDB refuses a read-write connection to a file this process
# already has open read-only, so a writer asks the read-only handles on its file to let go.
_HANDLES: weakref.WeakSet[DuckDBCatalog] = weakref.WeakSet()
_HANDLES_LOCK = threading.Lock()  # a WeakSet is not safe to iterate while another thread adds


def parse_catalog_url(url: str) -> Path:
    """``duckdb:///rel/or/abs.duckdb`` or a plain path → the DuckDB file path."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("", "duckdb"):
        raise CatalogError(
            f"catalog URL {redact_url(url)!r}: {scheme}:// is not a catalog backend; use "
            "duckdb:///path/to/catalog.duckdb or postgresql://user@host/db",
            code="E_CATALOG_BACKEND",
        )
    # SQLAlchemy's rule: duckdb:///rel/x.duckdb is relative, duckdb:////abs/x.duckdb absolute.
    path = url.removeprefix("duckdb://")
    if url.startswith("duckdb:///"):
        path = path[1:]
    if not path:
        raise CatalogError(f"catalog URL {redact_url(url)!r} names no file", code="E_CATALOG_URL")
    return Path(path)


def _is_lock_conflict(exc: duckdb.Error) -> bool:
    # DuckDB reports a held file lock only as an IOException with this text.
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _is_config_conflict(exc: duckdb.Error) -> bool:
    # This process already has the file open read-write; a read-only open must share that.
    return "different configuration" in str(exc)


def process_identity() -> str:
    """This process in a ``.wanted`` note: host, pid and a random part, fixed per process."""
    return _identity(os.getpid())


@functools.cache
def _identity(pid: int) -> str:
    # A forked child gets its own pid, so its own entry; the host and the random part tell
    # apart processes that share a pid (pid 1 in every container on one volume).
    return f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"


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
    linger_s
        Keep the file open this long after a unit of work, for the next one (default:
        :data:`IDLE_CLOSE_S` for a read-only handle, 0 for a read-write one).
    """

    kind = "duckdb"

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout_s: float = 60.0,
        read_only: bool = False,
        linger_s: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.read_only = read_only
        self._wanted = self.path.with_name(self.path.name + ".wanted")
        self._con: duckdb.DuckDBPyConnection | None = None
        self._con_lock = threading.RLock()  # a DuckDB connection serves one thread at a time
        self._idle: threading.Timer | None = None
        self._depth = 0  # units of work in progress (nested, in the thread holding _con_lock)
        # Readers keep the file open between quick successive queries; writers let go after
        # each unit, as a writing process may go on to hold the GIL for long (see above).
        self.linger_s = IDLE_CLOSE_S if linger_s is None else linger_s
        if linger_s is None and not read_only:
            self.linger_s = 0.0
        self._key = self.path.resolve()
        with _HANDLES_LOCK:
            _HANDLES.add(self)

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

    def json_text(self, column: str, key: str) -> str:
        _require_identifier(column, key)
        # json_extract_string reads a field about twice as fast as casting to JSON first.
        return f"json_extract_string({column}, '$.{key}')"

    def _writer(self) -> DuckDBCatalog:
        return DuckDBCatalog(self.path, lock_timeout_s=self.lock_timeout_s)

    def _serialize_migrations(self, con: Connection) -> None:
        """Nothing to wait for: a process writing holds the whole file."""

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The process's connection for one unit of work (units may nest in one thread)."""
        with self._con_lock:
            outermost = self._depth == 0
            if outermost or self._con is None:  # an outer unit may have closed it
                self._before_unit()
            assert self._con is not None
            self._depth += 1
            try:
                yield self._con
            except BaseException:
                self._depth -= 1
                if outermost:
                    self.close()  # never reuse a connection in an unknown state
                raise
            self._depth -= 1
            if outermost:
                self._after_unit()

    def _before_unit(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        waiter = self._waiter()
        if waiter is not None:
            # Holding the file or not: a process already waiting goes first, or a reader
            # looping in quick succession would win every race and starve it.
            self.close()
            self._step_aside(waiter)
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

    def _after_unit(self) -> None:
        if self.linger_s <= 0 or self._waiter() is not None:
            # A writer lets go at once; so does a reader when someone queued meanwhile.
            self.close()
            return
        self._idle = threading.Timer(self.linger_s, self.close)
        # Not a daemon: interpreter shutdown waits (<= linger_s) for the close. A daemon
        # thread caught inside DuckDB's close at exit aborts the process (SIGABRT).
        self._idle.daemon = False
        self._idle.start()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.002
        read_only = self.read_only
        released = waited = False
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only, config=CONNECTION_CONFIG)
            except duckdb.Error as exc:
                if _is_config_conflict(exc):
                    if read_only:
                        read_only = False  # share this process's read-write connection
                        continue
                    if not released:
                        self._release_readers()
                        released = True
                        continue
                    raise CatalogError(
                        "this process has the catalog open read-only through a connection "
                        "ontolab does not manage; close it before writing",
                        code="E_CATALOG_OPEN",
                        path=str(self.path),
                    ) from exc
                if not _is_lock_conflict(exc):
                    raise CatalogError(
                        f"cannot open the catalog: {exc}",
                        code="E_CATALOG_OPEN",
                        path=str(self.path),
                    ) from exc
                if time.monotonic() >= deadline:
                    raise CatalogLocked(
                        f"another process has held the catalog for over {self.lock_timeout_s:.0f}s"
                        " (raise catalog_lock_timeout_s to wait longer)",
                        path=str(self.path),
                    ) from exc
            else:
                if waited:
                    self._take_note_back()
                return con
            self._leave_note()
            waited = True
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, _RETRY_MAX_S)

    def _release_readers(self) -> None:
        """Close this process's read-only handles on the same file (each after its query)."""
        with _HANDLES_LOCK:
            handles = list(_HANDLES)
        for handle in handles:
            if handle is not self and handle.read_only and handle._key == self._key:
                handle.close()

    # -- taking turns -----------------------------------------------------------------------
    def _leave_note(self) -> None:
        # In a read-only directory waiting still works, only less fairly.
        with contextlib.suppress(OSError):
            self._wanted.write_text(process_identity())

    def _take_note_back(self) -> None:
        """In at last: remove the note, so whoever stepped aside for us knows at once."""
        with contextlib.suppress(OSError):
            if self._wanted.read_text().strip() == process_identity():
                self._wanted.unlink()

    def _waiter(self) -> str | None:
        """Who left a fresh note, if another process did (it was refused the file just now).

        A note caught mid-write reads empty: someone waits, who is unknown (``""``).
        """
        try:
            if time.time() - self._wanted.stat().st_mtime > WANTED_FRESH_S:
                return None
            who = self._wanted.read_text().strip()
        except (OSError, ValueError):
            return None
        return None if who == process_identity() else who

    def _step_aside(self, waiter: str) -> None:
        """Having closed for ``waiter``: wait until it is in (its note is gone, stale or
        replaced by another waiter's), then queue like everyone else (``_connect``).

        Waiting only for that one waiter, not until nobody waits, matters: two other
        processes alternating their notes would otherwise keep this one out indefinitely.
        """
        deadline = time.monotonic() + min(self.lock_timeout_s, STEP_ASIDE_MAX_S)
        while time.monotonic() < deadline:
            now = self._waiter()
            if now is None or now not in (waiter, ""):
                return
            time.sleep(0.005)

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
                raise CatalogError(
                    f"catalog query failed: {exc}", code="E_CATALOG_READ", path=str(self.path)
                ) from exc

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.reader() as con:
            result: Any = con.execute(sql, params)
            return result.to_arrow_table()

    def insert_arrow(self, con: Connection, table: str, rows: Any) -> int:
        name = f"_ontolab_batch_{threading.get_ident()}"
        duck: Any = con
        duck.register(name, rows)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")  # noqa: S608
        finally:
            duck.unregister(name)
        return int(rows.num_rows)
