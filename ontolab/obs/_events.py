"""The one event model: what happened, when, in which run, to which ontology, at which stage.

An :class:`Event` is built by the code that saw it happen (the pipeline, ``promote``), stamped
once with an id and a time, and then handed unchanged to every sink (the catalog's ``events``
table, the JSON-lines file, stderr), so all three agree on ``event_id``, ``ts`` and ``run_id``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

# The catalog's ``events`` columns, in table order: JSON lines and exports use the same keys.
EVENT_COLUMNS = (
    "event_id",
    "ts",
    "run_id",
    "level",
    "event",
    "ontology",
    "version",
    "stage",
    "duration_s",
    "error_code",
    "message",
    "payload",
)
LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Event:
    """One event: a stage boundary, a retry, a rejection, a promotion or a rollback.

    ``event`` is a dotted name, ``<stage>.<what>`` (``fetch.fetched``, ``validate.rejected``,
    ``latest.promote``). ``event_id`` and ``ts`` stay None until :meth:`stamped`.

    Examples
    --------
    >>> e = Event("fetch.failed", level="error", ontology="hp").stamped("run-1")
    >>> (e.run_id, len(e.event_id or ""), e.ts is not None)
    ('run-1', 32, True)
    """

    event: str
    level: str = "info"
    run_id: str | None = None
    ontology: str | None = None
    version: str | None = None
    stage: str | None = None
    duration_s: float | None = None
    error_code: str | None = None
    message: str | None = None
    payload: dict[str, Any] | None = None
    event_id: str | None = None
    ts: datetime | None = None

    def stamped(self, run_id: str | None = None) -> Event:
        """This event with an id, a time (naive UTC, as the catalog stores it) and a run id."""
        return replace(
            self,
            run_id=self.run_id or run_id,
            event_id=self.event_id or uuid.uuid4().hex,
            ts=self.ts or datetime.now(UTC).replace(tzinfo=None),
        )

    def row(self) -> dict[str, Any]:
        """The event as a row keyed by the catalog's column names (payload as a mapping)."""
        return {column: getattr(self, column) for column in EVENT_COLUMNS}

    def to_json(self) -> str:
        """One JSON line; ``ts`` in ISO 8601 (UTC), as ``ontolab db events --json`` prints it."""
        row = self.row()
        row["ts"] = self.ts.isoformat() if self.ts else None
        return json.dumps(row, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, line: str) -> Event:
        """The event a JSON line (:meth:`to_json`) holds."""
        data = json.loads(line)
        ts = data.get("ts")
        known = {k: v for k, v in data.items() if k in EVENT_COLUMNS}
        return cls(**{**known, "ts": datetime.fromisoformat(ts) if ts else None})


class EventSink(Protocol):
    """Where stamped events go besides the catalog; a sink never raises for a failed write."""

    def emit(self, event: Event) -> None:
        """Record one stamped event."""
