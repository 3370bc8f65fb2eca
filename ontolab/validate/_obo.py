"""OBO 1.2/1.4 streamed frame by frame with fastobo; every frame is one terms row."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import fastobo
from fastobo import header as obo_header
from fastobo import instance as obo_instance
from fastobo import term as obo_term
from fastobo import typedef as obo_typedef

from ontolab.errors import OntologyParseError
from ontolab.formats import read_error
from ontolab.validate._header import DC, DCTERMS, HEADER_PREDICATES, OWL, Header
from ontolab.validate._terms import TermsSink, joined

OBO = "http://purl.obolibrary.org/obo/"
THREADED_MAX_BYTES = 25_000_000
_DEFAULT_PREFIXES = {"dc": DC, "dcterms": DCTERMS, "terms": DCTERMS, "owl": OWL}
_REPLACED_BY = frozenset({"IAO:0100001", f"{OBO}IAO_0100001"})
_LICENCE_REMARK = re.compile(r"licen[cs]e", re.I)

_NAME, _DEF, _SYNONYM, _PARENT, _XREF, _OBSOLETE, _REPLACED, _METADATA, _PROPERTY = range(9)
_SUPER_RELATION = 9
_CLAUSES: dict[type[Any], int] = {}
for _module in (obo_term, obo_typedef, obo_instance):
    for _name, _code in (
        ("NameClause", _NAME),
        ("DefClause", _DEF),
        ("SynonymClause", _SYNONYM),
        ("IsAClause", _PARENT),
        ("XrefClause", _XREF),
        ("IsObsoleteClause", _OBSOLETE),
        ("ReplacedByClause", _REPLACED),
        ("IsMetadataTagClause", _METADATA),
        ("PropertyValueClause", _PROPERTY),
    ):
        if hasattr(_module, _name):
            _CLAUSES[getattr(_module, _name)] = _code
# A Typedef's is_a names its parent relation in .typedef, not .term.
_CLAUSES[obo_typedef.IsAClause] = _SUPER_RELATION
_KINDS = {
    obo_term.TermFrame: "class",
    obo_typedef.TypedefFrame: "property",
    obo_instance.InstanceFrame: "individual",
}


def read_obo(path: Path, sink: TermsSink, header: Header) -> int:
    """Stream the frames of the OBO file ``path`` into ``sink``; return how many there were.

    Raises
    ------
    OntologyParseError
        ``E_PARSE_OBO`` with fastobo's message, line and column.
    """
    count = 0
    try:
        # fastobo's threaded reader runs ahead of its consumer without bound (about
        # 3.5 times the file size in memory); past a modest size, one thread keeps memory
        # flat at half the speed.
        threads = 0 if path.stat().st_size <= THREADED_MAX_BYTES else 1
        reader = fastobo.iter(str(path), threads=threads)
        _read_header(reader.header(), header)
        for frame in reader:
            count += 1
            sink.add(_row(frame, header))
    except SyntaxError as exc:
        where = f" at line {exc.lineno}, column {exc.offset}" if exc.lineno else ""
        line = f" ({exc.text.strip()!r})" if exc.text else ""
        raise OntologyParseError(
            f"the OBO parser rejected the file{where}{line}: {exc.msg}; the file is damaged "
            "or not OBO 1.4: re-fetch it or fix that line",
            code="E_PARSE_OBO",
            path=str(path),
        ) from None
    except OSError as exc:
        # fastobo reports undecodable bytes as an OSError without errno.
        if exc.errno is not None:
            raise read_error(exc) from exc
        raise OntologyParseError(
            f"the OBO parser could not read the file: {exc}; OBO files are UTF-8: re-fetch "
            "it or convert it",
            code="E_PARSE_OBO",
            path=str(path),
        ) from None
    return count


def _row(frame: Any, header: Header) -> tuple[Any, ...]:  # noqa: PLR0912
    ident = str(frame.id)
    kind = _KINDS.get(type(frame))
    label = definition = None
    synonyms: list[str] = []
    parents: list[str] = []
    xrefs: list[str] = []
    replaced: list[str] = []
    deprecated = metadata = False
    # fastobo's InstanceFrame does not expose its clauses: an instance row has its id only.
    for clause in () if kind == "individual" else frame:
        code = _CLAUSES.get(type(clause))
        if code is None:
            continue
        if code == _PARENT:
            parents.append(str(clause.term))
        elif code == _NAME:
            label = clause.name
        elif code == _DEF:
            definition = clause.definition
        elif code == _SYNONYM:
            synonyms.append(clause.synonym.desc)
        elif code == _XREF:
            xrefs.append(str(clause.xref.id))
        elif code == _OBSOLETE:
            deprecated = bool(clause.obsolete)
        elif code == _REPLACED:
            replaced.append(str(clause.term))
        elif code == _SUPER_RELATION:
            parents.append(str(clause.typedef))
        elif code == _METADATA:
            metadata = bool(clause.metadata_tag)
        elif str(clause.property_value.relation) in _REPLACED_BY:
            replaced.append(str(clause.property_value.value))
    if kind == "property":
        target = header.annotation_properties if metadata else header.object_properties
        target.add(ident)
    return (
        ident,
        label,
        definition,
        joined(synonyms),
        joined(parents),
        joined(xrefs),
        deprecated,
        joined(replaced),
        kind,
    )


def _read_header(frame: Any, header: Header) -> None:
    prefixes = dict(_DEFAULT_PREFIXES)
    remarks: list[str] = []
    values: list[tuple[str, str]] = []
    for clause in frame:
        if isinstance(clause, obo_header.DataVersionClause):
            header.data_version = clause.version
        elif isinstance(clause, obo_header.OntologyClause):
            header.declare_ontology(_ontology_iri(clause.ontology))
        elif isinstance(clause, obo_header.ImportClause):
            header.imports.append(str(clause.reference))
        elif isinstance(clause, obo_header.RemarkClause):
            remarks.append(clause.remark)
        elif isinstance(clause, obo_header.IdspaceClause):
            prefixes[str(clause.prefix)] = str(clause.url)
        elif isinstance(clause, obo_header.PropertyValueClause):
            value = clause.property_value
            values.append((str(value.relation), str(value.value)))
    for relation, value in values:
        what = HEADER_PREDICATES.get(_expand(relation, prefixes))
        if what is not None and header.ontology_iri is not None:
            header.note(header.ontology_iri, what, value)
    if header.licence is None:
        header.licence = next((r for r in remarks if _LICENCE_REMARK.search(r)), None)


def _expand(curie: str, prefixes: dict[str, str]) -> str:
    prefix, _, local = curie.partition(":")
    if local.startswith("//"):
        return curie
    return prefixes.get(prefix, f"{OBO}{prefix}_") + local if local else curie


def _ontology_iri(name: str) -> str:
    """``ontology: hp`` (or ``hp.obo``) → ``http://purl.obolibrary.org/obo/hp.owl``."""
    if "://" in name:
        return name
    return f"{OBO}{name.removesuffix('.obo').removesuffix('.owl')}.owl"
