"""Readiness and disk gauges on ``/metrics``, computed at each scrape.

An alert cannot read ``/readyz``; these gauges carry the same checks (``ontolab_ready``,
``ontolab_ready_check{check}``) and the data dir's file system (``ontolab_data_dir_free_bytes``,
``ontolab_data_dir_size_bytes``) to Prometheus, so "not ready" and "disk nearly full" page
before an orchestrator stops sending traffic.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ontolab.service._ready import readiness

if TYPE_CHECKING:
    from ontolab.settings import OntolabSettings

__all__ = ["HealthCollector"]


class HealthCollector(Collector):
    """``/readyz``'s checks and the data dir's free space as gauges (blocking: run in a thread).

    Parameters
    ----------
    settings
        The service's settings (data dir, catalog, ``service.min_free_bytes``).
    """

    def __init__(self, settings: OntolabSettings) -> None:
        self.settings = settings

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registering must not run the checks

    def collect(self) -> Iterator[Metric]:
        result = readiness(self.settings)
        yield GaugeMetricFamily(
            "ontolab_ready",
            "1 when /readyz would answer 200 (every readiness check passed), else 0.",
            1.0 if result.ready else 0.0,
        )
        checks = GaugeMetricFamily(
            "ontolab_ready_check",
            "1 when the readiness check passed (catalog, migrations, storage, disk), else 0.",
            labels=["check"],
        )
        for check in result.checks:
            checks.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield checks
        data_dir = self.settings.data_dir
        try:
            usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
        except OSError:
            return  # the storage and disk checks above already say why
        yield GaugeMetricFamily(
            "ontolab_data_dir_free_bytes",
            "Bytes free (to this user) on the file system holding the data dir.",
            float(usage.free),
        )
        yield GaugeMetricFamily(
            "ontolab_data_dir_size_bytes",
            "Size in bytes of the file system holding the data dir.",
            float(usage.total),
        )
