"""detect_format names a file's syntax from its content, whatever the file is called."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from ontolab.validate import FORMATS, detect_format

RDF_XML = (
    '<?xml version="1.0"?>\n'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
    '         xmlns:owl="http://www.w3.org/2002/07/owl#">\n'
    '  <owl:Ontology rdf:about="http://example.org/x.owl"/>\n'
    "</rdf:RDF>\n"
)
OWL_XML = (
    '<?xml version="1.0"?>\n'
    '<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://example.org/x">\n'
    '  <Declaration><Class IRI="http://example.org/A"/></Declaration>\n'
    "</Ontology>\n"
)
CASES = {
    "rdfxml": RDF_XML,
    "rdfxml-bom-and-blank-lines": "\ufeff\n\n   " + RDF_XML,
    "rdfxml-doctype": (
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n'
        '  <!ENTITY owl "http://www.w3.org/2002/07/owl#" >\n'
        '  <!ENTITY quirky "a > b ] c" >\n]>\n'
        '<!-- generated -->\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        "</rdf:RDF>\n"
    ),
    "rdfxml-default-namespace": (
        '<RDF xmlns="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><Description about="x"/></RDF>'
    ),
    "rdfxml-typed-root": (
        '<owl:Ontology xmlns:owl="http://www.w3.org/2002/07/owl#"\n'
        '  xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about="http://e/x"/>'
    ),
    "owlxml": OWL_XML,
    "turtle": "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n<http://e/x> a owl:Ontology .\n",
    "turtle-sparql-prefix": "# comment\nPREFIX owl: <http://www.w3.org/2002/07/owl#>\n\n"
    "<http://e/x> a owl:Ontology .\n",
    "turtle-statement-first": "<http://e/x> a <http://www.w3.org/2002/07/owl#Ontology> ;\n"
    '  <http://www.w3.org/2000/01/rdf-schema#label> "x {not a graph}" .\n',
    "ntriples": "# dump\n<http://e/a> <http://e/p> <http://e/b> .\n"
    '_:b0 <http://e/p> "chars \\" and {braces}"@en .\n'
    '<http://e/a> <http://e/q> "1"^^<http://www.w3.org/2001/XMLSchema#int> .\n',
    "nquads": "<http://e/a> <http://e/p> <http://e/b> <http://e/g> .\n"
    "<http://e/a> <http://e/p> <http://e/c> .\n",
    "trig": "@prefix ex: <http://e/> .\nex:g {\n  ex:a ex:p ex:b .\n}\n",
    "trig-graph-keyword": "PREFIX ex: <http://e/>\nGRAPH ex:g { ex:a ex:p ex:b . }\n",
    "jsonld": '{\n  "@context": {"owl": "http://www.w3.org/2002/07/owl#"},\n  "@id": "x"\n}',
    "jsonld-expanded": '[{"@id": "http://e/x", "@type": ["http://e/T"]}]',
    "obographs": '  {"graphs" : [ {"id": "http://purl.obolibrary.org/obo/x.owl", "nodes": []} ]}',
    "obo": "format-version: 1.2\ndata-version: x/releases/2024-01-01\nontology: x\n",
    "obo-comment-first": "! exported\ndata-version: 1.0\n\n[Term]\nid: X:1\n",
    "obo-stanza-first": "[Term]\nid: X:1\nname: one\n",
    "functional": "Prefix(:=<http://e/x#>)\nOntology(<http://e/x>\n)\n",
    "functional-ontology-first": "Ontology(<http://e/x>\nDeclaration(Class(<http://e/A>))\n)\n",
    "html": "<!DOCTYPE html>\n<html><body>Not Found</body></html>",
    "html-bom-whitespace": "\ufeff \r\n\t<!doctype HTML><html lang=en></html>",
    "html-bare": "<html>\n<head><title>Login</title></head></html>",
    "html-comment-first": "<!-- proxy -->\n<html><body>blocked</body></html>",
    "html-xhtml": '<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"></html>',
    "unknown-empty": "",
    "unknown-text": "Hello, this is not an ontology.\nReally not.\n",
    "unknown-json": '{"name": "not an ontology", "items": [1, 2]}',
    "unknown-xml": '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>',
}


@pytest.mark.parametrize(("case", "text"), list(CASES.items()), ids=list(CASES))
@pytest.mark.parametrize("name", ["ontology.owl", "download", "data.obo"])
def test_content_decides_not_the_name(tmp_path: Path, case: str, text: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) == case.split("-", maxsplit=1)[0]


def test_every_detected_name_is_a_documented_format() -> None:
    assert {case.split("-")[0] for case in CASES} == set(FORMATS)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.rdf"
    path.write_bytes(codecs.BOM_UTF16_LE + RDF_XML.encode("utf-16-le"))
    assert detect_format(path) == "rdfxml"


def test_compressed_bytes_are_unknown(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_bytes(gzip.compress(RDF_XML.encode()))
    assert detect_format(path) == "unknown"


def test_a_doctype_longer_than_the_window_still_finds_rdf_xml(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY e{i} "http://example.org/{i}#" >\n' for i in range(3000))
    path = tmp_path / "x.owl"
    path.write_text(f"<?xml version='1.0'?>\n<!DOCTYPE rdf:RDF [\n{entities}]>\n" + RDF_XML[22:])
    assert path.stat().st_size > 64 * 1024
    assert detect_format(path) == "rdfxml"


def test_only_the_first_64_kib_are_read(tmp_path: Path) -> None:
    # Turtle statements first, then garbage after the window: detection never sees it.
    head = "@prefix ex: <http://e/> .\n" + "ex:a ex:p ex:b .\n" * 5000
    path = tmp_path / "x.ttl"
    path.write_text(head + "\x00" * 100_000)
    assert len(head) > 64 * 1024
    assert detect_format(path) == "turtle"
