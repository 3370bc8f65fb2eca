"""Prometheus metrics: what render() shows for a real DuckDB catalog, the textfile, retries."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ontolab import errors
from ontolab.catalog import CatalogBackend, Event, Recorder, open_catalog
from ontolab.net import HttpSession
from ontolab.net._session import RetryNotice
from ontolab.obs import (
    METRICS_CONTENT_TYPE,
    CatalogCollector,
    process_registry,
    render,
    write_textfile,
)
from ontolab.obs._collector import STAGE_BUCKETS, is_policy_code

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: bytes) -> Samples:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            found[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogBackend]:
    opened = open_catalog(f"duckdb:///{tmp_path / 'catalog.duckdb'}")
    yield opened
    opened.close()


def fetched(ontology: str, url: str, size: int, outcome: str = "fetched") -> Event:
    """A fetch event as Recorder.record_fetch writes it."""
    return Event(
        f"fetch.{outcome}",
        ontology=ontology,
        version="v1",
        stage="fetch",
        duration_s=0.3,
        payload={
            "url": url,
            "sha256": "ab" * 32,
            "bytes": size,
            "resumed_from": None,
            "attempts": 1,
        },
    )


def test_importing_obs_does_not_load_prometheus_client() -> None:
    code = "import sys, ontolab.obs, ontolab.catalog; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_event_counters_come_from_the_catalog(catalog: CatalogBackend) -> None:
    recorder = Recorder(catalog, "run-1")
    recorder.start_run("pull")
    for event in (
        fetched("hp", "https://purl.example.org:8443/obo/hp.obo", 1000),
        fetched("hp", "https://purl.example.org:8443/obo/hp.obo", 0, "unchanged"),
        fetched("go", "http://user:pw@GO.example.org/go.obo", 250),
        Event(
            "fetch.failed",
            level="error",
            ontology="evil",
            stage="fetch",
            error_code="E_POLICY_PRIVATE_ADDRESS",
            payload={"url": "http://10.0.0.1/x.owl", "reason": "policy"},
        ),
        Event(
            "validate.failed",
            level="error",
            ontology="zip",
            stage="validate",
            duration_s=45.0,
            error_code="E_ARCHIVE_TRAVERSAL",
        ),
        Event(
            "validate.failed",
            level="error",
            ontology="zip2",
            stage="validate",
            duration_s=4000.0,
            error_code="E_ARCHIVE_CORRUPT",
        ),
        Event(
            "fetch.retry",
            level="warning",
            stage="fetch",
            error_code="E_HTTP_503",
            payload={"host": "purl.example.org", "url": "u", "status": 503},
        ),
        Event(
            "fetch.retry",
            level="warning",
            stage="fetch",
            error_code="E_NET_RESET",
            payload={"host": "purl.example.org", "url": "u", "status": None},
        ),
        Event(
            "gate.rejected",
            level="error",
            ontology="hp",
            stage="gate",
            payload={"suite": "terms_not_shrinking"},
        ),
    ):
        recorder.event(event)

    found = samples(render(catalog))
    assert value(found, "ontolab_catalog_up") == 1
    downloads = "ontolab_downloads_total"
    assert value(found, downloads, ontology="hp", host="purl.example.org", outcome="fetched") == 1
    assert value(found, downloads, ontology="hp", host="purl.example.org", outcome="unchanged") == 1
    # The host label carries neither credentials nor case from the URL.
    assert value(found, downloads, ontology="go", host="go.example.org", outcome="fetched") == 1
    assert value(found, downloads, ontology="evil", host="10.0.0.1", outcome="failed") == 1
    bytes_total = "ontolab_download_bytes_total"
    assert value(found, bytes_total, ontology="hp", host="purl.example.org") == 1000
    assert value(found, bytes_total, ontology="go", host="go.example.org") == 250
    retries = "ontolab_http_retries_total"
    assert value(found, retries, host="purl.example.org", code="E_HTTP_503") == 1
    assert value(found, retries, host="purl.example.org", code="E_NET_RESET") == 1
    throttled = "ontolab_http_throttled_total"
    assert value(found, throttled, host="purl.example.org", status="503") == 1
    assert value(found, throttled, host="purl.example.org", status="429") is None
    gates = "ontolab_gate_rejections_total"
    assert value(found, gates, ontology="hp", suite="terms_not_shrinking") == 1
    policy = {k[1]: v for k, v in found.items() if k[0] == "ontolab_policy_rejections_total"}
    assert policy == {
        (("code", "E_ARCHIVE_TRAVERSAL"),): 1,
        (("code", "E_POLICY_PRIVATE_ADDRESS"),): 1,
    }
    assert value(found, "ontolab_validations_total", ontology="zip", status="failed") == 1
    assert value(found, "ontolab_events_total", event="fetch.retry", level="warning") == 2

    hist = "ontolab_stage_duration_seconds"
    assert value(found, f"{hist}_count", stage="validate") == 2
    assert value(found, f"{hist}_sum", stage="validate") == 4045.0
    assert value(found, f"{hist}_bucket", stage="validate", le="60.0") == 1
    assert value(found, f"{hist}_bucket", stage="validate", le="3600.0") == 1
    assert value(found, f"{hist}_bucket", stage="validate", le="+Inf") == 2
    assert (
        value(found, f"{hist}_bucket", stage="fetch", le="0.5") == 3
    )  # a failure and retries carry none
    assert {k[1][0][1] for k in found if k[0] == f"{hist}_bucket" and k[1][1][1] == "fetch"} == {
        *(repr(le) for le in STAGE_BUCKETS),
        "+Inf",
    }


def test_an_unreadable_catalog_still_renders_with_catalog_up_0(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "catalog.duckdb"
    path.write_bytes(b"this is not a DuckDB file" * 100)
    broken = open_catalog(f"duckdb:///{path}")
    try:
        with caplog.at_level(logging.WARNING, logger="ontolab.obs"):
            first = samples(render(broken))
            second = samples(render(broken))
    finally:
        broken.close()
    for found in (first, second):
        assert value(found, "ontolab_catalog_up") == 0
        assert not any(name.startswith("ontolab_downloads") for name, _ in found)
        assert not any(name.startswith("ontolab_live_") for name, _ in found)
    # A catalog that stays down is logged once, not at every scrape.
    assert len([r for r in caplog.records if "cannot read the catalog" in r.message]) == 1


def test_the_collector_registers_without_querying(catalog: CatalogBackend) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(CatalogCollector(catalog))
    assert b"ontolab_catalog_up 1.0" in generate_latest(registry)
    assert METRICS_CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_catalog_transactions_are_timed_in_the_process_registry(
    catalog: CatalogBackend,
) -> None:
    registry = process_registry()
    assert process_registry() is registry
    label = {"backend": "duckdb"}
    before = registry.get_sample_value("ontolab_catalog_transaction_seconds_count", label) or 0
    Recorder(catalog, "run-2").start_run("pull")
    after = registry.get_sample_value("ontolab_catalog_transaction_seconds_count", label)
    assert after is not None and after >= before + 1
    assert (
        value(
            samples(render(catalog)), "ontolab_catalog_transaction_seconds_count", backend="duckdb"
        )
        == after
    )


def test_the_textfile_is_replaced_whole_and_a_failure_only_warns(
    catalog: CatalogBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "textfiles" / "ontolab.prom"
    write_textfile(catalog, target)
    assert value(samples(target.read_bytes()), "ontolab_catalog_up") == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["ontolab.prom"]  # no temp left

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="ontolab.obs"):
        write_textfile(catalog, blocker / "ontolab.prom")
        write_textfile(catalog, blocker / "ontolab.prom")
    warned = [r for r in caplog.records if "metrics textfile" in r.message]
    assert len(warned) == 1 and str(blocker) in warned[0].message


def test_every_retry_of_a_session_reaches_its_observer(
    mock_session: Callable[..., HttpSession],
) -> None:
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "0"}),
            httpx.Response(429, headers={"Retry-After": "0"}),
        ]
    )
    session = mock_session(lambda request: next(answers, httpx.Response(200, json={"ok": 1})))
    seen: list[RetryNotice] = []
    session.on_retry = seen.append
    assert session.get_json("https://api.example.org/v1/x") == {"ok": 1}
    assert [(n.host, n.status, n.error_code, n.attempt, n.wait_s) for n in seen] == [
        ("api.example.org", 503, "E_HTTP_503", 1, 0.0),
        ("api.example.org", 429, "E_HTTP_429", 2, 0.0),
    ]


def test_a_failing_retry_observer_does_not_fail_the_request(
    mock_session: Callable[..., HttpSession],
) -> None:
    answers = iter([httpx.Response(503)])
    session = mock_session(lambda request: next(answers, httpx.Response(200, json=[1])))

    def broken(notice: RetryNotice) -> None:
        raise RuntimeError("observer bug")

    session.on_retry = broken
    assert session.get_json("https://api.example.org/v1/x") == [1]


def _documented_codes() -> dict[str, str]:
    """code -> class, from the codes table of docs/errors.md."""
    docs = Path(__file__).parents[2] / "docs" / "errors.md"
    table: dict[str, str] = {}
    for line in docs.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`E_"):
            for code in re.findall(r"`(E_[A-Z0-9_]+)`", cells[0]):
                table[code] = cells[1]
    return table


def test_policy_codes_are_exactly_the_guardrail_refusals() -> None:
    table = _documented_codes()
    guardrails = {errors.PolicyViolation.__name__, errors.UnsafeArchive.__name__}
    specific = {c: cls for c, cls in table.items() if cls != "base classes"}
    assert len(specific) > 40
    wrong = {c for c, cls in specific.items() if is_policy_code(c) != (cls in guardrails)}
    assert wrong == set()
    assert is_policy_code(errors.TooLarge.default_code)
