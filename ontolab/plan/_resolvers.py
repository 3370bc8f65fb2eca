"""Built-in resolvers: ``url``, ``obo`` (OBO PURLs), ``ols`` (OLS4) and ``bioportal``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ontolab.errors import (
    BioPortalAuthError,
    ClientHTTPError,
    LicenceRestricted,
    NoDownloadableFile,
    OntolabError,
    ResolverUnavailable,
    UnknownOntology,
)
from ontolab.formats import release_from_iri
from ontolab.models import Artifact, PlanItem, Source
from ontolab.plan._probe import Probe, Sniff
from ontolab.plan._registry import ResolveContext, register_resolver

OBO_PURL_BASE = "http://purl.obolibrary.org/obo"
FORMATS = ("owl", "obo", "json")


def _item(source: Source, resolver: str, url: str, found: Probe, **extra: Any) -> PlanItem:
    if found.sniff.kind == "html":
        raise NoDownloadableFile(
            f"{url} serves an HTML page, not an ontology",
            code="E_PLAN_HTML_NOT_ONTOLOGY",
            url=url,
            ontology_id=source.id,
        )
    fields: dict[str, Any] = {
        "ontology": source.id,
        "resolver": resolver,
        "url": url,
        "version": source.version or found.version,
        "version_iri": found.sniff.version_iri,
        "expected_size": found.size,
        "etag": found.etag,
        "last_modified": found.last_modified,
        "content_type": found.content_type,
        "final_url": found.final_url,
        "licence": found.sniff.licence or source.licence,
        "title": found.sniff.title or source.title,
        "format": source.format or found.sniff.kind,
        "sha256": source.sha256,
    }
    fields.update({k: v for k, v in extra.items() if v is not None})
    return PlanItem(**fields)


def _release_url(url: str, found: Probe) -> str:
    """The first URL of ``url``'s redirect chain that names a release, else ``url``.

    Fetch the release a PURL pointed at, not "latest": the plan's version is then exactly
    what the pull brings, and a lock file pins a URL that never moves.
    """
    return next((u for u in (url, *found.redirects) if release_from_iri(u)), url)


class UrlResolver:
    """A direct URL, optionally pinned by sha256."""

    name = "url"

    def resolve(self, source: Source, ctx: ResolveContext) -> PlanItem:
        if not source.url:
            raise NoDownloadableFile(
                "resolver 'url' needs a 'url' in the ontology's config entry",
                ontology_id=source.id,
            )
        stored = ctx.known(source.id, source.url) if source.sha256 else None
        if stored is not None and stored.sha256 == source.sha256 and stored.path.is_file():
            # A pin names exact bytes: once they are stored upstream has nothing to add, and
            # a pull will not ask it either (so without this, a pin satisfied from the store
            # would leave no ETag, and every later plan would read 64 KiB again).
            return _item(source, self.name, source.url, _stored_probe(source.url, stored))
        return _item(source, self.name, source.url, ctx.probe(source, source.url))


def _stored_probe(url: str, stored: Artifact) -> Probe:
    return Probe(
        url=url,
        final_url=stored.final_url or url,
        size=stored.size,
        etag=stored.etag,
        last_modified=stored.last_modified,
        content_type=stored.content_type,
        sniff=Sniff(version=stored.version, version_iri=stored.version_iri),
    )


class OboResolver:
    """OBO Foundry PURLs: ``{base}/{id}.{ext}``, products and pinned releases."""

    name = "obo"

    @staticmethod
    def filenames(source: Source) -> list[str]:
        oid = source.id.lower()
        formats = [source.format] if source.format else list(FORMATS)
        product = source.product
        if product and "." in product:
            return [product]
        if product:
            stem = product if product.startswith(f"{oid}-") else f"{oid}-{product}"
            return [f"{stem}.{ext}" for ext in formats]
        return [f"{oid}.{ext}" for ext in formats]

    def urls(self, source: Source, base: str) -> list[str]:
        oid = source.id.lower()
        base = base.rstrip("/")
        out = []
        for name in self.filenames(source):
            if source.version:
                out.append(f"{base}/{oid}/releases/{quote(source.version)}/{name}")
            elif name.startswith(f"{oid}."):
                out.append(f"{base}/{name}")
            else:
                out.append(f"{base}/{oid}/{name}")
        return out

    def resolve(self, source: Source, ctx: ResolveContext) -> PlanItem:
        tried: list[str] = []
        for url in self.urls(source, ctx.settings.resolvers.obo.base_url):
            try:
                found = ctx.probe(source, url)
            except ClientHTTPError as exc:
                if exc.status not in (403, 404, 410):
                    raise
                tried.append(f"{url} ({exc.status})")
                continue
            return _item(source, self.name, _release_url(url, found), found)
        raise NoDownloadableFile(
            f"no OBO PURL answered: {', '.join(tried)}",
            code="E_OBO_NOT_FOUND",
            ontology_id=source.id,
        )


def rebase_obo_purl(url: str, obo_base: str) -> str:
    """Point an ``http://purl.obolibrary.org/obo/...`` URL at the configured OBO base."""
    for prefix in (OBO_PURL_BASE, OBO_PURL_BASE.replace("http:", "https:")):
        if url.startswith(prefix + "/"):
            return obo_base.rstrip("/") + url[len(prefix) :]
    return url


class OlsResolver:
    """OLS4: ``/api/ontologies/{id}`` gives version, versionIri and fileLocation."""

    name = "ols"

    def resolve(self, source: Source, ctx: ResolveContext) -> PlanItem:
        base = ctx.settings.resolvers.ols.base_url.rstrip("/")
        api = f"{base}/api/ontologies/{quote(source.id.lower())}"
        try:
            doc = ctx.session.get_json(api)
        except ClientHTTPError as exc:
            if exc.status == 404:
                raise UnknownOntology(
                    f"OLS does not know {source.id!r}", ontology_id=source.id, url=api
                ) from exc
            raise
        except OntolabError as exc:
            raise ResolverUnavailable(f"OLS API failed: {exc.message}", url=api) from exc
        config = doc.get("config", {}) if isinstance(doc, dict) else {}
        version_iri = config.get("versionIri")
        location = config.get("fileLocation")
        if not location:
            raise NoDownloadableFile(
                "OLS lists no fileLocation for this ontology",
                code="E_OLS_NO_FILE_LOCATION",
                ontology_id=source.id,
                url=api,
            )
        obo_base = ctx.settings.resolvers.obo.base_url
        candidates = [rebase_obo_purl(location, obo_base)]
        if version_iri and version_iri != location:
            candidates.append(rebase_obo_purl(version_iri, obo_base))
        problems: list[str] = []
        for url in candidates:
            try:
                found = ctx.probe(source, url)
                item = _item(
                    source,
                    self.name,
                    _release_url(url, found),
                    found,
                    version=source.version or config.get("version") or found.version,
                    version_iri=version_iri,
                    title=config.get("title"),
                    licence=_licence(config.get("license")),
                )
            except (ClientHTTPError, NoDownloadableFile) as exc:
                problems.append(f"{url}: {exc.message}")
                continue
            return item
        raise NoDownloadableFile(
            "OLS fileLocation is not a downloadable ontology file (it may be the ontology IRI): "
            + "; ".join(problems),
            code="E_OLS_FILE_IS_IRI",
            ontology_id=source.id,
            url=location,
        )


def _licence(value: object) -> str | None:
    if isinstance(value, dict):
        return str(value.get("url") or value.get("label") or "") or None
    return str(value) if value else None


class BioPortalResolver:
    """BioPortal: ``latest_submission`` for the version, ``download`` for the file."""

    name = "bioportal"

    def resolve(self, source: Source, ctx: ResolveContext) -> PlanItem:
        cfg = ctx.settings.resolvers.bioportal
        if cfg.api_key is None:
            raise BioPortalAuthError(
                f"BioPortal needs an API key: set ${cfg.api_key_env}",
                code="E_BIOPORTAL_NO_KEY",
                ontology_id=source.id,
            )
        acronym = quote(source.acronym or source.id.upper())
        base = f"{cfg.base_url.rstrip('/')}/ontologies/{acronym}"
        try:
            submission = ctx.session.get_json(f"{base}/latest_submission?display=all")
            url = f"{base}/download"
            found = ctx.probe(source, url)
        except ClientHTTPError as exc:
            raise _bioportal_error(exc, source) from exc
        sub = submission if isinstance(submission, dict) else {}
        language = str(sub.get("hasOntologyLanguage") or "").lower() or None
        released = str(sub.get("released") or "")[:10] or None
        return _item(
            source,
            self.name,
            url,
            found,
            version=source.version or sub.get("version") or released or found.version,
            format=source.format or language,
        )


def _bioportal_error(exc: ClientHTTPError, source: Source) -> OntolabError:
    context = {"ontology_id": source.id, "url": exc.url}
    if exc.status == 401:
        return BioPortalAuthError(
            "BioPortal rejected the API key (401); check the key's value", **context
        )
    if exc.status == 403:
        return LicenceRestricted(
            "BioPortal restricts this ontology by licence (403); request access on BioPortal",
            **context,
        )
    if exc.status == 404:
        is_download = (exc.url or "").endswith("/download")
        return NoDownloadableFile(
            "BioPortal has no downloadable file for this ontology (404)"
            if is_download
            else "BioPortal does not know this ontology (404)",
            code="E_BIOPORTAL_NO_FILE" if is_download else "E_BIOPORTAL_NOT_FOUND",
            **context,
        )
    return exc


for _resolver in (UrlResolver(), OboResolver(), OlsResolver(), BioPortalResolver()):
    register_resolver(_resolver)
