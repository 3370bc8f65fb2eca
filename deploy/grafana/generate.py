"""Grafana dashboards as code: writes deploy/grafana/dashboards/*.json (stdlib only).

Run ``python deploy/grafana/generate.py`` after changing a panel and commit the JSON it
writes; ``--check`` exits 1 when the files differ from what this script makes (a test runs
it). Every query uses only metrics ontolab exposes (docs/observability.md, docs/service.md);
tests/e2e/test_dashboard_queries.py runs each one against a real Prometheus scraping
``ontolab serve``. Grafana loads the files through the provisioning in
deploy/grafana/provisioning/; the data source is a dashboard variable, so any Prometheus
data source works.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Run as a script or loaded by file path (tests): the model module sits beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dashboard import ONE_COPY, Panel, Row, dashboard

OUT = Path(__file__).resolve().parent / "dashboards"
# Pipeline counters move a few times a day (each pull), so they are shown per hour or per
# six hours; request counters move every second and use Grafana's rate interval.
HOUR = "1h"
ONT = 'ontology=~"$ontology"'
HOST = 'host=~"$host"'
JOB = 'job=~"$job"'

ONE = {"color": {"mode": "thresholds"}}
UPSTREAM = {
    **ONE,
    "thresholds": {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
    },
    "mappings": [
        {
            "type": "value",
            "options": {"0": {"text": "live is newest"}, "1": {"text": "upstream newer"}},
        }
    ],
}
UP = {
    **ONE,
    "thresholds": {
        "mode": "absolute",
        "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
    },
    "mappings": [{"type": "value", "options": {"0": {"text": "down"}, "1": {"text": "up"}}}],
}


def mirror() -> dict[str, Any]:
    """Freshness per ontology, pipeline throughput and failures by reason, gates."""
    freshness = Row(
        "Freshness",
        [
            Panel(
                "Live version age",
                [
                    (
                        f"max by (ontology, version) (ontolab_live_version_age_seconds{{{ONT}}})",
                        "{{ontology}} {{version}}",
                    )
                ],
                "Time since each ontology's live version was first recorded. Alert "
                "OntolabMirrorStale fires past the ontology's cadence.",
                kind="bargauge",
                unit="s",
                width=8,
                instant=True,
            ),
            Panel(
                "Since the last successful pull",
                [
                    (
                        "time() - max by (ontology) "
                        f"(ontolab_last_successful_pull_timestamp_seconds{{{ONT}}})",
                        "{{ontology}}",
                    )
                ],
                "Time since a pull last ended with a good version (new and validated, or "
                "unchanged and good). Growing for every ontology: the scheduled pull is not "
                "running.",
                kind="bargauge",
                unit="s",
                width=8,
                instant=True,
            ),
            Panel(
                "Upstream newer than live",
                [(f"max by (ontology) (ontolab_upstream_newer{{{ONT}}})", "{{ontology}}")],
                "1 when the newest recorded version is not live: a newer release was "
                "rejected, failed or only staged, or the pointer was rolled back.",
                kind="stat",
                width=8,
                instant=True,
                extra=UPSTREAM,
            ),
            Panel(
                "Live version age over time",
                [
                    (
                        f"max by (ontology) (ontolab_live_version_age_seconds{{{ONT}}})",
                        "{{ontology}}",
                    )
                ],
                "A saw-tooth: it drops when a new version goes live.",
                unit="s",
            ),
            Panel(
                "Terms in the live version",
                [(f"max by (ontology) (ontolab_live_term_count{{{ONT}}})", "{{ontology}}")],
                "A sudden drop after a promotion deserves a look at the release.",
            ),
        ],
    )
    throughput = Row(
        "Pipeline throughput",
        [
            Panel(
                "Downloads by outcome (per hour)",
                [
                    (
                        f"sum by (outcome) (increase(ontolab_downloads_total{{{ONT}}}[{HOUR}]))",
                        "{{outcome}}",
                    )
                ],
                "fetched: a new file; unchanged: 304 or already stored; resumed; failed.",
                width=8,
            ),
            Panel(
                "Bytes downloaded",
                [
                    (
                        f"sum by (ontology) (rate(ontolab_download_bytes_total{{{ONT}}}[{HOUR}]))",
                        "{{ontology}}",
                    )
                ],
                "Average transfer rate over the last hour.",
                unit="Bps",
                width=8,
            ),
            Panel(
                "Validations by outcome (per hour)",
                [
                    (
                        f"sum by (status) (increase(ontolab_validations_total{{{ONT}}}[{HOUR}]))",
                        "{{status}}",
                    )
                ],
                "good versions go live; rejected and failed ones never replace the live one.",
                width=8,
            ),
            Panel(
                "Stage duration (p50, p95)",
                [
                    (
                        "histogram_quantile(0.5, sum by (le, stage) "
                        "(rate(ontolab_stage_duration_seconds_bucket[6h])))",
                        "p50 {{stage}}",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le, stage) "
                        "(rate(ontolab_stage_duration_seconds_bucket[6h])))",
                        "p95 {{stage}}",
                    ),
                ],
                "plan, fetch and validate times of the steps recorded in the last six hours.",
                unit="s",
            ),
            Panel(
                "Background refresh (ontolab serve --refresh-every)",
                [
                    (
                        f"sum by (outcome) (increase(ontolab_refresh_runs_total{{{JOB}}}[6h]))",
                        "{{outcome}} (6h)",
                    ),
                    (f"max(ontolab_refresh_running{{{JOB}}})", "running"),
                ],
                "Background pulls finished in the last six hours by outcome (ok, failed: an "
                "ontology failed or was rejected, error), and whether one runs now.",
            ),
        ],
    )
    failures = Row(
        "Failures by reason",
        [
            Panel(
                "Failed downloads (per hour)",
                [
                    (
                        "sum by (ontology, host) (increase(ontolab_downloads_total"
                        f'{{outcome="failed",{ONT}}}[{HOUR}]))',
                        "{{ontology}} from {{host}}",
                    )
                ],
                "Downloads that failed after their retries; see the Sources dashboard.",
                width=8,
            ),
            Panel(
                "Rejected and failed validations (per hour)",
                [
                    (
                        "sum by (ontology, status) (increase(ontolab_validations_total"
                        f'{{status!="good",{ONT}}}[{HOUR}]))',
                        "{{ontology}} {{status}}",
                    )
                ],
                "The validate.rejected / validate.failed event carries the reason.",
                width=8,
            ),
            Panel(
                "Policy rejections (per hour)",
                [
                    (
                        f"sum by (code) (increase(ontolab_policy_rejections_total[{HOUR}]))",
                        "{{code}}",
                    )
                ],
                "Guardrail refusals (host, address, size, archive policy) by error code "
                "(docs/errors.md).",
                width=8,
            ),
            Panel(
                "Error events (per hour)",
                [
                    (
                        f'sum by (event) (increase(ontolab_events_total{{level="error"}}[{HOUR}]))',
                        "{{event}}",
                    )
                ],
                "Every event at level error, by name; `ontolab obs tail --level error` shows them.",
                width=24,
            ),
        ],
    )
    gates = Row(
        "Gates",
        [
            Panel(
                "Gate rejections by suite (per 6h)",
                [
                    (
                        "sum by (ontology, suite) "
                        f"(increase(ontolab_gate_rejections_total{{{ONT}}}[6h]))",
                        "{{ontology}} {{suite}}",
                    )
                ],
                "Versions a quality gate rejected; `ontolab show ID` lists the failed "
                "expectations and the HTML report.",
            ),
            Panel(
                "Gate rejections (total)",
                [
                    (
                        f"sum by (ontology) ({ONE_COPY} (ontolab_gate_rejections_total{{{ONT}}}))",
                        "{{ontology}}",
                    )
                ],
                "Since the catalog began (or the last prune of events).",
                kind="stat",
                instant=True,
            ),
            Panel(
                "Stored versions by status",
                [
                    (
                        f"sum by (status) ({ONE_COPY} (ontolab_versions{{{ONT}}}))",
                        "{{status}}",
                    )
                ],
                "good, rejected, failed and staged versions kept in the catalog.",
                kind="stat",
                instant=True,
                width=24,
                height=5,
            ),
        ],
    )
    return dashboard(
        "ontolab-mirror",
        "ontolab / mirror",
        "Is every ontology fresh, what did the pulls do, and why did releases fail.",
        ["ontology", "job"],
        [freshness, throughput, failures, gates],
    )


def sources() -> dict[str, Any]:
    """HTTP behaviour by upstream host: downloads, retries, throttling."""
    rows = [
        Row(
            "Upstream hosts",
            [
                Panel(
                    "Downloads by host and outcome (per hour)",
                    [
                        (
                            "sum by (host, outcome) "
                            f"(increase(ontolab_downloads_total{{{HOST}}}[{HOUR}]))",
                            "{{host}} {{outcome}}",
                        )
                    ],
                    "Host of the planned URL (before redirects).",
                ),
                Panel(
                    "Failed download ratio by host (6h)",
                    [
                        (
                            "sum by (host) (increase(ontolab_downloads_total"
                            f'{{outcome="failed",{HOST}}}[6h])) / sum by (host) '
                            f"(increase(ontolab_downloads_total{{{HOST}}}[6h]))",
                            "{{host}}",
                        )
                    ],
                    "Share of downloads from each host that failed.",
                    unit="percentunit",
                ),
                Panel(
                    "Retries by host and cause (per hour)",
                    [
                        (
                            "sum by (host, code) "
                            f"(increase(ontolab_http_retries_total{{{HOST}}}[{HOUR}]))",
                            "{{host}} {{code}}",
                        )
                    ],
                    "HTTP requests retried, by the error that caused the retry (E_HTTP_503, "
                    "E_NET_RESET, ...).",
                ),
                Panel(
                    "Throttling: 429 and 503 answers (per hour)",
                    [
                        (
                            "sum by (host, status) "
                            f"(increase(ontolab_http_throttled_total{{{HOST}}}[{HOUR}]))",
                            "{{host}} {{status}}",
                        )
                    ],
                    "A host that keeps answering 429 wants a lower http.rate_limits entry.",
                ),
                Panel(
                    "Bytes by host",
                    [
                        (
                            f"sum by (host) (rate(ontolab_download_bytes_total{{{HOST}}}[{HOUR}]))",
                            "{{host}}",
                        )
                    ],
                    "Average transfer rate over the last hour.",
                    unit="Bps",
                    width=24,
                ),
            ],
        )
    ]
    return dashboard(
        "ontolab-sources",
        "ontolab / sources",
        "How the ontology hosts behave: downloads, failures, retries and throttling.",
        ["host"],
        rows,
    )


def _headline(
    title: str,
    query: tuple[str, str],
    description: str,
    unit: str = "short",
    extra: dict[str, Any] | None = None,
) -> Panel:
    """One of the six small stat panels across the top of the service dashboard."""
    return Panel(
        title,
        [query],
        description,
        kind="stat",
        unit=unit,
        width=4,
        height=5,
        instant=True,
        extra=extra or {},
    )


def service() -> dict[str, Any]:
    """The read API (rate, errors, p99, colour split) and the catalog (transactions)."""
    rate = "$__rate_interval"
    api = Row(
        "API",
        [
            _headline(
                "Up",
                (f"up{{{JOB}}}", "{{instance}}"),
                "Prometheus reached /metrics (1) or not (0).",
                extra=UP,
            ),
            _headline(
                "Catalog readable",
                (f"ontolab_catalog_up{{{JOB}}}", "{{instance}}"),
                "0: the service cannot read the catalog (missing, locked, unreachable "
                "PostgreSQL); /readyz says why.",
                extra=UP,
            ),
            _headline(
                "Ready",
                (f"ontolab_ready{{{JOB}}}", "{{instance}}"),
                "1 when /readyz would answer 200 (catalog, schema, storage, disk); a pod that "
                "is not ready gets no traffic from the Service.",
                extra=UP,
            ),
            _headline(
                "Data dir free",
                (
                    f"ontolab_data_dir_free_bytes{{{JOB}}} / ontolab_data_dir_size_bytes{{{JOB}}}",
                    "{{instance}}",
                ),
                "Share of the data dir's file system that is free (OntolabDiskNearlyFull "
                "below 10 %).",
                unit="percentunit",
            ),
            _headline(
                "5xx ratio",
                (
                    f'sum(rate(ontolab_api_requests_total{{status=~"5..",{JOB}}}[{rate}])) '
                    f"/ sum(rate(ontolab_api_requests_total{{{JOB}}}[{rate}]))",
                    "5xx",
                ),
                "Share of requests answered with a server error (a 503 while the catalog is "
                "locked counts).",
                unit="percentunit",
            ),
            _headline(
                "p99 latency",
                (
                    "histogram_quantile(0.99, sum by (le) "
                    f"(rate(ontolab_api_request_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                    "p99",
                ),
                "Of every route together; by route below.",
                unit="s",
            ),
            Panel(
                "Requests by route",
                [
                    (
                        f"sum by (route) (rate(ontolab_api_requests_total{{{JOB}}}[{rate}]))",
                        "{{route}}",
                    )
                ],
                "Route templates, never raw paths.",
                unit="reqps",
            ),
            Panel(
                "Responses by status",
                [
                    (
                        f"sum by (status) (rate(ontolab_api_requests_total{{{JOB}}}[{rate}]))",
                        "{{status}}",
                    )
                ],
                "4xx are the clients' mistakes; 503 carries Retry-After.",
                unit="reqps",
            ),
            Panel(
                "p99 latency by route",
                [
                    (
                        "histogram_quantile(0.99, sum by (le, route) "
                        f"(rate(ontolab_api_request_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                        "{{route}}",
                    )
                ],
                "Time to the last byte of the answer.",
                unit="s",
            ),
            Panel(
                "Requests by colour and track",
                [
                    (
                        "sum by (colour, track) "
                        f"(rate(ontolab_api_requests_total{{{JOB}}}[{rate}]))",
                        "{{colour}} {{track}}",
                    )
                ],
                "Blue/green and canary traffic split; needs the Kubernetes scrape config that "
                "copies the pods' ontolab/colour and ontolab/track labels (docs/deployment.md).",
                unit="reqps",
            ),
        ],
    )
    catalog = Row(
        "Catalog",
        [
            Panel(
                "Transaction latency (p50, p99)",
                [
                    (
                        "histogram_quantile(0.5, sum by (le, backend) (rate("
                        f"ontolab_catalog_transaction_seconds_bucket{{{JOB}}}[{rate}])))",
                        "p50 {{backend}}",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (le, backend) (rate("
                        f"ontolab_catalog_transaction_seconds_bucket{{{JOB}}}[{rate}])))",
                        "p99 {{backend}}",
                    ),
                ],
                "Write transactions of the serving process, from asking for one (waiting for "
                "the lock included) to commit.",
                unit="s",
            ),
            Panel(
                "Transactions per second",
                [
                    (
                        "sum by (backend) "
                        f"(rate(ontolab_catalog_transaction_seconds_count{{{JOB}}}[{rate}]))",
                        "{{backend}}",
                    )
                ],
                "Write transactions of the serving process (background refresh included).",
                unit="ops",
            ),
            Panel(
                "Scrape time",
                [(f"max(ontolab_catalog_scrape_seconds{{{JOB}}})", "read the catalog")],
                "Time /metrics spent reading the catalog; grows with the events table "
                "(ontolab prune trims it).",
                unit="s",
            ),
            Panel(
                "Schema version",
                [(f"max(ontolab_catalog_schema_version{{{JOB}}})", "schema")],
                "Changes after `ontolab db migrate`.",
                kind="stat",
                instant=True,
            ),
        ],
    )
    return dashboard(
        "ontolab-service",
        "ontolab / service",
        "The read API (ontolab serve): rate, errors, latency, traffic split, and the catalog.",
        ["job"],
        [api, catalog],
    )


DASHBOARDS = {
    "ontolab-mirror.json": mirror,
    "ontolab-sources.json": sources,
    "ontolab-service.json": service,
}


def render() -> dict[str, str]:
    """File name -> JSON text, as written to deploy/grafana/dashboards."""
    return {
        name: json.dumps(build(), indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default: {OUT})")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python deploy/grafana/generate.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
