"""``ontolab doctor`` and ``ontolab prune``: reconcile storage with the catalog, free space."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ontolab._sizes import human_size
from ontolab.cli._options import ConfigOption, JsonOption, catalog_for, settings_from
from ontolab.cli._output import EXIT_FAILED, EXIT_OK, emit_json, guarded, out_console

if TYPE_CHECKING:
    from ontolab.catalog import DoctorReport, PruneReport
    from ontolab.settings import OntolabSettings

_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def _min_free(text: str) -> int:
    from pydantic import ByteSize, TypeAdapter, ValidationError

    try:
        return int(TypeAdapter(ByteSize).validate_python(text))
    except ValidationError as exc:
        raise typer.BadParameter(f"{text!r} is not a size like 500MB or 2GB") from exc


def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what is safe to repair.")] = False,
    deep: Annotated[
        bool,
        typer.Option("--deep", help="Also hash every blob and extracted file (reads them all)."),
    ] = False,
    min_free: Annotated[
        str, typer.Option("--min-free", help="Warn below this much free disk space.")
    ] = "1GB",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile storage and catalog; check settings, hosts and disk. --fix repairs."""
    threshold = _min_free(min_free)

    def run() -> DoctorReport:
        from ontolab.catalog import doctor as run_doctor

        settings = settings_from(config)
        catalog = catalog_for(settings, read_only=not fix)
        try:
            return run_doctor(
                catalog,
                settings.data_dir,
                settings=settings,
                fix=fix,
                deep=deep,
                min_free_bytes=threshold,
            )
        finally:
            catalog.close()

    report = guarded(run, as_json=as_json)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_doctor(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


def _print_doctor(report: DoctorReport) -> None:
    from rich.table import Table

    if report.findings:
        table = Table(
            "severity", "code", "subject", "what it is, what --fix does", "", title="doctor"
        )
        for f in report.findings:
            colour = _COLOURS[f.severity]
            table.add_row(
                f"[{colour}]{f.severity}[/]",
                f.code,
                f.subject,
                f.message,
                "fixed" if f.fixed else "",
            )
        out_console.print(table)
    left = len(report.remaining)
    fixed = sum(f.fixed for f in report.findings)
    summary = "clean" if report.ok else f"{left} finding(s) need attention"
    if report.fix:
        summary += f"; fixed {fixed}, freed {human_size(report.bytes_freed)}"
    elif any(f.fixable for f in report.remaining):
        summary += "; 'ontolab doctor --fix' repairs those marked fixable"
    out_console.print(summary)


def prune(
    keep: Annotated[
        int, typer.Option("--keep", min=0, help="Versions to keep per ontology, newest first.")
    ] = 3,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", min=0, help="Only remove versions older than DAYS days."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")
    ] = False,
    lock_file: Annotated[
        Path | None,
        typer.Option("--lock-file", help="Lock file whose pins are kept (default: ontolab.lock)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove old versions and orphans; never the live version or a pinned one."""

    def run() -> PruneReport:
        from ontolab.catalog import prune as run_prune

        settings = settings_from(config)
        pins = _pins(settings, lock_file)
        catalog = catalog_for(settings)
        try:
            return run_prune(
                catalog,
                settings.data_dir,
                keep=keep,
                older_than_days=older_than,
                dry_run=dry_run,
                pinned_sha256=pins,
            )
        finally:
            catalog.close()

    report = guarded(run, as_json=as_json)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_prune(report)
    raise typer.Exit(EXIT_OK)


def _pins(settings: OntolabSettings, lock_file: Path | None) -> set[str]:
    """sha256 pins of the config and of the lock file (a malformed lock file is an error:
    pruning without knowing the pins could remove a pinned version)."""
    from ontolab.pipeline import default_lock_path
    from ontolab.plan import read_lock

    pins = {o.sha256 for o in settings.ontologies if o.sha256}
    path = lock_file or default_lock_path(settings)
    if lock_file is not None or path.is_file():
        pins |= {item.sha256 for item in read_lock(path) if item.sha256}
    return pins


def _print_prune(report: PruneReport) -> None:
    from rich.table import Table

    verb = "would remove" if report.dry_run else "removed"
    if report.versions:
        table = Table("ontology", "version", "status", "created", title=f"prune: {verb}")
        for v in report.versions:
            table.add_row(v.ontology, v.version, v.status, str(v.created_at or ""))
        out_console.print(table)
    orphans = sum(r.orphan for r in report.removed)
    out_console.print(
        f"{verb} {len(report.versions)} version(s) and {len(report.removed)} path(s) "
        f"({orphans} orphan(s)); {'would free' if report.dry_run else 'freed'} "
        f"{human_size(report.bytes_freed)}"
    )
    if report.busy:
        out_console.print(f"skipped (a pull is running): {', '.join(report.busy)}")
