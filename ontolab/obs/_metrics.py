"""Prometheus metrics: the process registry, ``render()`` for ``/metrics``, the textfile.

Two kinds of metrics (docs/observability.md lists every one):

* catalog-derived, from :class:`~ontolab.obs._collector.CatalogCollector`: computed from the
  catalog at each scrape, so a pull run by cron in another process shows up on the service's
  ``/metrics``;
* process-local, on :func:`process_registry`: the catalog transaction histogram, and whatever
  the service registers for its own requests.

This module imports prometheus_client; ``ontolab.obs`` loads it only on first use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ontolab.obs._collector import CatalogCollector
from ontolab.obs._timing import on_transaction

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend
    from ontolab.settings import OntolabSettings

__all__ = [
    "CONTENT_TYPE",
    "CatalogCollector",
    "process_registry",
    "render",
    "write_textfile",
]

log = logging.getLogger("ontolab.obs")

#: The ``Content-Type`` of ``/metrics``: the text format ``render`` writes (0.0.4, which every
#: Prometheus and node-exporter reads; prometheus_client's own "latest" has moved to 1.0.0).
CONTENT_TYPE: str = "text/plain; version=0.0.4; charset=utf-8"

# A catalog unit is milliseconds when all is well; the tail is a writer waiting for a lock.
TRANSACTION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

_registry: dict[str, CollectorRegistry] = {}  # "process" -> the registry, once built
_registry_lock = threading.Lock()
_warned: set[str] = set()


def process_registry() -> CollectorRegistry:
    """This process's registry (built on first use; not prometheus_client's global one).

    It holds ``ontolab_catalog_transaction_seconds``, fed by every catalog transaction from
    the moment it is built: a long-lived process (the service) builds it at start-up.
    Register process-local metrics here (``Counter(..., registry=process_registry())``).
    """
    with _registry_lock:
        if not _registry:
            registry = CollectorRegistry(auto_describe=True)
            seconds = Histogram(
                "ontolab_catalog_transaction_seconds",
                "Catalog write transactions, from asking for one to commit or rollback "
                "(includes waiting for the catalog's lock).",
                ["backend"],
                buckets=TRANSACTION_BUCKETS,
                registry=registry,
            )
            on_transaction(lambda backend, s: seconds.labels(backend=backend).observe(s))
            _registry["process"] = registry
        return _registry["process"]


class _Chain(Collector):
    """Several collectors exposed as one, so one exposition holds them all."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = tuple(collectors)

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def render(
    catalog: CatalogBackend,
    settings: OntolabSettings | None = None,
    *,
    extra: Iterable[Collector] = (),
) -> bytes:
    """The text exposition of the process registry plus the catalog's metrics.

    Never raises for an unreadable catalog: ``ontolab_catalog_up`` is 0 then and the
    catalog-derived families are left out.

    Parameters
    ----------
    catalog
        The catalog to read.
    settings
        When given, each configured ontology's expected cadence is exported too
        (``ontolab_expected_cadence_seconds``, which the stale-mirror alert compares with).
    extra
        More collectors to include (the service adds its readiness and disk gauges).
    """
    cadences = settings.cadences() if settings is not None else None
    collectors = (process_registry(), CatalogCollector(catalog, cadences), *extra)
    return generate_latest(_Chain(collectors))


def write_textfile(
    catalog: CatalogBackend, path: Path, settings: OntolabSettings | None = None
) -> None:
    """Write :func:`render`'s output to ``path`` for a node-exporter textfile collector.

    Atomic (a temporary file in the same directory, then a rename), so the collector never
    reads half a file. An ``OSError`` is logged (once per path per process), never raised: a
    metrics file must not fail the command that wrote it. ``settings`` adds the expected
    cadences, as for :func:`render`.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        body = render(catalog, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(body)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        key = str(path)
        if key not in _warned:
            _warned.add(key)
            log.warning("cannot write the metrics textfile %s: %s", path, exc)
