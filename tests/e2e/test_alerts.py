"""The shipped alert rules and scrape config, in a real Prometheus, against ``ontolab serve``.

The mirror is made stale for real: the served config gives kisao a cadence of 15 s, so
1.5 cadences after its last successful pull OntolabMirrorStale goes pending, then fires
(``for: 30s``), and a fresh pull clears it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ontolab.testing import PrometheusServer

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
CADENCE_S = 15
STALE = 'ALERTS{alertname="OntolabMirrorStale",ontology="kisao"'


class ShippedPrometheus(PrometheusServer):
    """Prometheus run with deploy/prometheus/prometheus.yml, its target made the loopback one."""

    def config(self) -> dict[str, Any]:
        shipped = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
        assert shipped["rule_files"] == ["rules/*.yml"]
        (job,) = shipped["scrape_configs"]
        assert job["job_name"] == "ontolab"  # the API alerts select on it
        (static,) = job["static_configs"]
        assert len(static["targets"]) == 1
        static["targets"] = self.targets
        # Short intervals so the test is bounded; the rules and the job are as shipped.
        interval = f"{max(1, round(self.scrape_interval_s * 1000))}ms"
        shipped["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
        job["scrape_timeout"] = interval
        shipped["rule_files"] = [str(p) for p in self.rule_files]
        return shipped


def _stale_state(prometheus: PrometheusServer) -> set[str]:
    return {
        a["state"]
        for a in prometheus.alerts()
        if a["labels"]["alertname"] == "OntolabMirrorStale"
        and a["labels"].get("ontology") == "kisao"
    }


def test_a_stale_mirror_goes_pending_then_fires_and_a_pull_clears_it(
    ontolab: Run, serve: Callable[..., Any], project: Path
) -> None:
    config_file = project / "ontolab.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["ontologies"] = [{"id": "kisao", "resolver": ["ols", "obo"], "cadence": f"{CADENCE_S}s"}]
    config_file.write_text(yaml.safe_dump(config))
    started = time.time()
    pulled = ontolab("pull", "--json")
    assert pulled.code == 0, pulled.stderr

    served = serve()
    rules = sorted((DEPLOY / "rules").glob("*.yml"))
    with ShippedPrometheus(
        [served.host_port], scrape_interval_s=1.0, rule_files=rules
    ) as prometheus:
        assert prometheus.wait_for('up{job="ontolab"} == 1')
        cadence = prometheus.wait_for("ontolab_expected_cadence_seconds")
        assert [(s["metric"]["ontology"], float(s["value"][1])) for s in cadence] == [
            ("kisao", CADENCE_S)
        ]
        loaded = {r["name"] for g in prometheus.api("rules")["groups"] for r in g["rules"]}
        assert {"OntolabMirrorStale", "OntolabApiDown", "OntolabReleaseRejected"} <= loaded

        (last,) = prometheus.wait_for("ontolab_last_successful_pull_timestamp_seconds")
        pulled_at = float(last["value"][1])
        assert started <= pulled_at <= time.time()
        # Just pulled: quiet (unless this machine took a whole cadence to get here).
        if time.time() - started < CADENCE_S:
            assert _stale_state(prometheus) == set()

        pending = prometheus.wait_for(f'{STALE},alertstate="pending"}}', timeout_s=40)
        assert pending[0]["metric"]["severity"] == "page"
        assert time.time() - pulled_at > 1.5 * CADENCE_S
        prometheus.wait_for(f'{STALE},alertstate="firing"}}', timeout_s=45)
        (firing,) = [
            a
            for a in prometheus.alerts()
            if a["labels"]["alertname"] == "OntolabMirrorStale" and a["state"] == "firing"
        ]
        assert firing["labels"]["ontology"] == "kisao"
        assert firing["annotations"]["runbook_url"].endswith("docs/runbooks/OntolabMirrorStale.md")
        # The API itself is fine: none of its alerts are active.
        active = {a["labels"]["alertname"] for a in prometheus.alerts()}
        assert active == {"OntolabMirrorStale"}, prometheus.alerts()

        # A successful pull (unchanged and good) is what the alert asks for: it clears.
        again = ontolab("pull", "kisao", "--json")
        assert again.code == 0, again.stderr
        deadline = time.monotonic() + 20
        while _stale_state(prometheus) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _stale_state(prometheus) == set()
    assert served.stop() == 0
