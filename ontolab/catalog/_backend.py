"""What every catalog backend offers, and the migration runner they share.

A backend hands out connections whose ``execute(sql, params)`` takes ``?`` placeholders and
returns a cursor (``fetchone``, ``fetchall``, ``description``): DuckDB's own connection does,
PostgreSQL's is wrapped. SQL written against this is the portable subset both engines share,
so the pipeline, listings, doctor and prune are written once. ``insert_arrow`` is the one
path for bulk rows (files, backups): a batch, never a row at a time.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from ontolab.catalog._schema import MIGRATIONS, SCHEMA_VERSION
from ontolab.errors import CatalogError
from ontolab.obs._timing import transaction_timed


class Cursor(Protocol):
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] | None = None, /) -> Any: ...


def utcnow() -> datetime:
    """Naive UTC: what TIMESTAMP columns hold, the same on DuckDB and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def dicts(cursor: Cursor) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name, so SELECT aliases map onto value objects."""
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for messages and listings.

    Both places a libpq URL can carry one are covered: ``user:secret@`` (up to the last
    ``@`` before the path, as a password may hold an unescaped ``@``) and ``?password=``.

    Examples
    --------
    >>> redact_url("postgresql://me:s3cr@t@db.example/catalog?password=x&sslmode=require")
    'postgresql://me:***@db.example/catalog?password=***&sslmode=require'
    """
    url = re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^/]*@", r"\1:***@", url, flags=re.I)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.I)


def url_password(url: str) -> str | None:
    """The password a URL carries (``user:secret@`` or ``?password=``), to scrub messages."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^/]*)@", url, flags=re.I)
    if match is None:
        match = re.search(r"[?&]password=([^&#]*)", url, flags=re.I)
    return match[1] if match and match[1] else None


class CatalogBackend(ABC):
    """A catalog store: transactions, reads, migrations and bulk inserts."""

    kind: str
    url: str
    # A read-only handle never writes: its transactions raise E_CATALOG_READ_ONLY.
    read_only: bool = False

    @property
    def location(self) -> str:
        """Where the catalog lives, fit for messages (no password)."""
        return redact_url(self.url)

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction, without the schema check."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for queries, without the schema check."""

    @abstractmethod
    def _writer(self) -> CatalogBackend:
        """A read-write handle on the same catalog (a read-only one migrates through it)."""

    @abstractmethod
    def insert_arrow(self, con: Connection, table: str, rows: Any) -> int:
        """Insert a ``pyarrow.Table`` (columns named like the table's) in one batch."""

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run a query and return a ``pyarrow.Table``."""
        import pyarrow as pa

        with self.reader() as con:
            cursor = con.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            rows = cursor.fetchall()
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text of top-level ``key`` in a JSON-text ``column`` (NULL if absent).

        Both names are SQL identifiers chosen by ontolab, never input. PostgreSQL's form;
        DuckDB has a faster function of its own.
        """
        _require_identifier(column, key)
        return f"(CAST({column} AS json) ->> '{key}')"

    @abstractmethod
    def close(self) -> None:
        """Release connections now."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether the catalog has been created (a file, or a schema_version table)."""

    def transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction: commit on success, roll back on any error."""
        self.ensure_schema()
        return self._timed(self._transaction())

    @contextmanager
    def _timed(self, unit: AbstractContextManager[Connection]) -> Iterator[Connection]:
        # Waiting for the lock counts: that is the latency a writer sees.
        # (ontolab_catalog_transaction_seconds; see docs/observability.md)
        started = time.perf_counter()
        try:
            with unit as con:
                yield con
        finally:
            transaction_timed(self.kind, time.perf_counter() - started)

    def reader(self) -> AbstractContextManager[Connection]:
        """A connection for queries."""
        self.ensure_schema()
        return self._read()

    # -- schema -----------------------------------------------------------------------------
    _migrated: bool = False

    def ensure_schema(self) -> None:
        """Apply pending migrations once per catalog object (idempotent across processes).

        A read-only handle writes nothing itself: it refuses a catalog that does not exist
        yet, and brings an older schema up to date once, through a short-lived writer.
        """
        if self._migrated:
            return
        if not self.read_only:
            self.migrate()
        else:
            if not self.exists():
                raise CatalogError(
                    f"there is no catalog at {self.location} yet; run 'ontolab init' or "
                    "'ontolab pull'",
                    code="E_CATALOG_MISSING",
                    path=self.location,
                )
            if self._read_version() < SCHEMA_VERSION:
                writer = self._writer()
                try:
                    writer.ensure_schema()
                finally:
                    writer.close()
        self._migrated = True

    def _read_version(self) -> int:
        with self._read() as con:
            try:
                return _current_version(con)
            except CatalogError:
                return 0  # no schema_version table: an empty file

    def schema_version(self) -> int:
        """The newest migration applied to the catalog (0: none)."""
        with self._read() as con:
            return _current_version(con)

    @abstractmethod
    def _serialize_migrations(self, con: Connection) -> None:
        """Inside a migration transaction: wait for any other process migrating, so two
        clients starting on a fresh catalog do not both create the same tables."""

    def migrate(self, *, up_to: int | None = None) -> list[int]:
        """Apply every pending migration (or those up to ``up_to``), each in its own
        transaction; return those applied."""
        applied: list[int] = []
        with self._transaction() as con:
            self._serialize_migrations(con)
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)"
            )
            current = _current_version(con)
        if current == SCHEMA_VERSION:
            return applied  # the usual case: one short transaction per process
        for migration in MIGRATIONS:
            with self._transaction() as con:
                self._serialize_migrations(con)
                current = _current_version(con)
                # Before the skip below: a newer catalog has every known migration applied.
                if current > SCHEMA_VERSION:
                    raise CatalogError(
                        f"catalog schema {current} is newer than this ontolab ({SCHEMA_VERSION}); "
                        "upgrade ontolab",
                        code="E_CATALOG_SCHEMA_NEWER",
                        path=self.location,
                    )
                if migration.version <= current or (
                    up_to is not None and migration.version > up_to
                ):
                    continue
                for statement in migration.statements:
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [migration.version, migration.description, utcnow()],
                )
                applied.append(migration.version)
        return applied

    def tables(self) -> Iterator[str]:
        """The catalog's tables, in dependency order (parents before children)."""
        yield from TABLE_ORDER


# Parents before children: restore inserts in this order, prune deletes in reverse.
TABLE_ORDER = (
    "schema_version",
    "runs",
    "sources",
    "plans",
    "versions",
    "artifacts",
    "files",
    "validations",
    "terms",
    "imports",
    "gate_results",
    "latest",
    "latest_history",
    "events",
)


def _require_identifier(*names: str) -> None:
    for name in names:
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not an SQL identifier: {name!r}")


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _current_version(con: Connection) -> int:
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0
