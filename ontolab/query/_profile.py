"""Query timing: every query a catalog handle runs is timed; slow and profiled ones are kept.

A slow query (over the handle's threshold) or a profiled one becomes a ``query.slow`` /
``query.profiled`` event in the catalog, so ``ontolab obs`` and :meth:`slow_queries` see
what a notebook found slow. The handle is read-only, so each record is a short write
through a separate writer with a short lock wait: if the catalog is busy (a pull holds the
DuckDB file, the directory is read-only), the record stays in memory and is tried again
with the next one. Recording never blocks or fails the read that caused it.
"""

from __future__ import annotations

import html
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ontolab.catalog import Event, Recorder, open_catalog

__all__ = ["WRITE_WAIT_S", "QueryLog", "QueryProfile", "TimedQuery"]

log = logging.getLogger(__name__)

# How long a record waits for the catalog before it stays in memory: short, as the reader
# who ran the slow query is waiting for its result.
WRITE_WAIT_S = 0.1
# Kept in memory at most; the oldest unrecorded ones go first.
MAX_PENDING = 1000
# An EXPLAIN ANALYZE plan kept in an event payload; longer ones are cut.
MAX_PLAN_CHARS = 20_000


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class TimedQuery:
    """One slow or profiled query: what ran, how long it took, whether it is in the catalog."""

    event: str
    sql: str
    params: tuple[Any, ...]
    duration_s: float
    rows: int | None
    ts: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    plan: str | None = None

    def payload(self, backend: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "sql": self.sql,
            "params": [_jsonable(p) for p in self.params],
            "duration_s": round(self.duration_s, 6),
            "rows": self.rows,
            "backend": backend,
        }
        if self.plan is not None:
            doc["plan"] = self.plan[:MAX_PLAN_CHARS]
        return doc


@dataclass(frozen=True)
class QueryProfile:
    """What :meth:`CatalogView.profile` measured: wall time, rows and the executed plan.

    Attributes
    ----------
    sql, params
        The query as run.
    duration_s
        Wall time of running it and fetching every row.
    rows
        Rows returned.
    plan
        The backend's ``EXPLAIN ANALYZE`` output (DuckDB's tree, or PostgreSQL's text plan).
    backend
        ``duckdb`` or ``postgresql``.
    """

    sql: str
    params: tuple[Any, ...]
    duration_s: float
    rows: int
    plan: str
    backend: str

    def __repr__(self) -> str:
        return (
            f"QueryProfile({self.duration_s * 1000:.1f} ms, {self.rows} rows, "
            f"{self.backend})\n{self.sql}\n{self.plan}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "sql": self.sql,
            "params": [_jsonable(p) for p in self.params],
            "duration_s": self.duration_s,
            "rows": self.rows,
            "backend": self.backend,
            "plan": self.plan,
        }

    def _repr_html_(self) -> str:
        return (
            f"<div><b>{self.duration_s * 1000:.1f} ms</b>, {self.rows} rows "
            f"({html.escape(self.backend)})<pre>{html.escape(self.sql)}</pre>"
            f"<details open><summary>EXPLAIN ANALYZE</summary>"
            f"<pre style='font-size:smaller'>{html.escape(self.plan)}</pre></details></div>"
        )


class QueryLog:
    """Keeps slow and profiled queries, and records them as events, best effort.

    Parameters
    ----------
    url
        The catalog to record into.
    backend
        The backend's kind, for the payload.
    threshold_s
        Queries that take at least this long are slow.
    release
        Lets go of the reader's own hold on the catalog before a write (the DuckDB file
        admits one writing process, and no reader alongside it).
    """

    def __init__(
        self, url: str, *, backend: str, threshold_s: float, release: Callable[[], None]
    ) -> None:
        self.url = url
        self.backend = backend
        self.threshold_s = threshold_s
        self._release = release
        self._pending: list[TimedQuery] = []
        self._lock = threading.Lock()
        # Groups one handle's records in the event log (the events' run_id).
        self.session = f"query-{uuid.uuid4().hex[:8]}"

    @property
    def pending(self) -> list[TimedQuery]:
        """Slow or profiled queries not recorded in the catalog (yet)."""
        with self._lock:
            return list(self._pending)

    def observe(self, sql: str, params: Sequence[Any], duration_s: float, rows: int | None) -> None:
        """Note a query's time; a slow one is recorded."""
        if duration_s >= self.threshold_s:
            self.keep(TimedQuery("query.slow", sql, tuple(params), duration_s, rows))

    def keep(self, query: TimedQuery) -> None:
        """Record ``query`` (and any earlier unrecorded ones), or keep it in memory."""
        with self._lock:
            self._pending.append(query)
            del self._pending[:-MAX_PENDING]
        self.flush()

    def flush(self) -> bool:
        """Write pending records to the catalog; False when it was busy (they stay pending)."""
        with self._lock:
            batch = list(self._pending)
        if not batch:
            return True
        recorded: list[TimedQuery] = []
        try:
            self._release()
            writer = open_catalog(self.url, lock_timeout_s=WRITE_WAIT_S)
            try:
                recorder = Recorder(writer, run_id=self.session)
                for query in batch:
                    recorder.event(
                        Event(
                            query.event,
                            level="warning" if query.event == "query.slow" else "info",
                            stage="query",
                            duration_s=query.duration_s,
                            message=f"{query.duration_s * 1000:.0f} ms: {query.sql[:200]}",
                            payload=query.payload(self.backend),
                        )
                    )
                    recorded.append(query)
            finally:
                writer.close()
        except Exception as exc:  # recording is best effort: whatever went wrong, the read goes on
            log.debug("slow query not recorded yet (%s); kept in memory", exc)
        finally:
            done = {id(q) for q in recorded}
            with self._lock:
                self._pending = [q for q in self._pending if id(q) not in done]
        return len(recorded) == len(batch)
