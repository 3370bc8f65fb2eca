"""Response models: what each route answers, so the OpenAPI document is exact.

Field names are the catalog's column names (as ``--json`` listings use them); timestamps are
ISO 8601 in UTC; JSON text columns (metrics, messages, payload) are parsed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ontolab.service._pages import Page

__all__ = [
    "DiffPage",
    "DiffRow",
    "Event",
    "FileEntry",
    "Health",
    "LiveVersion",
    "OntologyDetail",
    "OntologySummary",
    "Term",
    "TermPage",
    "Validation",
    "Version",
]


class _Row(BaseModel):
    # Listings may grow columns; the API answers with the documented ones.
    model_config = ConfigDict(extra="ignore")


class Health(BaseModel):
    status: str = Field(description="'ok' while the process serves requests.")
    version: str = Field(description="The ontolab version.")


class LiveVersion(_Row):
    """The live version of one ontology (``db latest``)."""

    ontology: str
    version: str
    status: str
    promoted_at: datetime | None
    promoted_by: str | None
    promoted_because: str | None
    version_iri: str | None
    release_date: date | None
    licence: str | None
    sha256: str | None
    created_at: datetime | None


class OntologySummary(_Row):
    """One stored ontology."""

    ontology: str
    live_version: str | None = Field(description="The version the latest pointer names.")
    status: str | None = Field(description="Status of the live version, else of the newest.")
    versions: int = Field(description="Versions recorded.")
    good: int = Field(description="Versions that passed validation and gates.")
    title: str | None
    licence: str | None
    newest: datetime | None = Field(description="When the newest version was recorded.")


class Version(_Row):
    """One recorded version (``db versions``)."""

    ontology: str
    version: str
    status: str
    reason: str | None
    live: bool
    pinned: bool | None
    version_iri: str | None
    release_date: date | None
    licence: str | None
    resolver: str | None
    sha256: str | None
    run_id: str | None
    created_at: datetime | None
    updated_at: datetime | None


class OntologyDetail(BaseModel):
    """One ontology: its versions and, for one of them, licence and provenance."""

    ontology: str
    version: str = Field(description="The version detailed: ?version=, else live, else newest.")
    live: str | None
    status: str
    reason: str | None
    pinned: bool | None
    title: str | None
    licence: str | None
    version_iri: str | None
    release_date: date | None
    source: dict[str, Any] | None = Field(description="How the ontology is configured.")
    provenance: dict[str, Any] = Field(description="URL, redirects, sha256, fetch time, tools.")
    timings: dict[str, Any] | None
    versions: list[Version]


class FileEntry(_Row):
    """A file of a version (the download, or a member extracted from it)."""

    ontology: str
    version: str
    member: str
    format: str | None
    size: int | None
    sha256: str | None
    artifact_sha256: str | None
    chain: str | None
    created_at: datetime | None
    download: str = Field(description="URL that streams the file.")


class Validation(_Row):
    """One validator result."""

    ontology: str
    version: str
    member: str | None
    validator: str
    passed: bool | None
    skipped: bool | None
    reason: str | None
    error_code: str | None
    metrics: Any = Field(None, description="The validator's metrics (JSON).")
    messages: Any = Field(None, description="The validator's messages (JSON).")
    validated_at: datetime | None
    duration_s: float | None
    run_id: str | None
    validation_id: str | None


class Event(_Row):
    """One event of the log."""

    ts: datetime
    level: str
    event: str
    ontology: str | None
    version: str | None
    stage: str | None
    duration_s: float | None
    error_code: str | None
    message: str | None
    payload: Any = Field(None, description="Event-specific details (JSON).")
    run_id: str | None
    event_id: str | None


class DiffRow(_Row):
    """A term that changed; a term appears once per kind of change."""

    id: str
    change: str = Field(description="added, removed, obsoleted, unobsoleted, relabelled, ...")
    label_from: str | None
    label_to: str | None
    parents_from: list[str] | None
    parents_to: list[str] | None


class DiffPage(Page[DiffRow]):
    """Term-level changes between two versions: counts per kind and a page of rows."""

    model_config = ConfigDict(populate_by_name=True)

    ontology: str
    from_version: str = Field(alias="from")
    to_version: str = Field(alias="to")
    summary: dict[str, int] = Field(description="Changes per kind, every kind present.")


class Term(_Row):
    """A row of a version's terms table."""

    id: str
    iri: str | None
    label: str | None
    definition: str | None
    synonyms: list[str] | None
    parents: list[str] | None
    xrefs: list[str] | None
    deprecated: bool | None
    replaced_by: list[str] | None
    kind: str | None


class TermPage(Page[Term]):
    """A page of a version's terms, ordered by id."""

    ontology: str
    version: str
