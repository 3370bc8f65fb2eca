"""The end of a terms table: merge subjects that span several partial rows, count terms.

Most files state each subject in one run, so the common case does no work here: the
parts file already is the table. Otherwise DuckDB (``memory_limit`` 256 MB, spilling to
the work directory) aggregates only the repeated subjects and drops untyped ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEMORY_LIMIT = "256MB"
_KIND_RANK = "CASE kind WHEN 'class' THEN 0 WHEN 'property' THEN 1 WHEN 'individual' THEN 2 END"


@dataclass(frozen=True)
class TermCounts:
    """What the merged table holds, for the metrics."""

    terms: int = 0
    classes: int = 0
    individuals: int = 0
    deprecated: int = 0
    labelled: int = 0
    defined: int = 0

    def __add__(self, other: TermCounts) -> TermCounts:
        return TermCounts(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )


@dataclass(frozen=True)
class Repeats:
    """What the sink knows about subjects stated more than once.

    ``candidates`` holds every repeated subject (and a few false alarms); ``None`` means
    there were too many to keep, so every subject is checked.
    """

    candidates: frozenset[str] | None
    untyped: int
    subject_column: str


def merge_parts(parts: Path, workdir: Path, repeats: Repeats) -> tuple[Path, TermCounts | None]:
    """The terms table for ``parts`` and, when it had to be rebuilt, its counts.

    Returns ``parts`` itself (counts None: the sink counted while writing) unless some
    subject has several rows or some rows are untyped; then a merged copy in ``workdir``.
    """
    if repeats.untyped == 0 and not _any_repeated(parts, repeats):
        return parts, None
    import duckdb
    import pyarrow as pa

    merged = workdir / "terms.parquet"
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})
    try:
        con.execute(f"SET temp_directory = '{_sql_path(workdir / 'spill')}'")
        con.execute("SET preserve_insertion_order = false")
        source = f"read_parquet('{_sql_path(parts)}')"
        suspects = ""
        if repeats.candidates is not None:
            con.register("candidates", pa.table({"subject": sorted(repeats.candidates)}))
            column = repeats.subject_column
            suspects = f" WHERE {column} IN (SELECT subject FROM candidates)"  # noqa: S608
        con.execute(
            f"CREATE TEMP TABLE dups AS SELECT id FROM {source}{suspects}"  # noqa: S608
            " GROUP BY id HAVING count(*) > 1"
        )
        unrank = f"['class', 'property', 'individual'][min({_KIND_RANK}) + 1]"
        con.execute(
            f"COPY (SELECT * FROM {source} WHERE kind IS NOT NULL"  # noqa: S608
            " AND id NOT IN (SELECT id FROM dups) UNION ALL "
            "SELECT id, any_value(iri), any_value(label), any_value(definition),"
            f" {_tidy('synonyms')}, {_tidy('parents')}, {_tidy('xrefs')}, bool_or(deprecated),"
            f" {_tidy('replaced_by')}, {unrank}"
            f" FROM {source} WHERE id IN (SELECT id FROM dups) GROUP BY id"
            f" HAVING min({_KIND_RANK}) IS NOT NULL"
            f") TO '{_sql_path(merged)}' (FORMAT parquet, COMPRESSION zstd)"
        )
        live = "kind = 'class' AND NOT deprecated"
        row = con.execute(
            "SELECT count(*), count(*) FILTER (kind = 'class'),"  # noqa: S608
            " count(*) FILTER (kind = 'individual'),"
            " count(*) FILTER (kind = 'class' AND deprecated),"
            f" count(*) FILTER ({live} AND coalesce(label, '') <> ''),"
            f" count(*) FILTER ({live} AND coalesce(definition, '') <> '')"
            f" FROM read_parquet('{_sql_path(merged)}')"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return merged, TermCounts(*(int(v) for v in row))


def _any_repeated(parts: Path, repeats: Repeats) -> bool:
    """Whether a candidate subject really has several rows (the filter has false alarms)."""
    if repeats.candidates is None:
        return True
    if not repeats.candidates:
        return False
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(sorted(repeats.candidates), type=pa.string())
    seen: set[str] = set()
    column = repeats.subject_column
    for batch in pq.ParquetFile(parts).iter_batches(columns=[column], batch_size=65_536):
        subjects = batch.column(0)
        for subject in subjects.filter(pc.is_in(subjects, value_set=wanted)).to_pylist():
            if subject in seen:
                return True
            seen.add(subject)
    return False


def count_batch(batch: Any) -> TermCounts:
    """The counts of one batch of the terms table (kind, deprecated, label, definition)."""
    import pyarrow.compute as pc

    kind, deprecated = batch.column("kind"), batch.column("deprecated")
    is_class = pc.fill_null(pc.equal(kind, "class"), False)
    live = pc.and_(is_class, pc.invert(deprecated))
    return TermCounts(
        terms=batch.num_rows,
        classes=_true(is_class),
        individuals=_true(pc.equal(kind, "individual")),
        deprecated=_true(pc.and_(is_class, deprecated)),
        labelled=_true(pc.and_(live, _filled(batch.column("label")))),
        defined=_true(pc.and_(live, _filled(batch.column("definition")))),
    )


def _filled(strings: Any) -> Any:
    import pyarrow.compute as pc

    return pc.fill_null(pc.greater(pc.utf8_length(strings), 0), False)


def _true(mask: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)


def _tidy(column: str) -> str:
    """Distinct, sorted, never NULL: lists compare and test the same on every run."""
    return f"coalesce(list_sort(list_distinct(flatten(list({column})))), []::VARCHAR[])"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
