"""Notebook reprs escape what ontologies and servers say: titles, messages, labels."""

from __future__ import annotations

from datetime import UTC, datetime

from ontolab.catalog import VersionOutcome
from ontolab.models import Plan, PlanFailure, PlanItem, ReceiptRow, RunReceipt, Source
from ontolab.pipeline import Checked
from ontolab.plan import PlanChange
from ontolab.query import Overview
from ontolab.widgets._panels import files_panel, gates_panel, metrics_panel, versions_panel

HOSTILE = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


def shows_safely(html: str) -> None:
    assert "<script" not in html.lower()
    assert ESCAPED in html


def test_plan_lists_items_and_failures_escaped() -> None:
    item = PlanItem("hp", "obo", "https://example.org/hp.obo", version="v1", title=HOSTILE)
    failure = PlanFailure("evil", "E_PLAN", "resolver", HOSTILE)
    html = Plan(items=(item,), failures=(failure,))._repr_html_()
    shows_safely(html)
    assert "plan: 1 to fetch, 1 failed" in html
    assert "<td>https://example.org/hp.obo</td>" in html
    assert "E_PLAN" in html
    shows_safely(item._repr_html_())  # the title is one of the item's facts
    shows_safely(failure._repr_html_())
    shows_safely(Source("hp", ("obo",), title=HOSTILE)._repr_html_())


def test_receipt_rows_escape_error_messages() -> None:
    now = datetime.now(UTC)
    row = ReceiptRow("hp", "v1", "failed", "parse", "E_PARSE", HOSTILE)
    receipt = RunReceipt("run1", (row,), now, now)
    html = receipt._repr_html_()
    shows_safely(html)
    assert "run run1: some ontologies failed" in html
    assert "E_PARSE" in html


def test_checked_and_plan_change_escape() -> None:
    outcome = VersionOutcome("hp", "v1", "0" * 64, "rejected", reason=HOSTILE)
    checked = Checked(outcome, message=f"gate failed: {HOSTILE}")
    html = checked._repr_html_()
    shows_safely(html)
    assert "rejected" in html
    change = PlanChange("hp", "changed", {"url": ("https://a.example/x", HOSTILE)})
    shows_safely(change._repr_html_())


def test_browser_panels_escape_ontology_text() -> None:
    when = datetime(2024, 1, 1, 12, 0)
    overview = Overview(
        ontology="evil",
        version="1",
        live="1",
        detail={"status": "good", "sha256": "ab" * 32, "provenance": {"url": HOSTILE}},
        source=None,
        versions=[{"version": "1", "status": "good", "live": True, "created_at": when,
                   "reason": HOSTILE}],
        files=[{"member": HOSTILE, "format": "obo", "size": 10, "sha256": "ab" * 32,
                "path": "/x"}],
        validations=[{"member": "evil.obo", "validator": "stream", "passed": False,
                      "skipped": False, "reason": None, "error_code": "E_PARSE",
                      "metrics": {"title": HOSTILE, "classes": 3}, "duration_s": 0.1,
                      "messages": [{"code": "E_PARSE", "text": HOSTILE}],
                      "validated_at": when}],
        gate_results=[{"gate": "ontology.label_coverage", "passed": False, "severity": "error",
                       "evaluated_at": when,
                       "details": {"observed": HOSTILE, "description": HOSTILE}}],
    )  # fmt: skip
    for html in (
        metrics_panel(overview),
        gates_panel(overview),
        files_panel(overview),
        versions_panel(overview.versions, "1"),
    ):
        shows_safely(html)
    assert "rejected" in gates_panel(overview)  # an error-severity failure
