"""Sources → Plan: each source's resolver chain, first success wins; sources in parallel."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ontolab.errors import OntolabError
from ontolab.models import Plan, PlanFailure, PlanItem, Source
from ontolab.plan._registry import ResolveContext, get_resolver

log = logging.getLogger("ontolab.plan")


def resolve_source(source: Source, ctx: ResolveContext) -> PlanItem:
    """Try each resolver of ``source`` in order; raise the last error if all fail."""
    attempts: list[str] = []
    last: OntolabError | None = None
    for name in source.resolvers:
        resolver = get_resolver(name)
        try:
            item = resolver.resolve(source, ctx)
        except OntolabError as exc:
            exc.with_context(ontology_id=source.id)
            log.info("resolver %s failed for %s: %s", name, source.id, exc)
            attempts.append(f"{name}: {exc.code}")
            last = exc
            continue
        if attempts:
            item = PlanItem(**{**item.__dict__, "attempts": tuple(attempts)})
        return item
    if last is None:
        raise OntolabError(f"no resolver configured for {source.id!r}", ontology_id=source.id)
    if len(attempts) > 1:
        last.message += f" (tried {'; '.join(attempts)})"
    raise last


def build_plan(sources: Sequence[Source], ctx: ResolveContext, *, jobs: int = 4) -> Plan:
    """Resolve every source; failures are collected, not raised."""

    def one(source: Source) -> PlanItem | PlanFailure:
        try:
            return resolve_source(source, ctx)
        except OntolabError as exc:
            return PlanFailure(source.id, exc.code, exc.reason, exc.message)

    workers = max(1, min(jobs, len(sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ontolab-plan") as pool:
        # Each task runs in a copy of the caller's context: logs keep the bound run id.
        results = list(
            pool.map(lambda source: contextvars.copy_context().run(one, source), sources)
        )
    return Plan(
        items=tuple(r for r in results if isinstance(r, PlanItem)),
        failures=tuple(r for r in results if isinstance(r, PlanFailure)),
    )
