"""``ontolab obs ...``: the event log: newest events, following it, statistics, exports.

``tail`` without ``-f`` and ``stats``/``export`` read the catalog's ``events`` table, the
record of truth; ``tail -f`` follows the JSON-lines copy (``<data_dir>/logs/events.jsonl``),
which every process appends to as it records, across rotations.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ontolab.cli._db import SinceOption, fetch_rows, open_for, parse_since
from ontolab.cli._options import ConfigOption, JsonOption, settings_from
from ontolab.cli._output import emit_json, err_console, guarded, out_console

if TYPE_CHECKING:
    from ontolab.obs import Event

obs = typer.Typer(
    name="obs",
    help="The event log: tail, stats, export.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

IdArgument = Annotated[str | None, typer.Argument(help="Ontology id (default: all).")]
Level = Literal["debug", "info", "warning", "error"]
LevelOption = Annotated[Level | None, typer.Option("--level", help="Only events of this level.")]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value.isoformat() if isinstance(value, datetime | date) else value
        if key == "payload" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


def _line(row: dict[str, Any]) -> str:
    ts = row.get("ts")
    when = ts.isoformat(sep=" ", timespec="seconds") if isinstance(ts, datetime) else str(ts)
    parts = [when, str(row.get("level", "")).upper(), str(row.get("event"))]
    parts += [str(row[k]) for k in ("ontology", "version") if row.get(k)]
    if row.get("duration_s") is not None:
        parts.append(f"({float(row['duration_s']):.2f} s)")
    if row.get("error_code"):
        parts.append(str(row["error_code"]))
    if row.get("message"):
        parts.append(str(row["message"])[:160])
    parts.append(f"run={row.get('run_id')}")
    return " ".join(parts)


def _print_rows(rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        emit_json([_jsonable(r) for r in rows])
        return
    if not rows:
        err_console.print("no events recorded")
    for row in rows:
        out_console.print(_line(row), markup=False, highlight=False, soft_wrap=True)


def _matches(event: Event, ontology: str | None, level: str | None) -> bool:
    return (ontology is None or event.ontology == ontology) and (
        level is None or event.level == level
    )


@obs.command()
def tail(
    ontology: IdArgument = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing events as they are written.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Newest events shown.")] = 20,
    level: LevelOption = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="With -f: stop after this many seconds."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest events, oldest first; ``-f`` follows the JSON-lines event log."""
    if not follow:
        from ontolab.catalog import listings

        rows = guarded(
            lambda: fetch_rows(config, lambda: listings.events(ontology, level=level, limit=limit)),
            as_json=as_json,
        )
        _print_rows(list(reversed(rows)) if limit else [], as_json=as_json)
        return
    _follow(ontology, level, limit, timeout, config, as_json)


def _follow(
    ontology: str | None,
    level: str | None,
    limit: int,
    timeout: float | None,
    config: Path | None,
    as_json: bool,
) -> None:
    import sys

    from ontolab.obs import JsonlSink, events_path, follow, log_position, read_jsonl

    settings = guarded(lambda: settings_from(config), as_json=as_json)
    path = events_path(settings.data_dir)
    # Where the file ends before reading what it holds: nothing written meanwhile is missed,
    # and what is read twice is recognised by its event id.
    start = log_position(path) or (0, 0)
    recent = [e for e in read_jsonl(JsonlSink(path).files()) if _matches(e, ontology, level)]
    shown = recent[-limit:] if limit else []
    seen = {e.event_id for e in recent}

    def emit(event: Event) -> None:
        if as_json:
            sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
        else:
            out_console.print(_line(event.row()), markup=False, highlight=False)

    for event in shown:
        emit(event)
    err_console.print(f"following {path} (Ctrl-C to stop)")
    try:
        for event in follow(path, start=start, timeout_s=timeout):
            if _matches(event, ontology, level) and event.event_id not in seen:
                emit(event)
    except KeyboardInterrupt:
        return


@obs.command()
def stats(
    ontology: IdArgument = None,
    since: SinceOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per stage and ontology: events, errors, error rate, rejections, duration p50/p95."""

    def compute() -> list[dict[str, Any]]:
        from ontolab.obs import event_stats, event_table

        moment = parse_since(since)
        catalog = open_for(config, read_only=True)
        try:
            return event_stats(event_table(catalog, ontology=ontology, since=moment))
        finally:
            catalog.close()

    rows = guarded(compute, as_json=as_json)
    if as_json:
        emit_json([_jsonable(r) for r in rows])
        return
    if not rows:
        err_console.print("no events recorded")
        return
    from rich.table import Table

    columns = ("stage", "ontology", "events", "errors", "error_rate", "rejected")
    table = Table("stage", "ontology", "events", "errors", "rate", "rejected", "p50 s", "p95 s")
    for row in rows:
        cells = [str(row[c]) for c in columns]
        cells += [
            "" if row[c] is None else f"{row[c]:.3f}" for c in ("duration_p50_s", "duration_p95_s")
        ]
        table.add_row(*cells)
    out_console.print(table)


@obs.command()
def export(
    path: Annotated[Path, typer.Argument(help="File to write.")],
    fmt: Annotated[
        Literal["parquet", "jsonl", "csv"],
        typer.Option("--format", help="parquet, jsonl (one event a line) or csv."),
    ] = "parquet",
    ontology: Annotated[
        str | None, typer.Option("--ontology", help="Only this ontology's events.")
    ] = None,
    level: LevelOption = None,
    since: SinceOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the event log (oldest first, the catalog's columns) to a file."""

    def run() -> int:
        from ontolab.obs import event_table, export_events

        moment = parse_since(since)
        catalog = open_for(config, read_only=True)
        try:
            table = event_table(catalog, ontology=ontology, level=level, since=moment)
        finally:
            catalog.close()
        return export_events(table, path, fmt)

    count = guarded(run, as_json=as_json)
    if as_json:
        emit_json({"path": str(path), "format": fmt, "rows": count})
    else:
        err_console.print(f"exported {count} events to {path} ({fmt})")
