"""``ontolab plan``, ``plan-diff`` and ``pull``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ontolab._sizes import human_size
from ontolab.cli._options import ConfigOption, IdsArgument, JsonOption, settings_from
from ontolab.cli._output import (
    EXIT_FAILED,
    EXIT_OK,
    emit_json,
    exit_code_for_rows,
    guarded,
    out_console,
    progress_bars,
)

if TYPE_CHECKING:
    from rich.table import Table

    from ontolab.models import Plan, RunReceipt

LockFileOption = Annotated[
    Path | None,
    typer.Option("--lock-file", help="Lock file (default: ontolab.lock by the config)."),
]


def _plan_table(plan: Plan) -> Table:
    table = _table()("ontology", "resolver", "version", "size", "url", title="plan")
    for item in plan.items:
        table.add_row(
            item.ontology,
            item.resolver,
            item.version or "?",
            human_size(item.expected_size),
            item.url,
        )
    for failure in plan.failures:
        table.add_row(failure.ontology, "-", "[red]failed[/]", "", f"{failure.message}")
    return table


def plan(
    ids: IdsArgument = None,
    lock: Annotated[
        bool, typer.Option("--lock", help="Pin sha256 and size in ontolab.lock.")
    ] = False,
    lock_file: LockFileOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve sources to URL, version and expected size without downloading bodies."""

    def run() -> tuple[Plan, Path | None]:
        settings = settings_from(config)
        if lock:
            with progress_bars() as bars:
                planned, path = _pipeline().lock_plan(
                    ids, settings=settings, path=lock_file, progress=bars
                )
            return planned, path if path != Path() else None
        return _pipeline().plan(ids, settings=settings), None

    planned, written = guarded(run, as_json=as_json)
    if as_json:
        emit_json(
            {
                "items": [i.to_dict() for i in planned.items],
                "failures": [f.to_dict() for f in planned.failures],
                "lock_file": str(written) if written else None,
            }
        )
    else:
        out_console.print(_plan_table(planned))
        if written:
            out_console.print(f"wrote {written}")
    raise typer.Exit(EXIT_FAILED if planned.failures else EXIT_OK)


def plan_diff(
    ids: IdsArgument = None,
    lock_file: LockFileOption = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when anything changed (for cron).")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """What changed between the current plan and the lock file (or the last stored plan)."""
    baseline, changes, current = guarded(
        lambda: _pipeline().plan_diff(ids, settings=settings_from(config), lock_path=lock_file),
        as_json=as_json,
    )
    moved = [c for c in changes if c.change != "unchanged"]
    if as_json:
        emit_json(
            {
                "baseline": baseline,
                "changes": [c.to_dict() for c in changes],
                "failures": [f.to_dict() for f in current.failures],
            }
        )
    else:
        table = _table()("ontology", "change", "field", "from", "to", title=f"plan vs {baseline}")
        for change in changes:
            if not change.fields:
                table.add_row(change.ontology, change.change, "", "", "")
            for name, (old, new) in change.fields.items():
                table.add_row(change.ontology, change.change, name, str(old), str(new))
        out_console.print(table)
    failed = bool(current.failures)
    raise typer.Exit(EXIT_FAILED if failed or (exit_code and moved) else EXIT_OK)


def _receipt_table(receipt: RunReceipt) -> Table:
    table = _table()(
        "ontology",
        "version",
        "outcome",
        "size",
        "transferred",
        "reason",
        title=f"pull {receipt.run_id}",
    )
    colours = {"fetched": "green", "unchanged": "cyan", "failed": "red", "rejected": "yellow"}
    for row in receipt.rows:
        why = f"{row.error_code}: {row.message}" if row.error_code else ""
        table.add_row(
            row.ontology,
            row.version or "?",
            f"[{colours.get(row.outcome, 'white')}]{row.outcome}[/]",
            human_size(row.size),
            human_size(row.bytes_transferred),
            why,
        )
    return table


def pull(
    ids: IdsArgument = None,
    lock: Annotated[
        bool, typer.Option("--lock", help="Pull exactly what ontolab.lock pins.")
    ] = False,
    lock_file: LockFileOption = None,
    no_promote: Annotated[
        bool, typer.Option("--no-promote", help="Stage only: keep the live version.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Ignore caches and partial files.")
    ] = False,
    strict: Annotated[
        bool | None,
        typer.Option("--strict/--no-strict", help="Deep-validator failures reject the version."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Parallel downloads.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan and fetch ontologies into the store; record them in the catalog."""

    def run() -> RunReceipt:
        settings = settings_from(config)
        with progress_bars() as bars:
            receipt: RunReceipt = _pipeline().pull(
                ids,
                settings=settings,
                lock=lock_file if (lock and lock_file) else lock,
                force=force,
                jobs=jobs,
                strict=strict,
                promote=not no_promote,
                progress=bars,
            )
        return receipt

    receipt = guarded(run, as_json=as_json)
    if as_json:
        emit_json(receipt.to_dict())
    else:
        out_console.print(_receipt_table(receipt))
    raise typer.Exit(
        exit_code_for_rows(
            [r.reason or "error" for r in receipt.rows if r.outcome in ("failed", "rejected")]
        )
    )


def _pipeline() -> Any:
    # Imported on use: the pipeline pulls in httpx and the stages, which commands that only
    # read the catalog never need.
    from ontolab import pipeline

    return pipeline


def _table() -> type[Table]:
    from rich.table import Table

    return Table
