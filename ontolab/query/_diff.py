"""Term-level changes between two stored versions, computed in DuckDB over their terms tables.

Both sides are read straight from Parquet by an in-memory DuckDB (never the catalog file, so
no catalog lock is held), joined on the term id and turned into one row per change. DuckDB
streams the files and spills to a temporary directory past its memory limit, so a diff of
two multi-million-term releases stays within bounded memory.

A term can show several kinds of change at once: an OBO term made obsolete is usually also
relabelled (``obsolete …``) and loses its parents, so it is ``obsoleted``, ``relabelled``
and ``reparented``.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ontolab.errors import StorageError

__all__ = ["CHANGES", "MEMORY_LIMIT", "TermDiff", "diff_sql", "term_changes"]

CHANGES = ("added", "removed", "obsoleted", "unobsoleted", "relabelled", "reparented")
"""Kinds of change, in report order.

``added`` / ``removed``: the id is only in the newer / older version. The others concern
ids in both: ``obsoleted`` (deprecated only in the newer), ``unobsoleted`` (deprecated only
in the older), ``relabelled`` (the label differs), ``reparented`` (the set of parents
differs).
"""

MEMORY_LIMIT = "1GB"

# One row per id and side. Parents are compared as sets, hence sorted.
_COLUMNS = (
    "id, label, coalesce(deprecated, false) AS deprecated, "
    "list_sort(coalesce(parents, [])) AS parents"
)
# The usual case, one file per version: a terms table has one row per id.
_ONE_FILE = f"SELECT {_COLUMNS} FROM read_parquet(?) WHERE id IS NOT NULL"  # noqa: S608
# A version with several files (an archive) may describe an id in more than one: the row with
# a label wins, then the first file by name, so the choice is the same on both sides. (A window
# rather than DISTINCT ON or arg_min: it stays within the memory limit on millions of rows.)
_MANY_FILES = (
    f"SELECT id, label, deprecated, parents FROM (SELECT {_COLUMNS}, "  # noqa: S608
    "row_number() OVER (PARTITION BY id ORDER BY label IS NULL, filename) AS n "
    "FROM read_parquet(?, filename = true) WHERE id IS NOT NULL) WHERE n = 1"
)
_CASES = {
    "added": "NOT in_from",
    "removed": "NOT in_to",
    "obsoleted": "in_from AND in_to AND dep_to AND NOT dep_from",
    "unobsoleted": "in_from AND in_to AND dep_from AND NOT dep_to",
    "relabelled": "in_from AND in_to AND label_from IS DISTINCT FROM label_to",
    "reparented": "in_from AND in_to AND parents_from IS DISTINCT FROM parents_to",
}
_ORDER = "CASE change " + " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(CHANGES)) + " END"


def diff_sql(files_from: int, files_to: int) -> str:
    """The diff query for versions of that many files each (two list parameters)."""
    side_from = _ONE_FILE if files_from == 1 else _MANY_FILES
    side_to = _ONE_FILE if files_to == 1 else _MANY_FILES
    # Unchanged terms (nearly all) are dropped right after the join, before the rows are
    # fanned out into one per kind of change.
    return (
        f"WITH a AS ({side_from}), b AS ({side_to}), j AS ("  # noqa: S608 - constants only
        "SELECT coalesce(a.id, b.id) AS id, a.id IS NOT NULL AS in_from, "
        "b.id IS NOT NULL AS in_to, a.label AS label_from, b.label AS label_to, "
        "a.parents AS parents_from, b.parents AS parents_to, a.deprecated AS dep_from, "
        "b.deprecated AS dep_to FROM a FULL OUTER JOIN b ON a.id = b.id "
        "WHERE a.id IS NULL OR b.id IS NULL OR a.deprecated <> b.deprecated "
        "OR a.label IS DISTINCT FROM b.label OR a.parents IS DISTINCT FROM b.parents) "
        "SELECT id, change, label_from, label_to, parents_from, parents_to FROM ("
        "SELECT id, unnest(["
        + ", ".join(f"CASE WHEN {cond} THEN '{name}' END" for name, cond in _CASES.items())
        + "]) AS change, label_from, label_to, parents_from, parents_to FROM j) "
        f"WHERE change IS NOT NULL ORDER BY {_ORDER}, id"
    )


def spill_root() -> str:
    """Where a diff too large for memory spills: the system's temporary directory."""
    return tempfile.gettempdir()


def term_changes(
    paths_from: Sequence[str], paths_to: Sequence[str], *, memory_limit: str = MEMORY_LIMIT
) -> Any:
    """The changes from one set of terms tables to another, as a ``pyarrow.Table``.

    Columns: ``id``, ``change`` (one of :data:`CHANGES`), ``label_from``, ``label_to``,
    ``parents_from``, ``parents_to`` (sorted lists); ordered by change, then id.
    """
    import duckdb

    with tempfile.TemporaryDirectory(prefix="ontolab-diff-", dir=spill_root()) as spill:
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "temp_directory": spill,
            # Output order comes from the ORDER BY; not keeping scan order saves memory.
            "preserve_insertion_order": False,
        }
        con = duckdb.connect(config=config)
        try:
            con.execute("SET enable_progress_bar = false")  # a library draws nothing
            sql = diff_sql(len(paths_from), len(paths_to))
            return con.execute(sql, [list(paths_from), list(paths_to)]).to_arrow_table()
        except duckdb.Error as exc:
            raise StorageError(
                f"the term diff could not be computed: {exc}; check that the terms tables "
                f"are readable and that {spill_root()} has room to spill",
                code="E_DIFF_FAILED",
                path=str(paths_to[0]),
            ) from exc
        finally:
            con.close()


@dataclass(frozen=True)
class TermDiff:
    """The changes between two stored versions of one ontology.

    Attributes
    ----------
    ontology, from_version, to_version
        What was compared (older first).
    table
        The changes as a ``pyarrow.Table`` (see :func:`term_changes`).
    """

    ontology: str
    from_version: str
    to_version: str
    table: Any

    @property
    def counts(self) -> dict[str, int]:
        """Changes per kind, every kind present (zero when none)."""
        import pyarrow.compute as pc

        found = {
            str(item["values"]): int(item["counts"])
            for item in pc.value_counts(self.table["change"]).to_pylist()
        }
        return {change: found.get(change, 0) for change in CHANGES}

    def frame(self) -> Any:
        """The changes as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.table)

    def summary(self) -> Any:
        """Changes per kind as a polars DataFrame (``change``, ``count``)."""
        import polars as pl

        counts = self.counts
        return pl.DataFrame(
            {"change": list(counts), "count": list(counts.values())},
            schema={"change": pl.String, "count": pl.Int64},
        )

    def rows(self) -> list[dict[str, Any]]:
        """The changes as JSON-ready dicts."""
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: what was compared, counts per kind and every change."""
        return {
            "ontology": self.ontology,
            "from": self.from_version,
            "to": self.to_version,
            "summary": self.counts,
            "total": self.table.num_rows,
            "changes": self.rows(),
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        return (
            f"TermDiff({self.ontology} {self.from_version} -> {self.to_version}: "
            f"{counts or 'no changes'})"
        )

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v}</td></tr>"
            for k, v in self.counts.items()
        )
        title = html.escape(f"{self.ontology}: {self.from_version} → {self.to_version}")
        return f"<table><caption>{title}</caption>{cells}</table>"
