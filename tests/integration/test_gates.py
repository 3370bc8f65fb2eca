"""Gates over real terms tables: real HPO and KiSAO pass the default suite; releases broken on
purpose (derived from the real HPO terms) are rejected with the failing entries named."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ontolab.catalog import (
    CatalogBackend,
    FileRecord,
    Recorder,
    ValidationRecord,
    VersionOutcome,
    record_outcome,
)
from ontolab.errors import GateError
from ontolab.gates import GateReport, run_catalog_gates, run_gates
from ontolab.models import Artifact, FetchResult, PlanItem
from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import hpo_obo_path, kisao_owl_path
from ontolab.validate import validate_file

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
DIFF_AWARE = {"term_count_band", "relabel_rate", "parent_churn"}


def _terms_table(source: Path, target: Path, ontology: str) -> Path:
    """The real validator's terms table for ``source``."""
    settings = load_settings(environ={})
    report = validate_file(
        source, terms_path=target, settings=settings.validate_, ontology_id=ontology
    )
    assert report.terms_path == target
    return target


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("terms")
    return {
        "hp": _terms_table(hpo_obo_path(), root / "hp.parquet", "hp"),
        "kisao": _terms_table(kisao_owl_path(), root / "kisao.parquet", "kisao"),
    }


def _derive(source: Path, target: Path, select: str) -> Path:
    """A release derived from ``source`` by a query over its rows (``t``)."""
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (WITH t AS (SELECT * FROM read_parquet('{source}')) {select}) "
            f"TO '{target}' (FORMAT parquet)"
        )
    finally:
        con.close()
    return target


def _gate(
    settings: OntolabSettings, table: Path, previous: Path | None = None, ontology: str = "hp"
) -> GateReport:
    return run_gates(
        settings,
        ontology=ontology,
        version="candidate",
        terms=[table],
        previous=("good", [previous]) if previous else None,
    )


@pytest.mark.parametrize("ontology", ["hp", "kisao"])
def test_real_ontologies_pass_the_default_suite(
    make_settings: Settings, tables: dict[str, Path], ontology: str
) -> None:
    report = _gate(make_settings(), tables[ontology], ontology=ontology)
    assert report.passed, report.summary()
    names = {r.name for r in report.results}
    assert {"unique_ids", "label_coverage", "parents_resolve"} <= names
    assert not names & DIFF_AWARE  # no previous version: nothing to compare with
    assert report.previous is None
    labels = next(r for r in report.results if r.name == "label_coverage")
    assert labels.observed == 1.0
    assert labels.threshold == {"min": 0.95}


def test_a_good_release_passes_the_diff_aware_entries(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    # The previous release: 5 % fewer terms and a few relabels, like a real year of HPO.
    previous = _derive(
        tables["hp"],
        tmp_path / "previous.parquet",
        "SELECT * REPLACE (CASE WHEN hash(id) % 100 = 0 THEN label || ' (old)' "
        "ELSE label END AS label) FROM t WHERE hash(id) % 20 <> 1",
    )
    report = _gate(make_settings(), tables["hp"], previous)
    assert report.passed, report.summary()
    assert report.previous == "good"
    by_name = {r.name: r for r in report.results}
    assert set(by_name) >= DIFF_AWARE
    assert 0.005 < by_name["relabel_rate"].observed < 0.02
    assert by_name["relabel_rate"].sample  # the relabelled ids, named
    assert by_name["term_count_band"].observed == 19484


def _failing(report: GateReport) -> set[str]:
    return {r.name for r in report.failures}


def test_ten_percent_of_labels_removed_is_rejected(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    bad = _derive(
        tables["hp"],
        tmp_path / "bad.parquet",
        "SELECT * REPLACE (CASE WHEN row_number() OVER (ORDER BY id) % 10 = 0 "
        "THEN NULL ELSE label END AS label) FROM t",
    )
    report = _gate(make_settings(), bad, tables["hp"])
    assert not report.passed
    # Relabelling to nothing is also a label change: 10 % stays under relabel_rate_max.
    assert _failing(report) == {"label_coverage"}
    failure = report.failures[0]
    assert failure.observed == pytest.approx(0.9, abs=0.001)
    assert failure.unexpected_count == 1948
    assert len(failure.sample) == 20
    assert all(s.startswith("HP:") for s in failure.sample)
    assert "label_coverage: observed 0.9" in report.summary()
    assert "needs >= 0.95" in report.summary()


def test_duplicated_ids_are_rejected(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    bad = _derive(
        tables["hp"],
        tmp_path / "dup.parquet",
        "SELECT * FROM t UNION ALL SELECT * FROM t WHERE id IN ('HP:0000118', 'HP:0001507')",
    )
    report = _gate(make_settings(), bad, tables["hp"])
    assert _failing(report) == {"unique_ids"}
    failure = report.failures[0]
    assert failure.unexpected_count == 4  # every row of a duplicated id
    assert set(failure.sample) == {"HP:0000118", "HP:0001507"}
    assert "HP:0000118" in report.summary()


def test_a_forty_percent_term_drop_is_rejected(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    bad = _derive(
        tables["hp"],
        tmp_path / "drop.parquet",
        # Keep whole subtrees' parents resolvable: drop leaves only (terms nobody points at).
        "SELECT * FROM t WHERE id IN (SELECT unnest(parents) FROM t) OR hash(id) % 10 >= 6",
    )
    report = _gate(make_settings(), bad, tables["hp"])
    assert _failing(report) == {"term_count_band"}
    failure = report.failures[0]
    assert failure.threshold == {"min": 15588, "max": 214324}
    assert failure.observed < 15588
    assert "term_count_band: observed" in report.summary()
    assert "between 15588 and 214324" in report.summary()


def test_parents_pointing_at_missing_terms_are_rejected(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    bad = _derive(
        tables["hp"],
        tmp_path / "dangling.parquet",
        "SELECT * REPLACE (CASE WHEN hash(id) % 100 = 0 THEN list_append(parents, 'HP:9999999') "
        "ELSE parents END AS parents) FROM t",
    )
    report = _gate(make_settings(), bad)
    assert _failing(report) == {"parents_resolve"}
    assert all(s.endswith(" -> HP:9999999") for s in report.failures[0].sample)
    assert "HP:9999999" in report.summary()


def test_an_obsolete_term_used_as_a_parent_is_rejected(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    con = duckdb.connect()
    obsolete = con.execute(
        f"SELECT min(id) FROM read_parquet('{tables['hp']}') WHERE deprecated"
    ).fetchone()[0]
    con.close()
    bad = _derive(
        tables["hp"],
        tmp_path / "obsolete_parent.parquet",
        f"SELECT * REPLACE (CASE WHEN id = 'HP:0000118' THEN ['{obsolete}'] "
        "ELSE parents END AS parents) FROM t",
    )
    report = _gate(make_settings(), bad)
    assert _failing(report) == {"obsolete_not_parents"}
    assert report.failures[0].sample == ["HP:0000118"]


def test_per_ontology_overrides_change_the_verdict(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    strict = make_settings(
        ontologies=[
            {"id": "hp", "gates": {"definition_coverage_min": 0.9, "label_coverage_min": 1.0}}
        ]
    )
    report = _gate(strict, tables["hp"])
    # Definition coverage warns (it never rejects by default); HPO's 0.864 is under 0.9.
    assert report.passed
    assert [(w.name, w.threshold) for w in report.warnings] == [
        ("definition_coverage", {"min": 0.9})
    ]
    # The override is per ontology: kisao keeps the defaults (its coverage is 0.91 anyway).
    kisao = _gate(strict, tables["kisao"], ontology="kisao")
    assert kisao.passed and kisao.warnings == []
    # And an override can make an error-severity entry stricter than the data.
    labels = make_settings(ontologies=[{"id": "hp", "gates": {"label_coverage_min": 1.0}}])
    cut = _derive(
        tables["hp"],
        tmp_path / "one_label_less.parquet",
        "SELECT * REPLACE (CASE WHEN id = 'HP:0000118' THEN NULL ELSE label END AS label) FROM t",
    )
    assert _failing(_gate(labels, cut)) == {"label_coverage"}


def test_the_report_page_names_failures_and_escapes_labels(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    hostile = "<script>alert(1)</script>"
    bad = _derive(
        tables["hp"],
        tmp_path / "hostile.parquet",
        f"SELECT * REPLACE ('{hostile}' AS label) FROM t WHERE id = 'HP:0000118' "
        "UNION ALL SELECT * FROM t",
    )
    settings = make_settings()
    report = _gate(settings, bad)
    assert report.report_path is not None
    assert report.report_path.is_relative_to(settings.data_dir / "reports" / "gates" / "hp")
    page = report.report_path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "unique_ids" in page and "rejected" in page
    assert "HP:0000118" in page
    # The file is a page; a notebook shows the same report as one element inside its own.
    inline = report._repr_html_()
    assert page.startswith("<!DOCTYPE html>") and inline in page
    assert inline.startswith("<div class='ontolab-gates'>") and "<html" not in inline
    # The catalog rows: one per entry, details as JSON naming the report.
    rows = report.rows("run-1")
    assert {row["gate"] for row in rows} >= {"ontology.unique_ids", "ontology.label_coverage"}
    unique = next(row for row in rows if row["gate"] == "ontology.unique_ids")
    assert unique["passed"] is False and unique["run_id"] == "run-1"
    details = json.loads(unique["details"])
    assert details["sample"] == ["HP:0000118"]
    assert details["report_path"] == str(report.report_path)


def test_a_hostile_label_is_escaped_in_the_page(make_settings: Settings, tmp_path: Path) -> None:
    con = duckdb.connect()
    table = tmp_path / "tiny.parquet"
    con.execute(
        "COPY (SELECT 'X:' || i AS id, NULL::VARCHAR AS iri, CASE WHEN i = 1 THEN NULL "
        "ELSE '<script>alert(' || i || ')</script>' END AS label, NULL::VARCHAR AS definition, "
        "[]::VARCHAR[] AS synonyms, []::VARCHAR[] AS parents, []::VARCHAR[] AS xrefs, "
        f"false AS deprecated, []::VARCHAR[] AS replaced_by, 'class' AS kind FROM range(3) r(i)) "
        f"TO '{table}' (FORMAT parquet)"
    )
    con.close()
    report = _gate(make_settings(), table, ontology="x")
    page = report._repr_html_()
    assert "label_coverage" in page
    assert "<script>" not in page


def test_a_bad_suite_file_is_a_gate_error(
    make_settings: Settings, tables: dict[str, Path], tmp_path: Path
) -> None:
    suite = tmp_path / "mine.yaml"
    suite.write_text(
        "entries:\n  - name: labels\n    frame: own\n"
        "    expectation: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: label, mostly: '${no_such_threshold}'}\n",
        encoding="utf-8",
    )
    with pytest.raises(GateError) as caught:
        _gate(make_settings(gates={"suites": [str(suite)]}), tables["hp"])
    assert caught.value.code == "E_GATE_SUITE_INVALID"
    assert "no_such_threshold" in caught.value.message
    suite.write_text(
        "entries:\n  - name: labels\n    frame: own\n"
        "    expectation: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: no_such_column}\n",
        encoding="utf-8",
    )
    with pytest.raises(GateError) as caught:
        _gate(make_settings(gates={"suites": [str(suite)]}), tables["hp"])
    assert caught.value.code == "E_GATE_SUITE_INVALID"
    assert "no_such_column" in caught.value.message


def test_importing_gates_does_not_import_great_expectations_or_pandas() -> None:
    code = (
        "import sys, ontolab, ontolab.gates\n"
        "heavy = [m for m in ('great_expectations', 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def _staged(catalog: CatalogBackend, tmp_path: Path, ontology: str, version: str) -> str:
    """Record a fetched artifact, as a pull does before validation; return its sha256."""
    url = f"https://example.org/{ontology}/{version}.obo"
    blob = tmp_path / f"{ontology}-{version}.obo"
    blob.write_bytes(b"format-version: 1.2\n")
    sha = (ontology + version).encode().hex().ljust(64, "0")[:64]
    artifact = Artifact(
        ontology=ontology,
        url=url,
        sha256=sha,
        size=blob.stat().st_size,
        path=blob,
        final_url=url,
        etag=None,
        resolver="url",
        version=version,
        fetched_at=datetime(2025, 1, 2, 3, 4, 5),
    )
    item = PlanItem(ontology=ontology, resolver="url", url=url, version=version)
    Recorder(catalog, "run-1").record_fetch(
        FetchResult(item=item, outcome="fetched", artifact=artifact, bytes_transferred=1),
        version,
    )
    return sha


def test_catalog_gates_judge_every_live_version(
    make_settings: Settings, catalog_backend: CatalogBackend, tmp_path: Path
) -> None:
    catalog_backend.ensure_schema()
    hp_sha = _staged(catalog_backend, tmp_path, "hp", "v1")
    kisao_sha = _staged(catalog_backend, tmp_path, "kisao", "2.34")
    files = (FileRecord("hp.obo", "/x/hp.obo", 10, "cd" * 32, "obo"),)
    checks = (ValidationRecord("stream", True, member="hp.obo"),)
    record_outcome(
        catalog_backend,
        VersionOutcome("hp", "v1", hp_sha, "good", files=files, validations=checks),
        run_id="run-1",
        promote=True,
    )
    # Live, but with nothing recorded: what a hand-edited or half-restored catalog shows.
    record_outcome(
        catalog_backend,
        VersionOutcome("kisao", "2.34", kisao_sha, "good"),
        run_id="run-1",
        promote=True,
    )
    with catalog_backend.transaction() as con:
        con.execute("UPDATE versions SET status = 'rejected' WHERE ontology = 'kisao'")
    reports = run_catalog_gates(make_settings(), catalog_backend, run_id="run-2")
    by_id = {r.ontology: r for r in reports}
    assert set(by_id) == {"hp", "kisao"}
    assert by_id["hp"].passed, by_id["hp"].summary()
    assert by_id["hp"].version == "v1"
    assert {r.name for r in by_id["kisao"].failures} == {
        "live_is_good",
        "live_has_files",
        "live_has_validations",
    }
    status = next(r for r in by_id["kisao"].results if r.name == "live_is_good")
    assert status.observed == "rejected"
    assert "live_is_good: observed rejected, needs one of good" in by_id["kisao"].summary()
    assert all(r.report_path is not None and r.report_path.is_file() for r in reports)
