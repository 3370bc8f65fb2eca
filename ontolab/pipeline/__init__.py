"""Composes the stages: sources → plan → fetch → extract → validate → gate → catalog.

Each public function takes settings (resolved at the edge) and returns a value object; stage
failures become rows of the receipt, never uncaught exceptions, so one bad ontology does not
stop the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ontolab.errors import UnknownOntology
from ontolab.fetch import Progress
from ontolab.models import (
    FetchResult,
    Outcome,
    Plan,
    PlanFailure,
    PlanItem,
    ReceiptRow,
    RunReceipt,
    Source,
)
from ontolab.obs import notebook_progress
from ontolab.pipeline._checks import Checked
from ontolab.pipeline._run import Run, SettingsLike, resolve_settings, version_label
from ontolab.plan import LOCK_FILENAME, PlanChange, diff_plans, read_lock, write_lock
from ontolab.settings import OntolabSettings

__all__ = ["Checked", "default_lock_path", "lock_plan", "plan", "plan_diff", "pull", "validate"]


def default_lock_path(settings: OntolabSettings) -> Path:
    """``ontolab.lock`` next to the config file, else in the working directory."""
    base = settings.config_path.parent if settings.config_path else Path()
    return base / LOCK_FILENAME


def plan(
    ids: Sequence[str] | None = None,
    *,
    settings: SettingsLike = None,
    transport: httpx.BaseTransport | None = None,
) -> Plan:
    """Resolve sources to concrete URLs, versions and sizes without downloading bodies.

    Parameters
    ----------
    ids
        Ontology ids; default: every ontology in the config.
    settings
        Settings, or a config file path (default: the usual lookup).
    """
    with Run(resolve_settings(settings), "plan", transport) as run:
        return run.plan(ids)[0]


def lock_plan(
    ids: Sequence[str] | None = None,
    *,
    settings: SettingsLike = None,
    path: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, Path]:
    """Plan, make sure every item's bytes are in the store, and write ``ontolab.lock``.

    Pinning a sha256 needs the bytes, so items not yet stored are downloaded (once: the
    store is content-addressed, so a following ``pull`` transfers nothing). Inside a Jupyter
    kernel, ``progress=None`` draws a tqdm bar per download (``ontolab.obs.NotebookProgress``).
    """
    cfg = resolve_settings(settings)
    with Run(cfg, "plan --lock", transport) as run:
        planned, _ = run.plan(ids)
        if planned.failures:
            return planned, Path()
        bars = progress if progress is not None else notebook_progress()
        results = run.fetcher(bars, validate=False).fetch(planned.items, jobs=cfg.http.jobs)
        pinned: list[PlanItem] = []
        failures: list[PlanFailure] = []
        for result in results:
            if result.artifact is None:
                failures.append(
                    PlanFailure(
                        result.ontology,
                        result.error_code or "E_FETCH",
                        result.reason or "network",
                        result.message or "",
                    )
                )
                continue
            pinned.append(
                replace(
                    result.item,
                    sha256=result.artifact.sha256,
                    expected_size=result.artifact.size,
                    version=version_label(result) or result.item.version,
                )
            )
        locked = Plan(items=tuple(pinned), failures=tuple(failures))
        if failures:
            return locked, Path()
        return locked, write_lock(path or default_lock_path(cfg), pinned)


def plan_diff(
    ids: Sequence[str] | None = None,
    *,
    settings: SettingsLike = None,
    lock_path: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> tuple[str, list[PlanChange], Plan]:
    """Compare a fresh plan with the lock file (or, without one, the last stored plan).

    Returns the baseline's name (``"lock"`` or ``"last plan"``), the changes and the plan.
    """
    cfg = resolve_settings(settings)
    path = lock_path or default_lock_path(cfg)
    with Run(cfg, "plan-diff", transport) as run:
        if path.is_file():
            baseline, name = read_lock(path), "lock"
        else:
            baseline, name = run.recorder.last_plan(), "last plan"
        current, _ = run.plan(ids)
    if ids:
        wanted = {i.lower() for i in ids}
        baseline = [i for i in baseline if i.ontology.lower() in wanted]
    return name, diff_plans(baseline, current.items), current


def pull(
    ids: Sequence[str] | None = None,
    *,
    settings: SettingsLike = None,
    lock: bool | Path = False,
    force: bool = False,
    jobs: int | None = None,
    strict: bool | None = None,
    promote: bool = True,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
) -> RunReceipt:
    """Plan and fetch ontologies into the store and record them in the catalog.

    Parameters
    ----------
    lock
        True (or a path) to pull exactly what ``ontolab.lock`` pins: same URLs, and bytes
        whose sha256 must match; pinned bytes already in the store need no network at all.
    force
        Ignore cached validators (no conditional GET) and partial downloads.
    strict
        A failed deep validator or unresolved import rejects the version (default
        ``validate.strict``); parse errors, HTML pages and unsafe archives always fail it.
    jobs
        Concurrent downloads (default ``http.jobs``).
    promote
        Make each new good version the live one (blue/green: the previous good version
        stays stored for ``rollback``). False stages only.
    progress
        Receives download progress; default: a tqdm bar per download inside a Jupyter
        kernel (:class:`ontolab.obs.NotebookProgress`), nothing elsewhere.

    Each new version that validates goes through the gate suites (``gates:``); a failed
    gate rejects it, so the live version stays. When any version was judged, the catalog
    suite then runs over the live versions (reported, rejecting nothing).
    """
    cfg = resolve_settings(settings)
    with Run(cfg, "pull", transport, strict=strict, promote=promote) as run:
        if lock:
            lock_path = lock if isinstance(lock, Path) else default_lock_path(cfg)
            items = read_lock(lock_path)
            if ids:
                wanted = {i.lower() for i in ids}
                items = [i for i in items if i.ontology.lower() in wanted]
            planned = Plan(items=tuple(items))
            run.recorder.record_plan(
                planned, [Source(i.ontology, (i.resolver,), origin="lock") for i in items]
            )
        else:
            planned, _ = run.plan(ids)
        bars = progress if progress is not None else notebook_progress()
        results = run.fetcher(bars).fetch(planned.items, force=force, jobs=jobs or cfg.http.jobs)
        if run.checked:
            run.catalog_gates()
        live = run.recorder.live_versions()
        rows = [
            replace(_row(result, run.checked.get(result.ontology)), live=live.get(result.ontology))
            for result in results
        ] + [
            ReceiptRow(f.ontology, None, "failed", f.reason, f.error_code, f.message)
            for f in planned.failures
        ]
        return RunReceipt(
            run_id=run.run_id,
            rows=tuple(sorted(rows, key=lambda r: r.ontology)),
            started_at=run.started,
            finished_at=datetime.now(UTC),
        )


def _row(result: FetchResult, checked: Checked | None) -> ReceiptRow:
    art = result.artifact
    version = version_label(result) or (f"sha256-{art.sha256[:12]}" if art else None)
    outcome: Outcome = result.outcome
    reason, code, message = result.reason, result.error_code, result.message
    if checked is not None and checked.outcome.status != "good":
        found = checked.outcome
        outcome = "rejected" if found.status == "rejected" else "failed"
        reason, code = found.reason, found.error_code
        failed = next((v for v in found.validations if not v.passed and not v.skipped), None)
        message = failed.messages[0]["text"] if failed and failed.messages else found.reason
        if checked.message:  # a gate's verdict: the failed expectations and what was observed
            message = checked.message
    return ReceiptRow(
        ontology=result.ontology,
        version=version,
        outcome=outcome,
        reason=reason,
        error_code=code,
        message=message,
        sha256=art.sha256 if art else None,
        size=art.size if art else None,
        bytes_transferred=result.bytes_transferred,
        elapsed_s=round(result.elapsed_s, 4),
    )


def validate(
    ontology: str,
    *,
    version: str | None = None,
    settings: SettingsLike = None,
    strict: bool | None = None,
    gates: bool = True,
) -> Checked:
    """Re-run extraction, validators and gates on a stored version (default: the newest).

    New gate results are added to the version's history; the status follows the usual
    rules (a live version that is no longer good is demoted; nothing is promoted). Then the
    catalog suite runs over the live versions (``Checked.catalog_gates``).

    Parameters
    ----------
    gates
        False skips both the version's gates and the catalog suite.

    Raises
    ------
    UnknownOntology
        No such version is recorded.
    """
    cfg = resolve_settings(settings)
    with Run(cfg, "validate", strict=strict, gates=gates) as run:
        found = run.recorder.stored_version(ontology, version)
        if found is None:
            what = f"version {version!r} of {ontology!r}" if version else repr(ontology)
            raise UnknownOntology(
                f"no stored {what}; run 'ontolab pull {ontology}' first", ontology_id=ontology
            )
        label, artifact = found
        checked = run.check(replace(artifact, version=label), label)
        checked.catalog_gates = run.catalog_gates()
        return checked
