"""What an ontology says about itself: IRI, version, imports, licence, title.

Every reader fills one :class:`Header` while it streams; the version rules live here once:
``data-version`` (normalised), else the ``/releases/X/`` part of the version IRI, else
``owl:versionInfo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ontolab.formats import normalise_data_version, release_from_iri

OWL = "http://www.w3.org/2002/07/owl#"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
# OBO release PURLs (/releases/2024-01-16/), GitHub assets (/releases/download/v2024-01-16/)
# Predicates of the ontology header, by what they mean.
HEADER_PREDICATES = {
    f"{OWL}versionIRI": "version_iri",
    f"{OWL}versionInfo": "version_info",
    f"{OWL}imports": "imports",
    f"{DCTERMS}license": "licence",
    f"{DC}license": "licence",
    f"{DCTERMS}title": "title",
    f"{DC}title": "title",
}
# Header values kept for subjects seen before the owl:Ontology declaration (bounded).
_MAX_PENDING = 1000
_MAX_DISTINCT = 1_000_000


class Distinct:
    """Count distinct strings with bounded memory: past ``limit`` it counts every add."""

    def __init__(self, limit: int = _MAX_DISTINCT) -> None:
        self._seen: set[str] = set()
        self._limit = limit
        self._overflow = 0

    def add(self, value: str) -> None:
        if len(self._seen) < self._limit:
            self._seen.add(value)
        elif value not in self._seen:
            self._overflow += 1

    def __len__(self) -> int:
        return len(self._seen) + self._overflow


@dataclass
class Header:
    """Ontology-level facts collected while streaming."""

    ontology_iri: str | None = None
    version_iri: str | None = None
    version_info: str | None = None
    data_version: str | None = None
    imports: list[str] = field(default_factory=list)
    licence: str | None = None
    title: str | None = None
    label: str | None = None
    object_properties: Distinct = field(default_factory=Distinct)
    data_properties: Distinct = field(default_factory=Distinct)
    annotation_properties: Distinct = field(default_factory=Distinct)
    _pending: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def version(self) -> str | None:
        if self.data_version:
            return normalise_data_version(self.data_version)
        return release_from_iri(self.version_iri) or self.version_info

    def declare_ontology(self, iri: str) -> None:
        """The subject of ``rdf:type owl:Ontology``; the first one wins (imports come later)."""
        if self.ontology_iri is None:
            self.ontology_iri = iri
            pending, self._pending = self._pending, []
            for subject, what, value in pending:
                self.note(subject, what, value)

    def note(self, subject: str, what: str, value: str) -> None:
        """Record header fact ``what`` (see HEADER_PREDICATES) stated about ``subject``."""
        if self.ontology_iri is None:
            if len(self._pending) < _MAX_PENDING:
                self._pending.append((subject, what, value))
            return
        if subject != self.ontology_iri:
            return
        if what == "imports":
            if value not in self.imports:
                self.imports.append(value)
        elif getattr(self, what) is None:
            setattr(self, what, value)
