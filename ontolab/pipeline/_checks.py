"""A stored artifact → extracted files → validation reports → gates → a :class:`VersionOutcome`.

Files first: extraction and terms tables are written (or cleaned away) before the catalog
transaction that records them, so a crash leaves either the old state or files that ``doctor``
can explain.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ontolab._html import facts
from ontolab.catalog import (
    FileRecord,
    ImportRecord,
    Status,
    TermsRecord,
    ValidationRecord,
    VersionOutcome,
)
from ontolab.errors import GateRejected, ImportUnresolved, NotAnOntology, OntolabError
from ontolab.extract import ExtractedFile, extract
from ontolab.formats import ONTOLOGY_FORMATS
from ontolab.models import Artifact
from ontolab.policy import ArchivePolicy
from ontolab.settings import OntolabSettings
from ontolab.validate import ValidationReport, detect_format, run_deep_validators, validate_file

if TYPE_CHECKING:
    from ontolab.gates import GateReport

log = logging.getLogger("ontolab.pipeline")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Resolves an owl:imports IRI: returns (url, sha256, version) or raises an OntolabError.
ImportFetcher = Callable[[str], tuple[str, str, str | None]]
# Runs the gate suites over a good version's terms tables: (ontology, version, terms paths)
# -> a GateReport; raises an OntolabError (GateError) when the suites cannot run.
Gate = Callable[[str, str, list[Path]], "GateReport"]


@dataclass
class Checked:
    """The outcome to record plus the reports, for receipts and notebooks.

    ``gates`` is the gate run over this version (None when gates were off, or the version
    did not validate); ``catalog_gates`` the catalog suite's reports of a ``validate`` run;
    ``message`` says why a gate rejected the version.
    """

    outcome: VersionOutcome
    reports: list[ValidationReport] = field(default_factory=list)
    gates: GateReport | None = None
    catalog_gates: list[GateReport] = field(default_factory=list)
    message: str | None = None

    def _repr_html_(self) -> str:
        found = self.outcome
        parts = [
            facts(
                f"{found.ontology} {found.version}",
                [
                    ("status", found.status),
                    ("reason", found.error_code or found.reason),
                    ("message", self.message),
                ],
            )
        ]
        parts += [report._repr_html_() for report in self.reports]
        if self.gates is not None:
            parts.append(self.gates._repr_html_())
        parts += [report._repr_html_() for report in self.catalog_gates]
        return "".join(parts)


def _filename_hint(artifact: Artifact) -> str:
    name = urlsplit(artifact.final_url or artifact.url).path.rsplit("/", 1)[-1]
    return name or f"{artifact.ontology}.download"


def _safe(member: str) -> str:
    return _UNSAFE.sub("_", member)[:120]


def _work_dirs(settings: OntolabSettings, artifact: Artifact) -> tuple[Path, Path]:
    """Where an artifact's extracted files and terms tables live.

    Per ontology, not just per sha256: two ontologies may share identical bytes, and each is
    extracted, validated and cleaned under its own lock.
    """
    key = Path(_safe(artifact.ontology)) / artifact.sha256
    return settings.data_dir / "extracted" / key, settings.data_dir / "terms" / key


def _extract(settings: OntolabSettings, artifact: Artifact) -> list[ExtractedFile]:
    root = settings.data_dir
    dest, _ = _work_dirs(settings, artifact)
    if dest.exists():
        shutil.rmtree(dest)  # a re-validation re-extracts: the store blob is the source of truth
    # Scratch per ontology, so doctor can tell whose a torn extraction was.
    scratch = root / "staging" / "extract" / _safe(artifact.ontology)
    try:
        receipt = extract(
            artifact.path,
            dest,
            policy=ArchivePolicy.from_settings(settings.extract),
            staging=scratch,
            name=_filename_hint(artifact),
        )
    finally:
        # Empty once extraction ends, either way; the ontology's lock keeps others out.
        with contextlib.suppress(OSError):
            scratch.rmdir()
    return list(receipt.files)


def _cleanup(settings: OntolabSettings, artifact: Artifact) -> None:
    for path in _work_dirs(settings, artifact):
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class _Findings:
    """What validating the extracted files of one artifact produced."""

    files: list[FileRecord] = field(default_factory=list)
    validations: list[ValidationRecord] = field(default_factory=list)
    terms: list[TermsRecord] = field(default_factory=list)
    imports: list[ImportRecord] = field(default_factory=list)
    reports: list[ValidationReport] = field(default_factory=list)
    failure: OntolabError | None = None

    def fail(self, exc: OntolabError, validator: str, member: str | None) -> None:
        self.failure = self.failure or exc
        self.validations.append(
            ValidationRecord(
                validator,
                False,
                member=member,
                reason=exc.reason,
                error_code=exc.code,
                messages=({"level": "error", "code": exc.code, "text": exc.message},),
            )
        )


def check_artifact(
    settings: OntolabSettings,
    artifact: Artifact,
    version: str,
    *,
    strict: bool | None = None,
    fetch_import: ImportFetcher | None = None,
    gate: Gate | None = None,
) -> Checked:
    """Extract and validate one stored artifact, gate it; decide the version's status.

    A stream-validation failure (HTML, parse error, hostile XML, unsafe archive) fails the
    version. With ``strict`` (default ``validate.strict``), a failed deep validator or an
    unresolved import rejects it too; otherwise those are recorded as warnings. A version
    still good after that, with terms tables, goes through ``gate``: a failed error-severity
    expectation rejects it (``gate_failed``), and so does a suite that cannot run
    (``gate_error``). A rejected version keeps no extracted files or terms tables.
    """
    strict = settings.validate_.strict if strict is None else strict
    found = _Findings()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        files = _extract(settings, artifact)
    except OntolabError as exc:
        found.fail(exc, "extract", None)
    else:
        timings["extract_s"] = time.perf_counter() - started
        started = time.perf_counter()
        _validate_files(settings, artifact, files, found, fetch_import)
        timings["validate_s"] = time.perf_counter() - started
    status, reason, code = _decide(found, strict=strict, imports_resolved=fetch_import is not None)
    report, message = None, None
    if status == "good" and gate is not None and found.terms:
        started = time.perf_counter()
        try:
            report = gate(artifact.ontology, version, [Path(t.path) for t in found.terms])
        except OntolabError as exc:
            # Fail closed: a release the gates could not judge does not go live.
            status, reason, code, message = "rejected", exc.reason, exc.code, exc.message
        else:
            if not report.passed:
                status, reason = "rejected", GateRejected.reason
                code, message = GateRejected.default_code, report.summary()
        timings["gate_s"] = time.perf_counter() - started
    if status != "good":
        _cleanup(settings, artifact)
        found.files, found.terms = [], []
    outcome = VersionOutcome(
        ontology=artifact.ontology,
        version=version,
        artifact_sha256=artifact.sha256,
        status=status,
        reason=reason,
        error_code=code,
        files=tuple(found.files),
        validations=tuple(found.validations),
        terms=tuple(found.terms),
        imports=tuple(found.imports),
        timings=timings,
        tools=tool_versions(),
    )
    return Checked(outcome, found.reports, gates=report, message=message)


@functools.cache
def tool_versions() -> dict[str, str]:
    """The versions of ontolab and the parsers that judged a version, for its provenance."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("ontolab", "pyoxigraph", "fastobo", "ijson", "pyarrow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _validate_files(
    settings: OntolabSettings,
    artifact: Artifact,
    files: list[ExtractedFile],
    found: _Findings,
    fetch_import: ImportFetcher | None,
) -> None:
    candidates = [(f, detect_format(f.path)) for f in files]
    found.files = [
        FileRecord(f.member, str(f.path), f.size, f.sha256, fmt, tuple(f.chain))
        for f, fmt in candidates
    ]
    ontologies = [(f, fmt) for f, fmt in candidates if fmt in ONTOLOGY_FORMATS]
    if not ontologies:
        html = len(candidates) == 1 and candidates[0][1] == "html"
        formats = ", ".join(sorted({fmt for _, fmt in candidates}))
        found.fail(
            NotAnOntology(
                "the download is an HTML page, not an ontology"
                if html
                else f"the download holds no ontology file (formats found: {formats})",
                code="E_FORMAT_HTML" if html else "E_FORMAT_UNKNOWN",
                ontology_id=artifact.ontology,
            ),
            "stream",
            candidates[0][0].member if len(candidates) == 1 else None,
        )
    _, terms_dir = _work_dirs(settings, artifact)
    for file, fmt in ontologies:
        terms_dir.mkdir(parents=True, exist_ok=True)
        try:
            report = validate_file(
                file.path,
                fmt=fmt,
                terms_path=terms_dir / f"{_safe(file.member)}.parquet",
                settings=settings.validate_,
                ontology_id=artifact.ontology,
            )
            deep = run_deep_validators(
                file.path, fmt, settings.validate_, ontology_id=artifact.ontology
            )
        except OntolabError as exc:
            found.fail(exc, "stream", file.member)
            continue
        found.reports.append(report)
        found.validations.append(
            ValidationRecord(
                "stream",
                report.passed,
                member=file.member,
                metrics=report.metrics.to_dict(),
                messages=tuple(m.to_dict() for m in report.messages),
                duration_s=report.duration_s,
            )
        )
        if report.terms_path is not None:
            found.terms.append(TermsRecord(file.member, str(report.terms_path), report.terms_count))
        found.validations.extend(
            ValidationRecord(
                result.validator,
                result.passed,
                member=file.member,
                skipped=result.skipped,
                reason=result.reason,
                metrics=dict(result.metrics),
                messages=tuple(m.to_dict() for m in result.messages),
                duration_s=result.duration_s,
            )
            for result in deep
        )
        found.imports.extend(_imports(report.metrics.imports, fetch_import))


def _decide(
    found: _Findings, *, strict: bool, imports_resolved: bool
) -> tuple[Status, str | None, str | None]:
    """good, failed (the file is not a usable ontology) or rejected (strict checks)."""
    if found.failure is not None:
        return "failed", found.failure.reason, found.failure.code
    if strict:
        bad = [v for v in found.validations if not v.passed and not v.skipped]
        if bad:
            return "rejected", bad[0].reason or "validation", bad[0].error_code
        if imports_resolved and any(not i.resolved for i in found.imports):
            return "rejected", "import_unresolved", ImportUnresolved.default_code
    return "good", None, None


def _imports(iris: tuple[str, ...], fetch: ImportFetcher | None) -> list[ImportRecord]:
    records = []
    for iri in iris:
        if fetch is None:
            records.append(ImportRecord(iri, resolved=False, message="resolution is off"))
            continue
        try:
            url, sha256, version = fetch(iri)
        except OntolabError as exc:
            log.warning("import %s unresolved: %s", iri, exc)
            records.append(ImportRecord(iri, resolved=False, message=f"{exc.code}: {exc.message}"))
            continue
        records.append(ImportRecord(iri, True, url=url, sha256=sha256, import_version=version))
    return records
