"""Grafana dashboard model and rendering for generate.py: panels, rows, variables, JSON.

Standard library only. A dashboard is rows of `Panel`s; `dashboard` lays them out on
Grafana's 24-column grid and returns the JSON model Grafana provisions from a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DS = {"type": "prometheus", "uid": "${datasource}"}
# Every API pod serves the same catalog-derived series (each reads the shared catalog), so
# they are reduced to one copy before summing; process-local metrics (api, catalog
# transactions, refresh) are summed as they are.
ONE_COPY = "max without (instance, job, pod, colour, track)"
_CATALOG_RANGE = re.compile(
    r"\b((?:increase|rate)\(ontolab_(?!refresh_|api_|catalog_transaction_)\w+"
    r"(?:\{[^}]*\})?\[[^\]]+\]\))"
)


def one_copy(expr: str) -> str:
    """``expr`` with each range over a catalog-derived counter reduced to one copy.

    >>> one_copy("sum(rate(ontolab_events_total[1h]))")
    'sum(max without (instance, job, pod, colour, track) (rate(ontolab_events_total[1h])))'
    >>> one_copy("sum(rate(ontolab_api_requests_total[5m]))")
    'sum(rate(ontolab_api_requests_total[5m]))'
    """
    return _CATALOG_RANGE.sub(lambda m: f"{ONE_COPY} ({m[1]})", expr)


@dataclass
class Panel:
    """One panel: its queries (``(expr, legend)``), kind, unit and width (of 24)."""

    title: str
    queries: list[tuple[str, str]]
    description: str
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    instant: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """A titled row of panels, filled left to right and wrapped at 24 columns."""

    title: str
    panels: list[Panel]


def _variables(*names: str) -> list[dict[str, Any]]:
    queries = {
        "ontology": "label_values(ontolab_versions, ontology)",
        "host": "label_values(ontolab_downloads_total, host)",
        "job": "label_values(ontolab_catalog_up, job)",
    }
    found: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        }
    ]
    for name in names:
        found.append(
            {
                "name": name,
                "label": name.capitalize(),
                "type": "query",
                "datasource": DS,
                "definition": queries[name],
                "query": {"query": queries[name], "refId": name},
                "current": {},
                "includeAll": True,
                "multi": True,
                "allValue": ".*",
                "refresh": 2,
                "sort": 1,
                "hide": 0,
            }
        )
    return found


def _panel(panel: Panel, ident: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DS,
            "expr": one_copy(expr),
            "legendFormat": legend,
            "instant": panel.instant,
            "range": not panel.instant,
        }
        for i, (expr, legend) in enumerate(panel.queries)
    ]
    options: dict[str, Any]
    if panel.kind == "timeseries":
        options = {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:  # stat, bargauge: the newest value of each series
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    return {
        "id": ident,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit, **panel.extra}, "overrides": []},
        "options": options,
    }


def dashboard(
    uid: str, title: str, description: str, variables: list[str], rows: list[Row]
) -> dict[str, Any]:
    """A whole dashboard: rows of panels laid out left to right, top to bottom."""
    panels: list[dict[str, Any]] = []
    ident, y = 1, 0
    for row in rows:
        panels.append(
            {
                "id": ident,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        ident, y, x, tallest = ident + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, tallest = 0, y + tallest, 0
            panels.append(_panel(panel, ident, x, y))
            ident, x, tallest = ident + 1, x + panel.width, max(tallest, panel.height)
        y += tallest
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ontolab"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "annotations": {"list": []},
        "links": [
            {
                "title": "ontolab dashboards",
                "type": "dashboards",
                "tags": ["ontolab"],
                "asDropdown": True,
            }
        ],
        "templating": {"list": _variables(*variables)},
        "panels": panels,
    }
