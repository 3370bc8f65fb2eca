"""The metrics the alert rules need, from real pulls of the local mirror: expected cadence,
failed pulls since the last success, the newest version's status, readiness and free disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ontolab import pipeline
from ontolab.catalog import open_catalog
from ontolab.obs import render
from ontolab.service._health import HealthCollector
from ontolab.settings import OntolabSettings
from ontolab.testing import Fault, Mirror, hpo_obo_path

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
Series = dict[tuple[tuple[str, str], ...], float]
HP_OLD, HP_SHRUNK = "2025-01-16", "2025-07-01"


def scrape(settings: OntolabSettings, *, health: bool = False) -> dict[str, Series]:
    """name -> {labels: value}, as the service's /metrics would show it."""
    catalog = open_catalog(settings.catalog_url, read_only=True)
    try:
        extra = (HealthCollector(settings),) if health else ()
        text = render(catalog, settings, extra=extra).decode()
    finally:
        catalog.close()
    found: dict[str, Series] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def publish_shrunk_hp(mirror: Mirror, tmp_path: Path) -> None:
    """A newer HPO release that lost over half its terms: the term_count_band gate rejects it."""
    text = (
        hpo_obo_path()
        .read_text(encoding="utf-8")
        .replace(f"hp/releases/{HP_OLD}", f"hp/releases/{HP_SHRUNK}")
    )
    head, *terms = text.split("\n[Term]\n")
    shrunk = tmp_path / "hp-shrunk.obo"
    shrunk.write_text("\n[Term]\n".join([head, *terms[: len(terms) * 2 // 5]]), encoding="utf-8")
    mirror.publish("hp", HP_SHRUNK, shrunk, filename="hp.obo")


def test_failed_pulls_count_up_until_a_pull_succeeds(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings(
        [{"id": "hp", "resolver": "obo", "format": "obo", "cadence": "6h"}, {"id": "go"}]
    )
    first = pipeline.pull(["hp"], settings=settings)
    assert first.rows[0].outcome == "fetched"
    found = scrape(settings)
    # Every configured ontology has a cadence: its own, else the default (one day).
    assert found["ontolab_expected_cadence_seconds"] == {
        (("ontology", "go"),): 86400.0,
        (("ontology", "hp"),): 21600.0,
    }
    assert found["ontolab_failed_pulls_since_success"] == {(("ontology", "hp"),): 0.0}
    pulled_at = found["ontolab_last_successful_pull_timestamp_seconds"]

    mirror.inject("*/hp.obo", Fault.status(404), times=None)
    for _ in range(2):
        failed = pipeline.pull(["hp"], settings=settings)
        assert failed.rows[0].outcome == "failed"
    found = scrape(settings)
    assert found["ontolab_failed_pulls_since_success"] == {(("ontology", "hp"),): 2.0}
    assert found["ontolab_last_successful_pull_timestamp_seconds"] == pulled_at

    mirror.clear_faults()
    again = pipeline.pull(["hp"], settings=settings)
    assert again.rows[0].outcome == "unchanged"
    found = scrape(settings)
    assert found["ontolab_failed_pulls_since_success"] == {(("ontology", "hp"),): 0.0}
    newer = found["ontolab_last_successful_pull_timestamp_seconds"][(("ontology", "hp"),)]
    assert newer > pulled_at[(("ontology", "hp"),)]


def test_the_newest_version_shows_a_rejection_until_it_is_superseded(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    newest = scrape(settings)["ontolab_newest_version_info"]
    assert newest == {(("ontology", "hp"), ("status", "good"), ("version", HP_OLD)): 1.0}

    publish_shrunk_hp(mirror, tmp_path)
    rejected = pipeline.pull(settings=settings)
    assert (rejected.rows[0].outcome, rejected.rows[0].live) == ("rejected", HP_OLD)
    found = scrape(settings)
    assert found["ontolab_newest_version_info"] == {
        (("ontology", "hp"), ("status", "rejected"), ("version", HP_SHRUNK)): 1.0
    }
    assert found["ontolab_upstream_newer"] == {(("ontology", "hp"),): 1.0}
    # A rejection is the gates working, not a failed pull.
    assert found["ontolab_failed_pulls_since_success"] == {(("ontology", "hp"),): 0.0}


def test_readiness_and_disk_gauges_follow_the_readyz_checks(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings()
    before = scrape(settings, health=True)  # no catalog yet
    assert before["ontolab_ready"] == {(): 0.0}
    assert before["ontolab_ready_check"][(("check", "catalog"),)] == 0.0

    pipeline.pull(settings=settings)
    found = scrape(settings, health=True)
    assert found["ontolab_ready"] == {(): 1.0}
    assert set(found["ontolab_ready_check"].values()) == {1.0}
    assert {dict(k)["check"] for k in found["ontolab_ready_check"]} == {
        "catalog",
        "migrations",
        "storage",
        "disk",
    }
    free = found["ontolab_data_dir_free_bytes"][()]
    size = found["ontolab_data_dir_size_bytes"][()]
    assert 0 < free <= size
