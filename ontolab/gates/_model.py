"""What a gate run produced: an :class:`ExpectationResult` per entry, in a :class:`GateReport`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_SHOWN_IN_SUMMARY = 3


@dataclass(frozen=True)
class ExpectationResult:
    """One suite entry, evaluated."""

    suite: str
    name: str
    expectation: str
    passed: bool
    severity: str
    observed: Any
    threshold: Any
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def gate(self) -> str:
        """``<suite>.<name>``, the ``gate`` column of ``gate_results``."""
        return f"{self.suite}.{self.name}"

    def explain(self) -> str:
        """One line: what was observed against what was needed, and a few offenders."""
        text = f"{self.name}: observed {_fmt(self.observed)}"
        if self.threshold is not None:
            text += f", needs {_fmt_threshold(self.threshold)}"
        if self.unexpected_count:
            text += f"; {self.unexpected_count} unexpected"
            if self.sample:
                shown = ", ".join(str(v) for v in self.sample[:_SHOWN_IN_SUMMARY])
                more = ", ..." if len(self.sample) > _SHOWN_IN_SUMMARY else ""
                text += f" ({shown}{more})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "suite": self.suite,
            "name": self.name,
            "gate": self.gate,
            "expectation": self.expectation,
            "passed": self.passed,
            "severity": self.severity,
            "observed": self.observed,
            "threshold": self.threshold,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "sample": list(self.sample),
            "kwargs": dict(self.kwargs),
            "description": self.description,
        }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _fmt_threshold(threshold: Any) -> str:
    if isinstance(threshold, dict):
        if "in" in threshold:
            return "one of " + ", ".join(_fmt(v) for v in threshold["in"])
        low, high = threshold.get("min"), threshold.get("max")
        if low is not None and high is not None:
            return f"between {_fmt(low)} and {_fmt(high)}"
        if low is not None:
            return f">= {_fmt(low)}"
        if high is not None:
            return f"<= {_fmt(high)}"
    return _fmt(threshold)


@dataclass(frozen=True)
class GateReport:
    """Every result of one gate run over one ontology version.

    ``passed`` is true when every error-severity result passed; warnings are reported only.
    """

    ontology: str
    version: str
    results: tuple[ExpectationResult, ...]
    previous: str | None
    evaluated_at: datetime
    duration_s: float
    import_s: float
    report_path: Path | None = None

    @property
    def passed(self) -> bool:
        """True when every error-severity expectation passed."""
        return all(r.passed for r in self.results if r.severity == "error")

    @property
    def failures(self) -> list[ExpectationResult]:
        """The error-severity results that failed (the reasons for a rejection)."""
        return [r for r in self.results if r.severity == "error" and not r.passed]

    @property
    def warnings(self) -> list[ExpectationResult]:
        """The warning-severity results that failed (reported, not rejecting)."""
        return [r for r in self.results if r.severity != "error" and not r.passed]

    def summary(self) -> str:
        """The failures in one line, or a short pass line.

        Examples
        --------
        >>> from datetime import datetime
        >>> GateReport("hp", "v1", (), None, datetime(2024, 1, 1), 0.1, 0.0).summary()
        'hp v1: all 0 gate expectations passed'
        """
        if self.passed:
            note = f" ({len(self.warnings)} warnings)" if self.warnings else ""
            return (
                f"{self.ontology} {self.version}: all {len(self.results)} "
                f"gate expectations passed{note}"
            )
        return "; ".join(r.explain() for r in self.failures)

    def rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """One dict per result, keyed like the catalog's ``gate_results`` columns."""
        rows = []
        for result in self.results:
            details = {
                "expectation": result.expectation,
                "kwargs": result.kwargs,
                "observed": result.observed,
                "threshold": result.threshold,
                "unexpected_count": result.unexpected_count,
                "unexpected_percent": result.unexpected_percent,
                "sample": result.sample,
                "description": result.description,
                "previous": self.previous,
                "report_path": str(self.report_path) if self.report_path else None,
            }
            rows.append(
                {
                    "gate_id": uuid.uuid4().hex,
                    "run_id": run_id,
                    "ontology": self.ontology,
                    "version": self.version,
                    "gate": result.gate,
                    "passed": result.passed,
                    "severity": result.severity,
                    "details": json.dumps(details, default=str, sort_keys=True),
                    "evaluated_at": self.evaluated_at,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--json`` output, events, the service)."""
        return {
            "ontology": self.ontology,
            "version": self.version,
            "passed": self.passed,
            "previous": self.previous,
            "evaluated_at": self.evaluated_at.isoformat(),
            "duration_s": round(self.duration_s, 4),
            "import_s": round(self.import_s, 4),
            "report_path": str(self.report_path) if self.report_path else None,
            "summary": self.summary(),
            "results": [r.to_dict() for r in self.results],
        }

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"rejected: {len(self.failures)} failures"
        return f"<GateReport {self.ontology} {self.version} {state}>"

    def _repr_html_(self) -> str:
        from ontolab.gates._report import render_fragment

        return render_fragment(self)
