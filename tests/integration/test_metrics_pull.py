"""Metrics from real pulls of the local mirror, and the collector's SQL on both backends."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ontolab import pipeline
from ontolab.catalog import (
    CatalogBackend,
    Event,
    Recorder,
    TermsRecord,
    VersionOutcome,
    open_catalog,
    record_outcome,
)
from ontolab.models import Artifact, FetchResult, PlanItem
from ontolab.obs import event_stats, event_table, render
from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import Fault, Mirror, hpo_obo_path

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
HP_OLD, HP_NEW = "2025-01-16", "2025-06-01"


def samples(text: bytes) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            found[s.name, tuple(sorted(s.labels.items()))] = s.value
    return found


def by(found: Samples, name: str, label: str) -> dict[str, float]:
    """One metric's samples keyed by one label's value."""
    return {dict(k[1])[label]: v for k, v in found.items() if k[0] == name}


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def scrape(settings: OntolabSettings) -> Samples:
    catalog = open_catalog(settings.catalog_url, read_only=True)
    try:
        return samples(render(catalog))
    finally:
        catalog.close()


def two_ontologies(mirror: Mirror, mirror_settings: Settings, **validate: Any) -> OntolabSettings:
    ontologies = [
        {"id": "hp", "resolver": "obo", "format": "obo"},
        {"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"},
    ]
    base = mirror_settings(ontologies)
    return load_settings(
        environ={},
        data_dir=str(base.data_dir),
        http=base.http.model_dump(),
        resolvers=base.resolvers.model_dump(),
        ontologies=ontologies,
        validate=validate,
    )


def publish_hp_with_a_missing_import(mirror: Mirror, tmp_path: Path) -> None:
    """A newer HPO release whose header imports an ontology the mirror does not serve."""
    text = hpo_obo_path().read_text(encoding="utf-8")
    text = text.replace(f"hp/releases/{HP_OLD}", f"hp/releases/{HP_NEW}")
    text = text.replace(
        "\nontology: hp.obo\n",
        "\nimport: http://purl.obolibrary.org/obo/nowhere.owl\nontology: hp.obo\n",
        1,
    )
    newer = tmp_path / "hp-newer.obo"
    newer.write_text(text, encoding="utf-8")
    mirror.publish("hp", HP_NEW, newer, filename="hp.obo")


def test_freshness_gauges_and_a_rejected_release(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = two_ontologies(mirror, mirror_settings, resolve_imports=True)
    started = time.time()
    first = pipeline.pull(settings=settings)
    assert {r.ontology: r.live for r in first.rows} == {"hp": HP_OLD, "kisao": "2.34"}
    found = scrape(settings)
    assert value(found, "ontolab_catalog_up") == 1
    assert by(found, "ontolab_live_version_info", "version") == {HP_OLD: 1, "2.34": 1}
    ages = by(found, "ontolab_live_version_age_seconds", "ontology")
    assert set(ages) == {"hp", "kisao"} and all(0 <= a < 600 for a in ages.values())
    pulled = by(found, "ontolab_last_successful_pull_timestamp_seconds", "ontology")
    assert set(pulled) == {"hp", "kisao"}
    assert all(started - 5 <= t <= time.time() for t in pulled.values())
    assert by(found, "ontolab_upstream_newer", "ontology") == {"hp": 0, "kisao": 0}
    terms = by(found, "ontolab_live_term_count", "ontology")
    assert terms["hp"] > 10_000 and terms["kisao"] > 100
    host = mirror.host_port.rsplit(":", 1)[0]
    size = hpo_obo_path().stat().st_size
    assert value(found, "ontolab_download_bytes_total", ontology="hp", host=host) == size
    assert value(found, "ontolab_downloads_total", ontology="hp", host=host, outcome="fetched") == 1
    assert value(found, "ontolab_validations_total", ontology="hp", status="good") == 1
    for stage in ("plan", "fetch", "validate"):
        assert (value(found, "ontolab_stage_duration_seconds_count", stage=stage) or 0) >= 1

    # The CLI run left the same picture in the node-exporter textfile.
    textfile = settings.metrics_textfile
    assert textfile is not None and textfile.is_file()
    written = samples(textfile.read_bytes())
    assert by(written, "ontolab_live_version_info", "ontology") == {"hp": 1, "kisao": 1}

    publish_hp_with_a_missing_import(mirror, tmp_path)
    second = pipeline.pull(settings=settings, strict=True)
    (hp,) = [r for r in second.rows if r.ontology == "hp"]
    assert (hp.version, hp.outcome, hp.live) == (HP_NEW, "rejected", HP_OLD)
    found = scrape(settings)
    assert by(found, "ontolab_upstream_newer", "ontology") == {"hp": 1, "kisao": 0}
    assert value(found, "ontolab_live_version_info", ontology="hp", version=HP_OLD) == 1
    assert value(found, "ontolab_validations_total", ontology="hp", status="rejected") == 1
    assert value(found, "ontolab_versions", ontology="hp", status="rejected") == 1
    # The rejected pull is no successful one for hp; kisao's unchanged good one is.
    again = by(found, "ontolab_last_successful_pull_timestamp_seconds", "ontology")
    assert again["hp"] == pulled["hp"] and again["kisao"] > pulled["kisao"]
    assert value(samples(textfile.read_bytes()), "ontolab_upstream_newer", ontology="hp") == 1

    catalog = open_catalog(settings.catalog_url, read_only=True)
    try:
        table = event_table(catalog, ontology="hp")
        stats = event_stats(table)
    finally:
        catalog.close()
    rejected = [e for e in table.to_pylist() if e["event"] == "validate.rejected"]
    assert [(e["version"], e["error_code"], e["message"]) for e in rejected] == [
        (HP_NEW, "E_IMPORT_UNRESOLVED", "import_unresolved")
    ]
    assert rejected[0]["duration_s"] > 0
    (validate,) = [s for s in stats if s["stage"] == "validate"]
    assert validate["rejected"] == 1


def test_throttling_is_counted_and_recorded_as_retry_events(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    mirror.inject("*/hp.obo", Fault.status(429, retry_after=0), times=1)
    mirror.inject("*/hp.obo", Fault.status(503, retry_after=0), times=1)
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "unchanged"
    host = mirror.host_port.rsplit(":", 1)[0]
    found = scrape(settings)
    assert value(found, "ontolab_http_throttled_total", host=host, status="429") == 1
    assert value(found, "ontolab_http_throttled_total", host=host, status="503") == 1
    assert value(found, "ontolab_http_retries_total", host=host, code="E_HTTP_429") == 1
    catalog = open_catalog(settings.catalog_url, read_only=True)
    try:
        retries = [e for e in event_table(catalog).to_pylist() if e["event"] == "fetch.retry"]
    finally:
        catalog.close()
    assert sorted((e["level"], e["stage"], e["error_code"]) for e in retries) == [
        ("warning", "fetch", "E_HTTP_429"),
        ("warning", "fetch", "E_HTTP_503"),
    ]
    assert all(re.search(r'"host": "127\.0\.0\.1"', e["payload"]) for e in retries)


def _fetched(tmp_path: Path, ontology: str, version: str) -> FetchResult:
    url = f"https://purl.example.org/obo/{ontology}.obo"
    blob = tmp_path / f"{ontology}-{version}.obo"
    blob.write_bytes(f"format-version: 1.2\ndata-version: {version}\n".encode())
    artifact = Artifact(
        ontology=ontology,
        url=url,
        sha256=(ontology + version).encode().hex().ljust(64, "0")[:64],
        size=blob.stat().st_size,
        path=blob,
        resolver="obo",
        version=version,
        fetched_at=datetime(2025, 1, 2, 3, 4, 5),
    )
    item = PlanItem(ontology=ontology, resolver="obo", url=url, version=version)
    return FetchResult(item=item, outcome="fetched", artifact=artifact, bytes_transferred=100)


def test_the_collector_reads_the_same_on_every_backend(
    catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    recorder = Recorder(catalog_backend, "run-1")
    recorder.start_run("pull")
    for ontology, version, status in (
        ("hp", "v1", "good"),
        ("kisao", "k1", "good"),
        ("hp", "v2", "rejected"),
    ):
        recorder.record_fetch(_fetched(tmp_path, ontology, version), version)
        outcome = VersionOutcome(
            ontology,
            version,
            "ab" * 32,
            status,  # type: ignore[arg-type]
            reason=None if status == "good" else "validation",
            terms=(TermsRecord("main", "/nowhere.parquet", 1234),) if status == "good" else (),
        )
        record_outcome(catalog_backend, outcome, run_id="run-1", promote=True)
        recorder.event(
            Event(
                f"validate.{status}",
                ontology=ontology,
                version=version,
                stage="validate",
                duration_s=2.0,
            )
        )
        time.sleep(0.01)  # distinct created_at, as separate pulls would have
    recorder.event(
        Event(
            "fetch.retry",
            level="warning",
            stage="fetch",
            error_code="E_HTTP_503",
            payload={"host": "purl.example.org", "url": "u", "status": 503},
        )
    )
    found = samples(render(catalog_backend))
    assert value(found, "ontolab_catalog_up") == 1
    assert by(found, "ontolab_live_version_info", "version") == {"v1": 1, "k1": 1}
    assert by(found, "ontolab_upstream_newer", "ontology") == {"hp": 1, "kisao": 0}
    assert by(found, "ontolab_live_term_count", "ontology") == {"hp": 1234, "kisao": 1234}
    assert set(by(found, "ontolab_last_successful_pull_timestamp_seconds", "ontology")) == {
        "hp",
        "kisao",
    }
    assert value(found, "ontolab_versions", ontology="hp", status="rejected") == 1
    host = "purl.example.org"
    assert value(found, "ontolab_download_bytes_total", ontology="hp", host=host) == 200
    assert value(found, "ontolab_downloads_total", ontology="hp", host=host, outcome="fetched") == 2
    assert value(found, "ontolab_http_throttled_total", host=host, status="503") == 1
    assert value(found, "ontolab_stage_duration_seconds_bucket", stage="validate", le="2.5") == 3
    assert value(found, "ontolab_catalog_schema_version") == catalog_backend.schema_version()
