"""Observability: the one event model, its sinks, logging with the run id, event statistics.

Every event is stamped once (:meth:`Event.stamped`) and then written to the catalog's
``events`` table (by :class:`ontolab.catalog.Recorder`, in the transaction of the facts it
describes) and to each sink of :func:`event_sinks`: the rotated JSON-lines file
``<data_dir>/logs/events.jsonl`` and stderr through logging. Reading back (``obs stats``,
``obs export``) loads pyarrow and DuckDB on first use, and the Prometheus metrics
(:func:`render`, :func:`write_textfile`, :func:`process_registry`, :class:`CatalogCollector`)
load prometheus_client on first use, so importing this package stays cheap. Notebook download
bars (:class:`NotebookProgress`) load tqdm only when the first bar is drawn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ontolab.obs._events import EVENT_COLUMNS, LEVELS, Event, EventSink
from ontolab.obs._logging import LogFormat, bind_run_id, configure_logging, unbind_run_id
from ontolab.obs._progress import NotebookProgress, in_jupyter_kernel, notebook_progress
from ontolab.obs._sinks import (
    EVENTS_LOGGER,
    JsonlSink,
    LogSink,
    event_sinks,
    events_path,
)

if TYPE_CHECKING:
    from ontolab.obs._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
    from ontolab.obs._metrics import (
        CatalogCollector,
        process_registry,
        render,
        write_textfile,
    )
    from ontolab.obs._stats import (
        EXPORT_FORMATS,
        ExportFormat,
        event_stats,
        event_table,
        export_events,
        follow,
        log_position,
        read_jsonl,
    )

# name -> (module, attribute): loaded on first access.
_LAZY = {
    **{
        name: ("ontolab.obs._stats", name)
        for name in (
            "EXPORT_FORMATS",
            "ExportFormat",
            "event_stats",
            "event_table",
            "export_events",
            "follow",
            "log_position",
            "read_jsonl",
        )
    },
    "METRICS_CONTENT_TYPE": ("ontolab.obs._metrics", "CONTENT_TYPE"),
    **{
        name: ("ontolab.obs._metrics", name)
        for name in ("CatalogCollector", "process_registry", "render", "write_textfile")
    },
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'ontolab.obs' has no attribute {name!r}")


__all__ = [
    "EVENTS_LOGGER",
    "EVENT_COLUMNS",
    "EXPORT_FORMATS",
    "LEVELS",
    "METRICS_CONTENT_TYPE",
    "CatalogCollector",
    "Event",
    "EventSink",
    "ExportFormat",
    "JsonlSink",
    "LogFormat",
    "LogSink",
    "NotebookProgress",
    "bind_run_id",
    "configure_logging",
    "event_sinks",
    "event_stats",
    "event_table",
    "events_path",
    "export_events",
    "follow",
    "in_jupyter_kernel",
    "log_position",
    "notebook_progress",
    "process_registry",
    "read_jsonl",
    "render",
    "unbind_run_id",
    "write_textfile",
]
