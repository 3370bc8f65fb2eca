"""JSON documents of the simulated OLS4 and BioPortal APIs.

Shapes follow the real services closely enough for resolvers written against them:
OLS4 ``/api/ontologies/{id}`` and BioPortal ``/ontologies/{ACRONYM}/latest_submission``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any

from ontolab.testing._mirror_model import Release
from ontolab.testing._mirror_state import OntologyEntry

__all__ = [
    "BIOPORTAL_NO_FILE",
    "BIOPORTAL_RESTRICTED",
    "BIOPORTAL_UNAUTHORIZED",
    "BIOPORTAL_UNKNOWN",
    "bioportal_error",
    "bioportal_submission",
    "ols_not_found",
    "ols_ontology",
    "release_path",
]

_OBO_PURL = "http://purl.obolibrary.org/obo"
# BioPortal reports dates in US Pacific time with an explicit offset.
_PACIFIC = timezone(timedelta(hours=-8))

BIOPORTAL_UNAUTHORIZED = (
    "You must provide a valid API Key. "
    "Your API Key can be obtained by logging in at https://bioportal.bioontology.org/account"
)
BIOPORTAL_RESTRICTED = (
    "Access denied: the licence of this ontology restricts downloads "
    "(license restrictions); ask the ontology owner for access"
)
BIOPORTAL_NO_FILE = "There is no file available for download for this ontology submission"
BIOPORTAL_UNKNOWN = "You must provide a valid `acronym` to retrieve an ontology"


def release_path(ontology_id: str, version: str, name: str) -> str:
    """Return the mirror path of a release file, ``/obo/{id}/releases/{version}/{name}``."""
    return f"/obo/{ontology_id}/releases/{version}/{name}"


def ols_ontology(
    ontology_id: str, entry: OntologyEntry, release: Release, base_url: str
) -> dict[str, Any]:
    """Return the OLS4 ontology document for the current ``release``."""
    file_location: str | None
    if entry.ols_file_location == "release":
        file_location = base_url + release_path(ontology_id, release.version, release.main)
    elif entry.ols_file_location == "iri":
        # The ontology IRI, which is not a file the mirror serves.
        file_location = f"{_OBO_PURL}/{ontology_id}.owl"
    else:
        file_location = None
    config: dict[str, Any] = {
        "id": ontology_id,
        "title": release.title or ontology_id.upper(),
        "namespace": ontology_id,
        "version": release.version,
        "versionIri": f"{_OBO_PURL}/{ontology_id}/releases/{release.version}/{ontology_id}.owl",
        "fileLocation": file_location,
        "preferredPrefix": ontology_id.upper(),
        "baseUris": [f"{_OBO_PURL}/{ontology_id.upper()}_"],
        "allowDownload": True,
    }
    if release.license:
        config["license"] = {"label": release.license}
    doc: dict[str, Any] = {
        "ontologyId": ontology_id,
        "loaded": release.published.astimezone(UTC).isoformat(timespec="seconds"),
        "updated": release.published.astimezone(UTC).isoformat(timespec="seconds"),
        "status": "LOADED",
        "message": "",
        "config": config,
        "_links": {"self": {"href": f"{base_url}/ols4/api/ontologies/{ontology_id}"}},
    }
    if release.number_of_terms is not None:
        doc["numberOfTerms"] = release.number_of_terms
    return doc


def ols_not_found(path: str) -> dict[str, Any]:
    """Return the Spring-style 404 document OLS4 sends for an unknown ontology."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "status": 404,
        "error": "Not Found",
        "path": path,
    }


def bioportal_submission(acronym: str, release: Release, base_url: str) -> dict[str, Any]:
    """Return the BioPortal ``latest_submission`` document for ``release``."""
    ontology_url = f"{base_url}/bioportal/ontologies/{acronym}"
    suffixes = PurePosixPath(release.main).suffixes
    language = "OBO" if ".obo" in suffixes else "OWL"
    released = release.files[release.main].last_modified.astimezone(_PACIFIC)
    return {
        "@id": f"{ontology_url}/submissions/{release.submission_id}",
        "@type": "http://data.bioontology.org/metadata/OntologySubmission",
        "submissionId": release.submission_id,
        "version": release.version,
        "released": released.isoformat(timespec="seconds"),
        "creationDate": released.isoformat(timespec="seconds"),
        "hasOntologyLanguage": language,
        "ontology": {
            "@id": ontology_url,
            "@type": "http://data.bioontology.org/metadata/Ontology",
            "acronym": acronym,
            "name": release.title or acronym,
            "links": {
                "download": f"{ontology_url}/download",
                "latest_submission": f"{ontology_url}/latest_submission",
            },
        },
    }


def bioportal_error(status: int, message: str) -> dict[str, Any]:
    """Return a BioPortal error document."""
    return {"errors": [message], "status": status}
