"""What a scrape and an API call cost on a large catalog, against baselines in the same run.

The catalog of ``catalog_latency`` (500 ontologies x 20 versions, one live each) plus
``BENCH_EVENTS`` events (1 000 000: fetches with URLs and byte counts, validations, retries,
promotions), as years of six-hourly refreshes would leave.

* In-process: ``ontolab.obs.render(catalog)`` (every metric, the catalog-derived ones
  computed by SQL at each scrape), median and p95 of ``BENCH_CALLS`` calls, against
  ``connect().latest()`` on the same catalog. Target: a scrape well under Prometheus's
  default 10 s timeout (< 1 s).
* Over HTTP: a real ``ontolab serve`` (uvicorn, one process) answering ``/metrics``,
  ``/api/v1/latest?limit=500`` and ``/healthz`` (the floor: routing and JSON, no catalog),
  ``BENCH_REQUESTS`` sequential requests each, interleaved. Target: ``/api/v1/latest``
  median < 50 ms.

Environment: BENCH_ONTOLOGIES, BENCH_VERSIONS (as catalog_latency), BENCH_EVENTS
(1 000 000), BENCH_CALLS (20), BENCH_REQUESTS (200).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import yaml

from benchmarks import catalog_latency
from benchmarks.catalog_latency import EPOCH, ONTOLOGIES, VERSIONS, p95, timed
from ontolab.catalog import DuckDBCatalog

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
CALLS = int(os.environ.get("BENCH_CALLS", "20"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
TARGET_SCRAPE_S = 1.0
TARGET_API_MS = 50.0
HOSTS = ("purl.obolibrary.org", "github.com", "www.ebi.ac.uk", "data.bioontology.org")
# One refresh of one ontology leaves about this mix of events.
KINDS = (
    ("plan.resolved", "plan", "info", None),
    ("fetch.unchanged", "fetch", "info", None),
    ("fetch.fetched", "fetch", "info", None),
    ("validate.good", "validate", "info", None),
    ("fetch.retry", "fetch", "warning", "E_HTTP_503"),
    ("fetch.failed", "fetch", "error", "E_NET_TIMEOUT"),
    ("latest.promote", "promote", "info", None),
    ("validate.failed", "validate", "error", "E_PARSE"),
)


def _events(start: int, count: int) -> pa.Table:
    index = range(start, start + count)
    kinds = [KINDS[i % 10 if i % 10 < len(KINDS) else 1] for i in index]
    ontology = [f"ont{(i // 3) % ONTOLOGIES:04d}" for i in index]
    host = [HOSTS[i % len(HOSTS)] for i in index]
    payload = [
        json.dumps(
            {"url": f"https://{h}/obo/{o}.owl", "bytes": 1_000_000 + i % 9_000, "status": 503}
        )
        for i, h, o in zip(index, host, ontology, strict=True)
    ]
    return pa.table(
        {
            "event_id": [f"{i:032x}" for i in index],
            "ts": pa.array([EPOCH + timedelta(seconds=30 * i) for i in index], pa.timestamp("us")),
            "run_id": [f"run{i // 50:09d}" for i in index],
            "level": [k[2] for k in kinds],
            "event": [k[0] for k in kinds],
            "ontology": ontology,
            "version": [f"{2000 + (i // 7) % VERSIONS}-01-01" for i in index],
            "stage": [k[1] for k in kinds],
            "duration_s": pa.array([0.05 + (i % 400) / 10 for i in index], pa.float64()),
            "error_code": [k[3] for k in kinds],
            "message": [None] * count,
            "payload": payload,
        }
    )


def build(work: Path) -> tuple[Path, Path]:
    path = work / "catalog.duckdb"
    catalog_latency.build(path)
    catalog = DuckDBCatalog(path)
    try:
        with catalog.transaction() as con:
            for start in range(0, EVENTS, 200_000):
                catalog.insert_arrow(con, "events", _events(start, min(200_000, EVENTS - start)))
    finally:
        catalog.close()
    config = work / "ontolab.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(work),
                "catalog": f"duckdb:///{path}",
                "service": {"min_free_bytes": 1, "max_page_size": 1000},
            }
        )
    )
    return path, config


def in_process(path: Path, config: Path) -> dict[str, list[float]]:
    import ontolab
    from ontolab.obs import render

    catalog = DuckDBCatalog(path, read_only=True)
    view = ontolab.connect(config)
    try:
        assert b"ontolab_live_version_age_seconds" in render(catalog)
        return {
            "render(catalog): every metric": timed(lambda: render(catalog), CALLS),
            "connect().latest() (baseline)": timed(view.latest, CALLS),
        }
    finally:
        view.close()
        catalog.close()


def over_http(work: Path, config: Path) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "ontolab", "serve", "--port", "0", "--config", str(config)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_serving(server)
        paths = {
            "GET /healthz (floor)": "/healthz",
            "GET /api/v1/latest?limit=500": "/api/v1/latest?limit=500",
            "GET /metrics": "/metrics",
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        with httpx.Client(base_url=url, timeout=60) as client:
            for path in paths.values():  # warm-up
                client.get(path).raise_for_status()
            for _ in range(REQUESTS):
                for name, path in paths.items():
                    started = time.perf_counter()
                    client.get(path).raise_for_status()
                    times[name].append(time.perf_counter() - started)
        return times
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(15)
        if server.stderr is not None:
            server.stderr.close()


def _wait_serving(server: subprocess.Popen[str]) -> str:
    assert server.stderr is not None
    deadline = time.monotonic() + 60
    for line in server.stderr:
        found = re.search(r"serving on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return found[1]
        if time.monotonic() > deadline:
            break
    raise RuntimeError("ontolab serve did not start")


def _report(title: str, results: dict[str, list[float]], unit: Callable[[float], str]) -> None:
    print(f"  {title}")
    for name, values in results.items():
        print(f"    {name:34s} median {unit(statistics.median(values))}  p95 {unit(p95(values))}")


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-service-"))
    try:
        started = time.perf_counter()
        path, config = build(work)
        built_s = time.perf_counter() - started
        local = in_process(path, config)
        remote = over_http(work, config)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:8.1f} ms"

    print(
        f"service latency: {ONTOLOGIES} ontologies x {VERSIONS} versions, {EVENTS:,} events "
        f"(built in {built_s:.1f} s)"
    )
    _report(f"in-process, {CALLS} calls each:", local, ms)
    _report(f"over HTTP (uvicorn), {REQUESTS} interleaved requests each:", remote, ms)
    scrape = statistics.median(local["render(catalog): every metric"])
    base = statistics.median(local["connect().latest() (baseline)"])
    api = statistics.median(remote["GET /api/v1/latest?limit=500"])
    floor = statistics.median(remote["GET /healthz (floor)"])
    print(
        f"  ratios: render / latest() {scrape / base:.1f}x; /api/v1/latest / /healthz "
        f"{api / floor:.1f}x"
    )
    ok = scrape < TARGET_SCRAPE_S and api * 1000 < TARGET_API_MS
    print(
        f"  targets: scrape < {TARGET_SCRAPE_S:.0f} s, /api/v1/latest median < "
        f"{TARGET_API_MS:.0f} ms: {'met' if ok else 'NOT met'}"
    )
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
