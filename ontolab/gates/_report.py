"""The gate report page: one static HTML file per run, also shown inline in notebooks.

ontolab's own page rather than GX Data Docs: a single self-contained file (no scripts, no
CDN, inline style) that opens from the file system and is safe to attach to a ticket.
Everything shown is escaped: labels and ids come from the ontology, which is untrusted input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ontolab.durable import storage_error
from ontolab.gates._model import GateReport, _fmt, _fmt_threshold

if TYPE_CHECKING:
    from ontolab.settings import OntolabSettings

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Scoped to the report's own element, so the same markup sits inside a notebook's page.
_STYLE = (
    ".ontolab-gates{font:14px/1.4 system-ui,sans-serif;color:#222}"
    ".ontolab-gates table{border-collapse:collapse;margin:.5em 0 1.5em}"
    ".ontolab-gates th,.ontolab-gates td{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left;vertical-align:top}"
    ".ontolab-gates th{background:#f3f3f3}.ontolab-gates .pass{color:#176f2c;font-weight:600}"
    ".ontolab-gates .fail{color:#b00020;font-weight:600}"
    ".ontolab-gates .warn{color:#8a5a00;font-weight:600}.ontolab-gates code{font-size:90%}"
    ".ontolab-gates .summary{padding:.5em .8em;border-left:4px solid}"
    ".ontolab-gates .summary.pass{border-color:#176f2c}"
    ".ontolab-gates .summary.fail{border-color:#b00020}"
)


def report_dir(settings: OntolabSettings) -> Path:
    """``gates.report_dir`` (relative to ``data_dir``), default ``data_dir/reports/gates``."""
    configured = settings.gates.report_dir
    if configured is None:
        return settings.data_dir / "reports" / "gates"
    return configured if configured.is_absolute() else settings.data_dir / configured


def _safe(part: str) -> str:
    # Ontology ids and versions become directory names: no separators, no "..".
    return _UNSAFE.sub("_", part).lstrip(".")[:120] or "_"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return escape(json.dumps(value, default=str, ensure_ascii=False))
    return escape(_fmt(value))


def _state(passed: bool, severity: str) -> str:
    if passed:
        return "<span class='pass'>passed</span>"
    css, word = ("fail", "failed") if severity == "error" else ("warn", "warning")
    return f"<span class='{css}'>{word}</span>"


def render_html(report: GateReport) -> str:
    """The report as one self-contained HTML page (what the report file holds)."""
    title = f"Gates: {report.ontology} {report.version}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body style='margin:1.5em'>"
        f"{render_fragment(report)}</body></html>"
    )


def render_fragment(report: GateReport) -> str:
    """The report as one element with its own scoped style (a notebook cell's output)."""
    title = f"Gates: {report.ontology} {report.version}"
    state = "pass" if report.passed else "fail"
    verdict = "passed" if report.passed else "rejected"
    compared = (
        f"compared with {escape(report.previous)}"
        if report.previous
        else "no previous good version: diff-aware expectations skipped"
    )
    parts = [
        f"<div class='ontolab-gates'><style>{_STYLE}</style>",
        f"<h3>{escape(title)}</h3>",
        f"<p class='summary {state}'><strong>{verdict}</strong>: {escape(report.summary())}</p>",
        f"<p>Evaluated {escape(report.evaluated_at.isoformat(timespec='seconds'))} UTC, "
        f"{compared}; evaluation {report.duration_s:.3f} s.</p>",
    ]
    suites: dict[str, list[Any]] = {}
    for result in report.results:
        suites.setdefault(result.suite, []).append(result)
    header = (
        "<tr><th>name</th><th>description</th><th>result</th><th>observed</th>"
        "<th>threshold</th><th>unexpected</th><th>sample</th></tr>"
    )
    for suite, results in suites.items():
        rows = []
        for r in results:
            threshold = "" if r.threshold is None else escape(_fmt_threshold(r.threshold))
            unexpected = "" if r.unexpected_count is None else str(r.unexpected_count)
            if r.unexpected_percent:
                unexpected += f" ({r.unexpected_percent:.3g} %)"
            sample = ", ".join(escape(str(v)) for v in r.sample)
            rows.append(
                f"<tr><td><code>{escape(r.name)}</code></td><td>{escape(r.description)}"
                f"<br><small><code>{escape(r.expectation)}</code></small></td>"
                f"<td>{_state(r.passed, r.severity)}</td><td>{_cell(r.observed)}</td>"
                f"<td>{threshold}</td><td>{escape(unexpected)}</td><td>{sample}</td></tr>"
            )
        parts.append(
            f"<h4>Suite <code>{escape(suite)}</code></h4><table>{header}{''.join(rows)}</table>"
        )
    if not report.results:
        parts.append("<p>No expectations were evaluated.</p>")
    parts.append("</div>")
    return "".join(parts)


def write_report(
    settings: OntolabSettings,
    report: GateReport,
    *,
    run_id: str | None = None,
    page: str = "gates",
) -> GateReport:
    """Write the page to ``<report_dir>/<ontology>/<version>/<time>-<page>.html`` atomically
    and return the report with ``report_path`` set."""
    folder = report_dir(settings) / _safe(report.ontology) / _safe(report.version)
    stamp = report.evaluated_at.strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{_safe(run_id)}-{page}.html" if run_id else f"{stamp}-{page}.html"
    target = folder / name
    temp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".html")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_html(report))
        os.replace(temp, target)
        temp = None
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return dataclasses.replace(report, report_path=target)
