"""The catalog browser: pick an ontology, then a version, then read its metrics, gate
results, diff against the previous good version, and files.

Every interaction is one short read through :class:`~ontolab.widgets._reading.Reader` (open,
query, close), so the browser holds no catalog file while it sits on screen; a diff runs on
the terms tables' Parquet files, never on the catalog. Panels are rendered when first shown
and kept until :meth:`CatalogBrowser.refresh`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ontolab.errors import OntolabError
from ontolab.query import CatalogView, Overview
from ontolab.widgets._panels import (
    diff_panel,
    files_panel,
    gates_panel,
    message,
    metrics_panel,
    versions_panel,
)
from ontolab.widgets._reading import CatalogSource, Reader

__all__ = ["CSS_CLASS", "TABS", "CatalogBrowser", "browse"]

CSS_CLASS = "ontolab-catalog-browser"
TABS = ("metrics", "gates", "diff", "files")


def browse(config: CatalogSource = None) -> CatalogBrowser:
    """Browse the catalog in a notebook: ontologies, versions, metrics, gates, diffs, files.

    Parameters
    ----------
    config
        A config file path or settings, as for :func:`ontolab.connect` (default:
        ``$ONTOLAB_CONFIG``, ``./ontolab.yaml``), or an already open catalog view.

    Returns
    -------
    CatalogBrowser
        The widget; the last expression of a cell displays it.

    Examples
    --------
    >>> from ontolab.widgets import browse
    >>> browse("ontolab.yaml")  # doctest: +SKIP
    """
    return CatalogBrowser(config)


class CatalogBrowser(widgets.VBox):  # type: ignore[misc]  # VBox is untyped (Any)
    """An ipywidgets browser over the catalog (see :func:`browse`).

    Parameters
    ----------
    config
        As for :func:`browse`.

    Attributes
    ----------
    ontology
        Dropdown of the ontologies in the catalog.
    version
        Select of the chosen ontology's versions (status and live marker in each label).
    versions_table
        HTML table of those versions.
    tabs
        The panels of the chosen version, one per name in :data:`TABS`.
    notice
        A message in place of the panels (empty catalog, unreadable catalog).
    """

    def __init__(self, config: CatalogSource = None) -> None:
        self._reader = Reader(config)
        self._overview: Overview | None = None
        self._panels: dict[tuple[str, str, str], str] = {}
        self._quiet = False  # True while options are replaced: no cascade of re-renders
        self.header = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Re-read the catalog"
        )
        self.ontology = widgets.Dropdown(description="ontology", options=[])
        self.version = widgets.Select(description="version", options=[], rows=5)
        self.versions_table = widgets.HTML()
        self.tabs = widgets.Tab(children=[widgets.HTML() for _ in TABS])
        self.tabs.titles = TABS
        self.notice = widgets.HTML()
        self._body = widgets.VBox(
            [widgets.HBox([self.ontology, self.version]), self.versions_table, self.tabs]
        )
        super().__init__(
            [widgets.HBox([self.header, self.refresh_button]), self.notice, self._body]
        )
        self.add_class(CSS_CLASS)
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.ontology.observe(self._on_ontology, names="value")
        self.version.observe(self._on_version, names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.refresh()

    def __repr__(self) -> str:
        return (
            f"CatalogBrowser({self._reader.location}, ontology={self.ontology.value!r}, "
            f"version={self.version.value!r}, tab={self.tab!r})"
        )

    # -- what a user sees -------------------------------------------------------------------
    @property
    def tab(self) -> str:
        """The name of the panel on show."""
        return TABS[self.tabs.selected_index or 0]

    def panel_html(self, tab: str | None = None) -> str:
        """The HTML of a panel (default: the one on show), rendering it if need be."""
        name = tab or self.tab
        index = TABS.index(name)
        self._render(index)
        value: str = self.tabs.children[index].value
        return value

    def select(self, ontology: str, version: str | None = None, tab: str | None = None) -> None:
        """Show ``ontology`` (and ``version``, default its live or newest; and ``tab``)."""
        self.ontology.value = ontology
        if version is not None:
            self.version.value = version
        if tab is not None:
            self.tabs.selected_index = TABS.index(tab)

    def refresh(self) -> None:
        """Re-read the catalog (after a pull) and show the same ontology if it is still there."""
        self._panels.clear()
        self._overview = None
        try:
            with self._reader.read() as view:
                stats = view.stats().sort("ontology")
                location = view.location
        except OntolabError as exc:
            self._show_notice(f"The catalog cannot be read: {exc}", kind="error")
            return
        versions = int(stats["versions"].sum()) if stats.height else 0
        self.header.value = (
            f"<b>ontolab catalog</b> <code>{html.escape(location)}</code>: "
            f"{stats.height} ontologies, {versions} versions"
        )
        if stats.height == 0:
            self._show_notice(
                "The catalog is empty: nothing has been pulled yet. Run ontolab.pull() "
                "(or 'ontolab pull' in a terminal), then press Refresh."
            )
            return
        options = [
            (f"{row['ontology']} (live {row['live']})" if row["live"] else
             f"{row['ontology']} (nothing live)", str(row["ontology"]))
            for row in stats.iter_rows(named=True)
        ]  # fmt: skip
        previous = self.ontology.value
        self.notice.value = ""
        self._body.layout.display = None
        self._quietly(lambda: setattr(self.ontology, "options", options))
        names = [value for _label, value in options]
        self._quietly(
            lambda: setattr(self.ontology, "value", previous if previous in names else names[0])
        )
        self._load_versions()

    # -- reacting ---------------------------------------------------------------------------
    def _quietly(self, change: Callable[[], None]) -> None:
        self._quiet = True
        try:
            change()
        finally:
            self._quiet = False

    def _on_ontology(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._load_versions()

    def _on_version(self, _change: dict[str, Any]) -> None:
        if not self._quiet and self.version.value is not None:
            self._load_version()

    def _on_tab(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._render(self.tabs.selected_index or 0)

    def _load_versions(self) -> None:
        """The chosen ontology's versions; shows its live version (else the newest)."""
        ontology = self.ontology.value
        try:
            with self._reader.read() as view:
                overview = view.show(ontology)
        except OntolabError as exc:
            self._show_error(exc)
            return
        labels = [
            (
                f"{v['version']} · {v['status']}" + (" · live" if v["live"] else ""),
                str(v["version"]),
            )
            for v in overview.versions
        ]
        self._quietly(lambda: setattr(self.version, "options", labels))
        self._quietly(lambda: setattr(self.version, "value", overview.version))
        self.version.rows = min(max(len(labels), 2), 8)
        self._show(overview)

    def _load_version(self) -> None:
        try:
            with self._reader.read() as view:
                overview = view.show(self.ontology.value, self.version.value)
        except OntolabError as exc:
            self._show_error(exc)
            return
        self._show(overview)

    def _show(self, overview: Overview) -> None:
        self._overview = overview
        self.versions_table.value = versions_panel(overview.versions, overview.version)
        for child in self.tabs.children:
            child.value = ""
        self._render(self.tabs.selected_index or 0)

    def _render(self, index: int) -> None:
        overview = self._overview
        if overview is None:
            return
        key = (overview.ontology, overview.version, TABS[index])
        if key not in self._panels:
            self._panels[key] = self._panel(overview, TABS[index])
        self.tabs.children[index].value = self._panels[key]

    def _panel(self, overview: Overview, tab: str) -> str:
        try:
            if tab == "metrics":
                return metrics_panel(overview)
            if tab == "gates":
                return gates_panel(overview)
            if tab == "files":
                return files_panel(overview)
            with self._reader.read() as view:
                return _diff(view, overview)
        except OntolabError as exc:
            return message(str(exc), kind="error")

    def _show_notice(self, text: str, *, kind: str = "info") -> None:
        self.notice.value = message(text, kind=kind)
        self._body.layout.display = "none"
        if kind == "error":
            self.header.value = (
                f"<b>ontolab catalog</b> <code>{html.escape(self._reader.location)}</code>"
            )

    def _show_error(self, exc: OntolabError) -> None:
        self.notice.value = message(str(exc), kind="error")


def _diff(view: CatalogView, overview: Overview) -> str:
    """The diff from the previous version with a terms table to the chosen one."""
    if overview.status != "good":
        return message(
            f"{overview.ontology} {overview.version} is {overview.status}: only good versions "
            "keep a terms table to compare"
        )
    try:
        diff = view.compare(overview.ontology, None, overview.version)
    except OntolabError as exc:
        if exc.code == "E_DIFF_NO_BASE":
            return message(
                f"{overview.ontology} {overview.version} is the first good version stored: "
                "there is nothing earlier to compare with"
            )
        raise
    return diff_panel(diff)
