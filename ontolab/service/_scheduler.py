"""Background refresh for ``ontolab serve --refresh-every``: one pull at a time, on a cadence.

The cadence survives restarts: the next pull is due ``every_s`` after the last pull the
catalog recorded (any process's, a cron job's too), so a service restarted in a crash loop
does not hammer upstream hosts, and one that was down past its due time pulls at once.
A pull is the same :func:`ontolab.pipeline.pull` the CLI runs, so its events, metrics and
promotion rules are the CLI's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ontolab.catalog import open_catalog
from ontolab.errors import OntolabError
from ontolab.models import RunReceipt
from ontolab.settings import OntolabSettings

log = logging.getLogger(__name__)

PullFn = Callable[[OntolabSettings], RunReceipt]


def _pull(settings: OntolabSettings) -> RunReceipt:
    from ontolab.pipeline import pull

    return pull(settings=settings)


@dataclass
class _State:
    runs: int = 0
    running: bool = False
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_outcome: str | None = None  # ok | failed (an ontology failed or was rejected) | error
    last_run_id: str | None = None
    last_error: str | None = None
    next_run: datetime | None = None
    failed: list[str] = field(default_factory=list)


class Scheduler:
    """Pulls every configured ontology every ``every_s`` seconds, in one background thread.

    Parameters
    ----------
    settings
        What to pull, and where to record it.
    every_s
        Seconds between the starts of two pulls.
    pull
        The pull to run (tests pass a stand-in that records calls).
    """

    def __init__(self, settings: OntolabSettings, every_s: float, *, pull: PullFn = _pull) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.settings = settings
        self.every_s = every_s
        self._pull = pull
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = _State()

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="ontolab-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop; wait up to ``timeout_s`` for a pull in progress.

        A pull cut short by process exit loses nothing: files land by rename and the catalog
        records each fact in one transaction, so the next pull picks up where it stopped.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        """What the scheduler did last and when it runs next (ISO 8601 times, UTC)."""
        with self._lock:
            state = self._state
            return {
                "every_s": self.every_s,
                "running": state.running,
                "runs": state.runs,
                "last_started": _iso(state.last_started),
                "last_finished": _iso(state.last_finished),
                "last_outcome": state.last_outcome,
                "last_run_id": state.last_run_id,
                "last_error": state.last_error,
                "failed": list(state.failed),
                "next_run": _iso(state.next_run),
            }

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        due = self._first_due()
        while not self._stop.is_set():
            with self._lock:
                self._state.next_run = due
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(wait):
                return
            started = datetime.now(UTC)
            self._run_once(started)
            due = started + timedelta(seconds=self.every_s)

    def _first_due(self) -> datetime:
        now = datetime.now(UTC)
        last = self._last_recorded_pull()
        return now if last is None else max(now, last + timedelta(seconds=self.every_s))

    def _last_recorded_pull(self) -> datetime | None:
        catalog = open_catalog(self.settings.catalog_url, read_only=True)
        try:
            if not catalog.exists():
                return None
            with catalog.reader() as con:
                row = con.execute(
                    "SELECT max(started_at) FROM runs WHERE command = 'pull'"
                ).fetchone()
        except OntolabError as exc:
            log.warning(
                "refresh: cannot read the last pull from the catalog (%s); pulling now", exc
            )
            return None
        finally:
            catalog.close()
        last = row[0] if row else None
        return last.replace(tzinfo=UTC) if isinstance(last, datetime) else None

    def _run_once(self, started: datetime) -> None:
        with self._lock:
            self._state.running = True
            self._state.last_started = started
        outcome, run_id, error, failed = "error", None, None, []
        try:
            receipt = self._pull(self.settings)
            run_id = receipt.run_id
            failed = [row.ontology for row in receipt.rows if row.outcome == "failed"]
            outcome = "ok" if receipt.ok else "failed"
        except Exception as exc:  # the loop must outlive any one pull
            error = f"{type(exc).__name__}: {exc}"
            log.exception("refresh: the pull failed")
        with self._lock:
            self._state = _State(
                runs=self._state.runs + 1,
                last_started=started,
                last_finished=datetime.now(UTC),
                last_outcome=outcome,
                last_run_id=run_id,
                last_error=error,
                failed=failed,
            )
        log.info("refresh: pull %s finished: %s", run_id, outcome)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
