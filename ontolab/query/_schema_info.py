"""What the catalog's schema looks like: tables, columns, constraints, indexes, migration.

DuckDB describes itself through ``duckdb_tables()``, ``duckdb_columns()``,
``duckdb_constraints()`` and ``duckdb_indexes()``; PostgreSQL through
``information_schema``, ``pg_constraint`` and ``pg_indexes``. Both are read into the same
frames, so a notebook inspects either catalog the same way.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SchemaInfo", "inspect_schema"]

# A query runner: (sql, params) -> pyarrow.Table, timed by the handle.
Run = Callable[[str, Sequence[Any] | None], Any]

_DUCKDB_HERE = "database_name = current_database() AND schema_name = current_schema()"
_DUCKDB = {
    "tables": f"SELECT table_name AS name FROM duckdb_tables() WHERE {_DUCKDB_HERE} "  # noqa: S608
    "ORDER BY table_name",
    "columns": 'SELECT table_name AS "table", column_name AS "column", data_type AS type, '  # noqa: S608
    'is_nullable AS nullable, column_default AS "default" FROM duckdb_columns() '
    f"WHERE {_DUCKDB_HERE} ORDER BY table_name, column_index",
    "constraints": 'SELECT table_name AS "table", constraint_name AS name, '  # noqa: S608
    "constraint_type AS type, array_to_string(constraint_column_names, ', ') AS columns, "
    'constraint_text AS definition, referenced_table AS "references" '
    f"FROM duckdb_constraints() WHERE {_DUCKDB_HERE} AND constraint_type <> 'NOT NULL' "
    "ORDER BY table_name, constraint_type, constraint_name",
    "indexes": 'SELECT table_name AS "table", index_name AS name, is_unique AS "unique", '  # noqa: S608
    f"sql AS definition FROM duckdb_indexes() WHERE {_DUCKDB_HERE} "
    "ORDER BY table_name, index_name",
}
_POSTGRES = {
    "tables": "SELECT table_name::text AS name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    "columns": 'SELECT table_name::text AS "table", column_name::text AS "column", '
    "data_type::text AS type, is_nullable = 'YES' AS nullable, "
    'column_default::text AS "default" FROM information_schema.columns '
    "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    "constraints": 'SELECT c.conrelid::regclass::text AS "table", c.conname::text AS name, '
    "CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'f' THEN 'FOREIGN KEY' "
    "WHEN 'c' THEN 'CHECK' WHEN 'u' THEN 'UNIQUE' ELSE c.contype::text END AS type, "
    "(SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) "
    " FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, "
    "pg_get_constraintdef(c.oid) AS definition, "
    "CASE WHEN c.contype = 'f' THEN c.confrelid::regclass::text END AS \"references\" "
    "FROM pg_constraint c JOIN pg_namespace s ON s.oid = c.connamespace "
    "WHERE s.nspname = current_schema() AND c.contype IN ('p', 'f', 'c', 'u') "
    "ORDER BY 1, 3, 2",
    "indexes": 'SELECT tablename::text AS "table", indexname::text AS name, '
    "starts_with(indexdef, 'CREATE UNIQUE') AS \"unique\", indexdef AS definition "
    "FROM pg_indexes WHERE schemaname = current_schema() ORDER BY tablename, indexname",
}


@dataclass(frozen=True)
class SchemaInfo:
    """The catalog's schema, as polars DataFrames.

    Attributes
    ----------
    backend, location
        ``duckdb`` or ``postgresql``, and where the catalog lives (no password).
    version
        The newest migration applied.
    tables
        ``name``, ``rows`` (exact count), ``columns``.
    columns
        ``table``, ``column``, ``type``, ``nullable``, ``default``.
    constraints
        Primary keys, foreign keys, checks and unique constraints: ``table``, ``name``,
        ``type``, ``columns``, ``definition``, ``references``.
    indexes
        ``table``, ``name``, ``unique``, ``definition``. (DuckDB's primary keys are indexed
        implicitly and listed only under constraints.)
    migrations
        ``version``, ``description``, ``applied_at``.
    """

    backend: str
    location: str
    version: int
    tables: Any
    columns: Any
    constraints: Any
    indexes: Any
    migrations: Any

    def __repr__(self) -> str:
        return (
            f"SchemaInfo({self.backend} {self.location}, migration {self.version}, "
            f"{self.tables.height} tables, {self.columns.height} columns, "
            f"{self.constraints.height} constraints, {self.indexes.height} indexes)"
        )

    def _repr_html_(self) -> str:
        head = html.escape(f"{self.backend} catalog {self.location}, migration {self.version}")
        parts = [f"<p><b>{head}</b></p>"]
        for name in ("tables", "constraints", "indexes"):
            frame = getattr(self, name)
            parts.append(f"<details><summary>{name} ({frame.height})</summary>")
            parts.append(frame._repr_html_())
            parts.append("</details>")
        return "".join(parts)


def inspect_schema(backend: str, location: str, run: Run) -> SchemaInfo:
    """Read the schema of a catalog through ``run`` (a timed query runner)."""
    import polars as pl

    queries = _POSTGRES if backend == "postgresql" else _DUCKDB

    def frame(sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        result = pl.from_arrow(run(sql, params))
        assert isinstance(result, pl.DataFrame)
        return result

    tables = frame(queries["tables"])
    columns = frame(queries["columns"])
    names = [str(n) for n in tables["name"].to_list()]
    if names:
        # Table names come from the catalog's own description, never from a caller.
        counts = frame(
            " UNION ALL ".join(
                f"SELECT '{n}' AS name, CAST(count(*) AS BIGINT) AS rows FROM \"{n}\""  # noqa: S608
                for n in names
            )
        )
    else:
        counts = pl.DataFrame(schema={"name": pl.String, "rows": pl.Int64})
    per_table = columns.group_by("table").len("columns").rename({"table": "name"})
    tables = (
        tables.join(counts, on="name", how="left")
        .join(per_table.with_columns(pl.col("columns").cast(pl.Int64)), on="name", how="left")
        .sort("name")
    )
    migrations = frame(
        "SELECT version, description, applied_at FROM schema_version ORDER BY version"
    )
    version = int(migrations["version"].max() or 0) if migrations.height else 0  # type: ignore[arg-type]
    return SchemaInfo(
        backend=backend,
        location=location,
        version=version,
        tables=tables,
        columns=columns,
        constraints=frame(queries["constraints"]),
        indexes=frame(queries["indexes"]),
        migrations=migrations,
    )
