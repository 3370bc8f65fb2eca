"""One command's shared resources, and what happens to each fetched artifact.

A :class:`Run` holds the HTTP session, the catalog and the run id. Its ``after_fetch`` runs
inside the ontology's lock: record the fetch, then extract, validate, gate and record the
outcome, so two pulls of one ontology never interleave any of it. Gates (and so Great
Expectations) load only when a version is actually judged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ontolab.catalog import (
    DuckDBCatalog,
    Event,
    Promotion,
    Recorder,
    open_catalog,
    promote,
    record_outcome,
)
from ontolab.catalog._duckdb import IDLE_CLOSE_S
from ontolab.catalog._outcomes import previous_good, record_gate_results
from ontolab.errors import GateError, OntolabError
from ontolab.fetch import Fetcher, Progress, ontology_lock
from ontolab.models import Artifact, FetchResult, Plan, PlanItem, Source
from ontolab.net import HttpSession
from ontolab.net._session import RetryNotice
from ontolab.obs import bind_run_id, event_sinks, unbind_run_id
from ontolab.pipeline._checks import Checked, Gate, check_artifact
from ontolab.plan import ResolveContext, build_plan, rebase_obo_purl, sniff, sources_for
from ontolab.settings import OntolabSettings, load_settings

if TYPE_CHECKING:
    from ontolab.gates import GateReport

SettingsLike = OntolabSettings | str | Path | None
log = logging.getLogger("ontolab.pipeline")
# Commands after which obs.metrics_textfile is rewritten (promote and rollback write it too).
TEXTFILE_COMMANDS = frozenset({"pull", "validate"})


def resolve_settings(settings: SettingsLike) -> OntolabSettings:
    return settings if isinstance(settings, OntolabSettings) else load_settings(settings)


def version_label(result: FetchResult) -> str | None:
    """The plan's version, else what the stored file declares in its first 64 KiB."""
    art = result.artifact
    if art is None:
        return None
    if result.item.version:
        return result.item.version
    try:
        with art.path.open("rb") as handle:
            return sniff(handle.read(64 * 1024)).version
    except OSError:
        return None


class Run:
    """HTTP session, catalog recorder and run id for one command."""

    def __init__(
        self,
        settings: OntolabSettings,
        command: str,
        transport: httpx.BaseTransport | None = None,
        *,
        strict: bool | None = None,
        promote: bool = False,
        gates: bool = True,
    ) -> None:
        self.settings = settings
        self.promote = promote
        self.gates = gates
        self.run_id = uuid.uuid4().hex[:12]
        self.session = HttpSession.from_settings(settings, transport=transport)
        self.catalog = open_catalog(
            settings.catalog_url, lock_timeout_s=settings.catalog_lock_timeout_s
        )
        # An unchanged re-pull is nothing but quick successive catalog units: they share one
        # open file. Once validation starts (a parser may hold the GIL for seconds, so an
        # idle timer could not close the file) every unit lets go at once.
        self._linger(IDLE_CLOSE_S)
        self.recorder = Recorder(self.catalog, self.run_id, sinks=event_sinks(settings))
        # Every retry, in whichever worker thread, becomes a fetch.retry event.
        self.session.on_retry = self._retried
        self.command = command
        self.strict = settings.validate_.strict if strict is None else strict
        self.started = datetime.now(UTC)
        self.checked: dict[str, Checked] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Run:
        self.recorder.start_run(self.command)
        # Every log line of this run, not only its events, carries the run id.
        self._log_binding = bind_run_id(self.run_id)
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.session.close()
        unbind_run_id(self._log_binding)
        try:
            self.recorder.finish_run("error" if exc_type else "finished")
        except OntolabError:
            if exc_type is None:
                raise
        finally:
            try:
                self._write_textfile()
            finally:
                self.catalog.close()

    def _write_textfile(self) -> None:
        """Leave the catalog's metrics for a node-exporter textfile collector, if configured."""
        path = self.settings.metrics_textfile
        if path is None or self.command not in TEXTFILE_COMMANDS:
            return
        try:
            from ontolab.obs import write_textfile

            write_textfile(self.catalog, path, self.settings)
        except Exception:  # metrics must never fail the command that ran
            log.warning("cannot write the metrics textfile %s", path, exc_info=True)

    def _retried(self, notice: RetryNotice) -> None:
        self.recorder.event(
            Event(
                "fetch.retry",
                level="warning",
                stage="fetch",
                error_code=notice.error_code,
                message=f"retrying in {notice.wait_s:.1f}s (attempt {notice.attempt})",
                payload={
                    "host": notice.host,
                    "url": notice.url,
                    "status": notice.status,
                    "attempt": notice.attempt,
                    "wait_s": round(notice.wait_s, 3),
                },
            )
        )

    def plan(self, ids: Sequence[str] | None) -> tuple[Plan, list[Source]]:
        sources = sources_for(ids, self.settings)
        started = time.perf_counter()
        plan = build_plan(
            sources,
            ResolveContext(self.settings, self.session, known=self.recorder.known_artifact),
            jobs=self.settings.http.jobs,
        )
        self.recorder.record_plan(plan, sources)
        self.recorder.event(
            Event(
                "plan.resolved",
                stage="plan",
                duration_s=time.perf_counter() - started,
                payload={"items": len(plan.items), "failures": len(plan.failures)},
            )
        )
        for failure in plan.failures:
            self.recorder.event(
                Event(
                    "plan.failed",
                    level="error",
                    ontology=failure.ontology,
                    stage="plan",
                    error_code=failure.error_code,
                    message=failure.message,
                )
            )
        return plan, sources

    def fetcher(self, progress: Progress | None, *, validate: bool = True) -> Fetcher:
        return Fetcher(
            self.session,
            self.settings.data_dir,
            lookup=self.recorder.last_artifact,
            record=self.after_fetch if validate else self._record_fetch,
            progress=progress,
            lock_timeout_s=self.settings.http.lock_timeout_s,
        )

    def _import_fetcher(self) -> Fetcher:
        # Imports land in the store and the imports table, not as ontologies of their own.
        return Fetcher(
            self.session,
            self.settings.data_dir,
            lock_timeout_s=self.settings.http.lock_timeout_s,
        )

    def _record_fetch(self, result: FetchResult) -> None:
        self.recorder.record_fetch(result, version_label(result))

    def after_fetch(self, result: FetchResult) -> None:
        """Record the fetch; validate a version not validated yet; record the outcome."""
        self._record_fetch(result)
        art = result.artifact
        if art is None:
            return
        version = version_label(result) or f"sha256-{art.sha256[:12]}"
        status = self.recorder.version_status(art.ontology, version)
        if result.outcome == "unchanged" and status not in (None, "staged"):
            # Already validated; `ontolab validate` re-runs on demand. Only a new version
            # moves the pointer, so a rollback sticks until upstream publishes again; an
            # ontology with nothing live (a catalog from before promotion) gets this one.
            if self.promote and status == "good" and self.recorder.live(art.ontology) is None:
                self._promoted(promote(self.catalog, art.ontology, version, reason="pull"))
            return
        self._check(replace(art, version=version), version)

    def check(self, artifact: Artifact, version: str) -> Checked:
        """Extract, validate and record a stored version, holding its ontology's lock as a
        pull does, so neither a pull nor ``doctor --fix`` touches its files meanwhile."""
        locks = self.settings.data_dir / "locks"
        timeout = self.settings.http.lock_timeout_s
        with ontology_lock(locks, artifact.ontology, timeout_s=timeout):
            return self._check(artifact, version)

    def _linger(self, seconds: float) -> None:
        if isinstance(self.catalog, DuckDBCatalog):
            self.catalog.linger_s = seconds
            if seconds == 0:
                self.catalog.close()

    def _check(self, artifact: Artifact, version: str) -> Checked:
        self._linger(0.0)
        started = time.perf_counter()
        checked = check_artifact(
            self.settings,
            artifact,
            version,
            strict=self.strict,
            fetch_import=self._fetch_import if self.settings.validate_.resolve_imports else None,
            gate=self._gate_for(artifact.ontology),
        )
        took = time.perf_counter() - started
        report = checked.gates
        moved = record_outcome(
            self.catalog,
            checked.outcome,
            run_id=self.run_id,
            promote=self.promote,
            gates=report.rows(self.run_id) if report is not None else (),
        )
        outcome = checked.outcome
        if report is not None:
            self._gate_events(report)
        elif outcome.reason == GateError.reason:
            self._gate_error(
                outcome.ontology, outcome.version, checked.message or "", code=outcome.error_code
            )
        self.recorder.event(
            Event(
                f"validate.{outcome.status}",
                level="info" if outcome.status == "good" else "error",
                ontology=outcome.ontology,
                version=outcome.version,
                stage="validate",
                duration_s=took,
                error_code=outcome.error_code,
                message=checked.message or outcome.reason,
                payload={"timings": {k: round(v, 4) for k, v in outcome.timings.items()}},
            )
        )
        if moved is not None:
            self._promoted(moved)
        with self._lock:
            self.checked[artifact.ontology] = checked
        return checked

    # -- gates -------------------------------------------------------------------------------
    def _gate_for(self, ontology: str) -> Gate | None:
        """The gate to run on the ontology's new versions, or None when gates are off."""
        if not self.gates:
            return None
        from ontolab.gates import gates_enabled

        return self._run_gates if gates_enabled(self.settings, ontology) else None

    def _run_gates(self, ontology: str, version: str, terms: list[Path]) -> GateReport:
        from ontolab.gates import run_gates

        return run_gates(
            self.settings,
            ontology=ontology,
            version=version,
            terms=terms,
            previous=previous_good(self.catalog, ontology, version),
            run_id=self.run_id,
        )

    def catalog_gates(self) -> list[GateReport]:
        """Run the catalog suite over every live version; record and report, reject nothing.

        A failing catalog suite is a warning: it judges the catalog, not one release, so it
        neither rejects nor demotes anything and leaves the exit code alone.
        """
        if not (self.gates and self.settings.gates.enabled):
            return []
        from ontolab.gates import run_catalog_gates

        self._linger(0.0)
        try:
            reports = run_catalog_gates(self.settings, self.catalog, run_id=self.run_id)
        except OntolabError as exc:
            self._gate_error(
                None, None, exc.message, suite="catalog", level="warning", code=exc.code
            )
            return []
        except Exception as exc:  # a report on the catalog must never fail the pull it follows
            log.warning("the catalog suite could not run", exc_info=True)
            message = f"{type(exc).__name__}: {exc}"
            self._gate_error(None, None, message, suite="catalog", level="warning")
            return []
        record_gate_results(self.catalog, [r for rep in reports for r in rep.rows(self.run_id)])
        for report in reports:
            self._gate_events(report, failed_level="warning")
        return reports

    def _gate_events(self, report: GateReport, *, failed_level: str = "error") -> None:
        """One ``gate.passed`` or ``gate.rejected`` event per suite the report evaluated."""
        by_suite: dict[str, list[str]] = defaultdict(list)
        for result in report.results:
            failed = by_suite[result.suite]  # every evaluated suite gets a key
            if result.severity == "error" and not result.passed:
                failed.append(result.name)
        for suite, failed in by_suite.items():
            self.recorder.event(
                Event(
                    "gate.rejected" if failed else "gate.passed",
                    level=failed_level if failed else "info",
                    ontology=report.ontology,
                    version=report.version,
                    stage="gate",
                    duration_s=report.duration_s,
                    error_code="E_GATE_REJECTED" if failed else None,
                    message=report.summary(),
                    payload={
                        "suite": suite,
                        "failed": failed,
                        "report": str(report.report_path) if report.report_path else None,
                        "previous": report.previous,
                    },
                )
            )

    def _gate_error(
        self,
        ontology: str | None,
        version: str | None,
        message: str,
        *,
        suite: str | None = None,
        level: str = "error",
        code: str | None = None,
    ) -> None:
        self.recorder.event(
            Event(
                "gate.error",
                level=level,
                ontology=ontology,
                version=version,
                stage="gate",
                error_code=code or GateError.default_code,
                message=message,
                payload={"suite": suite} if suite else None,
            )
        )

    def _promoted(self, moved: Promotion) -> None:
        if moved.changed:
            self.recorder.event(
                Event(
                    f"latest.{moved.action}",
                    ontology=moved.ontology,
                    version=moved.version,
                    stage="promote",
                    message=moved.reason,
                    payload={"previous": moved.previous, "actor": moved.actor},
                )
            )

    def _fetch_import(self, iri: str) -> tuple[str, str, str | None]:
        """Fetch an owl:imports IRI through the same policy, store and catalog."""
        url = rebase_obo_purl(iri, self.settings.resolvers.obo.base_url)
        item = PlanItem(ontology=f"import:{iri.rsplit('/', 1)[-1]}", resolver="url", url=url)
        result = self._import_fetcher().fetch_one(item)
        if result.artifact is None:
            raise OntolabError(result.message or "import not fetched", code=result.error_code)
        return url, result.artifact.sha256, version_label(result)
