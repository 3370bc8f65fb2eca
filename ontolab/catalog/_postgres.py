"""A catalog in a PostgreSQL database, for teams that share one.

PostgreSQL serves many clients at once, so unlike the DuckDB file there is no taking turns:
one connection per catalog object, a transaction per unit of work, and the same portable SQL
(``?`` placeholders are rewritten to psycopg's ``%s``). Bulk rows go through ``COPY``.
Waiting for another client's lock ends after ``lock_timeout_s`` with ``E_CATALOG_LOCKED``,
like the DuckDB file; a read-only handle's transactions are read-only on the server too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ontolab.catalog._backend import CatalogBackend, Connection, redact_url, url_password
from ontolab.errors import CatalogError, CatalogLocked

if TYPE_CHECKING:
    import psycopg

# Any constant: the advisory lock every client takes while it checks or applies migrations.
_MIGRATION_LOCK = 0x6F6E746F6C6162  # "ontolab"
# lock_not_available (lock_timeout), deadlock_detected, serialization_failure: the other
# client won; the transaction was rolled back and the same work may be retried.
_LOCK_STATES = frozenset({"55P03", "40P01", "40001"})
# PostgreSQL type OIDs → Arrow type names, so an empty or all-NULL column keeps its type.
_ARROW_TYPES = {
    16: "bool_",
    20: "int64",
    21: "int16",
    23: "int32",
    25: "string",
    700: "float32",
    701: "float64",
    1042: "string",
    1043: "string",
    1082: "date32",
    1114: "timestamp",
}


def format_placeholders(sql: str) -> str:
    """``?`` placeholders → psycopg's ``%s``; a literal ``%`` (``LIKE 'a%'``) is doubled.

    Examples
    --------
    >>> format_placeholders("SELECT * FROM runs WHERE run_id LIKE 'a%' AND command = ?")
    "SELECT * FROM runs WHERE run_id LIKE 'a%%' AND command = %s"
    """
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """psycopg with ``?`` placeholders, like DuckDB and the DB-API's qmark style."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None, /) -> Any:
        cursor = self.raw.cursor()
        if params is None:
            return cursor.execute(sql.encode())  # sent as is: no placeholders parsed
        return cursor.execute(format_placeholders(sql).encode(), params)


class PostgresCatalog(CatalogBackend):
    """A catalog in a PostgreSQL database named by a ``postgresql://`` URL.

    Parameters
    ----------
    url
        ``postgresql://user[:password]@host[:port]/database``.
    lock_timeout_s
        How long to wait for the server, and for a lock held by another client.
    read_only
        Queries only: every transaction is read-only on the server; writes raise.
    """

    kind = "postgresql"

    def __init__(self, url: str, *, lock_timeout_s: float = 60.0, read_only: bool = False) -> None:
        self.url = url
        self.lock_timeout_s = lock_timeout_s
        self.read_only = read_only
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"PostgresCatalog({redact_url(self.url)!r})"

    def _scrub(self, text: str) -> str:
        """A driver message without the URL's password, should the driver have echoed it."""
        secret = url_password(self.url)
        for form in {secret, unquote(secret)} if secret else ():
            text = text.replace(form, "***")
        return text.replace(self.url, self.location).strip()

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                conn = psycopg.connect(
                    self.url,
                    connect_timeout=max(1, int(self.lock_timeout_s)),
                    options=f"-c lock_timeout={int(self.lock_timeout_s * 1000)}",
                    application_name="ontolab",
                )
            except psycopg.Error as exc:
                raise CatalogError(
                    f"cannot connect to the PostgreSQL catalog {self.location}: "
                    f"{self._scrub(str(exc))}; check the URL, that the server runs and "
                    "accepts you",
                    code="E_CATALOG_OPEN",
                    path=self.location,
                ) from None  # the driver's exception may carry the URL with its password
            conn.read_only = self.read_only
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def exists(self) -> bool:
        with self._read() as con:
            row = con.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def _writer(self) -> PostgresCatalog:
        return PostgresCatalog(self.url, lock_timeout_s=self.lock_timeout_s)

    def _serialize_migrations(self, con: Connection) -> None:
        con.execute("SELECT pg_advisory_xact_lock(?)", [_MIGRATION_LOCK])

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self.read_only:
            raise CatalogError(
                "this catalog handle is read-only", code="E_CATALOG_READ_ONLY", path=self.location
            )
        with self._unit("E_CATALOG_WRITE", "catalog transaction failed") as con:
            yield con

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._unit("E_CATALOG_READ", "catalog query failed") as con:
            yield con

    @contextmanager
    def _unit(self, code: str, what: str) -> Iterator[Connection]:
        import psycopg

        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction():
                    yield _Connection(conn)
            except psycopg.Error as exc:
                self.close()  # never reuse a connection in an unknown state
                message = self._scrub(str(exc))
                if exc.sqlstate in _LOCK_STATES:
                    raise CatalogLocked(
                        f"another client held a lock on the catalog for over "
                        f"{self.lock_timeout_s:.0f}s, or deadlocked with this one ({message}); "
                        "the transaction was rolled back, retry",
                        path=self.location,
                    ) from exc
                raise CatalogError(f"{what}: {message}", code=code, path=self.location) from exc
            except BaseException:
                # The transaction block rolled back; only a connection caught mid-command
                # (an interrupt) is in an unknown state.
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    self.close()
                raise

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run a query and return a ``pyarrow.Table`` typed by the columns' SQL types."""
        import pyarrow as pa

        with self.reader() as con:
            cursor = con.execute(sql, params)
            columns = list(cursor.description or ())
            rows = cursor.fetchall()
        arrays = {}
        for i, column in enumerate(columns):
            values = [row[i] for row in rows]
            type_name = _ARROW_TYPES.get(column.type_code)
            if type_name == "timestamp":
                arrays[column.name] = pa.array(values, pa.timestamp("us"))
            elif type_name is not None:
                arrays[column.name] = pa.array(values, getattr(pa, type_name)())
            else:
                arrays[column.name] = pa.array(values)
        return pa.table(arrays)

    def insert_arrow(self, con: Connection, table: str, rows: Any) -> int:
        raw: psycopg.Connection[Any] = con.raw  # type: ignore[attr-defined]
        names = rows.column_names
        columns = ", ".join(names)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for batch in rows.to_batches(max_chunksize=10_000):
                for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                    copy.write_row(row)
        return int(rows.num_rows)
