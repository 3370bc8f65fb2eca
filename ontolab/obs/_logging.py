"""Logging set up in one place: stdlib records from ontolab rendered through structlog.

Modules log with ``logging.getLogger(__name__)`` as usual; :func:`configure_logging` puts one
handler on the root logger whose structlog formatter renders every record, with the
``run_id`` bound by :func:`bind_run_id` (structlog context variables) and the extras a record
carries (the event sink's ``stage``, ``ontology``, ...). ``log_format: json`` prints one JSON
object a line on stderr for log shippers; ``console`` prints ``key=value`` lines for people.

structlog costs about a quarter of a second to import, more than all of ``ontolab db latest
--json``; so at the default level (``warning``) with the console format a plain stdlib
formatter that shows the same keys is used and structlog is never imported.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, Literal

LogFormat = Literal["console", "json"]

# Extras the event sink and callers attach to records, shown by the plain formatter too.
_FIELDS = ("run_id", "stage", "ontology", "version", "duration_s", "error_code", "detail")
# The run id for the plain formatter, which has no structlog context to read it from.
_RUN_ID: ContextVar[str | None] = ContextVar("ontolab_run_id", default=None)


class _PlainFormatter(logging.Formatter):
    """``ontolab LEVEL logger: message key=value ...`` without importing structlog."""

    def __init__(self) -> None:
        super().__init__("ontolab %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {name: getattr(record, name, None) for name in _FIELDS}
        fields["run_id"] = fields["run_id"] or _RUN_ID.get()
        extras = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return f"{line} {extras}" if extras else line


def configure_logging(level: str = "warning", log_format: LogFormat = "console") -> None:
    """Route every log record to stderr, rendered by structlog (or plainly, see the module).

    Parameters
    ----------
    level
        ``debug``, ``info``, ``warning`` or ``error``.
    log_format
        ``console`` for people, ``json`` for one JSON object a line.
    """
    numeric = logging.getLevelName(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    # On the handler too: a library that sets its own logger to INFO (Great Expectations
    # does, on import) would otherwise print below the level asked for.
    handler.setLevel(numeric)
    if log_format == "console" and numeric >= logging.WARNING:
        handler.setFormatter(_PlainFormatter())
    else:
        handler.setFormatter(_structlog_formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)


def _structlog_formatter(log_format: LogFormat) -> logging.Formatter:
    import structlog

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _merge_run_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(default=str)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def _merge_run_id(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    run_id = _RUN_ID.get()
    if run_id and "run_id" not in event_dict:
        event_dict["run_id"] = run_id
    return event_dict


def bind_run_id(run_id: str) -> Mapping[str, Token[Any]]:
    """Bind ``run_id`` to every log line of this context; returns what :func:`unbind_run_id`
    needs to restore the previous binding (runs may nest: ``validate`` inside a service)."""
    tokens: dict[str, Token[Any]] = {"_plain": _RUN_ID.set(run_id)}
    if "structlog" in sys.modules:
        # Only when structlog is loaded: a run at the default level must not import it.
        import structlog

        tokens.update(structlog.contextvars.bind_contextvars(run_id=run_id))
    return tokens


def unbind_run_id(tokens: Mapping[str, Token[Any]]) -> None:
    """Undo :func:`bind_run_id`."""
    rest = dict(tokens)
    plain = rest.pop("_plain", None)
    if rest:
        import structlog

        structlog.contextvars.reset_contextvars(**rest)
    if plain is not None:
        _RUN_ID.reset(plain)
