"""Sources → Plan: resolver registry, built-in resolvers, version probe, lock files."""

from __future__ import annotations

from ontolab.plan._lockfile import LOCK_FILENAME, PlanChange, diff_plans, read_lock, write_lock
from ontolab.plan._planner import build_plan, resolve_source
from ontolab.plan._probe import Probe, Sniff, probe, sniff
from ontolab.plan._registry import (
    ResolveContext,
    Resolver,
    get_resolver,
    register_resolver,
    resolver_names,
)
from ontolab.plan._resolvers import rebase_obo_purl  # importing registers the built-ins
from ontolab.plan._sources import sources_for

__all__ = [
    "LOCK_FILENAME",
    "PlanChange",
    "Probe",
    "ResolveContext",
    "Resolver",
    "Sniff",
    "build_plan",
    "diff_plans",
    "get_resolver",
    "probe",
    "read_lock",
    "rebase_obo_purl",
    "register_resolver",
    "resolve_source",
    "resolver_names",
    "sniff",
    "sources_for",
    "write_lock",
]
