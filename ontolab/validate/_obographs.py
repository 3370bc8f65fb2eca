"""OBO Graphs JSON, streamed with ijson: one node or edge object in memory at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import ijson
from ijson.common import ObjectBuilder

from ontolab.errors import OntologyParseError
from ontolab.validate._header import HEADER_PREDICATES, Header
from ontolab.validate._terms import TermsSink, joined

OBO = "http://purl.obolibrary.org/obo/"
_NODE = "graphs.item.nodes.item"
_EDGE = "graphs.item.edges.item"
_META = "graphs.item.meta"
_REPLACED_BY = frozenset({f"{OBO}IAO_0100001", "IAO:0100001"})
_IS_A = frozenset({"is_a", "http://www.w3.org/2000/01/rdf-schema#subClassOf"})
_KINDS = {"CLASS": "class", "PROPERTY": "property", "INDIVIDUAL": "individual"}
_PROPERTY_TYPES = {"OBJECT": "object", "DATA": "data", "ANNOTATION": "annotation"}


class _CountingReader:
    """A binary file that remembers how far it has been read, to place parse errors."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.offset = 0
        self.previous = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.previous, self.offset = self.offset, self.offset + len(data)
        return data


def read_obographs(path: Path, sink: TermsSink, header: Header) -> int:
    """Stream the OBO Graphs JSON file ``path`` into ``sink``; return the number of nodes.

    Raises
    ------
    OntologyParseError
        ``E_PARSE_JSON`` with ijson's message and the byte range it was reading.
    """
    with path.open("rb") as handle:
        reader = _CountingReader(handle)
        try:
            return _stream(reader, sink, header)
        except ijson.JSONError as exc:
            detail = " ".join(str(exc).split())
            raise OntologyParseError(
                f"the JSON parser rejected the file between bytes {reader.previous} and "
                f"{reader.offset}: {detail}; the file is damaged or truncated: re-fetch it",
                code="E_PARSE_JSON",
                path=str(path),
            ) from None


def _stream(reader: _CountingReader, sink: TermsSink, header: Header) -> int:
    nodes = 0
    builder: ObjectBuilder | None = None
    target = ""
    edges = _EdgeRun(sink)
    for prefix, event, value in ijson.parse(reader, use_float=True):
        if builder is not None:
            builder.event(event, value)
            if prefix == target and event == "end_map":
                if target == _NODE:
                    nodes += 1
                    sink.add(_node_row(builder.value, header))
                elif target == _EDGE:
                    edges.add(builder.value)
                else:
                    _read_meta(builder.value, header)
                builder = None
        elif event == "start_map" and prefix in (_NODE, _EDGE, _META):
            builder, target = ObjectBuilder(), prefix
            builder.event(event, value)
        elif prefix == "graphs.item.id" and event == "string":
            header.declare_ontology(value)
    edges.close()
    return nodes


def _node_row(node: dict[str, Any], header: Header) -> tuple[Any, ...]:
    ident = str(node.get("id", ""))
    meta = node.get("meta") or {}
    kind = _KINDS.get(str(node.get("type", "")).upper())
    if kind == "property":
        family = _PROPERTY_TYPES.get(str(node.get("propertyType", "")).upper(), "object")
        getattr(header, f"{family}_properties").add(ident)
    definition = (meta.get("definition") or {}).get("val")
    values = meta.get("basicPropertyValues") or []
    return (
        ident,
        node.get("lbl"),
        definition,
        _join(s.get("val") for s in meta.get("synonyms") or []),
        None,
        _join(x.get("val") for x in meta.get("xrefs") or []),
        bool(meta.get("deprecated", False)),
        _join(v.get("val") for v in values if v.get("pred") in _REPLACED_BY),
        kind,
    )


def _read_meta(meta: dict[str, Any], header: Header) -> None:
    """The first graph's meta: version IRI and header property values."""
    if header.ontology_iri is None:
        return
    version = meta.get("version")
    if isinstance(version, str) and header.version_iri is None:
        header.version_iri = version
    for value in meta.get("basicPropertyValues") or []:
        what = HEADER_PREDICATES.get(str(value.get("pred", "")))
        if what is not None and value.get("val") is not None:
            header.note(header.ontology_iri, what, str(value["val"]))


def _join(values: Any) -> str | None:
    return joined([str(v) for v in values if v is not None])


class _EdgeRun:
    """``is_a`` edges of one subject, flushed as a parents-only row when the subject changes."""

    def __init__(self, sink: TermsSink) -> None:
        self.sink = sink
        self.subject: str | None = None
        self.parents: list[str] = []

    def add(self, edge: dict[str, Any]) -> None:
        if edge.get("pred") not in _IS_A or not edge.get("sub") or not edge.get("obj"):
            return
        if edge["sub"] != self.subject:
            self.close()
            self.subject = str(edge["sub"])
        self.parents.append(str(edge["obj"]))

    def close(self) -> None:
        if self.subject is not None and self.parents:
            row = (self.subject, None, None, None, joined(self.parents), None, False, None, None)
            self.sink.add(row)
        self.subject, self.parents = None, []
