"""Composes the stages: sources → plan → fetch → (extract → validate → gate, later) → catalog.

Each public function takes settings (resolved at the edge) and returns a value object; stage
failures become rows of the receipt, never uncaught exceptions, so one bad ontology does not
stop the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ontolab.catalog import Event, Recorder, open_catalog
from ontolab.errors import OntolabError
from ontolab.fetch import Fetcher, Progress
from ontolab.models import FetchResult, Plan, PlanFailure, PlanItem, ReceiptRow, RunReceipt, Source
from ontolab.net import HttpSession
from ontolab.plan import (
    LOCK_FILENAME,
    PlanChange,
    ResolveContext,
    build_plan,
    diff_plans,
    read_lock,
    sniff,
    sources_for,
    write_lock,
)
from ontolab.settings import OntolabSettings, load_settings

SettingsLike = OntolabSettings | str | Path | None


def _settings(settings: SettingsLike) -> OntolabSettings:
    return settings if isinstance(settings, OntolabSettings) else load_settings(settings)


def default_lock_path(settings: OntolabSettings) -> Path:
    """``ontolab.lock`` next to the config file, else in the working directory."""
    base = settings.config_path.parent if settings.config_path else Path()
    return base / LOCK_FILENAME


class _Run:
    """One command's shared resources: HTTP session, catalog recorder, run id."""

    def __init__(
        self, settings: OntolabSettings, command: str, transport: httpx.BaseTransport | None
    ) -> None:
        self.settings = settings
        self.run_id = uuid.uuid4().hex[:12]
        self.session = HttpSession.from_settings(settings, transport=transport)
        self.catalog = open_catalog(
            settings.catalog_url, lock_timeout_s=settings.catalog_lock_timeout_s
        )
        self.recorder = Recorder(self.catalog, self.run_id)
        self.command = command
        self.started = datetime.now(UTC)

    def __enter__(self) -> _Run:
        self.recorder.start_run(self.command)
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.session.close()
        try:
            self.recorder.finish_run("error" if exc_type else "finished")
        except OntolabError:
            if exc_type is None:
                raise
        finally:
            self.catalog.close()

    def plan(self, ids: Sequence[str] | None) -> tuple[Plan, list[Source]]:
        sources = sources_for(ids, self.settings)
        plan = build_plan(
            sources,
            ResolveContext(self.settings, self.session, known=self.recorder.known_artifact),
            jobs=self.settings.http.jobs,
        )
        self.recorder.record_plan(plan, sources)
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

    def fetcher(self, progress: Progress | None) -> Fetcher:
        return Fetcher(
            self.session,
            self.settings.data_dir,
            lookup=self.recorder.last_artifact,
            record=lambda result: self.recorder.record_fetch(result, _version_label(result)),
            progress=progress,
            lock_timeout_s=self.settings.http.lock_timeout_s,
        )


def _version_label(result: FetchResult) -> str | None:
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
    with _Run(_settings(settings), "plan", transport) as run:
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
    store is content-addressed, so a following ``pull`` transfers nothing).
    """
    cfg = _settings(settings)
    with _Run(cfg, "plan --lock", transport) as run:
        planned, _ = run.plan(ids)
        if planned.failures:
            return planned, Path()
        results = run.fetcher(progress).fetch(planned.items, jobs=cfg.http.jobs)
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
                    version=_version_label(result) or result.item.version,
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
    cfg = _settings(settings)
    path = lock_path or default_lock_path(cfg)
    with _Run(cfg, "plan-diff", transport) as run:
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
    jobs
        Concurrent downloads (default ``http.jobs``).
    """
    cfg = _settings(settings)
    with _Run(cfg, "pull", transport) as run:
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
        results = run.fetcher(progress).fetch(
            planned.items, force=force, jobs=jobs or cfg.http.jobs
        )
        rows = [_row(result) for result in results] + [
            ReceiptRow(f.ontology, None, "failed", f.reason, f.error_code, f.message)
            for f in planned.failures
        ]
        return RunReceipt(
            run_id=run.run_id,
            rows=tuple(sorted(rows, key=lambda r: r.ontology)),
            started_at=run.started,
            finished_at=datetime.now(UTC),
        )


def _row(result: FetchResult) -> ReceiptRow:
    art = result.artifact
    return ReceiptRow(
        ontology=result.ontology,
        version=_version_label(result) or (f"sha256-{art.sha256[:12]}" if art else None),
        outcome=result.outcome,
        reason=result.reason,
        error_code=result.error_code,
        message=result.message,
        sha256=art.sha256 if art else None,
        size=art.size if art else None,
        bytes_transferred=result.bytes_transferred,
        elapsed_s=round(result.elapsed_s, 4),
    )
