"""Which sources a command means: config entries, else a prefix known to bioregistry."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ontolab.errors import UnknownOntology
from ontolab.models import Source
from ontolab.settings import OntolabSettings, OntologyConfig


def source_from_config(entry: OntologyConfig, settings: OntolabSettings) -> Source:
    return Source(
        id=entry.id,
        resolvers=entry.resolvers or tuple(settings.resolvers.default_chain),
        format=entry.format,
        url=entry.url,
        sha256=entry.sha256,
        version=entry.version,
        product=entry.product,
        acronym=entry.acronym,
        origin="config",
    )


@functools.lru_cache(maxsize=256)
def _bioregistry_source(prefix: str, default_chain: tuple[str, ...]) -> Source | None:
    # bioregistry loads ~30 MB of bundled metadata; only pay that for ids not in the config.
    import bioregistry

    resource = bioregistry.get_resource(prefix)
    if resource is None:
        return None
    chain: list[str] = []
    if resource.get_obofoundry_prefix():
        chain.append("obo")
    if resource.get_ols_prefix():
        chain.append("ols")
    if resource.get_mapped_prefix("bioportal"):
        chain.append("bioportal")
    download = resource.get_download_owl() or resource.get_download_obo()
    if download and not chain:
        chain.append("url")
    if not chain:
        return None
    ordered = tuple(r for r in default_chain if r in chain) + tuple(
        r for r in chain if r not in default_chain
    )
    return Source(
        id=resource.prefix,
        resolvers=ordered,
        url=download,
        acronym=resource.get_mapped_prefix("bioportal"),
        origin="bioregistry",
        licence=resource.get_license(),
        title=resource.get_name(),
    )


def sources_for(ids: Sequence[str] | None, settings: OntolabSettings) -> list[Source]:
    """The sources to plan: every configured ontology, or the ``ids`` asked for.

    An id with no config entry is looked up in bioregistry's bundled metadata (no network),
    so ``ontolab pull hp`` works with an empty config.
    """
    if not ids:
        return [source_from_config(entry, settings) for entry in settings.ontologies]
    sources = []
    for oid in dict.fromkeys(ids):
        entry = settings.ontology(oid)
        if entry is not None:
            sources.append(source_from_config(entry, settings))
            continue
        found = _bioregistry_source(oid.lower(), tuple(settings.resolvers.default_chain))
        if found is None:
            raise UnknownOntology(
                f"{oid!r} is neither in the config nor a prefix bioregistry knows with a "
                "download; add an entry under 'ontologies:' with a resolver",
                ontology_id=oid,
            )
        sources.append(found)
    return sources
