"""Path and query parameters shared by the API's routes: bounded, control-free text.

Ontology ids follow the config's rule; versions and filters may be any printable text. Both
are bounded in length and free of control characters, so no input reaches a backend that
could choke on it (a 4xx for the client, never a 5xx).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["PRINTABLE", "OntologyPath", "Text", "VersionPath"]

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
OntologyPath = Annotated[
    str,
    Path(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=200, description="Ontology id."),
]
VersionPath = Annotated[str, Path(pattern=PRINTABLE, max_length=200, description="Version.")]
Text = Annotated[str | None, Query(pattern=PRINTABLE, max_length=200)]
