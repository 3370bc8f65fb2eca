"""A catalog in a PostgreSQL database, for teams that share one.

PostgreSQL serves many clients at once, so unlike the DuckDB file there is no taking turns:
one connection per catalog object, a transaction per unit of work, and the same portable SQL
(``?`` placeholders are rewritten to psycopg's ``%s``). Bulk rows go through ``COPY``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ontolab.catalog._backend import CatalogBackend, Connection, redact_url
from ontolab.errors import CatalogError

if TYPE_CHECKING:
    import psycopg


class _Connection:
    """psycopg with ``?`` placeholders, like DuckDB and the DB-API's qmark style."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None, /) -> Any:
        cursor = self.raw.cursor()
        if params is None:
            return cursor.execute(sql.encode())  # sent as is: no placeholders parsed
        return cursor.execute(sql.replace("%", "%%").replace("?", "%s").encode(), params)


class PostgresCatalog(CatalogBackend):
    """A catalog in a PostgreSQL database named by a ``postgresql://`` URL.

    Parameters
    ----------
    url
        ``postgresql://user[:password]@host[:port]/database``.
    lock_timeout_s
        How long a statement waits for a row or table lock held by another client.
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

    def _errors(self) -> tuple[type[Exception], ...]:
        import psycopg

        return (psycopg.Error,)

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    self.url,
                    connect_timeout=max(1, int(self.lock_timeout_s)),
                    options=f"-c lock_timeout={int(self.lock_timeout_s * 1000)}",
                    application_name="ontolab",
                )
            except psycopg.Error as exc:
                raise CatalogError(
                    f"cannot connect to the PostgreSQL catalog {redact_url(self.url)}: "
                    f"{str(exc).strip()}; check the URL, that the server runs and accepts you",
                    code="E_CATALOG_OPEN",
                ) from exc
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

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self.read_only:
            raise CatalogError("this catalog handle is read-only", code="E_CATALOG_READ_ONLY")
        with self._unit("E_CATALOG_WRITE", "catalog transaction failed") as con:
            yield con

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._unit("E_CATALOG_READ", "catalog query failed") as con:
            yield con

    @contextmanager
    def _unit(self, code: str, what: str) -> Iterator[Connection]:
        errors = self._errors()
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction():
                    yield _Connection(conn)
            except errors as exc:
                self.close()  # never reuse a connection in an unknown state
                raise CatalogError(f"{what}: {str(exc).strip()}", code=code) from exc
            except BaseException:
                self.close()
                raise

    def insert_arrow(self, con: Connection, table: str, rows: Any) -> int:
        raw: psycopg.Connection[Any] = con.raw  # type: ignore[attr-defined]
        names = rows.column_names
        columns = ", ".join(names)
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for batch in rows.to_batches(max_chunksize=10_000):
                for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                    copy.write_row(row)
        return int(rows.num_rows)
