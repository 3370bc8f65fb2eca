"""Acceptance of the fetch stage against the real local mirror with real ontology files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ontolab import pipeline
from ontolab.settings import OntolabSettings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
Blobs = Callable[[OntolabSettings], list[Path]]
Rows = Callable[[OntolabSettings, str], list[tuple[object, ...]]]
HP_SHA = hashlib.sha256(hpo_obo_path().read_bytes()).hexdigest()
KISAO_SHA = hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()


def test_pull_follows_the_purl_to_the_release_and_records_it(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs, catalog_rows: Rows
) -> None:
    settings = mirror_settings()
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    assert (row.ontology, row.version, row.outcome, row.sha256) == (
        "hp",
        "2025-01-16",
        "fetched",
        HP_SHA,
    )
    assert [p.name for p in stored_blobs(settings)] == [HP_SHA]
    art = catalog_rows(settings, "SELECT url, final_url, sha256, size, etag FROM artifacts")
    # the plan resolved the PURL to its release, which is what was fetched
    assert art[0][0].endswith("/obo/hp/releases/2025-01-16/hp.obo")
    assert art[0][1] == art[0][0]
    assert art[0][3] == hpo_obo_path().stat().st_size
    assert art[0][4]
    assert catalog_rows(settings, "SELECT ontology, version, status FROM versions") == [
        ("hp", "2025-01-16", "good")  # fetched, extracted and validated
    ]


def test_rerun_with_nothing_changed_moves_no_body_bytes(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    mirror.clear_log()
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "unchanged"
    file_requests = [r for r in mirror.requests if "/releases/" in r.path and r.method == "GET"]
    fetches = [r for r in file_requests if r.range is None]
    assert [r.status for r in fetches] == [304]
    assert sum(r.bytes_sent for r in fetches) == 0
    # idempotent: still one artifact and one version row
    assert catalog_rows(settings, "SELECT count(*) FROM artifacts") == [(1,)]
    assert catalog_rows(settings, "SELECT count(*) FROM versions") == [(1,)]


def test_new_upstream_release_is_fetched_and_both_versions_kept(
    mirror: Mirror,
    mirror_settings: Settings,
    tmp_path: Path,
    stored_blobs: Blobs,
    catalog_rows: Rows,
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    newer = tmp_path / "hp-new.obo"
    newer.write_bytes(
        hpo_obo_path().read_bytes().replace(b"hp/releases/2025-01-16", b"hp/releases/2025-03-03")
    )
    mirror.publish("hp", "2025-03-03", newer, filename="hp.obo")
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].version, receipt.rows[0].outcome) == ("2025-03-03", "fetched")
    assert catalog_rows(settings, "SELECT version FROM versions ORDER BY version") == [
        ("2025-01-16",),
        ("2025-03-03",),
    ]
    assert len(stored_blobs(settings)) == 2


def test_lock_pins_and_pull_lock_reproduces_exactly(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings()
    lock_path = tmp_path / "ontolab.lock"
    locked, written = pipeline.lock_plan(settings=settings, path=lock_path)
    assert written == lock_path
    assert locked["hp"].sha256 == HP_SHA
    newer = tmp_path / "hp-new.obo"
    newer.write_bytes(
        hpo_obo_path().read_bytes().replace(b"hp/releases/2025-01-16", b"hp/releases/2025-03-03")
    )
    mirror.publish("hp", "2025-03-03", newer, filename="hp.obo")

    name, changes, _ = pipeline.plan_diff(settings=settings, lock_path=lock_path)
    assert name == "lock"
    assert changes[0].fields["version"] == ("2025-01-16", "2025-03-03")

    # a fresh data dir, upstream moved on: pull --lock still brings the locked bytes
    fresh = settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    receipt = pipeline.pull(settings=fresh, lock=lock_path)
    assert (receipt.rows[0].sha256, receipt.rows[0].version) == (HP_SHA, "2025-01-16")
    mirror.clear_log()
    again = pipeline.pull(settings=fresh, lock=lock_path)
    assert again.rows[0].sha256 == HP_SHA
    assert mirror.requests == []  # pinned bytes already stored: no network at all


def test_plan_reports_version_and_size_without_downloading(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings()
    planned = pipeline.plan(settings=settings)
    item = planned["hp"]
    assert (item.version, item.expected_size) == ("2025-01-16", hpo_obo_path().stat().st_size)
    assert item.etag
    assert mirror.body_bytes_sent() <= 64 * 1024
