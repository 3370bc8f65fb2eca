"""Catalog backup and restore: one Parquet file per table and a manifest, for either backend.

A backup is a consistent snapshot: every table is read inside one read transaction (DuckDB:
one connection in one transaction; PostgreSQL: a ``REPEATABLE READ, READ ONLY`` transaction),
so a pull writing meanwhile is either wholly in it or wholly absent. The files are written to a
hidden directory next to the destination and renamed into place, so a half-written backup is
never visible under its name. ``manifest.json`` records the ontolab and schema versions, the
time, and each table's row count and the sha256 of its Parquet file.

Restore verifies all of that before it touches the catalog, then replaces the catalog's whole
contents. Rows of an older schema are loaded into a catalog migrated only up to the backup's
version and then migrated forward with the ordinary migrations, so the data goes through the
same steps a long-lived catalog would have. A DuckDB catalog is rebuilt as a fresh file next
to the old one and renamed over it (the old file is kept as ``<name>.pre-restore``); a
PostgreSQL catalog is emptied and refilled in one transaction. Because the Parquet files are
typed from the catalog's own column types, a DuckDB backup restores into PostgreSQL and back.

Only the catalog is backed up: the artifact store, extracted files and terms tables under the
data dir are not (``ontolab doctor`` reconciles the two after a restore).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ontolab._version import __version__
from ontolab.catalog._backend import TABLE_ORDER, CatalogBackend, Connection, utcnow
from ontolab.catalog._duckdb import DuckDBCatalog
from ontolab.catalog._schema import SCHEMA_VERSION
from ontolab.errors import CatalogError, ConfigError, StorageError

if TYPE_CHECKING:
    import pyarrow as pa

MANIFEST = "manifest.json"
FORMAT = "ontolab-catalog-backup"
FORMAT_VERSION = 1
_PG_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class TableCopy:
    """One table in a backup: its Parquet file, row count, checksum and column types."""

    file: str
    rows: int
    sha256: str
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BackupManifest:
    """What ``manifest.json`` says about a backup."""

    path: Path
    ontolab_version: str
    schema_version: int
    created_at: datetime
    source: str
    tables: dict[str, TableCopy]

    @property
    def rows(self) -> dict[str, int]:
        return {name: table.rows for name, table in self.tables.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ontolab_version": self.ontolab_version,
            "schema_version": self.schema_version,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "tables": self.rows,
        }


@dataclass(frozen=True)
class RestoreReceipt:
    """What a restore did."""

    catalog: str
    backup: BackupManifest
    schema_version: int
    migrated: tuple[int, ...]
    kept: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "backup": str(self.backup.path),
            "backup_schema_version": self.backup.schema_version,
            "schema_version": self.schema_version,
            "migrated": list(self.migrated),
            "tables": self.backup.rows,
            "previous_catalog": str(self.kept) if self.kept else None,
        }


# -- backup ---------------------------------------------------------------------------------
def backup_catalog(catalog: CatalogBackend, path: Path, *, force: bool = False) -> BackupManifest:
    """Write a consistent snapshot of every catalog table into the directory ``path``.

    Raises
    ------
    ConfigError
        ``E_BACKUP_EXISTS``: ``path`` is a file, or a non-empty directory and not ``force``.
    StorageError
        ``E_BACKUP_WRITE``: the backup could not be written (permissions, disk full).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    _check_destination(path, force=force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Hidden, beside PATH (same file system, so the final rename is atomic); made with
        # mkdir rather than mkdtemp so the backup gets the umask's permissions, not 0700.
        staging = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        staging.mkdir()
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        tables: dict[str, TableCopy] = {}
        with _snapshot(catalog) as (con, columns):
            version = _schema_version(con)
            for name in [t for t in TABLE_ORDER if t in columns]:
                table = _read_table(catalog, con, name, columns[name])
                target = staging / f"{name}.parquet"
                pq.write_table(table, target, compression="zstd")
                tables[name] = TableCopy(
                    file=target.name,
                    rows=table.num_rows,
                    sha256=_sha256(target),
                    columns=columns[name],
                )
        manifest = BackupManifest(path, __version__, version, utcnow(), catalog.kind, tables)
        _write_manifest(staging / MANIFEST, manifest)
        _fsync_tree(staging)
        _move_into_place(staging, path)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _check_destination(path: Path, *, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{path} exists and is not a directory; a backup is a directory",
            code="E_BACKUP_EXISTS",
            path=str(path),
        )
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ConfigError(
            f"{path} is not empty; choose a new directory or pass --force to replace it",
            code="E_BACKUP_EXISTS",
            path=str(path),
        )


def _move_into_place(staging: Path, path: Path) -> None:
    """Rename the finished backup to its name; a replaced one goes only once it is there."""
    old: Path | None = None
    if path.is_dir():
        old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        path.rename(old)
    try:
        staging.rename(path)
    except OSError:
        if old is not None:
            old.rename(path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(path.parent)


@contextmanager
def _snapshot(catalog: CatalogBackend) -> Iterator[tuple[Connection, dict[str, dict[str, str]]]]:
    """One read transaction over the whole catalog, and the column types of its tables."""
    with catalog.reader() as con:
        if catalog.kind == "postgresql":
            # First statement of the reader's transaction: every table sees the same moment.
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield con, _columns(con)
            return
        con.execute("BEGIN TRANSACTION")
        try:
            yield con, _columns(con)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _columns(con: Connection) -> dict[str, dict[str, str]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_catalog = current_database() "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        columns.setdefault(str(table), {})[str(column)] = str(data_type).lower()
    return columns


def _schema_version(con: Connection) -> int:
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _arrow_schema(name: str, columns: dict[str, str]) -> pa.Schema:
    import pyarrow as pa

    types = {
        "varchar": pa.string(),
        "character varying": pa.string(),
        "text": pa.string(),
        "timestamp": pa.timestamp("us"),
        "timestamp without time zone": pa.timestamp("us"),
        "bigint": pa.int64(),
        "integer": pa.int32(),
        "double": pa.float64(),
        "double precision": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
    }
    fields = []
    for column, data_type in columns.items():
        if data_type not in types:
            # Fail the backup rather than write a column that would not restore faithfully.
            raise CatalogError(
                f"column {name}.{column} has type {data_type}, which backups do not handle yet",
                code="E_BACKUP_TYPE",
            )
        fields.append(pa.field(column, types[data_type]))
    return pa.schema(fields)


def _read_table(
    catalog: CatalogBackend, con: Connection, name: str, columns: dict[str, str]
) -> pa.Table:
    import pyarrow as pa

    schema = _arrow_schema(name, columns)
    order = ", ".join(str(i + 1) for i in range(len(columns)))
    sql = f"SELECT * FROM {name} ORDER BY {order}"  # noqa: S608
    if catalog.kind != "postgresql":
        duck: Any = con
        table = duck.execute(sql).to_arrow_table()
        return table.cast(schema)
    cursor = con.execute(sql)
    batches = []
    while rows := cursor.fetchmany(_PG_BATCH_ROWS):
        arrays = [pa.array([row[i] for row in rows], type=f.type) for i, f in enumerate(schema)]
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _write_manifest(target: Path, manifest: BackupManifest) -> None:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ontolab_version": manifest.ontolab_version,
        "schema_version": manifest.schema_version,
        "created_at": manifest.created_at.isoformat(),
        "source": manifest.source,
        "tables": {
            name: {
                "file": t.file,
                "rows": t.rows,
                "sha256": t.sha256,
                "columns": t.columns,
            }
            for name, t in manifest.tables.items()
        },
    }
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# -- verification ---------------------------------------------------------------------------
def read_backup(path: Path) -> BackupManifest:
    """Read and verify a backup: its manifest, and every file's size in rows and sha256.

    Raises
    ------
    ConfigError
        ``E_BACKUP_MISSING``: ``path`` is not a directory.
    CatalogError
        ``E_BACKUP_INVALID`` (no usable manifest), ``E_BACKUP_CORRUPT`` (a file is missing,
        its checksum or row count differs), ``E_BACKUP_SCHEMA_NEWER``.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_dir():
        raise ConfigError(
            f"there is no backup directory at {path}", code="E_BACKUP_MISSING", path=str(path)
        )
    manifest = _parse_manifest(path)
    for name, table in manifest.tables.items():
        file = path / table.file
        if Path(table.file).name != table.file or not file.is_file():
            raise _corrupt(path, f"the file {table.file!r} of table {name} is missing")
        if _sha256(file) != table.sha256:
            raise _corrupt(path, f"{table.file} does not match its sha256 in the manifest")
        try:
            rows = pq.ParquetFile(file).metadata.num_rows
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise _corrupt(path, f"{table.file} is not readable Parquet: {exc}") from exc
        if rows != table.rows:
            raise _corrupt(path, f"{table.file} has {rows} rows, the manifest says {table.rows}")
    if manifest.schema_version > SCHEMA_VERSION:
        raise CatalogError(
            f"the backup has catalog schema {manifest.schema_version}, newer than this "
            f"ontolab knows ({SCHEMA_VERSION}); restore it with a newer ontolab",
            code="E_BACKUP_SCHEMA_NEWER",
            path=str(path),
        )
    return manifest


def _parse_manifest(path: Path) -> BackupManifest:
    try:
        document = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise ValueError(f"format is {document.get('format')!r}, not {FORMAT!r}")
        if int(document["format_version"]) > FORMAT_VERSION:
            raise ValueError(f"format_version {document['format_version']} is too new")
        tables = {
            str(name): TableCopy(
                file=str(t["file"]),
                rows=int(t["rows"]),
                sha256=str(t["sha256"]),
                columns={str(k): str(v) for k, v in (t.get("columns") or {}).items()},
            )
            for name, t in document["tables"].items()
        }
        return BackupManifest(
            path=path,
            ontolab_version=str(document["ontolab_version"]),
            schema_version=int(document["schema_version"]),
            created_at=datetime.fromisoformat(document["created_at"]),
            source=str(document.get("source", "")),
            tables=tables,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(
            f"{path / MANIFEST} is missing or not an ontolab backup manifest ({exc}); "
            "is this a directory written by 'ontolab db backup'?",
            code="E_BACKUP_INVALID",
            path=str(path),
        ) from exc


def _corrupt(path: Path, what: str) -> CatalogError:
    return CatalogError(
        f"the backup is damaged: {what}; the catalog was not touched, restore another backup",
        code="E_BACKUP_CORRUPT",
        path=str(path),
    )


# -- restore --------------------------------------------------------------------------------
def restore_catalog(catalog: CatalogBackend, path: Path) -> RestoreReceipt:
    """Replace the catalog's contents with a verified backup.

    The catalog is untouched unless the whole restore succeeds. A backup of an older schema
    is migrated forward; one of a newer schema is refused.

    Raises
    ------
    CatalogError
        The backup is damaged or newer (see :func:`read_backup`), or the catalog is locked
        or cannot be written.
    """
    import pyarrow.parquet as pq

    manifest = read_backup(path)
    tables = {name: pq.read_table(manifest.path / t.file) for name, t in _in_order(manifest.tables)}
    migrated: list[int] = []
    if isinstance(catalog, DuckDBCatalog):
        kept = _restore_duckdb(catalog, manifest, tables, migrated)
    else:
        _restore_in_place(catalog, manifest, tables, migrated)
        kept = None
    return RestoreReceipt(catalog.location, manifest, SCHEMA_VERSION, tuple(migrated), kept)


def _in_order(tables: dict[str, Any]) -> list[tuple[str, Any]]:
    """Parents before children; tables ontolab does not know (a newer backup) last."""
    known = [(name, tables[name]) for name in TABLE_ORDER if name in tables]
    return known + sorted((n, t) for n, t in tables.items() if n not in TABLE_ORDER)


def _build_duckdb(
    target: Path, manifest: BackupManifest, tables: dict[str, pa.Table], migrated: list[int]
) -> None:
    """A fresh DuckDB catalog file holding the backup, migrated to the current schema."""
    fresh = DuckDBCatalog(target)
    try:
        fresh.migrate(up_to=manifest.schema_version)
        # _transaction: the public one would migrate to the current schema before the rows
        # of the backup's schema are in.
        with fresh._transaction() as con:
            _replace_rows(fresh, con, tables)
        migrated.extend(fresh.migrate())
    finally:
        fresh.close()
    if target.with_name(target.name + ".wal").exists():
        # Closing checkpoints everything into the file; a log left over would be lost.
        raise CatalogError(
            f"the restored catalog {target} was not checkpointed", code="E_CATALOG_WRITE"
        )


def _replace_rows(catalog: CatalogBackend, con: Connection, tables: dict[str, pa.Table]) -> None:
    order = [name for name, _ in _in_order(tables)]
    for name in reversed(order):
        con.execute(f"DELETE FROM {name}")  # noqa: S608
    for name in order:
        if tables[name].num_rows:
            catalog.insert_arrow(con, name, tables[name])


def _restore_in_place(
    catalog: CatalogBackend,
    manifest: BackupManifest,
    tables: dict[str, pa.Table],
    migrated: list[int],
) -> None:
    """PostgreSQL: empty and refill every table in one transaction."""
    if manifest.schema_version < SCHEMA_VERSION:
        # Migrate the old rows forward in a scratch DuckDB catalog, then load the result.
        with tempfile.TemporaryDirectory(prefix="ontolab-restore-") as scratch:
            staged = DuckDBCatalog(Path(scratch) / "catalog.duckdb")
            try:
                _build_duckdb(staged.path, manifest, tables, migrated)
                with _snapshot(staged) as (con, columns):
                    tables = {
                        name: _read_table(staged, con, name, columns[name])
                        for name in TABLE_ORDER
                        if name in columns
                    }
            finally:
                staged.close()
    with catalog.transaction() as con:
        _replace_rows(catalog, con, tables)


def _restore_duckdb(
    catalog: DuckDBCatalog,
    manifest: BackupManifest,
    tables: dict[str, pa.Table],
    migrated: list[int],
) -> Path | None:
    """Build the restored catalog next to the old file, then rename it over the old one."""
    path = catalog.path
    fresh = path.with_name(f".{path.name}.restore-{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _build_duckdb(fresh, manifest, tables, migrated)
        kept = _swap_in(catalog, fresh)
    finally:
        for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return kept


def _swap_in(catalog: DuckDBCatalog, fresh: Path) -> Path | None:
    """Rename ``fresh`` over the catalog file while holding it, so no process writes to the
    old file meanwhile; a damaged old file (the usual reason to restore) is simply moved."""
    path = catalog.path
    kept = path.with_name(path.name + ".pre-restore")
    if not path.exists():
        fresh.rename(path)
        _fsync_dir(path.parent)
        return None
    holding = contextlib.ExitStack()
    try:
        con = holding.enter_context(catalog._read())
        # Everything in the old file, nothing left in its write-ahead log.
        con.execute("CHECKPOINT")
    except CatalogError as exc:
        holding.close()
        if exc.code != "E_CATALOG_OPEN":
            raise  # locked by another process: do not pull the file from under it
    with holding:
        try:
            # A write-ahead log belongs to the file beside it: never pair one with another.
            kept_wal = kept.with_name(kept.name + ".wal")
            kept_wal.unlink(missing_ok=True)
            path.rename(kept)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                wal.rename(kept_wal)
            fresh.rename(path)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise CatalogError(
                f"cannot move the restored catalog into place: {exc.strerror}",
                code="E_CATALOG_WRITE",
                path=str(path),
            ) from exc
    catalog.close()
    return kept


# -- files ----------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(directory: Path) -> None:
    for file in directory.iterdir():
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(path: Path, exc: OSError) -> StorageError:
    return StorageError(
        f"cannot write the backup: {exc.strerror or exc}; check the directory's permissions "
        "and free space",
        code="E_BACKUP_WRITE",
        path=str(path),
    )
