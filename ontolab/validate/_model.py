"""The values validation returns: messages, metrics, the stream report, deep results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ontolab._html import facts

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Message:
    """One finding: ``level`` (info, warning, error), a stable ``code`` and the text."""

    level: Level
    code: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "text": self.text}


@dataclass(frozen=True)
class OntologyMetrics:
    """What one streaming pass learned about an ontology.

    ``triples`` counts RDF statements, ``frames`` OBO frames (OBO Graphs: nodes),
    ``axioms`` OWL/XML or functional-syntax components; the others stay None.
    ``labelled`` and ``defined`` count non-deprecated classes with a label or definition;
    the coverages divide them by the number of non-deprecated classes.
    """

    triples: int | None = None
    frames: int | None = None
    axioms: int | None = None
    classes: int = 0
    object_properties: int = 0
    data_properties: int = 0
    annotation_properties: int = 0
    individuals: int = 0
    deprecated: int = 0
    labelled: int = 0
    defined: int = 0
    label_coverage: float = 0.0
    definition_coverage: float = 0.0
    ontology_iri: str | None = None
    version_iri: str | None = None
    version: str | None = None
    imports: tuple[str, ...] = ()
    licence: str | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (imports as a list)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["imports"] = list(self.imports)
        return data


@dataclass(frozen=True)
class ValidationReport:
    """The receipt of :func:`~ontolab.validate.validate_file`: one streaming pass."""

    path: Path
    format: str
    passed: bool
    metrics: OntologyMetrics
    terms_path: Path | None = None
    terms_count: int = 0
    messages: tuple[Message, ...] = ()
    duration_s: float = 0.0
    bytes: int = 0
    validator: str = "stream"

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (decimal megabytes)."""
        return self.bytes / self.duration_s / 1e6 if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "path": str(self.path),
            "format": self.format,
            "passed": self.passed,
            "validator": self.validator,
            "metrics": self.metrics.to_dict(),
            "terms_path": str(self.terms_path) if self.terms_path else None,
            "terms_count": self.terms_count,
            "messages": [m.to_dict() for m in self.messages],
            "duration_s": self.duration_s,
            "bytes": self.bytes,
        }

    def _repr_html_(self) -> str:
        m = self.metrics
        verdict = "passed" if self.passed else "failed"
        rows = [
            ("file", f"{self.path.name} ({self.format}, {self.bytes / 1e6:.1f} MB)"),
            ("result", f"{verdict} in {self.duration_s:.2f} s ({self.mb_per_s:.0f} MB/s)"),
            ("ontology", m.ontology_iri or ""),
            ("version", m.version or ""),
            ("title", m.title or ""),
            ("licence", m.licence or ""),
            ("classes", f"{m.classes} ({m.deprecated} deprecated)"),
            (
                "properties",
                f"{m.object_properties} object, {m.data_properties} data, "
                f"{m.annotation_properties} annotation",
            ),
            ("coverage", f"labels {m.label_coverage:.1%}, definitions {m.definition_coverage:.1%}"),
            (
                "terms table",
                f"{self.terms_count} rows at {self.terms_path}" if self.terms_path else "",
            ),
        ]
        rows += [(f"{msg.level}", f"{msg.code}: {msg.text}") for msg in self.messages]
        return facts("ValidationReport", rows)


@dataclass(frozen=True)
class ValidationResult:
    """What one (deep) validator concluded about a file."""

    validator: str
    passed: bool
    skipped: bool = False
    reason: str | None = None
    messages: tuple[Message, ...] = ()
    duration_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "validator": self.validator,
            "passed": self.passed,
            "skipped": self.skipped,
            "reason": self.reason,
            "messages": [m.to_dict() for m in self.messages],
            "duration_s": self.duration_s,
            "metrics": dict(self.metrics),
        }

    def _repr_html_(self) -> str:
        state = "skipped" if self.skipped else ("passed" if self.passed else "failed")
        rows = [("result", f"{state} in {self.duration_s:.2f} s"), ("reason", self.reason or "")]
        rows += [(msg.level, f"{msg.code}: {msg.text}") for msg in self.messages]
        return facts(f"ValidationResult {self.validator}", rows)
