"""Reading the event log back: newest events, per-stage statistics, exports.

The catalog's ``events`` table is the record of truth (every event reaches it in the same
transaction as the facts it describes); the JSON-lines file is its rotated copy for shippers
and for ``obs tail -f``. Statistics run in an in-memory DuckDB over the rows, so a PostgreSQL
catalog gets the same percentiles as a DuckDB one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ontolab.errors import ConfigError, StorageError
from ontolab.obs._events import EVENT_COLUMNS, Event

if TYPE_CHECKING:
    import pyarrow as pa

    from ontolab.catalog import CatalogBackend

ExportFormat = Literal["parquet", "jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("parquet", "jsonl", "csv")

_STATS_SQL = """
SELECT
    coalesce(stage, '') AS stage,
    coalesce(ontology, '') AS ontology,
    count(*) AS events,
    count(*) FILTER (WHERE level = 'error') AS errors,
    round(count(*) FILTER (WHERE level = 'error') / count(*), 4) AS error_rate,
    count(*) FILTER (WHERE event LIKE '%.rejected') AS rejected,
    round(quantile_cont(duration_s, 0.5), 4) AS duration_p50_s,
    round(quantile_cont(duration_s, 0.95), 4) AS duration_p95_s,
    max(ts) AS last_ts
FROM events
GROUP BY ALL
ORDER BY stage, ontology
"""


def _where(
    ontology: str | None, level: str | None, since: datetime | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("ontology", ontology), ("level", level)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def event_table(
    catalog: CatalogBackend,
    *,
    ontology: str | None = None,
    level: str | None = None,
    since: datetime | None = None,
) -> pa.Table:
    """The catalog's events as a ``pyarrow.Table`` in column order, oldest first."""
    import pyarrow as pa

    where, params = _where(ontology, level, since)
    sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events{where} ORDER BY ts, event_id"  # noqa: S608
    table = catalog.query_arrow(sql, params or None)
    if table.num_rows == 0:
        # An empty result has no types to infer: give the columns the table's types.
        types = _arrow_types()
        table = pa.table({c: pa.array([], type=types[c]) for c in EVENT_COLUMNS})
    return table


def event_stats(table: pa.Table) -> list[dict[str, Any]]:
    """Per stage and ontology: event and error counts, error rate, rejections, duration
    percentiles (p50, p95, over events that carry a duration) and the newest event's time."""
    import duckdb

    with duckdb.connect() as con:
        con.register("events", table)
        cursor = con.execute(_STATS_SQL)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def export_events(table: pa.Table, path: Path, fmt: ExportFormat) -> int:
    """Write the events to ``path`` as Parquet, JSON lines or CSV; returns the row count."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(
            f"export format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}",
            code="E_OBS_FORMAT",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        elif fmt == "csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, path)
        else:
            with path.open("w", encoding="utf-8") as out:
                for row in table.to_pylist():
                    out.write(_event_from_row(row).to_json() + "\n")
    except OSError as exc:
        raise StorageError(
            f"cannot write {path}: {exc.strerror or exc}; choose a writable path",
            path=str(path),
        ) from exc
    return int(table.num_rows)


def _event_from_row(row: dict[str, Any]) -> Event:
    payload = row.get("payload")
    return Event(**{**row, "payload": json.loads(payload) if payload else None})


def read_jsonl(files: list[Path]) -> list[Event]:
    """Every well-formed event in the JSON-lines files given (oldest file first)."""
    events = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    events.append(Event.from_json(line))
                except (ValueError, TypeError):
                    continue  # a line cut short by a full disk is skipped, not fatal
    return events


def follow(
    path: Path,
    *,
    start: tuple[int, int] | None = None,
    timeout_s: float | None = None,
    poll_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Events appended to ``path`` across rotations, until ``timeout_s`` (None: forever).

    ``start`` is an ``(inode, offset)`` (:func:`log_position`) to read on from (``(0, 0)``:
    from the start of whatever file there is); without it, what the file holds when following
    starts is skipped. Rotation renames the file away: a
    new inode, or a file shorter than what was read, means the new file is read from its start.
    """
    deadline = None if timeout_s is None else clock() + timeout_s
    handle = None
    inode = None
    first = True
    buffer = ""
    try:
        while deadline is None or clock() < deadline:
            if handle is None and path.is_file():
                handle = path.open(encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                if first and start is None:
                    handle.seek(0, os.SEEK_END)
                elif first and start is not None and start[0] == inode:
                    handle.seek(start[1])
            first = False
            if handle is not None:
                chunk = handle.read()
                if chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split("\n")
                    for line in lines:
                        try:
                            yield Event.from_json(line)
                        except (ValueError, TypeError):
                            continue
                    continue
                try:
                    stat: os.stat_result | None = path.stat()
                except FileNotFoundError:
                    stat = None
                if stat is None or stat.st_ino != inode or stat.st_size < handle.tell():
                    handle.close()
                    handle, buffer = None, ""
                    continue
            time.sleep(poll_s)
    finally:
        if handle is not None:
            handle.close()


def log_position(path: Path) -> tuple[int, int] | None:
    """Where ``path`` ends now, as :func:`follow`'s ``start``; None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    text = pa.string()
    return {
        **dict.fromkeys(EVENT_COLUMNS, text),
        "ts": pa.timestamp("us"),
        "duration_s": pa.float64(),
    }
