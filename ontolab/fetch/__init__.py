"""Plan → artifacts in the content-addressed store: conditional GET, resume, sha256, locks."""

from __future__ import annotations

from ontolab.fetch._download import Downloaded, NoProgress, Progress, download
from ontolab.fetch._fetcher import Fetcher
from ontolab.fetch._locks import LockTimeout, ontology_lock
from ontolab.fetch._store import ContentStore

__all__ = [
    "ContentStore",
    "Downloaded",
    "Fetcher",
    "LockTimeout",
    "NoProgress",
    "Progress",
    "download",
    "ontology_lock",
]
