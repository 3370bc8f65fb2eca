"""``validate_file``: detect, guard, stream once, measure, write the terms table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from ontolab.errors import NotAnOntology, OntolabError
from ontolab.formats import (
    FORMATS,
    RDF_FORMATS,
    XML_FORMATS,
    detect_format,
    read_error,
)
from ontolab.settings import ValidateSettings
from ontolab.validate._header import Header
from ontolab.validate._merge import TermCounts
from ontolab.validate._model import Message, OntologyMetrics, ValidationReport
from ontolab.validate._obo import read_obo
from ontolab.validate._obographs import read_obographs
from ontolab.validate._owl import read_owl
from ontolab.validate._rdf import read_rdf
from ontolab.validate._terms import TermsSink
from ontolab.validate._xmlguard import check_xml


def validate_file(
    path: Path,
    *,
    fmt: str | None = None,
    terms_path: Path | None = None,
    settings: ValidateSettings,
    ontology_id: str | None = None,
) -> ValidationReport:
    """Validate one ontology file in a single streaming pass.

    Parameters
    ----------
    path
        The file (decompressed; the extract stage unpacks archives).
    fmt
        Its syntax (see :func:`detect_format`); detected from the content when None.
    terms_path
        Where to write the terms table (Parquet) when ``settings.terms_table`` is on; it
        appears atomically, and never after a failure.
    settings
        ``validate`` settings: XML entity limit, size limit for OWL/XML and functional
        syntax, ``strict`` (warnings fail the report).
    ontology_id
        Added to errors as context.

    Returns
    -------
    ValidationReport
        Metrics, the terms table's path and row count, warnings.

    Raises
    ------
    NotAnOntology
        ``E_FORMAT_HTML``, ``E_FORMAT_UNKNOWN``, or ``E_NO_TERMS`` for a file that parses
        but declares no term.
    UnsafeXML
        ``E_XML_EXTERNAL_ENTITY``, ``E_XML_ENTITY_EXPANSION``, ``E_XML_DOCTYPE``.
    OntologyParseError
        ``E_PARSE_RDF``, ``E_PARSE_OBO``, ``E_PARSE_JSON``, ``E_PARSE_OWL``.
    StorageError
        The terms table cannot be written.
    """
    path = Path(path)
    started = time.perf_counter()
    try:
        return _validate(path, fmt, terms_path, settings, started)
    except OntolabError as exc:
        exc.with_context(ontology_id=ontology_id, path=str(path))
        raise


def _validate(
    path: Path,
    fmt: str | None,
    terms_path: Path | None,
    settings: ValidateSettings,
    started: float,
) -> ValidationReport:
    try:
        size = path.stat().st_size
        fmt = fmt or detect_format(path)
    except OSError as exc:
        raise read_error(exc) from exc
    _check_format(fmt)
    if fmt in XML_FORMATS:
        check_xml(path, max_entities=settings.max_xml_entities)
    output = terms_path if terms_path is not None and settings.terms_table else None
    header = Header()
    messages: list[Message] = []
    triples = frames = axioms = None
    skipped = False
    subjects: Literal["iri", "curie"] = "curie" if fmt == "obo" else "iri"
    # Ontologies spend a few hundred bytes per term: enough to size the repeat filter.
    with TermsSink(output, subjects=subjects, expected_rows=size // 300) as sink:
        if fmt in RDF_FORMATS:
            triples = read_rdf(path, fmt, sink, header)
        elif fmt == "obo":
            frames = read_obo(path, sink, header)
        elif fmt == "obographs":
            frames = read_obographs(path, sink, header)
        elif size > settings.deep_max_bytes:
            # py-horned-owl loads the whole file; above the deep size limit that could
            # exhaust memory, so only the syntax was sniffed and no terms are listed.
            skipped = True
            messages.append(
                Message(
                    "warning",
                    "W_TERMS_SKIPPED",
                    f"{fmt} files are not streamed and this one ({size} bytes) is above "
                    f"validate.deep_max_bytes ({int(settings.deep_max_bytes)}): no metrics "
                    "or terms table; convert it to RDF/XML or OBO to get them",
                ),
            )
        else:
            axioms = read_owl(path, fmt, sink, header)
        counts = sink.finish()
    written = sink.written
    if counts.terms == 0 and not skipped:
        if written is not None:
            written.unlink()
        raise NotAnOntology(
            "the file parses but declares no class, property or individual; it is empty or "
            "not an ontology",
            code="E_NO_TERMS",
        )
    if header.version is None and not skipped:
        messages.append(Message("info", "I_NO_VERSION", "the file declares no version"))
    passed = not any(
        m.level == "error" or (settings.strict and m.level == "warning") for m in messages
    )
    return ValidationReport(
        path=path,
        format=fmt,
        passed=passed,
        metrics=_metrics(header, counts, (triples, frames, axioms)),
        terms_path=written,
        terms_count=counts.terms,
        messages=tuple(messages),
        duration_s=time.perf_counter() - started,
        bytes=size,
    )


def _check_format(fmt: str) -> None:
    if fmt == "html":
        raise NotAnOntology(
            "the file is an HTML page, not an ontology: the server answered with a web "
            "page (an error or login page?); check the URL",
            code="E_FORMAT_HTML",
        )
    if fmt == "unknown" or fmt not in FORMATS:
        raise NotAnOntology(
            "the file's content matches no ontology syntax (RDF/XML, OWL/XML, Turtle, "
            "N-Triples, N-Quads, TriG, JSON-LD, OBO Graphs JSON, OBO, OWL functional); "
            "check the URL or set the format explicitly",
            code="E_FORMAT_UNKNOWN",
        )


def _metrics(
    header: Header, counts: TermCounts, statements: tuple[int | None, int | None, int | None]
) -> OntologyMetrics:
    live = counts.classes - counts.deprecated
    triples, frames, axioms = statements
    return OntologyMetrics(
        triples=triples,
        frames=frames,
        axioms=axioms,
        classes=counts.classes,
        object_properties=len(header.object_properties),
        data_properties=len(header.data_properties),
        annotation_properties=len(header.annotation_properties),
        individuals=counts.individuals,
        deprecated=counts.deprecated,
        labelled=counts.labelled,
        defined=counts.defined,
        label_coverage=counts.labelled / live if live > 0 else 0.0,
        definition_coverage=counts.defined / live if live > 0 else 0.0,
        ontology_iri=header.ontology_iri,
        version_iri=header.version_iri,
        version=header.version,
        imports=tuple(header.imports),
        licence=header.licence,
        title=header.title or header.label,
    )
