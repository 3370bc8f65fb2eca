"""One ontology at a glance: what ``ontolab show`` prints and :meth:`CatalogView.show` returns.

Its versions (with status and which one is live) and, for one of them, the files, validator
results, gate verdicts, terms tables, imports, licence and provenance: where the bytes came
from, when, through which redirects, and which tools judged them.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ontolab.catalog import listings
from ontolab.errors import UnknownOntology

__all__ = ["Overview", "build_overview", "canonical_id"]

Rows = Callable[[str, Sequence[Any] | None], list[dict[str, Any]]]
_PARTS = (
    "versions",
    "files",
    "validations",
    "gate_results",
    "terms",
    "imports",
    "artifacts",
    "promotions",
)


def _json_text(value: Any) -> Any:
    """A JSON column's text as data (metrics, messages, provenance); other values as they are."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Overview:
    """One ontology: its versions and, for one version, everything recorded about it.

    Row lists are plain dicts (JSON-ready); :meth:`frame` gives any of them as a polars
    DataFrame.
    """

    ontology: str
    version: str
    live: str | None
    detail: dict[str, Any]
    source: dict[str, Any] | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    gate_results: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.detail["status"])

    @property
    def licence(self) -> str | None:
        """The version's licence, else the source's, else what the file declared."""
        declared = next(
            (
                v["metrics"].get("licence")
                for v in self.validations
                if isinstance(v.get("metrics"), dict) and v["metrics"].get("licence")
            ),
            None,
        )
        source = (self.source or {}).get("licence")
        return self.detail.get("licence") or source or declared

    @property
    def latest_gates(self) -> list[dict[str, Any]]:
        """The gate results of each suite's newest evaluation of the version (older runs
        stay in :attr:`gate_results` as history)."""
        newest: dict[str, Any] = {}
        for row in self.gate_results:
            suite = str(row["gate"]).split(".", 1)[0]
            if suite not in newest or row["evaluated_at"] > newest[suite]:
                newest[suite] = row["evaluated_at"]
        return [
            row
            for row in self.gate_results
            if row["evaluated_at"] == newest[str(row["gate"]).split(".", 1)[0]]
        ]

    @property
    def gates(self) -> dict[str, Any] | None:
        """The newest gate verdict: ``passed``, ``evaluated_at``, ``reports`` (HTML paths),
        ``failures`` and ``warnings`` (gate, observed, threshold, unexpected count, sample);
        None when no gate ever ran on the version."""
        rows = self.latest_gates
        if not rows:
            return None

        def explained(row: dict[str, Any]) -> dict[str, Any]:
            details = row["details"] if isinstance(row["details"], dict) else {}
            return {
                "gate": row["gate"],
                "severity": row["severity"],
                **{
                    key: details.get(key)
                    for key in ("observed", "threshold", "unexpected_count", "sample")
                },
                "report": details.get("report_path"),
            }

        failed = [r for r in rows if not r["passed"]]
        reports = {
            str(r["details"]["report_path"])
            for r in rows
            if isinstance(r["details"], dict) and r["details"].get("report_path")
        }
        return {
            "passed": not any(r["severity"] == "error" for r in failed),
            "evaluated_at": max(r["evaluated_at"] for r in rows),
            "expectations": len(rows),
            "reports": sorted(reports),
            "failures": [explained(r) for r in failed if r["severity"] == "error"],
            "warnings": [explained(r) for r in failed if r["severity"] != "error"],
        }

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the bytes came from: URL, redirects, sha256, fetch time, the tools used."""
        recorded = self.detail.get("provenance")
        doc: dict[str, Any] = dict(recorded) if isinstance(recorded, dict) else {}
        doc.update(
            resolver=self.detail.get("resolver"),
            sha256=self.detail.get("sha256"),
            run_id=self.detail.get("run_id"),
            created_at=self.detail.get("created_at"),
        )
        artifact = next(iter(self.artifacts), None)
        if artifact is not None:
            for key in ("url", "final_url", "size", "etag", "last_modified", "content_type"):
                doc.setdefault(key, artifact.get(key))
            doc["fetched_at"] = artifact.get("fetched_at")
            doc["store_path"] = artifact.get("store_path")
        return doc

    def frame(self, part: str) -> Any:
        """One of the row lists (``versions``, ``files``, ``validations``, ...) as polars."""
        import polars as pl

        if part not in _PARTS:
            raise ValueError(f"no part {part!r}; choose one of {', '.join(_PARTS)}")
        rows = [
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
            for row in getattr(self, part)
        ]
        return pl.DataFrame(rows, infer_schema_length=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (what ``ontolab show --json`` prints)."""
        title = (self.source or {}).get("title") or next(
            (
                v["metrics"].get("title")
                for v in self.validations
                if isinstance(v.get("metrics"), dict)
            ),
            None,
        )
        doc = {
            "ontology": self.ontology,
            "version": self.version,
            "live": self.live,
            "status": self.status,
            "reason": self.detail.get("reason"),
            "pinned": self.detail.get("pinned"),
            "title": title,
            "licence": self.licence,
            "version_iri": self.detail.get("version_iri"),
            "release_date": self.detail.get("release_date"),
            "source": self.source,
            "provenance": self.provenance,
            "timings": self.detail.get("timings"),
            "gates": self.gates,
            **{part: getattr(self, part) for part in _PARTS},
        }
        return {k: _plain(v) for k, v in doc.items()}

    def __repr__(self) -> str:
        live = f", live {self.live}" if self.live else ", nothing live"
        return (
            f"Overview({self.ontology} {self.version}: {self.status}{live}; "
            f"{len(self.versions)} versions, {len(self.files)} files, "
            f"{len(self.validations)} validations, {len(self.gate_results)} gate results)"
        )

    def _repr_html_(self) -> str:
        doc = self.to_dict()
        facts = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(doc[k]))}</td></tr>"
            for k in ("version", "live", "status", "reason", "title", "licence")
            if doc.get(k) is not None
        )
        parts = [f"<table><caption>{html.escape(self.ontology)}</caption>{facts}</table>"]
        parts.append(_gates_html(self.gates))
        for part in ("versions", "files", "validations", "gate_results"):
            if getattr(self, part):
                parts.append(f"<details><summary>{part} ({len(getattr(self, part))})</summary>")
                parts.append(self.frame(part)._repr_html_())
                parts.append("</details>")
        return "".join(parts)


def _gates_html(gates: dict[str, Any] | None) -> str:
    """The newest gate verdict, its failures and a link to each HTML report."""
    if gates is None:
        return "<p>gates: none recorded</p>"
    verdict = "passed" if gates["passed"] else "rejected"
    links = ", ".join(
        f"<a href='{html.escape(Path(p).as_uri())}' target='_blank'>{html.escape(Path(p).name)}</a>"
        for p in gates["reports"]
        if Path(p).is_absolute()
    )
    items = "".join(
        f"<li>{html.escape(str(f['gate']))}: observed {html.escape(str(f['observed']))}"
        + (f", needs {html.escape(str(f['threshold']))}" if f["threshold"] is not None else "")
        + "</li>"
        for f in gates["failures"] + gates["warnings"]
    )
    return (
        f"<p>gates: <b>{verdict}</b> ({gates['expectations']} expectations)"
        + (f"; report: {links}" if links else "")
        + "</p>"
        + (f"<ul>{items}</ul>" if items else "")
    )


def canonical_id(rows: Rows, ontology: str) -> str:
    """The id as recorded (``HP`` finds ``hp``); an ontology never stored is an error."""
    found = [str(r["ontology"]) for r in rows(*listings.ontology_names(ontology))]
    if ontology in found:
        return ontology
    if len(found) == 1:
        return found[0]
    raise UnknownOntology(
        f"no version of {ontology!r} is recorded in the catalog; run 'ontolab pull "
        f"{ontology}' first ('ontolab db latest' lists what is stored)",
        code="E_ONTOLOGY_NOT_STORED",
        ontology_id=ontology,
    )


def _parsed(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: _json_text(v) if k in columns else v for k, v in row.items()} for row in rows]


def build_overview(rows: Rows, ontology: str, version: str | None = None) -> Overview:
    """Everything recorded about ``ontology``; details for ``version`` (default: the live
    version, else the newest)."""
    ontology = canonical_id(rows, ontology)
    versions = rows(*listings.versions(ontology))
    live = next((str(v["version"]) for v in versions if v["live"]), None)
    chosen = version or live or str(versions[0]["version"])
    found = rows(*listings.version_detail(ontology, chosen))
    if not found:
        raise UnknownOntology(
            f"no version {chosen!r} of {ontology!r} is recorded; 'ontolab show {ontology}' "
            "lists the stored versions",
            code="E_VERSION_UNKNOWN",
            ontology_id=ontology,
        )
    detail = _parsed(found, "provenance", "timings")[0]
    source = rows(*listings.source(ontology))
    return Overview(
        ontology=ontology,
        version=chosen,
        live=live,
        detail=detail,
        source=source[0] if source else None,
        versions=versions,
        files=rows(*listings.files(ontology, chosen)),
        validations=_parsed(rows(*listings.validations(ontology, chosen)), "metrics", "messages"),
        gate_results=_parsed(rows(*listings.gate_results(ontology, chosen)), "details"),
        terms=rows(*listings.terms_tables(ontology, chosen)),
        imports=rows(*listings.imports(ontology, chosen)),
        artifacts=_parsed(
            rows(*listings.artifacts(ontology, sha256=str(detail["sha256"]))), "redirects"
        ),
        promotions=rows(*listings.history(ontology, limit=20)),
    )
