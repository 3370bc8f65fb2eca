"""validate_file on real and synthetic ontologies: metrics, a faithful terms table, failures.

Expectations are read from the files by small independent readers in this module, never
copied from what ontolab produced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyoxigraph
import pytest

from ontolab.errors import NotAnOntology, OntologyParseError, ValidationFailed
from ontolab.settings import ValidateSettings
from ontolab.testing import (
    hpo_obo_path,
    kisao_owl_path,
    write_synthetic_obo,
    write_synthetic_owl,
)
from ontolab.validate import ValidationReport, validate_file

pytestmark = pytest.mark.integration
SETTINGS = ValidateSettings()


@dataclass
class OboTerm:
    name: str = ""
    definition: str | None = None
    parents: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    replaced_by: list[str] = field(default_factory=list)
    obsolete: bool = False


@cache
def hpo() -> tuple[dict[str, str], dict[str, OboTerm], int]:
    """Header tags, [Term] frames by id and the number of all frames, read line by line."""
    text = hpo_obo_path().read_text(encoding="utf-8")
    head, *frames = text.split("\n[")
    header = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
    terms: dict[str, OboTerm] = {}
    for frame in frames:
        if not frame.startswith("Term]"):
            continue
        term, ident = OboTerm(), ""
        for line in frame.splitlines()[1:]:
            key, _, value = line.partition(": ")
            quoted = value.split('"')[1] if value.startswith('"') else value
            if key == "id":
                ident = value.strip()
            elif key == "name":
                term.name = value.strip()
            elif key == "def":
                term.definition = quoted
            elif key == "is_a":
                term.parents.append(value.split(" ! ")[0].strip())
            elif key == "synonym":
                term.synonyms.append(quoted)
            elif key == "replaced_by":
                term.replaced_by.append(value.strip())
            elif key == "is_obsolete":
                term.obsolete = value.strip() == "true"
        terms[ident] = term
    return header, terms, len(frames)


def table(path: Path, where: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet('{path}') {where}", params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def hpo_report(tmp_path_factory: pytest.TempPathFactory) -> ValidationReport:
    out = tmp_path_factory.mktemp("hpo") / "hp.terms.parquet"
    return validate_file(hpo_obo_path(), settings=SETTINGS, terms_path=out, ontology_id="hp")


def test_hpo_metrics(hpo_report: ValidationReport) -> None:
    header, terms, frames = hpo()
    metrics = hpo_report.metrics
    assert header["data-version"] == "hp/releases/2025-01-16"
    assert (hpo_report.format, hpo_report.passed, metrics.version) == ("obo", True, "2025-01-16")
    assert metrics.classes == len(terms)
    assert metrics.frames == frames
    assert metrics.deprecated == sum(t.obsolete for t in terms.values())
    live = [t for t in terms.values() if not t.obsolete]
    assert metrics.defined == sum(t.definition is not None for t in live)
    assert metrics.label_coverage == pytest.approx(1.0)
    assert metrics.definition_coverage == pytest.approx(metrics.defined / len(live))
    assert metrics.title == "Human Phenotype Ontology"
    assert metrics.licence == "https://hpo.jax.org/app/license"
    assert metrics.ontology_iri == "http://purl.obolibrary.org/obo/hp.owl"
    assert hpo_report.bytes == hpo_obo_path().stat().st_size


def test_hpo_terms_table_has_one_row_per_term(hpo_report: ValidationReport) -> None:
    _, terms, _ = hpo()
    assert hpo_report.terms_path is not None
    rows = table(hpo_report.terms_path, "WHERE kind = 'class'")
    assert len(rows) == len(terms) == hpo_report.metrics.classes
    assert {r["id"] for r in rows} == set(terms)
    assert hpo_report.terms_count == len(table(hpo_report.terms_path))


def test_hpo_terms_match_the_obo_text(hpo_report: ValidationReport) -> None:
    _, terms, _ = hpo()
    assert hpo_report.terms_path is not None
    rows = {r["id"]: r for r in table(hpo_report.terms_path, "WHERE kind = 'class'")}
    root = rows["HP:0000118"]
    assert root["label"] == terms["HP:0000118"].name == "Phenotypic abnormality"
    assert root["parents"] == terms["HP:0000118"].parents == ["HP:0000001"]
    assert root["iri"] == "http://purl.obolibrary.org/obo/HP_0000118"
    assert root["definition"] == terms["HP:0000118"].definition
    assert root["deprecated"] is False
    obsolete = next(i for i, t in terms.items() if t.obsolete and t.replaced_by)
    assert rows[obsolete]["deprecated"] is True
    assert rows[obsolete]["replaced_by"] == sorted(terms[obsolete].replaced_by)
    most = max(terms, key=lambda i: len(set(terms[i].synonyms)))
    assert len(set(terms[most].synonyms)) > 3
    assert sorted(rows[most]["synonyms"]) == sorted(set(terms[most].synonyms))
    multi = next(i for i, t in terms.items() if len(t.parents) > 1)
    assert rows[multi]["parents"] == sorted(terms[multi].parents)


def test_kisao_rdf_xml(tmp_path: Path) -> None:
    text = kisao_owl_path().read_text(encoding="utf-8")
    declared = set(re.findall(r'<owl:Class rdf:about="(http://www\.biomodels\.net/[^"]+)"', text))
    report = validate_file(kisao_owl_path(), settings=SETTINGS, terms_path=tmp_path / "k.parquet")
    metrics = report.metrics
    assert (report.format, metrics.version, metrics.version_iri) == ("rdfxml", "2.34", None)
    assert metrics.classes == len(declared) > 0
    assert metrics.label_coverage > 0.9
    assert metrics.triples is not None and metrics.triples > metrics.classes
    assert metrics.ontology_iri == "http://www.biomodels.net/kisao/KISAO#"
    rows = table(tmp_path / "k.parquet", "WHERE kind = 'class'")
    assert {r["id"] for r in rows} == declared
    assert all(r["id"] == r["iri"] for r in rows)
    label = re.search(
        r'<owl:Class rdf:about="http://www\.biomodels\.net/kisao/KISAO#KISAO_0000029">'
        r".*?<rdfs:label[^>]*>([^<]+)</rdfs:label>",
        text,
        re.S,
    )
    assert label is not None
    row = next(r for r in rows if r["id"].endswith("#KISAO_0000029"))
    assert row["label"] == label.group(1)


@pytest.mark.parametrize("syntax", ["rdfxml", "turtle", "ntriples"])
def test_synthetic_owl_gives_exactly_n_class_rows(tmp_path: Path, syntax: str) -> None:
    owl = write_synthetic_owl(tmp_path / "syn.owl", n_terms=1234)
    if syntax != "rdfxml":
        quads = pyoxigraph.parse(path=owl, format=pyoxigraph.RdfFormat.RDF_XML)
        target = {"turtle": pyoxigraph.RdfFormat.TURTLE, "ntriples": pyoxigraph.RdfFormat.N_TRIPLES}
        pyoxigraph.serialize((q.triple for q in quads), tmp_path / "syn.txt", target[syntax])
        owl = tmp_path / "syn.txt"
    report = validate_file(owl, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    assert report.format == syntax
    rows = table(tmp_path / "terms.parquet", "WHERE kind = 'class'")
    assert len(rows) == report.metrics.classes == 1234
    ids = {r["id"] for r in rows}
    assert all(r["id"].startswith("SYN:") for r in rows)
    assert all(p in ids for r in rows for p in r["parents"])
    assert sum(bool(r["parents"]) for r in rows) > 1000
    deprecated = [r for r in rows if r["deprecated"]]
    assert deprecated and all(r["replaced_by"] and r["replaced_by"][0] in ids for r in deprecated)
    assert report.metrics.version == "2024-01-01"


def test_go_shaped_annotations_leave_the_terms_table_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ontolab.validate import _terms

    rebuilt: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        result = merge_parts(*args, **kwargs)
        rebuilt.append(result[1] is not None)
        return result

    merge_parts = _terms.merge_parts
    monkeypatch.setattr(_terms, "merge_parts", watched)
    dense = write_synthetic_owl(tmp_path / "dense.owl", n_terms=3000)
    annotated = write_synthetic_owl(tmp_path / "go.owl", n_terms=3000, annotated=True)
    assert annotated.stat().st_size > 1.5 * dense.stat().st_size
    validate_file(dense, settings=SETTINGS, terms_path=tmp_path / "dense.parquet")
    report = validate_file(annotated, settings=SETTINGS, terms_path=tmp_path / "go.parquet")
    assert table(tmp_path / "go.parquet") == table(tmp_path / "dense.parquet")
    assert report.metrics.classes == 3000
    # Restrictions nested inside a class do not split its run, so nothing needed merging.
    assert rebuilt == [False, False]


def test_synthetic_obo_gives_exactly_n_class_rows(tmp_path: Path) -> None:
    obo = write_synthetic_obo(tmp_path / "syn.obo", n_terms=2345)
    report = validate_file(obo, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    rows = table(tmp_path / "terms.parquet")
    assert len(rows) == report.metrics.classes == report.metrics.frames == 2345
    ids = {r["id"] for r in rows}
    assert all(p in ids for r in rows for p in r["parents"])
    assert all(r["replaced_by"][0] in ids for r in rows if r["deprecated"])
    assert report.metrics.title == "Synthetic SYN ontology"


OBO = "http://purl.obolibrary.org/obo/"
GRAPH = {
    "graphs": [
        {
            "id": f"{OBO}x.owl",
            "meta": {
                "version": f"{OBO}x/releases/2024-05-01/x.owl",
                "basicPropertyValues": [
                    {"pred": "http://purl.org/dc/terms/license", "val": "CC-BY-4.0"},
                    {"pred": "http://purl.org/dc/elements/1.1/title", "val": "X ontology"},
                ],
            },
            "nodes": [
                {"id": f"{OBO}X_1", "lbl": "root", "type": "CLASS"},
                {
                    "id": f"{OBO}X_2",
                    "lbl": "child",
                    "type": "CLASS",
                    "meta": {
                        "definition": {"val": "A child.", "xrefs": ["PMID:1"]},
                        "synonyms": [{"pred": "hasExactSynonym", "val": "kid"}],
                        "xrefs": [{"val": "EX:2"}],
                    },
                },
                {
                    "id": f"{OBO}X_3",
                    "lbl": "obsolete child",
                    "type": "CLASS",
                    "meta": {
                        "deprecated": True,
                        "basicPropertyValues": [{"pred": f"{OBO}IAO_0100001", "val": "X:2"}],
                    },
                },
                {"id": f"{OBO}RO_0000050", "lbl": "part of", "type": "PROPERTY"},
            ],
            "edges": [
                {"sub": f"{OBO}X_2", "pred": "is_a", "obj": f"{OBO}X_1"},
                {"sub": f"{OBO}X_2", "pred": f"{OBO}RO_0000050", "obj": f"{OBO}X_1"},
            ],
        }
    ]
}


def test_obo_graphs_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(GRAPH, indent=1))
    report = validate_file(path, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    metrics = report.metrics
    assert (report.format, metrics.classes, metrics.deprecated) == ("obographs", 3, 1)
    assert (metrics.version, metrics.licence, metrics.title) == (
        "2024-05-01",
        "CC-BY-4.0",
        "X ontology",
    )
    rows = {r["id"]: r for r in table(tmp_path / "terms.parquet")}
    assert rows["X:2"]["parents"] == ["X:1"]
    assert (rows["X:2"]["synonyms"], rows["X:2"]["xrefs"]) == (["kid"], ["EX:2"])
    assert rows["X:2"]["definition"] == "A child."
    assert (rows["X:3"]["deprecated"], rows["X:3"]["replaced_by"]) == (True, ["X:2"])
    assert rows["RO:0000050"]["kind"] == "property"


def test_truncated_obo_graphs_json_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(GRAPH)[:300])
    with pytest.raises(OntologyParseError) as caught:
        validate_file(path, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    assert caught.value.code == "E_PARSE_JSON"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_html_served_as_owl_is_not_an_ontology(tmp_path: Path) -> None:
    page = tmp_path / "hp.owl"
    page.write_text("\n  <!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>")
    with pytest.raises(NotAnOntology) as caught:
        validate_file(page, settings=SETTINGS, terms_path=tmp_path / "t.parquet", ontology_id="hp")
    assert (caught.value.code, caught.value.reason) == ("E_FORMAT_HTML", "not_an_ontology")
    assert (caught.value.ontology_id, caught.value.path) == ("hp", str(page))


def test_truncated_rdf_xml_fails_with_a_position_and_leaves_nothing(tmp_path: Path) -> None:
    whole = write_synthetic_owl(tmp_path / "whole.owl", n_terms=200_000)
    out = tmp_path / "out"
    out.mkdir()
    broken = tmp_path / "broken.owl"
    data = whole.read_bytes()
    broken.write_bytes(data[: len(data) * 3 // 4])
    expected_line = data[: len(data) * 3 // 4].count(b"\n") + 1
    with pytest.raises(OntologyParseError) as caught:
        validate_file(broken, settings=SETTINGS, terms_path=out / "terms.parquet")
    assert caught.value.code == "E_PARSE_RDF"
    assert caught.value.reason == "parse_error"
    assert f"line {expected_line}," in caught.value.message
    # Batches were written before the failure; none of it, nor the work dir, is left.
    assert list(out.iterdir()) == []


def test_broken_obo_fails_with_the_line_and_leaves_nothing(tmp_path: Path) -> None:
    text = hpo_obo_path().read_text(encoding="utf-8")
    broken = tmp_path / "hp.obo"
    broken.write_text(text.replace("\nid: HP:0001250\n", "\nid: HP:0001250\n%% junk\n", 1))
    line = text[: text.index("\nid: HP:0001250\n")].count("\n") + 3
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OntologyParseError) as caught:
        validate_file(broken, settings=SETTINGS, terms_path=out / "terms.parquet")
    assert caught.value.code == "E_PARSE_OBO"
    assert f"line {line}," in caught.value.message
    assert list(out.iterdir()) == []


def test_an_ontology_without_terms_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.ttl"
    path.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "<http://example.org/empty.owl> a owl:Ontology ; owl:versionInfo '1' .\n"
    )
    with pytest.raises(NotAnOntology) as caught:
        validate_file(path, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    assert (caught.value.code, caught.value.reason) == ("E_NO_TERMS", "not_an_ontology")
    assert not (tmp_path / "terms.parquet").exists()


@pytest.mark.parametrize("too_many_repeats", [False, True])
def test_subjects_split_across_a_file_are_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, too_many_repeats: bool
) -> None:
    if too_many_repeats:
        # The sink stops remembering repeated subjects; the merge then checks every one.
        from ontolab.validate import _terms

        monkeypatch.setattr(_terms, "_MAX_CANDIDATES", 0)
    path = tmp_path / "split.ttl"
    path.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix obo: <http://purl.obolibrary.org/obo/> .\n"
        "obo:X_1 a owl:Class ; rdfs:label 'one' .\n"
        "obo:X_2 a owl:Class ; rdfs:subClassOf obo:X_1 .\n"
        "obo:X_1 rdfs:subClassOf obo:X_0 ; rdfs:subClassOf [ a owl:Restriction ] .\n"
        "obo:X_2 rdfs:label 'two' ; owl:deprecated true .\n"
        "obo:UNTYPED_1 rdfs:label 'referenced, never declared' .\n"
    )
    report = validate_file(path, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    rows = {r["id"]: r for r in table(tmp_path / "terms.parquet")}
    assert set(rows) == {"X:1", "X:2"}
    assert (rows["X:1"]["label"], rows["X:1"]["parents"]) == ("one", ["X:0"])
    assert (rows["X:2"]["label"], rows["X:2"]["deprecated"]) == ("two", True)
    assert (report.metrics.classes, report.metrics.deprecated, report.terms_count) == (2, 1, 2)


def test_without_a_terms_table_metrics_are_still_measured(tmp_path: Path) -> None:
    obo = write_synthetic_obo(tmp_path / "syn.obo", n_terms=50)
    settings = ValidateSettings(terms_table=False)
    report = validate_file(obo, settings=settings, terms_path=tmp_path / "terms.parquet")
    assert (report.terms_path, report.metrics.classes, report.terms_count) == (None, 50, 50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["syn.obo"]


def owl_xml(tmp_path: Path) -> Path:
    import pyhornedowl

    path = tmp_path / "kisao.owx"
    pyhornedowl.open_ontology_from_file(str(kisao_owl_path()), "owl").save_to_file(str(path), "owx")
    return path


def test_owl_xml_is_read_by_horned_owl(tmp_path: Path) -> None:
    report = validate_file(owl_xml(tmp_path), settings=SETTINGS)
    rdf = validate_file(kisao_owl_path(), settings=SETTINGS)
    assert report.format == "owlxml"
    assert report.metrics.classes == rdf.metrics.classes
    assert report.metrics.version == "2.34"


def test_owl_xml_above_the_size_limit_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = owl_xml(tmp_path)
    report = validate_file(path, settings=ValidateSettings(deep_max_bytes=1000))
    assert report.passed
    assert [m.code for m in report.messages] == ["W_TERMS_SKIPPED"]
    assert report.terms_count == 0
    strict = validate_file(path, settings=ValidateSettings(deep_max_bytes=1000, strict=True))
    assert not strict.passed


def test_report_is_json_ready_and_renders_in_a_notebook(hpo_report: ValidationReport) -> None:
    data = json.loads(json.dumps(hpo_report.to_dict()))
    assert data["metrics"]["version"] == "2025-01-16"
    assert data["validator"] == "stream"
    assert "2025-01-16" in hpo_report._repr_html_()


RDF_TEXTS = {
    "jsonld": (
        '{"@context": {"owl": "http://www.w3.org/2002/07/owl#", "obo": "' + OBO + '",'
        ' "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}, "@graph": ['
        '{"@id": "obo:X_1", "@type": "owl:Class", "rdfs:label": "one"},'
        '{"@id": "obo:X_2", "@type": "owl:Class", "rdfs:subClassOf": {"@id": "obo:X_1"}}]}'
    ),
    "trig": (
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n@prefix obo: <" + OBO + "> .\n"
        "<http://e/g> { obo:X_1 a owl:Class . obo:X_2 a owl:Class ;\n"
        "  <http://www.w3.org/2000/01/rdf-schema#subClassOf> obo:X_1 . }\n"
    ),
    "nquads": (
        f"<{OBO}X_1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/2002/07/owl#Class> <http://e/g> .\n"
        f"<{OBO}X_2> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/2002/07/owl#Class> .\n"
        f"<{OBO}X_2> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <{OBO}X_1> <http://e/g> .\n"
    ),
}


@pytest.mark.parametrize("syntax", list(RDF_TEXTS))
def test_other_rdf_syntaxes_stream_too(tmp_path: Path, syntax: str) -> None:
    path = tmp_path / "x.data"
    path.write_text(RDF_TEXTS[syntax])
    report = validate_file(path, settings=SETTINGS, terms_path=tmp_path / "terms.parquet")
    assert (report.format, report.metrics.classes) == (syntax, 2)
    rows = {r["id"]: r for r in table(tmp_path / "terms.parquet")}
    assert rows["X:2"]["parents"] == ["X:1"]


def test_obo_that_is_not_utf8_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.obo"
    path.write_bytes(b"format-version: 1.2\nontology: x\n\n[Term]\nid: X:1\nname: caf\xe9\n")
    with pytest.raises(OntologyParseError) as caught:
        validate_file(path, settings=SETTINGS)
    assert caught.value.code == "E_PARSE_OBO"
    assert "UTF-8" in caught.value.message


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_file(tmp_path / "absent.owl", settings=SETTINGS)
    assert caught.value.code == "E_VALIDATE_IO"
