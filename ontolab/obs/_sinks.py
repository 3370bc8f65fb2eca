"""Event sinks besides the catalog: a rotated JSON-lines file and stderr through logging.

The JSON-lines file is what log shippers tail: ``<data_dir>/logs/events.jsonl``, rotated by
size to ``events.jsonl.1`` ... ``events.jsonl.N`` as ``logging.handlers.RotatingFileHandler``
does.
Several processes (concurrent pulls) append to it, so every write, and every rotation, happens
under an exclusive ``fcntl`` lock on a lock file beside it that is never renamed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ontolab.obs._events import Event, EventSink

if TYPE_CHECKING:
    from ontolab.settings import OntolabSettings

EVENTS_FILENAME = "events.jsonl"
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_BACKUPS = 5
EVENTS_LOGGER = "ontolab.events"

log = logging.getLogger(__name__)
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def events_path(data_dir: Path) -> Path:
    """Where the JSON-lines event log of a data directory lives."""
    return data_dir / "logs" / EVENTS_FILENAME


class JsonlSink:
    """Appends each event as one JSON line; rotates at ``max_bytes`` keeping ``backups`` files.

    Parameters
    ----------
    path
        The live file; rotated copies get ``.1`` (newest) to ``.<backups>`` (oldest).
    max_bytes
        Rotate before a write would make the live file larger than this.
    backups
        Rotated files kept; the oldest beyond that is deleted.
    """

    def __init__(
        self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock_path = path.with_name(f".{path.name}.lock")
        # flock locks belong to open files, not threads: threads of one process queue here.
        self._threads = threading.Lock()
        self._warned = False

    def emit(self, event: Event) -> None:
        """Append the event; a failed write is logged once, never raised (the catalog has it)."""
        data = (event.to_json() + "\n").encode()
        try:
            with self._locked():
                self._rotate_for(len(data))
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("event log %s not written: %s", self.path, exc)

    def files(self) -> list[Path]:
        """The live file and its rotated copies that exist, oldest first."""
        names = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.backups, 0, -1)]
        return [p for p in [*names, self.path] if p.is_file()]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._threads, self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _rotate_for(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        if self.backups < 1:
            self.path.unlink()
            return
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))


class LogSink:
    """Hands each event to the ``ontolab.events`` logger: stderr for humans, JSON for shippers.

    The event's fields travel as the record's extras, so the structlog renderer shows them as
    keys (``run_id``, ``stage``, ``ontology``, ...); the event's ``message`` becomes ``detail``
    because ``message`` is reserved on a :class:`logging.LogRecord`.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(EVENTS_LOGGER)

    def emit(self, event: Event) -> None:
        level = _LOG_LEVELS.get(event.level, logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        extra = {
            "run_id": event.run_id,
            "stage": event.stage,
            "ontology": event.ontology,
            "version": event.version,
            "duration_s": event.duration_s,
            "error_code": event.error_code,
            "detail": event.message,
        }
        self.logger.log(level, event.event, extra={k: v for k, v in extra.items() if v is not None})


def event_sinks(settings: OntolabSettings) -> tuple[EventSink, ...]:
    """The sinks a command's events go to besides the catalog: the JSON-lines file, stderr."""
    jsonl = JsonlSink(
        events_path(settings.data_dir),
        max_bytes=int(settings.obs.events_max_bytes),
        backups=settings.obs.events_backups,
    )
    return (jsonl, LogSink())
