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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ontolab.catalog import open_catalog
from ontolab.errors import OntolabError
from ontolab.models import RunReceipt
from ontolab.settings import OntolabSettings

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

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
    outcomes: dict[str, int] = field(default_factory=dict)  # pulls finished, per outcome


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
        self._collector: _SchedulerCollector | None = None

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="ontolab-refresh", daemon=True)
        self._thread.start()
        self._collector = _SchedulerCollector(self)
        from ontolab.obs import process_registry

        process_registry().register(self._collector)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop; wait up to ``timeout_s`` for a pull in progress.

        A pull cut short by process exit loses nothing: files land by rename and the catalog
        records each fact in one transaction, so the next pull picks up where it stopped.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._collector is not None:
            from ontolab.obs import process_registry

            process_registry().unregister(self._collector)
            self._collector = None

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
                "outcomes": dict(state.outcomes),
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
            outcomes = dict(self._state.outcomes)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            self._state = _State(
                runs=self._state.runs + 1,
                outcomes=outcomes,
                last_started=started,
                last_finished=datetime.now(UTC),
                last_outcome=outcome,
                last_run_id=run_id,
                last_error=error,
                failed=failed,
            )
        log.info("refresh: pull %s finished: %s", run_id, outcome)


class _SchedulerCollector:
    """The scheduler's state as metrics on the process registry (what the service scrapes)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self.scheduler._lock:
            state = self.scheduler._state
            outcomes = dict(state.outcomes)
            times = {"last_started": state.last_started, "next_run": state.next_run}
            running = state.running
        runs = CounterMetricFamily(
            "ontolab_refresh_runs", "Background pulls finished, by outcome.", labels=["outcome"]
        )
        for outcome in ("ok", "failed", "error"):
            runs.add_metric([outcome], outcomes.get(outcome, 0))
        yield runs
        yield GaugeMetricFamily(
            "ontolab_refresh_running", "1 while a background pull runs.", value=float(running)
        )
        yield GaugeMetricFamily(
            "ontolab_refresh_interval_seconds",
            "Seconds between background pulls (serve --refresh-every).",
            value=self.scheduler.every_s,
        )
        for name, when in times.items():
            if when is not None:
                yield GaugeMetricFamily(
                    f"ontolab_refresh_{name}_timestamp_seconds",
                    f"Unix time of the background pull's {name.replace('_', ' ')}.",
                    value=when.timestamp(),
                )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
