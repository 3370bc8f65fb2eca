"""Great Expectations, loaded on first use and kept quiet.

GX costs seconds to import, so only an evaluation pays for it, once per process. It is told
not to send analytics before it loads, its metric progress bars are off and its loggers are
raised to ERROR: ontolab is a library and a CLI, and draws its own output.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

from ontolab.errors import GateError
from ontolab.gates._suites import Suite, SuiteEntry

_GX: Any = None


def import_gx() -> tuple[Any, float]:
    """The ``great_expectations`` module and the seconds this call spent importing it."""
    global _GX  # noqa: PLW0603 - one import per process, like the module cache itself
    if _GX is not None:
        return _GX, 0.0
    # Before the import: GX reads it when a context starts; tests and mirrors run offline.
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    started = time.perf_counter()
    loaded = "great_expectations" in sys.modules
    # Before the import: importing it already logs at INFO (an ephemeral docs site).
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # GX's file-path connector imports the regex internals Python 3.11 deprecates.
            warnings.filterwarnings(
                "ignore",
                message=r"module 'sre_(constants|parse)' is deprecated",
                category=DeprecationWarning,
            )
            import great_expectations as gx
            import great_expectations.expectations  # the expectation classes
    except ImportError as exc:
        raise GateError(
            f"gates need Great Expectations, which cannot be imported ({exc}); "
            "pip install 'great-expectations>=1.3,<2', or set gates.enabled: false",
            code="E_GATE_FAILED_TO_RUN",
        ) from exc
    _GX = gx
    return gx, 0.0 if loaded else time.perf_counter() - started


@dataclass(frozen=True)
class Planned:
    """An entry ready to evaluate: kwargs substituted, threshold worked out."""

    suite: Suite
    entry: SuiteEntry
    kwargs: dict[str, Any]
    threshold: Any


def threshold_of(kwargs: dict[str, Any], expectation: str) -> Any:
    """What the entry was held to, for people: ``{"min": ...}`` and/or ``{"max": ...}``."""
    if "mostly" in kwargs:
        return {"min": kwargs["mostly"]}
    bounds = {
        key: kwargs[name]
        for key, name in (("min", "min_value"), ("max", "max_value"))
        if kwargs.get(name) is not None
    }
    if bounds:
        return bounds
    if expectation.startswith("expect_column_values_"):
        return {"min": 1.0}  # GX's default: every row
    return None


def jsonable(value: Any) -> Any:
    """numpy scalars, NaN and containers → plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _expectation(gx: Any, planned: Planned) -> Any:
    entry = planned.entry
    class_name = "".join(part.capitalize() for part in entry.expectation.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None or not entry.expectation.startswith("expect_"):
        raise GateError(
            f"gate suite {planned.suite.name!r}, entry {entry.name!r}: "
            f"{entry.expectation!r} is not a Great Expectations expectation type",
            code="E_GATE_SUITE_INVALID",
            path=str(planned.suite.path) if planned.suite.path else None,
        )
    try:
        return cls(**planned.kwargs, meta={"ontolab_entry": entry.name})
    except Exception as exc:  # pydantic's ValidationError, GX's own: the kwargs are wrong
        raise GateError(
            f"gate suite {planned.suite.name!r}, entry {entry.name!r}: invalid kwargs for "
            f"{entry.expectation}: {exc}",
            code="E_GATE_SUITE_INVALID",
            path=str(planned.suite.path) if planned.suite.path else None,
        ) from exc


_COLUMN_KWARGS = ("column", "column_A", "column_B")
# One ephemeral context per process: building one re-serialises its config on every change
# (a tenth of a second per run). GX contexts are not thread-safe; pulls run gates in threads.
_LOCK = threading.Lock()
_SOURCE: Any = None


def _source(gx: Any) -> Any:
    """The process's pandas data source, in an ephemeral context with progress bars off."""
    global _SOURCE  # noqa: PLW0603 - one context per process, see above
    if _SOURCE is None:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        _SOURCE = context.data_sources.add_pandas("ontolab")
    return _SOURCE


def _asset(source: Any, name: str) -> Any:
    """The dataframe asset named after a frame, with its whole-dataframe batch definition."""
    try:
        return source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
        asset.add_batch_definition_whole_dataframe(name)
        return asset


def _narrow(frame: Any, entries: list[Planned], keep: tuple[str, ...]) -> Any:
    """Only the columns the entries check: GX hashes every column of a batch, and string
    columns (ids, labels) would cost more than the checks themselves."""
    wanted = [*keep]
    for planned in entries:
        for key in _COLUMN_KWARGS:
            if isinstance(planned.kwargs.get(key), str):
                wanted.append(planned.kwargs[key])
        wanted.extend(c for c in planned.kwargs.get("column_list") or [] if isinstance(c, str))
    if not wanted:  # a table-level check (row count): the cheapest column will do
        cheap = [c for c in frame.columns if frame[c].dtype == bool]
        wanted = cheap[:1] or list(frame.columns[:1])
    return frame[list(dict.fromkeys(c for c in wanted if c in frame.columns))]


def validate_frames(
    frames: dict[str, Any],
    plan: list[Planned],
    *,
    result_format: dict[str, Any],
    keep: tuple[str, ...] = (),
) -> dict[str, dict[str, Any]]:
    """Run every planned entry on its frame; GX's result dict per entry name.

    A whole-dataframe batch and a suite per frame, narrowed to the checked columns (and
    ``keep``). Each result dict carries ``success``, ``result`` and ``exception``.
    """
    gx, _ = import_gx()

    by_frame: dict[str, list[Planned]] = {}
    for planned in plan:
        by_frame.setdefault(planned.entry.frame, []).append(planned)
    for name, entries in by_frame.items():
        if name not in frames:
            raise GateError(
                f"gate entry {entries[0].entry.name!r} names frame {name!r}; "
                f"frames: {', '.join(sorted(frames))}",
                code="E_GATE_SUITE_INVALID",
                path=str(entries[0].suite.path) if entries[0].suite.path else None,
            )
        columns = set(frames[name].columns)
        for planned in entries:
            column = planned.kwargs.get("column")
            if column is not None and column not in columns:
                raise GateError(
                    f"gate entry {planned.entry.name!r} checks column {column!r}, which frame "
                    f"{name!r} does not have (columns: {', '.join(sorted(columns))})",
                    code="E_GATE_SUITE_INVALID",
                    path=str(planned.suite.path) if planned.suite.path else None,
                )
    expectations = {p.entry.name: _expectation(gx, p) for p in plan}
    try:
        with _LOCK:
            source = _source(gx)
            found: dict[str, dict[str, Any]] = {}
            for name, entries in by_frame.items():
                asset = _asset(source, name)
                batch = asset.get_batch_definition(name).get_batch(
                    batch_parameters={"dataframe": _narrow(frames[name], entries, keep)}
                )
                suite = gx.ExpectationSuite(name=f"ontolab.{name}")
                for planned in entries:
                    suite.add_expectation(expectations[planned.entry.name])
                outcome = batch.validate(suite, result_format=result_format)
                for result in outcome.results:
                    entry = str(result.expectation_config.meta["ontolab_entry"])
                    info = result.exception_info or {}
                    raised = info.get("raised_exception")
                    found[entry] = {
                        "success": bool(result.success),
                        "result": dict(result.result or {}),
                        "exception": info.get("exception_message") if raised else None,
                    }
    except GateError:
        raise
    except Exception as exc:  # GX's own failures: the run cannot say pass or fail
        raise GateError(
            f"Great Expectations failed to evaluate the gates: {type(exc).__name__}: {exc}",
            code="E_GATE_FAILED_TO_RUN",
        ) from exc
    for planned in plan:
        got = found.get(planned.entry.name)
        if got is None or got["exception"]:
            why = got["exception"] if got else "no result came back"
            raise GateError(
                f"gate entry {planned.entry.name!r} ({planned.entry.expectation}) could not be "
                f"evaluated: {why}",
                code="E_GATE_FAILED_TO_RUN",
            )
    return found
