"""``ontolab db ...``: catalog listings, backup, restore and migration.

Listings fetch plain rows through the backend's reader (the SQL lives in
``ontolab.catalog.listings``), never through pyarrow or polars: ``ontolab db latest --json``
is what scripts and health checks call, so it has to start and finish fast. Listings open the
catalog read-only, so reading never creates a catalog where none exists (that is
``E_CATALOG_MISSING``, exit 3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ontolab._sizes import human_size
from ontolab.cli._options import ConfigOption, JsonOption, catalog_for, settings_from
from ontolab.cli._output import emit_json, err_console, guarded, out_console
from ontolab.errors import ConfigError
from ontolab.models import VersionStatus

if TYPE_CHECKING:
    from ontolab.catalog import CatalogBackend

db = typer.Typer(
    name="db",
    help="The catalog: listings, backup, restore, migration.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

IdArgument = Annotated[str | None, typer.Argument(help="Ontology id (default: all).")]
VersionOption = Annotated[str | None, typer.Option("--version", help="Only this version.")]
LimitOption = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows.")]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only rows from then on: an ISO date/time (UTC) or 30m, 12h, 7d."),
]

# Columns holding JSON text: --json hands them out as JSON values, not strings of JSON.
JSON_COLUMNS = frozenset({"metrics", "messages", "payload", "timings", "provenance", "details"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# What a human table shows of each listing (--json has every column).
COLUMNS: dict[str, tuple[str, ...]] = {
    "latest": ("ontology", "version", "status", "promoted_at", "promoted_by", "promoted_because"),
    "versions": ("ontology", "version", "status", "live", "reason", "created_at"),
    "files": ("ontology", "version", "member", "format", "size", "sha256"),
    "validations": (
        "ontology",
        "version",
        "validator",
        "member",
        "passed",
        "error_code",
        "validated_at",
    ),
    "stats": (
        "ontology",
        "versions",
        "good",
        "rejected",
        "failed",
        "staged",
        "live",
        "artifact_bytes",
        "file_bytes",
    ),
    "events": ("ts", "level", "event", "ontology", "version", "error_code", "message"),
    "history": ("moved_at", "ontology", "action", "previous_version", "version", "actor", "reason"),
}
EMPTY = {
    "latest": "no ontology is live yet; 'ontolab pull' promotes what validates",
    "versions": "no versions recorded",
}


def parse_since(value: str | None) -> datetime | None:
    """``--since``: an ISO date or date-time (naive means UTC) or a duration back from now.

    Examples
    --------
    >>> parse_since("2025-01-02T03:04:05+01:00")
    datetime.datetime(2025, 1, 2, 2, 4, 5)
    >>> parse_since("2025-01-02")
    datetime.datetime(2025, 1, 2, 0, 0)
    """
    if value is None:
        return None
    if match := _DURATION.match(value):
        delta = timedelta(**{_UNITS[match[2]]: float(match[1])})
        return datetime.now(UTC).replace(tzinfo=None) - delta
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--since {value!r} is neither an ISO date/time nor a duration like 30m, 12h, 7d",
            code="E_CLI_SINCE",
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def open_for(config: Path | None, *, read_only: bool) -> CatalogBackend:
    """The catalog the config names."""
    return catalog_for(settings_from(config), read_only=read_only)


def sql_literal(value: Any) -> str:
    """``value`` as a DuckDB SQL literal: strings quoted (``'`` doubled), numbers, timestamps.

    Examples
    --------
    >>> sql_literal("it's"), sql_literal(3), sql_literal(datetime(2025, 1, 2, 3, 4, 5))
    ("'it''s'", '3', "TIMESTAMP '2025-01-02 03:04:05'")
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def inline_params(sql: str, params: list[Any]) -> str:
    """The listing's ``?`` placeholders replaced by literals.

    DuckDB's Python client imports pandas (and numpy) to bind any parameter, 0.3-0.7 s on
    the 2-core machine: more than the rest of ``ontolab db versions ID --json`` together.
    The listings' SQL is ontolab's own and holds no ``?`` but its placeholders.
    """
    pieces = sql.split("?")
    if len(pieces) != len(params) + 1:
        raise ValueError("placeholders and parameters do not match")
    out = [pieces[0]]
    for value, piece in zip(params, pieces[1:], strict=True):
        out += [sql_literal(value), piece]
    return "".join(out)


def fetch_rows(config: Path | None, query: Callable[[], Any]) -> list[dict[str, Any]]:
    from ontolab.catalog import dicts

    catalog = open_for(config, read_only=True)
    try:
        sql, params = query()
        if params and catalog.kind == "duckdb":
            sql, params = inline_params(sql, params), None
        with catalog.reader() as con:
            return dicts(con.execute(sql, params))
    finally:
        catalog.close()


def _json_value(column: str, value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if column in JSON_COLUMNS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if column in ("size", "artifact_bytes", "file_bytes"):
        return human_size(int(value))
    if column == "sha256":
        return str(value)[:12]
    if isinstance(value, bool):
        return "yes" if value else ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def show(
    listing: str, query: Callable[[], Any], *, config: Path | None, as_json: bool, title: str
) -> None:
    """Run a listing and print it: a JSON array of row objects, or a table."""
    rows = guarded(lambda: fetch_rows(config, query), as_json=as_json)
    if as_json:
        emit_json([{k: _json_value(k, v) for k, v in row.items()} for row in rows])
        return
    if not rows:
        err_console.print(EMPTY.get(listing, f"no {listing} recorded"))
        return
    from rich.table import Table

    columns = COLUMNS[listing]
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(_cell(c, row.get(c)) for c in columns))
    out_console.print(table)


def _since(value: str | None, as_json: bool) -> datetime | None:
    return guarded(lambda: parse_since(value), as_json=as_json)


@db.command()
def latest(
    ontology: IdArgument = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """The live version of each ontology."""
    from ontolab.catalog import listings

    show(
        "latest", lambda: listings.latest(ontology), config=config, as_json=as_json, title="latest"
    )


@db.command()
def versions(
    ontology: IdArgument = None,
    version: VersionOption = None,
    status: Annotated[
        VersionStatus | None,
        typer.Option("--status", help="Only versions in this state."),
    ] = None,
    since: SinceOption = None,
    limit: LimitOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every recorded version with its status, reason and whether it is live."""
    from ontolab.catalog import listings

    moment = _since(since, as_json)
    show(
        "versions",
        lambda: listings.versions(ontology, status, version=version, since=moment, limit=limit),
        config=config,
        as_json=as_json,
        title="versions",
    )


@db.command()
def files(
    ontology: IdArgument = None,
    version: VersionOption = None,
    limit: LimitOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Extracted files of each version: member, format, size, sha256, path."""
    from ontolab.catalog import listings

    show(
        "files",
        lambda: listings.files(ontology, version, limit=limit),
        config=config,
        as_json=as_json,
        title="files",
    )


@db.command()
def validations(
    ontology: IdArgument = None,
    version: VersionOption = None,
    limit: LimitOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validator results, newest first, with their metrics and messages."""
    from ontolab.catalog import listings

    show(
        "validations",
        lambda: listings.validations(ontology, version, limit=limit),
        config=config,
        as_json=as_json,
        title="validations",
    )


@db.command()
def stats(
    ontology: IdArgument = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Per ontology: versions by status, the live one, and bytes stored."""
    from ontolab.catalog import listings

    show("stats", lambda: listings.stats(ontology), config=config, as_json=as_json, title="stats")


@db.command()
def events(
    ontology: IdArgument = None,
    version: VersionOption = None,
    level: Annotated[
        Literal["debug", "info", "warning", "error"] | None,
        typer.Option("--level", help="Only this level."),
    ] = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")] = 100,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The event log, newest first."""
    from ontolab.catalog import listings

    moment = _since(since, as_json)
    show(
        "events",
        lambda: listings.events(ontology, level=level, version=version, since=moment, limit=limit),
        config=config,
        as_json=as_json,
        title="events",
    )


@db.command()
def history(
    ontology: IdArgument = None,
    since: SinceOption = None,
    limit: LimitOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Moves of the latest pointer: promotions, rollbacks, demotions, by whom and why."""
    from ontolab.catalog import listings

    moment = _since(since, as_json)
    show(
        "history",
        lambda: listings.history(ontology, since=moment, limit=limit),
        config=config,
        as_json=as_json,
        title="latest pointer history",
    )


@db.command()
def migrate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Apply pending schema migrations (creating the catalog if there is none)."""

    def run() -> dict[str, Any]:
        catalog = open_for(config, read_only=False)
        try:
            applied = catalog.migrate()
            return {
                "catalog": catalog.location,
                "applied": applied,
                "schema_version": catalog.schema_version(),
            }
        finally:
            catalog.close()

    done = guarded(run, as_json=as_json)
    if as_json:
        emit_json(done)
        return
    applied = ", ".join(str(v) for v in done["applied"]) or "none (already up to date)"
    err_console.print(f"{done['catalog']}: applied migrations {applied}")
    err_console.print(f"schema version {done['schema_version']}")


@db.command()
def backup(
    path: Annotated[Path, typer.Argument(help="Directory to write (must not exist or be empty).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing backup directory.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Snapshot the catalog into PATH: one Parquet file per table and manifest.json."""

    def run() -> dict[str, Any]:
        from ontolab.catalog import backup_catalog

        catalog = open_for(config, read_only=True)
        try:
            return backup_catalog(catalog, path, force=force).to_dict()
        finally:
            catalog.close()

    done = guarded(run, as_json=as_json)
    if as_json:
        emit_json(done)
        return
    total = sum(done["tables"].values())
    err_console.print(
        f"backed up {len(done['tables'])} tables ({total} rows, schema {done['schema_version']}) "
        f"to {done['path']}"
    )
    err_console.print("the artifact store and extracted files are not part of a catalog backup")


@db.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A directory written by 'ontolab db backup'.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the catalog's contents with a backup (verified first; older schemas migrate)."""

    def run() -> dict[str, Any]:
        from ontolab.catalog import restore_catalog

        catalog = open_for(config, read_only=False)
        try:
            return restore_catalog(catalog, path).to_dict()
        finally:
            catalog.close()

    done = guarded(run, as_json=as_json)
    if as_json:
        emit_json(done)
        return
    total = sum(done["tables"].values())
    err_console.print(
        f"restored {total} rows into {done['catalog']} from {done['backup']} "
        f"(schema {done['backup_schema_version']} -> {done['schema_version']})"
    )
    if done["previous_catalog"]:
        err_console.print(f"the replaced catalog file is kept as {done['previous_catalog']}")
    err_console.print("run 'ontolab doctor' to reconcile the data dir with the restored catalog")
