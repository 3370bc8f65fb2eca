"""Notebook faces of the catalog: an ipywidgets browser and altair charts.

Everything here sits above the query layer and reads through :func:`ontolab.connect`.
ipywidgets, altair and polars load on first use of a name, so ``import ontolab.widgets``
stays cheap.

- :func:`browse` / :class:`CatalogBrowser`: ontologies → versions → metrics, gate results,
  diff against the previous good version, files.
- :func:`term_count_chart`, :func:`coverage_chart`, :func:`size_chart`: altair charts, with
  the frames behind them (:func:`term_count_frame`, :func:`coverage_frame`,
  :func:`size_frame`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ontolab.widgets._browser import CatalogBrowser, browse
    from ontolab.widgets._charts import (
        coverage_chart,
        coverage_frame,
        size_chart,
        size_frame,
        term_count_chart,
        term_count_frame,
    )

# name -> module: loaded on first access.
_LAZY = {
    "CatalogBrowser": "ontolab.widgets._browser",
    "browse": "ontolab.widgets._browser",
    **dict.fromkeys(
        (
            "coverage_chart",
            "coverage_frame",
            "size_chart",
            "size_frame",
            "term_count_chart",
            "term_count_frame",
        ),
        "ontolab.widgets._charts",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ontolab.widgets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CatalogBrowser",
    "browse",
    "coverage_chart",
    "coverage_frame",
    "size_chart",
    "size_frame",
    "term_count_chart",
    "term_count_frame",
]
