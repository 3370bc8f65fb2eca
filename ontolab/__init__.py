"""ontolab: a trustworthy local mirror of ontologies.

The public API. Pipeline functions load their dependencies on first use, so ``import ontolab``
stays fast in a notebook and the CLI.
"""

from __future__ import annotations

import logging
import sys
import types
from typing import TYPE_CHECKING, Any

from ontolab._version import __version__
from ontolab.errors import (
    BioPortalAuthError,
    CatalogError,
    CatalogLocked,
    ClientHTTPError,
    ConfigError,
    ExtractError,
    FetchError,
    GateError,
    GateRejected,
    HTTPStatusError,
    ImportUnresolved,
    IntegrityError,
    LicenceRestricted,
    LockFileError,
    NetworkError,
    NoDownloadableFile,
    NotAnOntology,
    OntolabError,
    OntologyParseError,
    PlanError,
    PolicyViolation,
    ResolverUnavailable,
    ServerError,
    StorageError,
    Terminal,
    TooLarge,
    TooManyRedirects,
    Transient,
    UnknownOntology,
    UnsafeArchive,
    UnsafeXML,
    ValidationFailed,
)

# A library leaves output to its caller: without a handler, Python's last-resort handler
# would print bare event names ("gate.rejected") under notebook cells. The CLI and
# `ontolab serve` configure logging; a notebook user can with logging.basicConfig().
logging.getLogger("ontolab").addHandler(logging.NullHandler())

if TYPE_CHECKING:
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
    from ontolab.pipeline import lock_plan, plan, plan_diff, pull, validate
    from ontolab.query import connect
    from ontolab.settings import OntolabSettings, load_settings

# Loaded on first use, so `import ontolab` and the CLI start fast: name -> module.
_LAZY = {
    **dict.fromkeys(("plan", "pull", "lock_plan", "plan_diff", "validate"), "ontolab.pipeline"),
    **dict.fromkeys(
        (
            *("Artifact", "FetchResult", "Plan", "PlanFailure", "PlanItem"),
            *("ReceiptRow", "RunReceipt", "Source"),
        ),
        "ontolab.models",
    ),
    "connect": "ontolab.query",
    "OntolabSettings": "ontolab.settings",
    "load_settings": "ontolab.settings",
}


class _PublicModule(types.ModuleType):
    """``ontolab`` itself: ``plan`` and ``validate`` stay the functions.

    They share their names with the subpackages ``ontolab/plan/`` and
    ``ontolab/validate/``, and importing a subpackage binds it on its parent; that binding
    is skipped, so ``ontolab.plan(...)`` works after any import (``from ontolab.plan import
    X`` reads ``sys.modules`` and is unaffected).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("plan", "validate") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicModule


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ontolab' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Artifact",
    "BioPortalAuthError",
    "CatalogError",
    "CatalogLocked",
    "ClientHTTPError",
    "ConfigError",
    "ExtractError",
    "FetchError",
    "FetchResult",
    "GateError",
    "GateRejected",
    "HTTPStatusError",
    "ImportUnresolved",
    "IntegrityError",
    "LicenceRestricted",
    "LockFileError",
    "NetworkError",
    "NoDownloadableFile",
    "NotAnOntology",
    "OntolabError",
    "OntolabSettings",
    "OntologyParseError",
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
    "TooLarge",
    "TooManyRedirects",
    "Transient",
    "UnknownOntology",
    "UnsafeArchive",
    "UnsafeXML",
    "ValidationFailed",
    "__version__",
    "connect",
    "load_settings",
    "lock_plan",
    "plan",
    "plan_diff",
    "pull",
    "validate",
]
