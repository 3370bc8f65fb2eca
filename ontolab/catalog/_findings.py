"""What doctor reports: the finding codes, one finding, and the report with its views."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

#: Every finding code, with what it means (docs/doctor.md says the same, and what --fix does).
FINDINGS: dict[str, str] = {
    "D_DATA_DIR_MISSING": "the data dir does not exist yet",
    "D_DATA_DIR_NOT_WRITABLE": "the data dir (or a directory in it) cannot be written",
    "D_CATALOG_NOT_WRITABLE": "the DuckDB catalog file or its directory cannot be written",
    "D_DISK_LOW": "little free space where the data dir lives",
    "D_HOSTS_INVALID": "an http.allowed_hosts entry is not a host[:port] pattern",
    "D_HOSTS_WIDE": "http.allowed_hosts allows every public host",
    "D_HOST_NOT_ALLOWED": "a resolver base URL or ontology URL names a host pulls may not reach",
    "D_URL_INVALID": "a resolver base URL or ontology URL is not an http(s) URL",
    "D_BIOPORTAL_NO_KEY": "an ontology uses BioPortal but no API key is set",
    "D_CATALOG_MISSING": "there is no catalog, so storage cannot be reconciled",
    "D_CATALOG_UNREADABLE": "the catalog cannot be opened or read",
    "D_CATALOG_INDEX_DAMAGED": "a DuckDB index lacks rows of its table: deleting them fails",
    "D_SCHEMA_BEHIND": "the catalog schema is older than this ontolab",
    "D_SCHEMA_NEWER": "the catalog schema is newer than this ontolab",
    "D_LATEST_NOT_GOOD": "the live version is not a good one (or is not recorded)",
    "D_HISTORY_MISMATCH": "latest_history does not end where the latest pointer is",
    "D_VERSION_STAGED": "a version was fetched but never validated (its pull was killed)",
    "D_DANGLING_ROWS": "files/validations/terms/imports rows of a version that is not recorded",
    "D_BLOB_MISSING": "an artifact row whose blob is not in the store",
    "D_HASH_DRIFT": "a blob whose size (or, with --deep, sha256) no longer matches",
    "D_FILE_MISSING": "an extracted file of a version is missing or changed",
    "D_TERMS_MISSING": "a terms table of a version is missing",
    "D_ORPHAN_BLOB": "a blob in the store that no artifact or import row refers to",
    "D_ORPHAN_EXTRACTED": "extracted files no files row refers to",
    "D_ORPHAN_TERMS": "a terms table no terms row refers to",
    "D_TORN_STAGING": "scratch of an extraction or terms table that was cut short",
    "D_PARTIAL_DOWNLOAD": "a partial download left by a pull that did not finish",
    "D_STRAY_FILE": "a file where the storage layout puts none",
    "D_STALE_LOCK": "a lock file of an ontology ontolab no longer knows, held by nobody",
    "D_PULL_IN_PROGRESS": "a pull holds an ontology's lock; its storage was not examined",
}


@dataclass(frozen=True)
class Finding:
    """One thing doctor found: what, how bad, and whether ``--fix`` repaired it."""

    code: str
    severity: Severity
    subject: str
    message: str
    fixable: bool = False
    fixed: bool = False
    ontology: str | None = None
    version: str | None = None
    path: str | None = None
    size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    """Everything doctor found (and, with ``fix``, repaired)."""

    data_dir: str
    catalog: str
    fix: bool = False
    deep: bool = False
    findings: list[Finding] = field(default_factory=list)
    bytes_freed: int = 0

    @property
    def remaining(self) -> list[Finding]:
        """Findings that still need attention: not info, not fixed."""
        return [f for f in self.findings if f.severity != "info" and not f.fixed]

    @property
    def ok(self) -> bool:
        """Clean: nothing but info findings remains."""
        return not self.remaining

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "fix": self.fix,
            "deep": self.deep,
            "data_dir": self.data_dir,
            "catalog": self.catalog,
            "bytes_freed": self.bytes_freed,
            "findings": [f.to_dict() for f in self.findings],
        }

    def __repr__(self) -> str:
        state = "clean" if self.ok else f"{len(self.remaining)} to fix"
        return f"<DoctorReport {state}, {len(self.findings)} findings, {self.bytes_freed} B freed>"

    def _repr_html_(self) -> str:
        colours = {"error": "#b00020", "warning": "#b36b00", "info": "#555"}
        rows = "".join(
            f"<tr><td style='color:{colours[f.severity]}'>{f.severity}</td>"
            f"<td><code>{f.code}</code></td><td>{html.escape(f.subject)}</td>"
            f"<td>{html.escape(f.message)}</td><td>{'fixed' if f.fixed else ''}</td></tr>"
            for f in self.findings
        )
        head = "clean" if self.ok else f"{len(self.remaining)} finding(s) to fix"
        return (
            f"<div><b>ontolab doctor</b>: {head}; {self.bytes_freed} bytes freed"
            "<table><tr><th>severity</th><th>code</th><th>subject</th><th>what</th>"
            f"<th></th></tr>{rows}</table></div>"
        )
