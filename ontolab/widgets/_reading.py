"""What the widgets and charts read from: an open catalog view, or config to open one.

Given a config (a path, settings or None), each read opens the catalog read-only through
:func:`ontolab.connect` and closes it straight after, so a widget left on screen holds no
catalog file between interactions and a following ``ontolab.pull`` in the same notebook (or
an ``ontolab pull`` in a terminal) gets in at once. Given an open :class:`CatalogView`, the
caller owns it and it is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeAlias

from ontolab.catalog import redact_url
from ontolab.query import CatalogView, connect
from ontolab.settings import OntolabSettings, load_settings

if TYPE_CHECKING:
    import os

__all__ = ["CatalogSource", "Reader"]

CatalogSource: TypeAlias = "CatalogView | str | os.PathLike[str] | OntolabSettings | None"
"""An open view, or what :func:`ontolab.connect` accepts as ``config``."""


class Reader:
    """Opens the catalog for one read at a time.

    Parameters
    ----------
    source
        An open :class:`CatalogView` (used as is, never closed here) or a config file path
        or settings (resolved once, here; each read then opens and closes the catalog).
    """

    def __init__(self, source: CatalogSource = None) -> None:
        self._view = source if isinstance(source, CatalogView) else None
        self.settings: OntolabSettings = (
            source.settings if isinstance(source, CatalogView) else load_settings(source)
        )

    @property
    def location(self) -> str:
        """The catalog's location as configured (no password)."""
        if self._view is not None:
            return self._view.location
        return redact_url(self.settings.catalog_url)

    @contextmanager
    def read(self) -> Iterator[CatalogView]:
        """A view for one read; a view this reader opened is closed afterwards."""
        if self._view is not None:
            yield self._view
            return
        view = connect(self.settings)
        try:
            yield view
        finally:
            view.close()
