"""``ontolab validate``: re-run extraction, validators and gates on a stored version."""

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
        "message": checked.message,
        "gates": checked.gates.to_dict() if checked.gates is not None else None,
        "catalog_gates": [report.to_dict() for report in checked.catalog_gates],
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
    gates: Annotated[
        bool,
        typer.Option(
            "--gates/--no-gates", help="Run the gate suites and the catalog suite (default)."
        ),
    ] = True,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run extraction, validators and gates on a stored version."""
    checked = guarded(
        lambda: _pipeline().validate(
            ontology,
            version=version,
            settings=settings_from(config),
            strict=strict,
            gates=gates,
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
        _gate_rows(table, doc["gates"])
        out_console.print(table)
        for report in doc["catalog_gates"]:
            if not report["passed"]:
                out_console.print(
                    f"[yellow]catalog suite, {report['ontology']} {report['version']}:[/] "
                    f"{report['summary']}"
                )
    raise typer.Exit(EXIT_OK if checked.outcome.status == "good" else EXIT_FAILED)


def _gate_rows(table: Table, report: dict[str, Any] | None) -> None:
    if report is None:
        table.add_row("gates", "", "not run", "")
        return
    from ontolab.cli._show import describe_gate

    for r in report["results"]:
        result = "passed" if r["passed"] else f"failed ({r['severity']})"
        table.add_row(f"gate {r['gate']}", "", result, describe_gate(r)[:120])
    if report["report_path"]:
        table.add_row("gate report", "", "", report["report_path"])


def _pipeline() -> Any:
    # Imported on use: the pipeline pulls in httpx and the stages, which commands that only
    # read the catalog never need.
    from ontolab import pipeline

    return pipeline


def _table() -> type[Table]:
    from rich.table import Table

    return Table
