"""Catalog-derived metrics: a Prometheus collector that reads the catalog at each scrape.

The catalog is the source of truth shared by every process (a cron pull, the service), so
counters here are totals over the ``events`` table since the catalog began (they drop only
when ``prune`` deletes events, which Prometheus treats as a counter reset), and the freshness
gauges come from ``latest``, ``versions`` and ``terms``. Nine aggregate queries per scrape, in
the SQL subset DuckDB and PostgreSQL share; payload fields are read from the JSON text by
each backend's own JSON function (:meth:`~ontolab.catalog.CatalogBackend.json_text`), so only
aggregates leave the database. The one metric not read from the catalog, each configured
ontology's expected cadence, comes from the settings the collector was given.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ontolab.errors import ExtractError, PolicyViolation, UnsafeArchive

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend, Connection

__all__ = ["STAGE_BUCKETS", "CatalogCollector", "is_policy_code"]

log = logging.getLogger("ontolab.obs")

# Seconds, for fetch/extract/validate of anything from a tiny OBO file to a 2 GB OWL dump.
STAGE_BUCKETS = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
THROTTLED = ("429", "503")

# Guardrail refusals: the PolicyViolation family (E_POLICY_*) and the archive policy's
# UnsafeArchive codes. The latter share the E_ARCHIVE_ prefix with the two codes of an
# ExtractError proper (a damaged or unreadable archive), which are not refusals.
_POLICY_PREFIX = PolicyViolation.default_code
_ARCHIVE_PREFIX = UnsafeArchive.default_code.rsplit("_", 1)[0] + "_"
_NOT_POLICY = frozenset({ExtractError.default_code, "E_ARCHIVE_UNSUPPORTED"})


def is_policy_code(code: str | None) -> bool:
    """Whether an error code is a guardrail's refusal (host, address, size, archive).

    Examples
    --------
    >>> [is_policy_code(c) for c in ("E_POLICY_HOST_NOT_ALLOWED", "E_ARCHIVE_RATIO")]
    [True, True]
    >>> [is_policy_code(c) for c in ("E_ARCHIVE_CORRUPT", "E_NET_RESET", None)]
    [False, False, False]
    """
    if not code:
        return False
    if code.startswith(_POLICY_PREFIX):
        return True
    return code.startswith(_ARCHIVE_PREFIX) and code not in _NOT_POLICY


# Every event, by name, level, ontology and code: events, validations, policy refusals.
EVENTS_SQL = (
    "SELECT event, level, ontology, error_code, count(*) AS n FROM events "
    "GROUP BY event, level, ontology, error_code"
)
DOWNLOAD_EVENTS = ("fetch.fetched", "fetch.unchanged", "fetch.resumed", "fetch.failed")


def details_sql(catalog: CatalogBackend) -> str:
    """Events whose payload matters, grouped by the payload fields they are counted by.

    One statement, three narrow parts, so each event's JSON is read for the fields its kind
    has: downloads by URL (hosts are parsed in Python from the few distinct URLs) with their
    bytes, retries by host and code, gate rejections by suite. Columns: event, ontology,
    error_code, url, host, suite, n, bytes.
    """
    url, host = catalog.json_text("payload", "url"), catalog.json_text("payload", "host")
    suite, size = catalog.json_text("payload", "suite"), catalog.json_text("payload", "bytes")
    text, number = "CAST(NULL AS VARCHAR)", "CAST(NULL AS BIGINT)"
    downloads = ", ".join(f"'{e}'" for e in DOWNLOAD_EVENTS)
    return f"""
SELECT event, ontology, {text} AS error_code, url, {text} AS host, {text} AS suite,
    count(*) AS n, sum(bytes) AS bytes
FROM (
    SELECT event, ontology, {url} AS url, CAST({size} AS BIGINT) AS bytes
    FROM events WHERE event IN ({downloads})
) AS d GROUP BY event, ontology, url
UNION ALL
SELECT event, {text}, error_code, {text}, host, {text}, count(*), {number}
FROM (SELECT event, error_code, {host} AS host FROM events WHERE event = 'fetch.retry') AS r
GROUP BY event, error_code, host
UNION ALL
SELECT event, ontology, {text}, {text}, {text}, suite, count(*), {number}
FROM (SELECT event, ontology, {suite} AS suite FROM events WHERE event = 'gate.rejected') AS g
GROUP BY event, ontology, suite
"""  # noqa: S608 -- constants and the backend's own expressions only


# Each timed event's bucket index (the first bound it fits under; len: +Inf), counted per
# stage; _durations makes the counts cumulative. One CASE costs far less than a FILTER per
# bucket, which makes the engine scan the column once per bound.
_BUCKET = (
    "CASE "
    + " ".join(f"WHEN duration_s <= {le!r} THEN {i}" for i, le in enumerate(STAGE_BUCKETS))
    + f" ELSE {len(STAGE_BUCKETS)} END"
)
DURATIONS_SQL = (
    f"SELECT stage, {_BUCKET} AS bucket, count(*) AS n, sum(duration_s) AS total "  # noqa: S608
    "FROM events WHERE duration_s IS NOT NULL AND stage IS NOT NULL GROUP BY stage, bucket"
)
VERSIONS_SQL = (
    "SELECT ontology, status, count(*) AS n, max(created_at) AS newest "
    "FROM versions GROUP BY ontology, status"
)
LIVE_SQL = """
SELECT l.ontology, l.version, v.created_at,
    (SELECT sum(t.row_count) FROM terms t
     WHERE t.ontology = l.ontology AND t.version = l.version) AS terms
FROM latest l JOIN versions v ON v.ontology = l.ontology AND v.version = l.version
"""
# A pull that ended with a good version: a new one validated good, or the live one unchanged.
LAST_PULL_SQL = """
SELECT e.ontology, max(e.ts) AS ts
FROM events e
JOIN runs r ON r.run_id = e.run_id
LEFT JOIN versions v ON v.ontology = e.ontology AND v.version = e.version
WHERE r.command = 'pull'
  AND (e.event = 'validate.good' OR (e.event = 'fetch.unchanged' AND v.status = 'good'))
GROUP BY e.ontology
"""
# Pull runs that failed an ontology (it could not be planned, fetched or read) since its
# last successful pull: "failing repeatedly" without a time window. A rejection is not a
# failure here: the gates worked, and the rejected-release alert covers it.
FAILED_PULLS_SQL = f"""
SELECT f.ontology, count(DISTINCT f.run_id) AS n
FROM events f
JOIN runs r ON r.run_id = f.run_id
LEFT JOIN ({LAST_PULL_SQL}) AS s ON s.ontology = f.ontology
WHERE r.command = 'pull' AND f.ontology IS NOT NULL
  AND f.event IN ('plan.failed', 'fetch.failed', 'validate.failed')
  AND (s.ts IS NULL OR f.ts > s.ts)
GROUP BY f.ontology
"""  # noqa: S608 -- constants only
# The newest recorded version of each ontology (the one ontolab_upstream_newer compares).
NEWEST_SQL = """
SELECT v.ontology, v.version, v.status
FROM versions v
JOIN (SELECT ontology, max(created_at) AS newest FROM versions GROUP BY ontology) AS n
  ON n.ontology = v.ontology AND n.newest = v.created_at
"""
SCHEMA_SQL = "SELECT coalesce(max(version), 0) FROM schema_version"

# Catalog location -> the last scrape error logged, so a catalog that stays down is logged
# once, not at every scrape.
_last_error: dict[str, str] = {}
_error_lock = threading.Lock()


def _epoch(value: datetime) -> float:
    """Seconds since the epoch of a catalog timestamp (naive UTC, see ``utcnow``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@functools.lru_cache(maxsize=4096)
def _host(url: str | None) -> str:
    """The host name alone (no port, no credentials), as fetch.retry events record it."""
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


class CatalogCollector(Collector):
    """Metrics computed from a catalog at each scrape (see docs/observability.md).

    A catalog that cannot be read yields ``ontolab_catalog_up 0`` and nothing else of its
    own, so ``/metrics`` keeps answering.

    Parameters
    ----------
    catalog
        The catalog to read (a read-only handle is enough).
    cadences
        Expected cadence in seconds by ontology id
        (:meth:`~ontolab.settings.OntolabSettings.cadences`), exported as
        ``ontolab_expected_cadence_seconds`` whether or not the catalog can be read.
    """

    def __init__(
        self, catalog: CatalogBackend, cadences: Mapping[str, float] | None = None
    ) -> None:
        self.catalog = catalog
        self.cadences = dict(cadences or {})

    def describe(self) -> Iterable[Metric]:
        # Registering must not query the catalog: describe nothing.
        return ()

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            # Every family is built before the first is yielded: a failure halfway leaves
            # out all catalog families rather than a misleading half of them.
            families = list(self._families())
        except Exception as exc:  # any driver or catalog error: a scrape must still answer
            self._log_down(exc)
            families = []
            up = 0.0
        else:
            with _error_lock:
                _last_error.pop(self.catalog.location, None)
            up = 1.0
        yield GaugeMetricFamily(
            "ontolab_catalog_up", "1 when the catalog could be read at this scrape, else 0.", up
        )
        yield from families
        if self.cadences:
            cadence = GaugeMetricFamily(
                "ontolab_expected_cadence_seconds",
                "How often a pull of the ontology should succeed (its cadence setting).",
                labels=["ontology"],
            )
            for ontology, seconds in sorted(self.cadences.items()):
                cadence.add_metric([ontology], seconds)
            yield cadence
        yield GaugeMetricFamily(
            "ontolab_catalog_scrape_seconds",
            "Time spent reading the catalog for this scrape.",
            time.perf_counter() - started,
        )

    def _log_down(self, exc: Exception) -> None:
        said = f"{type(exc).__name__}: {exc}"
        with _error_lock:
            if _last_error.get(self.catalog.location) == said:
                return
            _last_error[self.catalog.location] = said
        log.warning("metrics: cannot read the catalog at %s: %s", self.catalog.location, said)

    def _families(self) -> Iterator[Metric]:
        with self.catalog.reader() as con:
            events = con.execute(EVENTS_SQL).fetchall()
            details = con.execute(details_sql(self.catalog)).fetchall()
            durations = con.execute(DURATIONS_SQL).fetchall()
            versions = con.execute(VERSIONS_SQL).fetchall()
            live = con.execute(LIVE_SQL).fetchall()
            pulls = con.execute(LAST_PULL_SQL).fetchall()
            failed = con.execute(FAILED_PULLS_SQL).fetchall()
            newest = con.execute(NEWEST_SQL).fetchall()
            schema = _scalar(con, SCHEMA_SQL)
        now = time.time()
        yield GaugeMetricFamily(
            "ontolab_catalog_schema_version", "The catalog's schema version.", schema
        )
        yield from _event_families(events, details)
        yield _durations(durations)
        yield from _freshness(versions, live, pulls, now)
        yield from _health(pulls, failed, newest)


def _scalar(con: Connection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _counter(
    name: str, doc: str, labels: list[str], values: dict[tuple[str, ...], float]
) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _event_families(events_rows: list[Any], detail_rows: list[Any]) -> Iterator[Metric]:
    events: dict[tuple[str, ...], float] = defaultdict(float)
    validations: dict[tuple[str, ...], float] = defaultdict(float)
    policy: dict[tuple[str, ...], float] = defaultdict(float)
    for event, level, ontology, code, count in events_rows:
        events[event, level] += float(count)
        if event.startswith("validate."):
            validations[ontology or "", event.removeprefix("validate.")] += float(count)
        if is_policy_code(code):
            policy[(code,)] += float(count)
    downloads: dict[tuple[str, ...], float] = defaultdict(float)
    volume: dict[tuple[str, ...], float] = defaultdict(float)
    retries: dict[tuple[str, ...], float] = defaultdict(float)
    throttled: dict[tuple[str, ...], float] = defaultdict(float)
    gates: dict[tuple[str, ...], float] = defaultdict(float)
    for event, ontology_or_none, code_or_none, url, host, suite, count, size in detail_rows:
        n, ontology, code = float(count), ontology_or_none or "", code_or_none or ""
        if event == "fetch.retry":
            retries[host or "", code] += n
            status = code.removeprefix("E_HTTP_")
            if status in THROTTLED:
                throttled[host or "", status] += n
        elif event == "gate.rejected":
            gates[ontology, suite or "unknown"] += n
        else:
            downloads[ontology, _host(url), event.removeprefix("fetch.")] += n
            if size is not None:
                volume[ontology, _host(url)] += float(size)
    yield _counter(
        "ontolab_events",
        "Events recorded in the catalog, by event name and level.",
        ["event", "level"],
        events,
    )
    yield _counter(
        "ontolab_downloads",
        "Downloads by outcome (fetched, unchanged, resumed, failed); host from the planned URL.",
        ["ontology", "host", "outcome"],
        downloads,
    )
    yield _counter(
        "ontolab_download_bytes",
        "Bytes transferred by downloads (0 for an unchanged one).",
        ["ontology", "host"],
        volume,
    )
    yield _counter(
        "ontolab_http_retries",
        "HTTP retries (fetch.retry events) by host and error code (E_HTTP_503, E_NET_RESET, ...).",
        ["host", "code"],
        retries,
    )
    yield _counter(
        "ontolab_http_throttled",
        "Retries after a 429 or 503 answer, by host and status.",
        ["host", "status"],
        throttled,
    )
    yield _counter(
        "ontolab_validations",
        "Validation outcomes (validate.* events): good, rejected, failed.",
        ["ontology", "status"],
        validations,
    )
    yield _counter(
        "ontolab_gate_rejections",
        "Versions a quality gate rejected (gate.rejected events), by gate suite.",
        ["ontology", "suite"],
        gates,
    )
    yield _counter(
        "ontolab_policy_rejections",
        "Events refused by a guardrail (host, address, size, archive policy), by error code.",
        ["code"],
        policy,
    )


def _durations(rows: list[Any]) -> Metric:
    family = HistogramMetricFamily(
        "ontolab_stage_duration_seconds",
        "Duration of pipeline steps (events with duration_s), by stage.",
        labels=["stage"],
    )
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0.0] * (len(STAGE_BUCKETS) + 1))
    totals: dict[str, float] = defaultdict(float)
    for stage, bucket, n, total in rows:
        per_stage[str(stage)][int(bucket)] += float(n)
        totals[str(stage)] += float(total or 0.0)
    for stage in sorted(per_stage):
        cumulative = list(itertools.accumulate(per_stage[stage]))
        buckets = [(repr(le), c) for le, c in zip(STAGE_BUCKETS, cumulative, strict=False)]
        buckets.append(("+Inf", cumulative[-1]))
        family.add_metric([stage], buckets, totals[stage])
    return family


def _freshness(
    versions: list[Any], live: list[Any], pulls: list[Any], now: float
) -> Iterator[Metric]:
    counts = GaugeMetricFamily(
        "ontolab_versions", "Stored versions by status.", labels=["ontology", "status"]
    )
    newest: dict[str, float] = {}
    for ontology, status, n, created in sorted(versions, key=lambda r: (r[0], r[1])):
        counts.add_metric([ontology, status], float(n))
        newest[ontology] = max(newest.get(ontology, 0.0), _epoch(created))
    yield counts

    info = GaugeMetricFamily(
        "ontolab_live_version_info",
        "1 for the live version of each ontology.",
        labels=["ontology", "version"],
    )
    age = GaugeMetricFamily(
        "ontolab_live_version_age_seconds",
        "Seconds since the live version was first recorded (versions.created_at).",
        labels=["ontology", "version"],
    )
    created_ts = GaugeMetricFamily(
        "ontolab_live_version_created_timestamp_seconds",
        "When the live version was first recorded (Unix time; for textfiles, use time() - x).",
        labels=["ontology", "version"],
    )
    terms = GaugeMetricFamily(
        "ontolab_live_term_count", "Terms in the live version's terms tables.", labels=["ontology"]
    )
    live_created: dict[str, float] = {}
    for ontology, version, created, term_count in sorted(live, key=lambda r: r[0]):
        when = _epoch(created)
        live_created[ontology] = when
        info.add_metric([ontology, version], 1.0)
        age.add_metric([ontology, version], max(0.0, now - when))
        created_ts.add_metric([ontology, version], when)
        if term_count is not None:
            terms.add_metric([ontology], float(term_count))
    yield from (info, age, created_ts, terms)

    newer = GaugeMetricFamily(
        "ontolab_upstream_newer",
        "1 when the newest recorded version is not the live one (a rejected, failed or staged "
        "newer release, a rollback, or nothing live), else 0.",
        labels=["ontology"],
    )
    for ontology in sorted(newest):
        live_at = live_created.get(ontology)
        newer.add_metric([ontology], 1.0 if live_at is None or newest[ontology] > live_at else 0.0)
    yield newer

    last = GaugeMetricFamily(
        "ontolab_last_successful_pull_timestamp_seconds",
        "When a pull last ended with a good version (validated good, or unchanged and good).",
        labels=["ontology"],
    )
    for ontology, ts in sorted(pulls, key=lambda r: r[0]):
        last.add_metric([ontology], _epoch(ts))
    yield last


def _health(pulls: list[Any], failed: list[Any], newest: list[Any]) -> Iterator[Metric]:
    failures = GaugeMetricFamily(
        "ontolab_failed_pulls_since_success",
        "Pull runs that failed the ontology (plan, fetch or read) since its last successful pull.",
        labels=["ontology"],
    )
    counts = {str(ontology): 0.0 for ontology, _ in pulls}
    counts.update({str(ontology): float(n) for ontology, n in failed})
    for ontology, n in sorted(counts.items()):
        failures.add_metric([ontology], n)
    yield failures

    info = GaugeMetricFamily(
        "ontolab_newest_version_info",
        "1 for the newest recorded version of each ontology, with its status.",
        labels=["ontology", "version", "status"],
    )
    # Two versions recorded in the same instant: the greater label wins, the same every scrape.
    chosen: dict[str, tuple[str, str]] = {}
    for ontology, version, status in newest:
        if ontology not in chosen or version > chosen[ontology][0]:
            chosen[ontology] = (version, status)
    for ontology, (version, status) in sorted(chosen.items()):
        info.add_metric([ontology, version, status], 1.0)
    yield info
