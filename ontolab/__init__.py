"""ontolab: a trustworthy local mirror of ontologies.

The public API. Pipeline functions load their dependencies on first use, so ``import ontolab``
stays fast in a notebook and the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ontolab._version import __version__
from ontolab.errors import (
    BioPortalAuthError,
    CatalogError,
    CatalogLocked,
    ClientHTTPError,
    ConfigError,
    FetchError,
    HTTPStatusError,
    IntegrityError,
    LicenceRestricted,
    LockFileError,
    NetworkError,
    NoDownloadableFile,
    OntolabError,
    PlanError,
    PolicyViolation,
    ResolverUnavailable,
    ServerError,
    StorageError,
    Terminal,
    TooManyRedirects,
    Transient,
    UnknownOntology,
)
from ontolab.models import (
    Artifact,
    FetchResult,
    Plan,
    PlanFailure,
    PlanItem,
    ReceiptRow,
    RunReceipt,
    Source,
)
from ontolab.settings import OntolabSettings, load_settings

if TYPE_CHECKING:
    from ontolab.pipeline import lock_plan, plan, plan_diff, pull

_LAZY = {"plan", "pull", "lock_plan", "plan_diff"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from ontolab import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ontolab' has no attribute {name!r}")


__all__ = [
    "Artifact",
    "BioPortalAuthError",
    "CatalogError",
    "CatalogLocked",
    "ClientHTTPError",
    "ConfigError",
    "FetchError",
    "FetchResult",
    "HTTPStatusError",
    "IntegrityError",
    "LicenceRestricted",
    "LockFileError",
    "NetworkError",
    "NoDownloadableFile",
    "OntolabError",
    "OntolabSettings",
    "Plan",
    "PlanError",
    "PlanFailure",
    "PlanItem",
    "PolicyViolation",
    "ReceiptRow",
    "ResolverUnavailable",
    "RunReceipt",
    "ServerError",
    "Source",
    "StorageError",
    "Terminal",
    "TooManyRedirects",
    "Transient",
    "UnknownOntology",
    "__version__",
    "load_settings",
    "lock_plan",
    "plan",
    "plan_diff",
    "pull",
]
