"""Resolvers by name: built-ins plus third-party ones from the ``ontolab.resolvers`` entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from ontolab.errors import ConfigError
from ontolab.models import Artifact, PlanItem, Source
from ontolab.net import HttpSession
from ontolab.plan._probe import Probe, probe
from ontolab.settings import OntolabSettings

Known = Callable[[str, str], Artifact | None]


def _nothing_known(ontology: str, url: str) -> Artifact | None:
    return None


@dataclass(frozen=True)
class ResolveContext:
    """What a resolver may use: settings, the one HTTP session, and what is already stored.

    ``known(ontology, url)`` returns the last artifact fetched from ``url``; when the server's
    ETag still matches it, the probe reuses its version instead of reading the file again.
    """

    settings: OntolabSettings
    session: HttpSession
    known: Known = _nothing_known

    def probe(self, source: Source, url: str) -> Probe:
        return probe(self.session, url, known=lambda final: self.known(source.id, final))


@runtime_checkable
class Resolver(Protocol):
    """Turns a :class:`Source` into a concrete :class:`PlanItem` without downloading bodies.

    Raise a :class:`~ontolab.errors.PlanError` (or any ontolab error) when it cannot; the
    planner then tries the source's next resolver.
    """

    name: str

    def resolve(self, source: Source, ctx: ResolveContext) -> PlanItem: ...


_REGISTRY: dict[str, Resolver] = {}


def register_resolver(resolver: Resolver, *, replace: bool = False) -> Resolver:
    """Make ``resolver`` available under ``resolver.name``."""
    if resolver.name in _REGISTRY and not replace:
        raise ValueError(f"a resolver named {resolver.name!r} is already registered")
    _REGISTRY[resolver.name] = resolver
    return resolver


def get_resolver(name: str) -> Resolver:
    """The resolver called ``name``; entry points are loaded on first miss."""
    if name not in _REGISTRY:
        for ep in entry_points(group="ontolab.resolvers"):
            if ep.name == name:
                loaded = ep.load()
                register_resolver(loaded() if isinstance(loaded, type) else loaded)
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(
            f"unknown resolver {name!r}; known resolvers: {known}", code="E_CONFIG_RESOLVER"
        ) from None


def resolver_names() -> list[str]:
    return sorted(_REGISTRY)
