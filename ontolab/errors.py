"""Every ontolab exception, rooted at :class:`OntolabError`.

::

    OntolabError                      code, ontology_id, url, path, run_id, reason
    ├── ConfigError                   bad config file, unknown key, bad value  (exit 2)
    ├── PolicyViolation               host not allowed, private address
    │   └── TooLarge                  over http.max_download_bytes
    ├── PlanError                     a source cannot be resolved
    │   ├── UnknownOntology
    │   ├── ResolverUnavailable       (Transient) a resolver API failed; try the next one
    │   ├── NoDownloadableFile
    │   ├── BioPortalAuthError
    │   ├── LicenceRestricted
    │   └── LockFileError
    ├── FetchError
    │   ├── NetworkError              (Transient) timeout, connect failure, reset, short body
    │   ├── HTTPStatusError
    │   │   ├── ClientHTTPError       (Terminal) 4xx other than 429
    │   │   └── ServerError           (Transient) 5xx, 429; carries retry_after
    │   ├── TooManyRedirects          (Terminal)
    │   └── IntegrityError            (Terminal) sha256 pin or size mismatch
    ├── ExtractError                  (Terminal) an archive cannot be unpacked
    │   └── UnsafeArchive             traversal, links, devices, bombs, collisions, ...
    ├── ValidationFailed              (Terminal) the file is not a usable ontology
    │   ├── NotAnOntology             HTML page, unknown format
    │   ├── OntologyParseError        the parser rejected the file
    │   ├── UnsafeXML                 entity expansion (billion laughs), external entities
    │   └── ImportUnresolved          an owl:imports could not be fetched (a warning by default)
    ├── GateError                     (Terminal) a gate suite is invalid or could not run
    ├── GateRejected                  (Terminal) a release failed its quality gates
    ├── PromotionRefused              (Terminal) promote a non-good version, nothing to roll back to
    ├── StorageError                  data dir not writable, disk full  (exit 3)
    └── CatalogError                  (exit 3)
        └── CatalogLocked             (Transient) another process holds the catalog

Retrying keys on the :class:`Transient` / :class:`Terminal` markers, never on message text.
``reason`` is the small, documented failure taxonomy a receipt row shows (see docs/errors.md).
"""

from __future__ import annotations

from typing import ClassVar


class Transient:
    """Marker: retrying the same operation later may succeed."""


class Terminal:
    """Marker: retrying will not help; fix the input or the configuration."""


class OntolabError(Exception):
    """Root of every ontolab error.

    Parameters
    ----------
    message
        What happened and what to do next.
    code
        Stable machine-readable code such as ``E_NET_TIMEOUT``.
    """

    default_code: ClassVar[str] = "E_ONTOLAB"
    reason: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        ontology_id: str | None = None,
        url: str | None = None,
        path: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.ontology_id = ontology_id
        self.url = url
        self.path = path
        self.run_id = run_id

    def __str__(self) -> str:
        where = ", ".join(
            f"{k}={v}"
            for k, v in (("ontology", self.ontology_id), ("url", self.url), ("path", self.path))
            if v
        )
        return f"[{self.code}] {self.message}" + (f" ({where})" if where else "")

    def with_context(self, **context: str | None) -> OntolabError:
        """Fill in context fields that are still empty and return ``self``."""
        for key, value in context.items():
            if value is not None and getattr(self, key, None) is None:
                setattr(self, key, value)
        return self

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready view used by ``--json`` output and events."""
        return {
            "error_code": self.code,
            "reason": self.reason,
            "message": self.message,
            "ontology": self.ontology_id,
            "url": self.url,
            "path": self.path,
        }


class ConfigError(OntolabError, Terminal):
    """The configuration file, environment or arguments are invalid."""

    default_code = "E_CONFIG"
    reason = "config"


class PolicyViolation(OntolabError, Terminal):
    """A guardrail refused the operation (host, address, size)."""

    default_code = "E_POLICY"
    reason = "policy"


class TooLarge(PolicyViolation):
    """A download is over ``http.max_download_bytes``."""

    default_code = "E_POLICY_TOO_LARGE"
    reason = "too_large"


class PlanError(OntolabError):
    """A source could not be resolved to a concrete download."""

    default_code = "E_PLAN"
    reason = "plan"


class UnknownOntology(PlanError, Terminal):
    """No such ontology or version: unknown id, never pulled, or nothing live."""

    default_code = "E_PLAN_UNKNOWN_ONTOLOGY"
    reason = "not_found"


class ResolverUnavailable(PlanError, Transient):
    """A resolver's API failed; the next resolver in the chain is tried."""

    default_code = "E_PLAN_RESOLVER_UNAVAILABLE"
    reason = "network"


class NoDownloadableFile(PlanError, Terminal):
    """The source resolves, but no file to download was found."""

    default_code = "E_PLAN_NO_FILE"
    reason = "not_found"


class BioPortalAuthError(PlanError, Terminal):
    """The BioPortal API key is missing or was rejected."""

    default_code = "E_BIOPORTAL_AUTH"
    reason = "auth"


class LicenceRestricted(PlanError, Terminal):
    """BioPortal restricts the ontology by licence (403)."""

    default_code = "E_BIOPORTAL_LICENCE"
    reason = "licence_restricted"


class LockFileError(PlanError, Terminal):
    """``ontolab.lock`` is missing or malformed (exit 2)."""

    default_code = "E_LOCKFILE"
    reason = "config"


class FetchError(OntolabError):
    """Downloading failed."""

    default_code = "E_FETCH"
    reason = "network"


class NetworkError(FetchError, Transient):
    """Timeout, refused connection, reset or a body cut short."""

    default_code = "E_NET"


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    default_code = "E_HTTP_STATUS"

    def __init__(self, message: str, *, status: int, **context: str | None) -> None:
        code = context.pop("code", None) or f"E_HTTP_{status}"
        super().__init__(message, code=code, **context)
        self.status = status


class ClientHTTPError(HTTPStatusError, Terminal):
    """A 4xx other than 429: retrying will not fix it."""

    @property
    def reason(self) -> str:  # type: ignore[override]
        return "not_found" if self.status in (404, 410) else "http_error"


class ServerError(HTTPStatusError, Transient):
    """5xx or 429: the server may recover; ``retry_after`` is its hint in seconds."""

    def __init__(
        self, message: str, *, status: int, retry_after: float | None = None, **context: str | None
    ) -> None:
        super().__init__(message, status=status, **context)
        self.retry_after = retry_after

    @property
    def reason(self) -> str:  # type: ignore[override]
        return "throttled" if self.status in (429, 503) else "network"


class TooManyRedirects(FetchError, Terminal):
    """A redirect loop, or more hops than ``http.max_redirects``."""

    default_code = "E_NET_TOO_MANY_REDIRECTS"


class IntegrityError(FetchError, Terminal):
    """The bytes are not the ones that were pinned (sha256 or size)."""

    default_code = "E_FETCH_HASH_MISMATCH"
    reason = "hash_mismatch"


class ExtractError(OntolabError, Terminal):
    """An archive is corrupt or cannot be unpacked."""

    default_code = "E_ARCHIVE_CORRUPT"
    reason = "unsafe_archive"


class UnsafeArchive(ExtractError):
    """The archive policy refused an entry or the archive as a whole."""

    default_code = "E_ARCHIVE_UNSAFE"


class ValidationFailed(OntolabError, Terminal):
    """A file is not a usable ontology."""

    default_code = "E_VALIDATION"
    reason = "validation"


class NotAnOntology(ValidationFailed):
    """The file is an HTML page, declares no terms, or matches no ontology syntax."""

    default_code = "E_FORMAT_UNKNOWN"
    reason = "not_an_ontology"


class OntologyParseError(ValidationFailed):
    """The parser rejected the file; the message gives the position."""

    default_code = "E_PARSE"
    reason = "parse_error"


class UnsafeXML(ValidationFailed):
    """Hostile XML: entity expansion (billion laughs) or external entities (XXE)."""

    default_code = "E_XML_UNSAFE"
    reason = "unsafe_xml"


class ImportUnresolved(ValidationFailed):
    """An ``owl:imports`` could not be fetched (rejects only in strict mode)."""

    default_code = "E_IMPORT_UNRESOLVED"
    reason = "import_unresolved"


class GateError(OntolabError, Terminal):
    """A gate suite file is invalid, or Great Expectations could not evaluate it."""

    default_code = "E_GATE_FAILED_TO_RUN"
    reason = "gate_error"


class GateRejected(OntolabError, Terminal):
    """A release failed an error-severity expectation of its gate suites."""

    default_code = "E_GATE_REJECTED"
    reason = "gate_failed"


class PromotionRefused(OntolabError, Terminal):
    """The latest pointer cannot move there: the version is not good, or there is no target."""

    default_code = "E_PROMOTE_REFUSED"
    reason = "promotion"


class StorageError(OntolabError, Terminal):
    """The data directory cannot be written (permissions, disk full)."""

    default_code = "E_STORAGE"
    reason = "storage"


class CatalogError(OntolabError):
    """The catalog cannot be opened, migrated or written."""

    default_code = "E_CATALOG"
    reason = "catalog"


class CatalogLocked(CatalogError, Transient):
    """Another process holds the catalog's write lock for longer than we wait."""

    default_code = "E_CATALOG_LOCKED"


def is_transient(exc: BaseException) -> bool:
    """True when retrying ``exc`` may help (the :class:`Transient` marker)."""
    return isinstance(exc, Transient)
