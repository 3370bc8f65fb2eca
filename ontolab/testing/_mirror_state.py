"""Shared, lock-protected state of the local mirror: content, faults and request log.

The ``Mirror`` facade writes it from the test thread; request handler threads read it.
Content is stored as frozen snapshots that are replaced, never mutated, so a handler can
serve from a snapshot without holding the lock.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, replace

from ontolab.testing._mirror_model import (
    BODY_FAULTS,
    Fault,
    OlsFileLocation,
    Release,
    RequestRecord,
    ServedFile,
)

__all__ = ["MirrorState", "OntologyEntry"]


@dataclass(frozen=True)
class OntologyEntry:
    """Everything the mirror knows about one ontology id, as an immutable snapshot."""

    ols_file_location: OlsFileLocation = "release"
    bioportal_restricted: bool = False
    bioportal_no_file: bool = False
    releases: tuple[Release, ...] = ()

    @property
    def current(self) -> Release | None:
        """The most recently published release, or None before the first publish."""
        return self.releases[-1] if self.releases else None

    def release(self, version: str) -> Release | None:
        """Return the release called ``version``, or None."""
        return next((r for r in self.releases if r.version == version), None)


@dataclass
class _ArmedFault:
    pattern: str
    fault: Fault
    remaining: int | None
    ranged: bool | None = None  # None: any request; False/True: only without/with Range


def _matches(pattern: str, path: str) -> bool:
    return pattern in path or fnmatch.fnmatchcase(path, pattern)


class MirrorState:
    """Content, armed faults and the request log behind one lock."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.base_url = ""
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._ontologies: dict[str, OntologyEntry] = {}
        self._static: dict[str, ServedFile] = {}
        self._faults: list[_ArmedFault] = []
        self._log: list[RequestRecord] = []

    # -- content ------------------------------------------------------------------------

    def ontology(self, ontology_id: str) -> OntologyEntry | None:
        """Return the snapshot for ``ontology_id`` (case-insensitive), or None."""
        with self._lock:
            return self._ontologies.get(ontology_id.lower())

    def update(self, ontology_id: str, release: Release | None = None, **knobs: object) -> None:
        """Apply knob changes and, if given, add ``release`` as the current one.

        A release with the same version as an earlier one replaces it.
        """
        key = ontology_id.lower()
        with self._lock:
            entry = self._ontologies.get(key, OntologyEntry())
            changes = {name: value for name, value in knobs.items() if value is not None}
            if release is not None:
                kept = tuple(r for r in entry.releases if r.version != release.version)
                changes["releases"] = (*kept, release)
            self._ontologies[key] = replace(entry, **changes)  # type: ignore[arg-type]

    def next_submission_id(self, ontology_id: str) -> int:
        """Return the BioPortal-style submission number for the next release."""
        entry = self.ontology(ontology_id)
        return 1 + max((r.submission_id for r in entry.releases), default=0) if entry else 1

    def add_static(self, rel_path: str, served: ServedFile) -> None:
        """Serve ``served`` at ``/files/{rel_path}``."""
        with self._lock:
            self._static[rel_path] = served

    def static(self, rel_path: str) -> ServedFile | None:
        """Return the static file at ``/files/{rel_path}``, or None."""
        with self._lock:
            return self._static.get(rel_path)

    # -- faults -------------------------------------------------------------------------

    def arm(
        self, pattern: str, fault: Fault, times: int | None, ranged: bool | None = None
    ) -> None:
        """Apply ``fault`` to the next ``times`` requests matching ``pattern``."""
        with self._lock:
            self._faults.append(_ArmedFault(pattern, fault, times, ranged))

    def disarm_all(self) -> None:
        """Forget every armed fault."""
        with self._lock:
            self._faults.clear()

    def take_fault(self, path: str, *, body: bool, ranged: bool = False) -> Fault | None:
        """Consume and return the first armed fault matching ``path``.

        ``body`` selects body faults (reset, truncate, trickle, wrong bytes), which only
        a response carrying a file body can consume; the others replace any response.
        """
        with self._lock:
            for armed in self._faults:
                if (armed.fault.kind in BODY_FAULTS) != body or not _matches(armed.pattern, path):
                    continue
                if armed.ranged is not None and armed.ranged != ranged:
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._faults.remove(armed)
                return armed.fault
        return None

    # -- request log --------------------------------------------------------------------

    def begin(self) -> None:
        """Count a request as in flight until ``finish`` records it."""
        with self._lock:
            self._in_flight += 1

    def finish(self, record: RequestRecord) -> None:
        """Append ``record`` to the log and end its in-flight count."""
        with self._lock:
            self._log.append(record)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def log(self) -> list[RequestRecord]:
        """Return a copy of the request log."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()
