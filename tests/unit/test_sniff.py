from __future__ import annotations

import gzip

import pytest

from ontolab.formats import release_from_iri
from ontolab.plan import sniff


@pytest.mark.parametrize(
    ("head", "kind", "version", "version_iri"),
    [
        (b"format-version: 1.2\ndata-version: hp/releases/2025-01-16\n", "obo", "2025-01-16", None),
        (b"format-version: 1.4\ndata-version: 2.34\nontology: kisao\n", "obo", "2.34", None),
        (
            b'<?xml version="1.0"?>\n<rdf:RDF xmlns:owl="x">\n<owl:Ontology rdf:about="http://p/go.owl">'
            b'<owl:versionIRI rdf:resource="http://p/go/releases/2024-06-17/go.owl"/>',
            "rdfxml",
            "2024-06-17",
            "http://p/go/releases/2024-06-17/go.owl",
        ),
        (
            b'<?xml version="1.0"?><rdf:RDF><owl:Ontology rdf:about="http://k">'
            b'<owl:versionInfo rdf:datatype="xsd:decimal">2.34</owl:versionInfo>',
            "rdfxml",
            "2.34",
            None,
        ),
        (
            b"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<http://p/x.owl> a owl:Ontology ;\n"
            b"  owl:versionIRI <http://p/x/releases/v3/x.owl> .\n",
            "turtle",
            "v3",
            "http://p/x/releases/v3/x.owl",
        ),
        (
            b'{"graphs": [{"id": "http://p/hp.json", "meta": {"version": '
            b'"http://p/hp/releases/2024-04-26/hp.json"}}]}',
            "obographs",
            "2024-04-26",
            "http://p/hp/releases/2024-04-26/hp.json",
        ),
        (
            b"Prefix(:=<http://p/x#>)\nOntology(<http://p/x.owl> <http://p/x/releases/9/x.owl>\n",
            "functional",
            "9",
            "http://p/x/releases/9/x.owl",
        ),
        (b"<http://a> <http://b> <http://c> .\n", "ntriples", None, None),
        (b"<!DOCTYPE html>\n<html><body>Not Found</body></html>", "html", None, None),
    ],
)
def test_sniff_reads_kind_and_version(
    head: bytes, kind: str, version: str | None, version_iri: str | None
) -> None:
    found = sniff(head)
    assert (found.kind, found.version, found.version_iri) == (kind, version, version_iri)


def test_sniff_sees_through_gzip() -> None:
    found = sniff(gzip.compress(b"format-version: 1.2\ndata-version: go/releases/2024-01-01\n"))
    assert (found.compression, found.kind, found.version) == ("gzip", "obo", "2024-01-01")


def test_sniff_of_a_truncated_gzip_head_still_works() -> None:
    blob = gzip.compress(b"format-version: 1.2\ndata-version: 7\n" + b"[Term]\nid: X:1\n" * 50000)
    assert sniff(blob[:4096]).version == "7"


def test_title_and_licence_from_rdfxml() -> None:
    head = (
        b"<rdf:RDF><owl:Ontology><dc:title>Kinetic</dc:title>"
        b'<dcterms:license rdf:resource="https://creativecommons.org/licenses/by/4.0/"/>'
    )
    found = sniff(head)
    assert found.title == "Kinetic"
    assert found.licence == "https://creativecommons.org/licenses/by/4.0/"


def test_release_from_iri() -> None:
    assert release_from_iri("http://purl.obolibrary.org/obo/hp/releases/2024-01-16/hp.owl") == (
        "2024-01-16"
    )
    assert release_from_iri("http://purl.obolibrary.org/obo/hp.owl") is None
