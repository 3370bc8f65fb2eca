"""``ontolab validate``: re-run extraction, validators (and later gates) on a stored version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ontolab.cli._options import ConfigOption, JsonOption, settings_from
from ontolab.cli._output import EXIT_FAILED, EXIT_OK, emit_json, guarded, out_console

if TYPE_CHECKING:
    from rich.table import Table

    from ontolab.pipeline import Checked


def _document(checked: Checked) -> dict[str, Any]:
    outcome = checked.outcome
    return {
        "ontology": outcome.ontology,
        "version": outcome.version,
        "status": outcome.status,
        "reason": outcome.reason,
        "error_code": outcome.error_code,
        "files": [
            {"member": f.member, "format": f.format, "size": f.size, "sha256": f.sha256}
            for f in outcome.files
        ],
        "validations": [
            {
                "validator": v.validator,
                "member": v.member,
                "passed": v.passed,
                "skipped": v.skipped,
                "reason": v.reason,
                "error_code": v.error_code,
                "metrics": v.metrics,
                "messages": list(v.messages),
            }
            for v in outcome.validations
        ],
        "terms": [{"member": t.member, "path": t.path, "rows": t.row_count} for t in outcome.terms],
        "imports": [
            {"iri": i.iri, "resolved": i.resolved, "url": i.url, "message": i.message}
            for i in outcome.imports
        ],
    }


def validate(
    ontology: Annotated[str, typer.Argument(help="Ontology id.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Version label (default: the newest).")
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option("--strict/--no-strict", help="Deep-validator failures reject the version."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run extraction and validators on a stored version."""
    checked = guarded(
        lambda: _pipeline().validate(
            ontology, version=version, settings=settings_from(config), strict=strict
        ),
        as_json=as_json,
    )
    doc = _document(checked)
    if as_json:
        emit_json(doc)
    else:
        table = _table()(
            "validator",
            "file",
            "result",
            "details",
            title=(
                f"{doc['ontology']} {doc['version']}: {doc['status']}"
                + (f" ({doc['error_code']}: {doc['reason']})" if doc["error_code"] else "")
            ),
        )
        for v in doc["validations"]:
            result = "skipped" if v["skipped"] else ("passed" if v["passed"] else "failed")
            metrics = v["metrics"] or {}
            details = ", ".join(
                f"{k}={metrics[k]}"
                for k in ("format", "classes", "version", "label_coverage")
                if metrics.get(k) is not None
            ) or (v["messages"][0]["text"] if v["messages"] else v["reason"] or "")
            table.add_row(v["validator"], v["member"] or "", result, str(details)[:120])
        out_console.print(table)
    raise typer.Exit(EXIT_OK if checked.outcome.status == "good" else EXIT_FAILED)


def _pipeline() -> Any:
    # Imported on use: the pipeline pulls in httpx and the stages, which commands that only
    # read the catalog never need.
    from ontolab import pipeline

    return pipeline


def _table() -> type[Table]:
    from rich.table import Table

    return Table
