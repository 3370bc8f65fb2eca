"""OWL/XML and OWL functional syntax, read whole by py-horned-owl (no streaming parser
exists for them), so the caller bounds the file size first."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ontolab.errors import OntologyParseError
from ontolab.validate._header import HEADER_PREDICATES, Header
from ontolab.validate._terms import TermsSink, joined

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OBO = "http://purl.obolibrary.org/obo/"
OIO = "http://www.geneontology.org/formats/oboInOwl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
_SERIALISATION: dict[str, Literal["owx", "ofn"]] = {"owlxml": "owx", "functional": "ofn"}
_FIELDS = {
    f"{RDFS}label": "label",
    f"{SKOS}prefLabel": "label",
    f"{OBO}IAO_0000115": "definition",
    f"{SKOS}definition": "definition",
    f"{OIO}hasExactSynonym": "synonyms",
    f"{OIO}hasRelatedSynonym": "synonyms",
    f"{OIO}hasBroadSynonym": "synonyms",
    f"{OIO}hasNarrowSynonym": "synonyms",
    f"{OBO}IAO_0000118": "synonyms",
    f"{SKOS}altLabel": "synonyms",
    f"{OIO}hasDbXref": "xrefs",
    f"{OBO}IAO_0100001": "replaced_by",
    f"{OWL}deprecated": "deprecated",
}
_DECLARATIONS = {
    "DeclareClass": ("class", None),
    "DeclareObjectProperty": ("property", "object"),
    "DeclareDataProperty": ("property", "data"),
    "DeclareAnnotationProperty": ("property", "annotation"),
    "DeclareNamedIndividual": ("individual", None),
}


@dataclass
class _Term:
    kind: str | None = None
    label: str | None = None
    definition: str | None = None
    deprecated: bool = False
    lists: dict[str, list[str]] = field(default_factory=dict)

    def row(self, subject: str) -> tuple[Any, ...]:
        lists = self.lists
        return (
            subject,
            self.label,
            self.definition,
            joined(lists.get("synonyms", [])),
            joined(lists.get("parents", [])),
            joined(lists.get("xrefs", [])),
            self.deprecated,
            joined(lists.get("replaced_by", [])),
            self.kind,
        )


def read_owl(path: Path, fmt: str, sink: TermsSink, header: Header) -> int:
    """Load ``path`` (``owlxml`` or ``functional``) and write its terms; return the axioms.

    Raises
    ------
    OntologyParseError
        ``E_PARSE_OWL`` with py-horned-owl's message.
    """
    import pyhornedowl

    # The package's stubs do not declare the model module: reach it untyped.
    model: Any = importlib.import_module("pyhornedowl.model")

    try:
        ontology = pyhornedowl.open_ontology_from_file(str(path), _SERIALISATION[fmt])
    except ValueError as exc:
        message = " ".join(str(exc).split())[:500]
        raise OntologyParseError(
            f"the OWL parser (py-horned-owl) rejected the file: {message}; the file is "
            f"damaged or not {fmt}: re-fetch it",
            code="E_PARSE_OWL",
            path=str(path),
        ) from None
    terms: dict[str, _Term] = {}
    components = ontology.get_components()
    ontology_annotations: list[Any] = []
    for annotated in components:
        item = annotated.component
        if isinstance(item, model.OntologyAnnotation):
            ontology_annotations.append(item.first)  # the OntologyID may come later
        else:
            _component(item, model, terms, header)
    for annotation in ontology_annotations:
        _ontology_annotation(annotation, model, header)
    for subject, term in terms.items():
        sink.add(term.row(subject))
    return len(components)


def _component(item: Any, model: Any, terms: dict[str, _Term], header: Header) -> None:
    name = type(item).__name__
    if name in _DECLARATIONS:
        kind, family = _DECLARATIONS[name]
        subject = str(item.first.first)
        term = terms.setdefault(subject, _Term())
        if term.kind is None or kind == "class":
            term.kind = kind
        if family is not None:
            getattr(header, f"{family}_properties").add(subject)
    elif isinstance(item, model.AnnotationAssertion):
        if isinstance(item.subject, model.IRI):
            _annotate(terms.setdefault(str(item.subject), _Term()), item.ann, model)
    elif isinstance(item, model.SubClassOf):
        if isinstance(item.sub, model.Class) and isinstance(item.sup, model.Class):
            term = terms.setdefault(str(item.sub.first), _Term())
            term.lists.setdefault("parents", []).append(str(item.sup.first))
    elif isinstance(item, model.OntologyID):
        if item.iri is not None:
            header.declare_ontology(str(item.iri))
        if item.viri is not None:
            header.version_iri = str(item.viri)
    elif isinstance(item, model.Import):
        header.imports.append(str(item.first))


def _annotate(term: _Term, annotation: Any, model: Any) -> None:
    target = _FIELDS.get(str(annotation.ap.first))
    if target is None:
        return
    value = _value(annotation.av, model)
    if target == "label":
        term.label = term.label or value
    elif target == "definition":
        term.definition = term.definition or value
    elif target == "deprecated":
        term.deprecated = value in ("true", "1")
    else:
        term.lists.setdefault(target, []).append(value)


def _ontology_annotation(annotation: Any, model: Any, header: Header) -> None:
    predicate = str(annotation.ap.first)
    value = _value(annotation.av, model)
    if predicate == f"{RDFS}label":
        header.label = header.label or value
    elif predicate in HEADER_PREDICATES and header.ontology_iri is not None:
        header.note(header.ontology_iri, HEADER_PREDICATES[predicate], value)


def _value(value: Any, model: Any) -> str:
    if isinstance(value, model.IRI):
        return str(value)
    literal = getattr(value, "literal", None)
    return str(literal) if literal is not None else str(value)
