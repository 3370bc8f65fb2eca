"""Gates in the pipeline: real HPO and GO pass the default suite, broken releases derived from
the real HPO file are rejected and the live version stays, against the local mirror."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ontolab import pipeline
from ontolab.catalog import open_catalog
from ontolab.obs import render
from ontolab.query import connect
from ontolab.settings import OntolabSettings
from ontolab.testing import Mirror, go_obo_path, hpo_obo_path
from ontolab.testing.corpus import GO_RELEASE, hpo_release_path
from ontolab.testing.releases import ids_duplicated, labels_removed, terms_dropped

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
LIVE = "2025-01-16"


BROKEN = {
    "labels": (labels_removed, "2025-02-01", "label_coverage"),
    "drop": (terms_dropped, "2025-02-03", "term_count_band"),
}


# -- reading the catalog back ----------------------------------------------------------------


def query(settings: OntolabSettings, sql: str, params: list[Any] | None = None) -> list[Any]:
    con = duckdb.connect(str(settings.data_dir / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def gate_rows(settings: OntolabSettings, version: str) -> list[dict[str, Any]]:
    rows = query(
        settings,
        "SELECT gate, passed, severity, details, run_id FROM gate_results "
        "WHERE version = ? ORDER BY evaluated_at, gate",
        [version],
    )
    return [
        {"gate": g, "passed": p, "severity": s, "details": json.loads(d), "run_id": r}
        for g, p, s, d, r in rows
    ]


def gate_events(settings: OntolabSettings, version: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = query(
        settings,
        "SELECT event, level, payload FROM events WHERE stage = 'gate' AND version = ? ORDER BY ts",
        [version],
    )
    return [(e, level, json.loads(p)) for e, level, p in rows]


def scrape(settings: OntolabSettings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    catalog = open_catalog(settings.catalog_url, read_only=True)
    try:
        text = render(catalog).decode()
    finally:
        catalog.close()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# -- tests -----------------------------------------------------------------------------------


def test_real_hpo_passes_the_default_suite_with_a_report(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings()
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.version, row.live) == ("fetched", LIVE, LIVE), row
    assert query(settings, "SELECT status FROM versions") == [("good",)]
    results = [r for r in gate_rows(settings, LIVE) if r["gate"].startswith("ontology.")]
    names = {r["gate"] for r in results}
    assert {"ontology.unique_ids", "ontology.label_coverage", "ontology.parents_resolve"} <= names
    failed = [(r["gate"], r["details"]["observed"]) for r in results if not r["passed"]]
    assert failed == []
    # The first version has nothing to compare with: no diff-aware verdict is claimed.
    assert all(r["details"]["previous"] is None for r in results)
    report = Path(results[0]["details"]["report_path"])
    assert report.is_file()
    assert "label_coverage" in report.read_text(encoding="utf-8")
    events = gate_events(settings, LIVE)
    assert ("gate.passed", "info") in {(e, level) for e, level, _ in events}
    assert {p["suite"] for e, _, p in events if e == "gate.passed"} >= {"ontology", "catalog"}
    # The catalog suite ran over the live version at the end of the pull.
    assert any(r["gate"].startswith("catalog.") and r["passed"] for r in gate_rows(settings, LIVE))
    (timings,) = query(settings, "SELECT timings FROM versions")[0]
    assert "gate_s" in json.loads(str(timings))


def test_an_older_real_hpo_release_then_the_newer_one_both_pass(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    """Diff-aware expectations on two real HPO releases ten months apart."""
    mirror.publish("hp", "2024-03-06", hpo_release_path("3.2.6"), filename="hp.obo")
    settings = mirror_settings()
    assert pipeline.pull(settings=settings).rows[0].live == "2024-03-06"
    mirror.publish("hp", LIVE, hpo_obo_path(), filename="hp.obo")
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.version, row.live) == ("fetched", LIVE, LIVE), row.message
    results = gate_rows(settings, LIVE)
    compared = [r for r in results if r["details"]["previous"] == "2024-03-06"]
    assert {"ontology.term_count_band", "ontology.relabel_rate"} <= {r["gate"] for r in compared}
    assert [r["gate"] for r in results if not r["passed"]] == []


def test_real_go_passes_the_default_suite(mirror: Mirror, mirror_settings: Settings) -> None:
    mirror.publish("go", GO_RELEASE, go_obo_path(), filename="go.obo")
    settings = mirror_settings([{"id": "go", "resolver": "obo", "format": "obo"}])
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.live) == ("fetched", row.version), row.message
    results = [r for r in gate_rows(settings, str(row.version)) if r["gate"].startswith("ont")]
    assert len(results) >= 6
    assert [(r["gate"], r["details"]["observed"]) for r in results if not r["passed"]] == []
    ((terms,),) = query(settings, "SELECT sum(row_count) FROM terms WHERE ontology = 'go'")
    assert int(terms) > 40_000


def test_broken_releases_are_rejected_and_the_live_version_stays(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    for kind, (make, version, expectation) in BROKEN.items():
        mirror.publish("hp", version, make(tmp_path / f"hp-{kind}.obo", version), filename="hp.obo")
        row = pipeline.pull(settings=settings).rows[0]
        assert (row.version, row.outcome, row.reason) == (version, "rejected", "gate_failed"), (
            kind,
            row,
        )
        assert row.error_code == "E_GATE_REJECTED"
        assert row.live == LIVE
        assert expectation in (row.message or ""), (kind, row.message)
        assert query(settings, "SELECT version FROM latest") == [(LIVE,)]
        assert query(
            settings, "SELECT status, reason FROM versions WHERE version = ?", [version]
        ) == [("rejected", "gate_failed")]
        failing = {r["gate"]: r for r in gate_rows(settings, version) if not r["passed"]}
        assert f"ontology.{expectation}" in failing, (kind, sorted(failing))
        observed = failing[f"ontology.{expectation}"]["details"]
        assert observed["observed"] is not None
        assert observed["previous"] == LIVE
        rejected = [p for e, _, p in gate_events(settings, version) if e == "gate.rejected"]
        assert [p["suite"] for p in rejected] == ["ontology"]
        assert expectation in rejected[0]["failed"]
        # The HTML report survives the rejection and names what failed.
        report = Path(rejected[0]["report"])
        assert expectation in report.read_text(encoding="utf-8")
        # Like any rejected version it keeps no terms table; the store keeps its bytes.
        assert query(settings, "SELECT count(*) FROM terms WHERE version = ?", [version]) == [(0,)]
    found = scrape(settings)
    gate_key = (("ontology", "hp"), ("suite", "ontology"))
    assert found[("ontolab_gate_rejections_total", gate_key)] >= len(BROKEN)
    assert found[("ontolab_upstream_newer", (("ontology", "hp"),))] == 1.0


def test_a_release_with_duplicated_ids_is_rejected(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    version = "2025-02-02"
    mirror.publish("hp", version, ids_duplicated(tmp_path / "hp.obo", version), filename="hp.obo")
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.reason, row.live) == ("rejected", "gate_failed", LIVE)
    assert "unique_ids" in (row.message or "")


def test_validate_reruns_gates_and_keeps_earlier_results(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    make, version, expectation = BROKEN["drop"]
    mirror.publish("hp", version, make(tmp_path / "hp.obo", version), filename="hp.obo")
    pipeline.pull(settings=settings)
    first = gate_rows(settings, version)

    again = pipeline.validate("hp", version=version, settings=settings)
    assert (again.outcome.status, again.outcome.reason) == ("rejected", "gate_failed")
    assert again.gates is not None and expectation in {r.name for r in again.gates.failures}
    rows = gate_rows(settings, version)
    assert len(rows) == 2 * len(first)  # history: both runs' verdicts are kept
    assert len({r["run_id"] for r in rows}) == 2
    assert query(settings, "SELECT version FROM latest") == [(LIVE,)]
    assert again.catalog_gates and all(r.passed for r in again.catalog_gates)
    with connect(settings) as view:
        frame = view.gate_results("hp", version)
        assert frame.height == len(rows)
        assert set(frame.filter(~frame["passed"])["gate"]) >= {f"ontology.{expectation}"}
        overview = view.show("hp", version)
    assert overview.gates is not None and overview.gates["passed"] is False
    assert len(overview.latest_gates) == len(first)  # the newest run only
    page = overview._repr_html_()
    (report,) = overview.gates["reports"]
    assert Path(report).as_uri() in page and expectation in page

    live = pipeline.validate("hp", version=LIVE, settings=settings)
    assert live.outcome.status == "good"
    assert live.gates is not None and live.gates.passed
    assert live.gates.previous is None  # the live version is never compared with itself

    skipped = pipeline.validate("hp", version=version, settings=settings, gates=False)
    assert skipped.gates is None and skipped.catalog_gates == []
    assert len(gate_rows(settings, version)) == len(rows)
    # Judged by its validators alone it is good again, but nothing promotes it.
    assert skipped.outcome.status == "good"
    assert query(settings, "SELECT version FROM latest") == [(LIVE,)]


def test_gates_turned_off_for_an_ontology_let_a_broken_release_through(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings(
        [{"id": "hp", "resolver": "obo", "format": "obo", "gates": {"enabled": False}}]
    )
    pipeline.pull(settings=settings)
    make, version, _ = BROKEN["drop"]
    mirror.publish("hp", version, make(tmp_path / "hp.obo", version), filename="hp.obo")
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.live) == ("fetched", version)
    assert query(settings, "SELECT count(*) FROM gate_results WHERE gate LIKE 'ontology.%'") == [
        (0,)
    ]
    assert not [e for e, _, p in gate_events(settings, version) if p["suite"] == "ontology"]
    (timings,) = query(settings, "SELECT timings FROM versions WHERE version = ?", [version])[0]
    assert "gate_s" not in json.loads(str(timings))


def test_a_suite_that_cannot_run_rejects_the_release(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    base = mirror_settings()
    missing = tmp_path / "missing-suite.json"
    settings = base.model_copy(
        update={"gates": base.gates.model_copy(update={"suites": [str(missing)]})}
    )
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.reason, row.live) == ("rejected", "gate_error", None)
    assert row.error_code == "E_GATE_SUITE_INVALID"
    assert str(missing) in (row.message or "")
    events = query(settings, "SELECT event, level, error_code FROM events WHERE stage = 'gate'")
    assert ("gate.error", "error", "E_GATE_SUITE_INVALID") in events
    assert query(settings, "SELECT count(*) FROM gate_results WHERE version = ?", [LIVE]) == [(0,)]
