"""``ontolab show`` and ``ontolab diff``: one ontology's record, and what changed between
two of its versions. Thin over the read-only handle of :mod:`ontolab.query`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ontolab._sizes import human_size
from ontolab.cli._options import ConfigOption, JsonOption, settings_from
from ontolab.cli._output import EXIT_FAILED, EXIT_OK, emit_json, guarded, out_console

if TYPE_CHECKING:
    from rich.table import Table

    from ontolab.query import Overview, TermDiff


def _connect(config: Path | None) -> Any:
    # Imported on use: the query package is light, but commands that never read the catalog
    # need not load it.
    from ontolab.query import connect

    return connect(settings_from(config))


def show(
    ontology: Annotated[str, typer.Argument(help="Ontology id.")],
    version: Annotated[
        str | None,
        typer.Option("--version", help="Version to detail (default: the live one, else newest)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One ontology: versions, files, validations, gate results, licence, provenance."""

    def body() -> Overview:
        with _connect(config) as view:
            found: Overview = view.show(ontology, version)
            return found

    overview = guarded(body, as_json=as_json)
    if as_json:
        emit_json(overview.to_dict())
        raise typer.Exit(EXIT_OK)
    _print_overview(overview.to_dict(), latest_gates=overview.latest_gates)


def diff(
    ontology: Annotated[str, typer.Argument(help="Ontology id.")],
    from_version: Annotated[
        str | None,
        typer.Option("--from", help="Older version (default: the one stored before --to)."),
    ] = None,
    to_version: Annotated[
        str | None,
        typer.Option("--to", help="Newer version (default: the live one, else newest good)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Terms listed per kind of change (not --json).")
    ] = 20,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when any term changed.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Term-level changes between two stored versions (added, removed, obsoleted, ...)."""

    def body() -> TermDiff:
        with _connect(config) as view:
            found: TermDiff = view.compare(ontology, from_version, to_version)
            return found

    changes = guarded(body, as_json=as_json)
    doc = changes.to_dict()
    if as_json:
        emit_json(doc)
    else:
        _print_diff(doc, limit)
    raise typer.Exit(EXIT_FAILED if exit_code and doc["total"] else EXIT_OK)


# -- human output ---------------------------------------------------------------------------


def _table() -> type[Table]:
    from rich.table import Table

    return Table


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _print_overview(doc: dict[str, Any], *, latest_gates: list[dict[str, Any]]) -> None:
    live = "live" if doc["live"] == doc["version"] else f"live: {doc['live'] or 'none'}"
    head = f"[bold]{doc['ontology']}[/] {doc['version']} ({live}): {doc['status']}"
    if doc["reason"]:
        head += f" ({doc['reason']})"
    out_console.print(head)
    prov = doc["provenance"]
    for label, value in (
        ("title", doc["title"]),
        ("licence", doc["licence"]),
        ("version IRI", doc["version_iri"]),
        ("url", prov.get("url")),
        ("final url", prov.get("final_url") if prov.get("final_url") != prov.get("url") else None),
        ("redirects", " -> ".join(map(str, prov.get("redirects") or [])) or None),
        ("sha256", prov.get("sha256")),
        ("size", human_size(prov["size"]) if prov.get("size") is not None else None),
        ("fetched", prov.get("fetched_at")),
        ("resolver", prov.get("resolver")),
        ("tools", ", ".join(f"{k} {v}" for k, v in (prov.get("tools") or {}).items()) or None),
    ):
        if value:
            out_console.print(f"  {label}: {value}")

    versions = _table()(
        "version", "status", "live", "pinned", "created", "reason", title="versions"
    )
    for v in doc["versions"]:
        versions.add_row(
            v["version"],
            v["status"],
            "yes" if v["live"] else "",
            "yes" if v["pinned"] else "",
            _text(v["created_at"])[:19],
            _text(v["reason"]),
        )
    out_console.print(versions)

    files = _table()("file", "format", "size", "sha256", title=f"files of {doc['version']}")
    for f in doc["files"]:
        files.add_row(f["member"], _text(f["format"]), human_size(f["size"]), f["sha256"][:16])
    for t in doc["terms"]:
        files.add_row(f"{t['member']} (terms table)", "parquet", f"{t['row_count']} rows", "")
    out_console.print(files)

    checks = _table()("check", "file", "result", "details", title="validations and gates")
    for v in doc["validations"]:
        result = "skipped" if v["skipped"] else ("passed" if v["passed"] else "failed")
        metrics = v["metrics"] if isinstance(v["metrics"], dict) else {}
        details = ", ".join(
            f"{k}={metrics[k]}"
            for k in ("format", "classes", "deprecated", "version")
            if metrics.get(k) is not None
        ) or _text(v["error_code"] or v["reason"])
        checks.add_row(v["validator"], _text(v["member"]), result, details[:100])
    for g in latest_gates:
        result = "passed" if g["passed"] else f"failed ({g['severity']})"
        checks.add_row(f"gate {g['gate']}", "", result, describe_gate(g["details"])[:100])
    if not latest_gates:
        checks.add_row("gates", "", "none recorded", "")
    out_console.print(checks)
    _print_gates(doc["gates"], history=len(doc["gate_results"]) - len(latest_gates))


def describe_gate(details: Any) -> str:
    """``observed 0.9, needs >= 0.95; 1949 unexpected`` from a gate result's details."""
    if not isinstance(details, dict):
        return _text(details)
    text = f"observed {_number(details.get('observed'))}"
    threshold = details.get("threshold")
    if isinstance(threshold, dict):
        bounds = [
            f"{sign} {_number(threshold[key])}"
            for key, sign in (("min", ">="), ("max", "<="))
            if threshold.get(key) is not None
        ]
        text += ", needs " + " and ".join(bounds) if bounds else ""
    elif threshold is not None:
        text += f", needs {threshold}"
    if details.get("unexpected_count"):
        text += f"; {details['unexpected_count']} unexpected"
    return text


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _text(value)


def _print_gates(gates: dict[str, Any] | None, *, history: int) -> None:
    """The newest gate verdict: what failed, what was observed, where the report is."""
    if gates is None:
        return
    verdict = "[green]passed[/]" if gates["passed"] else "[red]rejected[/]"
    line = f"gates: {verdict} ({gates['expectations']} expectations, {gates['evaluated_at']})"
    if history:
        line += f"; {history} earlier results in 'gate_results'"
    out_console.print(line)
    for kind, found in (("failed", gates["failures"]), ("warning", gates["warnings"])):
        for f in found:
            sample = ", ".join(map(str, (f["sample"] or [])[:5]))
            out_console.print(
                f"  {kind}: {f['gate']}: {describe_gate(f)}"
                + (f" (e.g. {sample})" if sample else ""),
                markup=False,
            )
    for report in gates["reports"]:
        out_console.print(f"  report: {report}", markup=False)


def _print_diff(doc: dict[str, Any], limit: int) -> None:
    out_console.print(f"[bold]{doc['ontology']}[/] {doc['from']} -> {doc['to']}")
    summary = _table()("change", "terms", title=f"{doc['total']} changes")
    for change, count in doc["summary"].items():
        summary.add_row(change, str(count))
    out_console.print(summary)
    if not limit:
        return
    for change, count in doc["summary"].items():
        if not count:
            continue
        rows = [r for r in doc["changes"] if r["change"] == change][:limit]
        shown = f"first {len(rows)} of {count}" if count > len(rows) else str(count)
        table = _table()("id", "before", "after", title=f"{change} ({shown})")
        for r in rows:
            if change == "reparented":
                before = ", ".join(r["parents_from"] or [])
                after = ", ".join(r["parents_to"] or [])
            else:
                before, after = _text(r["label_from"]), _text(r["label_to"])
            table.add_row(r["id"], before[:60], after[:60])
        out_console.print(table)
