"""RDF syntaxes, streamed by pyoxigraph: one pass, one partial row per run of a subject.

The loop below runs once per triple, so it is written for speed: predicates dispatch
through one dict lookup on ``predicate.value``, the current subject's row lives in local
variables, and uninteresting triples cost a lookup and a ``continue``.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pyoxigraph
from pyoxigraph import NamedNode, RdfFormat

from ontolab.errors import OntologyParseError
from ontolab.formats import decode_head, read_error, read_head, xml_root
from ontolab.validate._header import HEADER_PREDICATES, OWL, Header
from ontolab.validate._terms import SEP, Row, TermsSink

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OBO = "http://purl.obolibrary.org/obo/"
OIO = "http://www.geneontology.org/formats/oboInOwl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"

_TAIL_BYTES = 64 * 1024
RDF_FORMATS = {
    "rdfxml": RdfFormat.RDF_XML,
    "turtle": RdfFormat.TURTLE,
    "ntriples": RdfFormat.N_TRIPLES,
    "nquads": RdfFormat.N_QUADS,
    "trig": RdfFormat.TRIG,
    "jsonld": RdfFormat.JSON_LD,
}
_TYPE, _PARENT, _LABEL, _DEFINITION, _XREF, _SYNONYM, _DEPRECATED, _REPLACED, _HEADER = range(9)
_CODES = {
    f"{RDF}type": _TYPE,
    f"{RDFS}subClassOf": _PARENT,
    f"{RDFS}subPropertyOf": _PARENT,
    f"{RDFS}label": _LABEL,
    f"{SKOS}prefLabel": _LABEL,
    f"{OBO}IAO_0000115": _DEFINITION,
    f"{SKOS}definition": _DEFINITION,
    f"{OIO}hasDbXref": _XREF,
    f"{OIO}hasExactSynonym": _SYNONYM,
    f"{OIO}hasRelatedSynonym": _SYNONYM,
    f"{OIO}hasBroadSynonym": _SYNONYM,
    f"{OIO}hasNarrowSynonym": _SYNONYM,
    f"{OBO}IAO_0000118": _SYNONYM,
    f"{SKOS}altLabel": _SYNONYM,
    f"{OWL}deprecated": _DEPRECATED,
    f"{OBO}IAO_0100001": _REPLACED,
    **dict.fromkeys(HEADER_PREDICATES, _HEADER),
}
_KINDS = {
    f"{OWL}Class": "class",
    f"{RDFS}Class": "class",
    f"{OWL}NamedIndividual": "individual",
    f"{OWL}ObjectProperty": "object_property",
    f"{OWL}TransitiveProperty": "object_property",
    f"{OWL}DatatypeProperty": "data_property",
    f"{OWL}AnnotationProperty": "annotation_property",
    f"{RDF}Property": "object_property",
    f"{OWL}Ontology": "ontology",
}
_RANK = {"class": 0, "property": 1, "individual": 2}
_PROPERTY_KINDS = {
    "object_property": "object_properties",
    "data_property": "data_properties",
    "annotation_property": "annotation_properties",
}
_NODE_CODES = {NamedNode(iri): code for iri, code in _CODES.items()}
_NODE_KINDS = {NamedNode(iri): kind for iri, kind in _KINDS.items()}


def read_rdf(path: Path, fmt: str, sink: TermsSink, header: Header) -> int:
    """Stream ``path`` (an RDF syntax named by ``fmt``) into ``sink``; return the triples.

    Raises
    ------
    OntologyParseError
        ``E_PARSE_RDF`` with the parser's message, line and column when it gives them.
    """
    reader = pyoxigraph.parse(path=path, format=RDF_FORMATS[fmt], base_iri=_base_iri(path, fmt))
    # The loop allocates a tuple per subject and frees it soon after; cyclic garbage
    # collection passes over those cost a quarter of the loop and find nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        count = _stream(reader, sink, header)
    except SyntaxError as exc:
        raise _parse_error(path, fmt, exc) from None
    except OSError as exc:
        raise read_error(exc) from exc
    finally:
        if collecting:
            gc.enable()
    if fmt == "rdfxml":
        _check_closed(path)
    return count


def _stream(reader: pyoxigraph.QuadParser, sink: TermsSink, header: Header) -> int:  # noqa: PLR0912, PLR0915
    # Dicts keyed by NamedNode: hashing the node skips building a Python str per triple.
    get_code, get_kind, named = _NODE_CODES.get, _NODE_KINDS.get, NamedNode
    count = 0
    current: NamedNode | None = None
    value = ""
    label = definition = kind = synonyms = parents = xrefs = replaced = None
    deprecated = False
    # Unpacking a quad builds its three terms in one call, cheaper than three attribute reads.
    for subject, predicate, obj, _ in reader:
        count += 1
        code = get_code(predicate)
        if code is None:
            continue
        if subject != current:
            # Blank nodes (restrictions, axiom annotations) are never terms, and RDF/XML
            # emits a nested one in the middle of its class: it must not end the run.
            if type(subject) is not named:
                continue
            if current is not None:
                _finish(sink, header, (value, label, definition, synonyms, parents, xrefs,
                                       deprecated, replaced, kind))  # fmt: skip
            current = subject
            value = subject.value
            label = definition = kind = synonyms = parents = xrefs = replaced = None
            deprecated = False
        if code == _TYPE:
            found = get_kind(obj)
            if found is None:
                continue
            if found == "ontology":
                header.declare_ontology(value)
                kind = found
                continue
            if found in _PROPERTY_KINDS:
                getattr(header, _PROPERTY_KINDS[found]).add(value)
                found = "property"
            if kind is None or _RANK[found] < _RANK.get(kind, 9):
                kind = found
        elif code == _PARENT:
            # Only named superclasses: restrictions and class expressions are blank nodes.
            if type(obj) is named:
                parents = obj.value if parents is None else f"{parents}{SEP}{obj.value}"
        elif code == _LABEL:
            if label is None:
                label = obj.value
        elif code == _DEFINITION:
            if definition is None:
                definition = obj.value
        elif code == _XREF:
            xrefs = obj.value if xrefs is None else f"{xrefs}{SEP}{obj.value}"
        elif code == _SYNONYM:
            synonyms = obj.value if synonyms is None else f"{synonyms}{SEP}{obj.value}"
        elif code == _DEPRECATED:
            deprecated = obj.value in ("true", "1")
        elif code == _REPLACED:
            replaced = obj.value if replaced is None else f"{replaced}{SEP}{obj.value}"
        else:
            header.note(value, HEADER_PREDICATES[predicate.value], obj.value)
    if current is not None:
        _finish(sink, header, (value, label, definition, synonyms, parents, xrefs, deprecated,
                               replaced, kind))  # fmt: skip
    return count


def _finish(sink: TermsSink, header: Header, row: Row) -> None:
    """Hand one subject's run to the sink, or its label to the header for the ontology."""
    if row[8] == "ontology" or row[0] == header.ontology_iri:
        header.label = header.label or row[1]
    else:
        sink.add(row)


def _parse_error(path: Path, fmt: str, exc: SyntaxError) -> OntologyParseError:
    message = str(exc.msg if exc.msg else exc)
    line, column = exc.lineno, exc.offset
    if line is None and fmt == "rdfxml":
        line, column = locate_xml_error(path)
    where = f" at line {line}, column {column}" if line is not None else ""
    return OntologyParseError(
        f"the RDF parser rejected the file{where}: {message}; the file is damaged or not "
        f"{fmt}: re-fetch it, or check it with a validator such as `riot --validate`",
        code="E_PARSE_RDF",
        path=str(path),
    )


def _base_iri(path: Path, fmt: str) -> str | None:
    """The file's own URI as base, unless the file declares a base or cannot need one.

    Resolving every IRI against a base costs a few per cent, and ontologies nearly
    always declare ``xml:base`` or ``@base``; relative IRIs without either still resolve.
    """
    if fmt in ("ntriples", "nquads"):
        return None  # these syntaxes have absolute IRIs only
    head = read_head(path)
    if fmt == "rdfxml" and b"xml:base=" in head:
        return None
    if fmt in ("turtle", "trig") and re.search(rb"^\s*(@base|BASE)\s", head, re.M | re.I):
        return None
    return path.resolve().as_uri()


def _check_closed(path: Path) -> None:
    """Refuse RDF/XML whose root element never closes.

    pyoxigraph accepts end-of-file inside open elements (it drops the unfinished triple),
    so a file truncated between two elements would otherwise pass as valid.
    """
    root = xml_root(decode_head(read_head(path)))
    if root is None or root[1]:
        return
    name = root[0]
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = decode_head(handle.read())
    tail = _strip_trailing_misc(tail)
    if re.search(rf"</{re.escape(name)}\s*>$", tail):
        return
    lines = column = 0
    with path.open("rb") as handle:
        last = b""
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk
    column = len(last) - last.rfind(b"\n")
    raise OntologyParseError(
        f"the file ends at line {lines + 1}, column {column} before the root element "
        f"<{name}> is closed: it is truncated; re-fetch it",
        code="E_PARSE_RDF",
        path=str(path),
    )


def _strip_trailing_misc(text: str) -> str:
    """Drop the whitespace, comments and processing instructions that may follow the root."""
    text = text.rstrip()
    while text.endswith(("-->", "?>")):
        start = text.rfind("<!--" if text.endswith("-->") else "<?")
        if start < 0:
            break
        text = text[:start].rstrip()
    return text


def locate_xml_error(path: Path) -> tuple[int | None, int | None]:
    """Line and column of the first XML well-formedness error, by a second, cheap pass.

    pyoxigraph's RDF/XML errors carry no position. Only failing files pay for this pass;
    expat runs after the hostile-XML guard and never resolves external entities.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        return exc.lineno, exc.offset + 1
    return None, None
