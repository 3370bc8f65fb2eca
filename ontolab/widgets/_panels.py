"""The catalog browser's panels as HTML: versions, metrics, gates, diff and files of a version.

Pure functions of the query layer's value objects (:class:`~ontolab.query.Overview`,
:class:`~ontolab.query.TermDiff`), so they are tested without a widget frontend. Every value
is escaped (:mod:`ontolab._html`): titles, labels and messages come from ontologies and servers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ontolab._html import cell, facts, grid
from ontolab._sizes import human_size
from ontolab.query import Overview, TermDiff

__all__ = [
    "DIFF_ROWS",
    "diff_panel",
    "files_panel",
    "gates_panel",
    "message",
    "metrics_panel",
    "versions_panel",
]

DIFF_ROWS = 25  # changes listed under the counts; the rest via view.diff()
_MARK = {"good": "✔", "rejected": "✘", "failed": "✘", "staged": "…"}


def message(text: str, *, kind: str = "info") -> str:
    """A short notice (``info`` or ``error``) in place of a panel."""
    colour = "#b00020" if kind == "error" else "#555"
    return f"<p style='color:{colour}'>{cell(text)}</p>"


def _size(value: Any) -> str:
    return human_size(None if value is None else float(value), missing="")


def _when(value: Any) -> str:
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return "" if value is None else str(value)[:16]  # ISO text, to the minute


def versions_panel(versions: Sequence[dict[str, Any]], selected: str | None) -> str:
    """Every version of one ontology, newest first: status, live marker, when, reason."""
    rows = []
    for row in versions:
        version = str(row["version"])
        status = str(row["status"])
        rows.append(
            (
                "▶" if version == selected else "",
                version,
                f"{_MARK.get(status, '')} {status}",
                "live" if row.get("live") else "",
                _when(row.get("created_at")),
                row.get("reason"),
            )
        )
    return grid("versions", ("", "version", "status", "live", "fetched", "reason"), rows)


def _latest_validations(overview: Overview) -> list[dict[str, Any]]:
    """The newest result per file and validator (re-validations keep older ones)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in overview.validations:
        key = (str(row["member"]), str(row["validator"]))
        if key not in newest or str(row["validated_at"]) > str(newest[key]["validated_at"]):
            newest[key] = row
    return list(newest.values())


def metrics_panel(overview: Overview) -> str:
    """What the validators measured: counts, coverage, title and licence; each validator's
    verdict and messages."""
    rows = _latest_validations(overview)
    if not rows:
        return message(f"no validation recorded for {overview.ontology} {overview.version}")
    measured = [r for r in rows if isinstance(r.get("metrics"), dict) and r["metrics"]]
    parts = []
    for row in measured:
        m = row["metrics"]
        terms = sum(int(t.get("row_count") or 0) for t in overview.terms)
        parts.append(
            facts(
                f"{overview.ontology} {overview.version}: {row['member']}",
                [
                    ("title", m.get("title")),
                    ("declared version", m.get("version")),
                    ("licence", m.get("licence") or overview.licence),
                    ("terms", terms or None),
                    ("classes", f"{m.get('classes', 0)} ({m.get('deprecated', 0)} deprecated)"),
                    (
                        "properties",
                        f"{m.get('object_properties', 0)} object, "
                        f"{m.get('data_properties', 0)} data, "
                        f"{m.get('annotation_properties', 0)} annotation",
                    ),
                    ("label coverage", _percent(m.get("label_coverage"))),
                    ("definition coverage", _percent(m.get("definition_coverage"))),
                    ("ontology IRI", m.get("ontology_iri")),
                ],
            )
        )
    verdicts = []
    for row in rows:
        state = "skipped" if row["skipped"] else ("passed" if row["passed"] else "failed")
        notes = "; ".join(
            f"{m.get('code', '')}: {m.get('text', '')}"
            for m in (row.get("messages") or [])
            if isinstance(m, dict)
        )
        duration = f"{float(row['duration_s']):.2f} s" if row.get("duration_s") else ""
        reason = row.get("error_code") or row.get("reason")
        verdicts.append((row["member"], row["validator"], state, duration, reason, notes))
    columns = ("file", "validator", "result", "took", "reason", "messages")
    parts.append(grid("validators", columns, verdicts))
    return "".join(parts)


def _percent(value: Any) -> str | None:
    return f"{float(value):.1%}" if value is not None else None


def gates_panel(overview: Overview) -> str:
    """The newest gate verdict of the version and every expectation it evaluated."""
    gates = overview.gates
    if gates is None:
        return message(f"no gate ran on {overview.ontology} {overview.version}")
    verdict = "passed" if gates["passed"] else "rejected"
    colour = "#176f2c" if gates["passed"] else "#b00020"
    head = (
        f"<p>gates <b style='color:{colour}'>{verdict}</b>: {gates['expectations']} "
        f"expectations, {len(gates['failures'])} failed, {len(gates['warnings'])} warnings "
        f"(evaluated {cell(_when(gates['evaluated_at']))})</p>"
    )
    rows = []
    for row in sorted(overview.latest_gates, key=lambda r: (r["passed"], str(r["gate"]))):
        details = row["details"] if isinstance(row["details"], dict) else {}
        rows.append(
            (
                row["gate"],
                "✔ passed" if row["passed"] else "✘ failed",
                row["severity"],
                _short(details.get("observed")),
                _short(details.get("threshold")),
                details.get("unexpected_count"),
                details.get("description"),
            )
        )
    columns = ("expectation", "result", "severity", "observed", "needs", "unexpected", "what")
    reports = "".join(f"<li><code>{cell(p)}</code></li>" for p in gates["reports"])
    tail = f"<p>HTML reports:</p><ul>{reports}</ul>" if reports else ""
    return head + grid("", columns, rows) + tail


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_short(v)}" for k, v in value.items())
    return value


def diff_panel(diff: TermDiff) -> str:
    """Counts per kind of change and the first :data:`DIFF_ROWS` changes."""
    rows = diff.table.slice(0, DIFF_ROWS).to_pylist()
    listed = grid(
        f"first {len(rows)} of {diff.table.num_rows} changes",
        ("id", "change", "label before", "label after"),
        ((r["id"], r["change"], r["label_from"], r["label_to"]) for r in rows),
    )
    more = (
        f"<p>all changes: <code>view.diff({html.escape(repr(diff.ontology))}, "
        f"{html.escape(repr(diff.from_version))}, {html.escape(repr(diff.to_version))})</code></p>"
    )
    return diff._repr_html_() + (listed + more if rows else "<p>no term changed</p>")


def files_panel(overview: Overview) -> str:
    """The version's files (member, format, size, sha256, where) and where the bytes came from."""
    files = grid(
        "files",
        ("file", "format", "size", "sha256", "path"),
        (
            (f["member"], f["format"], _size(f["size"]), str(f["sha256"])[:12] + "…", f["path"])
            for f in overview.files
        ),
    )
    doc = overview.provenance
    source = facts(
        "provenance",
        [
            ("url", doc.get("url")),
            ("final url", doc.get("final_url") if doc.get("final_url") != doc.get("url") else None),
            ("resolver", doc.get("resolver")),
            ("sha256", doc.get("sha256")),
            ("download size", _size(doc.get("size"))),
            ("fetched", _when(doc.get("fetched_at"))),
            ("licence", overview.licence),
            ("run", doc.get("run_id")),
        ],
    )
    terms = grid(
        "terms tables",
        ("file", "rows", "path"),
        ((t["member"], t["row_count"], t["path"]) for t in overview.terms),
    )
    return files + (terms if overview.terms else "") + source
