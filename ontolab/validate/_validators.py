"""Deep validators: third-party parsers run in a child process with time and memory budgets.

rdflib, pronto and pyshacl build the whole graph in memory and may run for minutes, so
each runs as ``python -m ontolab.validate._deep NAME PATH [SHAPES]`` (see that module):
the child caps its address space (``RLIMIT_AS``) before importing anything heavy, the
parent kills it when ``deep_timeout_s`` expires. The child prints one JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ontolab.formats import XML_FORMATS, detect_format, read_error
from ontolab.settings import ValidateSettings
from ontolab.validate._model import Message, ValidationResult
from ontolab.validate._registry import (
    ValidationContext,
    get_validator,
    register_validator,
)
from ontolab.validate._xmlguard import check_xml

# The child exits with this code when it ran out of memory, so the parent can tell.
EXIT_MEMORY = 3
_TEXT_LIMIT = 4000
_RDFLIB_FORMATS = {
    "rdfxml": "xml",
    "turtle": "turtle",
    "ntriples": "nt",
    "nquads": "nquads",
    "trig": "trig",
    "jsonld": "json-ld",
}


class IsolatedValidator:
    """A validator whose :meth:`check` runs in a child process with budgets.

    Subclasses set ``name`` and ``formats`` and implement :meth:`check`; the child finds
    them again by name (built-ins and ``ontolab.validators`` entry points alike).
    """

    name = "isolated"
    formats: frozenset[str] = frozenset()

    def check(self, path: Path, fmt: str, shapes: Path | None) -> dict[str, Any]:
        """Runs in the child: return ``{"passed": bool, "text": str, "metrics": {...}}``."""
        raise NotImplementedError

    def validate(self, path: Path, ctx: ValidationContext) -> ValidationResult:
        if ctx.format not in self.formats:
            return _skipped(
                self.name, "unsupported_format", f"{self.name} cannot read {ctx.format}"
            )
        return run_isolated(self.name, path, ctx)


class RdflibValidator(IsolatedValidator):
    """rdflib's parser: a second, independent opinion on RDF syntax."""

    name = "rdflib"
    formats = frozenset(_RDFLIB_FORMATS)

    def check(self, path: Path, fmt: str, shapes: Path | None) -> dict[str, Any]:
        import rdflib

        graph = rdflib.Dataset() if fmt in ("nquads", "trig") else rdflib.Graph()
        graph.parse(str(path), format=_RDFLIB_FORMATS[fmt])
        return {"passed": True, "text": "", "metrics": {"triples": len(graph)}}


class ProntoValidator(IsolatedValidator):
    """pronto's loader: what an OBO-minded Python user will see."""

    name = "pronto"
    formats = frozenset({"obo", "obographs", "rdfxml"})

    def check(self, path: Path, fmt: str, shapes: Path | None) -> dict[str, Any]:
        import warnings

        from pronto.ontology import Ontology

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ontology = Ontology(str(path))
        notes = "; ".join(sorted({str(w.message) for w in caught}))
        metrics = {"terms": len(ontology.terms()), "relationships": len(ontology.relationships())}
        return {"passed": True, "text": notes, "metrics": metrics}


class ShaclValidator(IsolatedValidator):
    """pyshacl against ``validate.shacl_shapes``."""

    name = "shacl"
    formats = frozenset(_RDFLIB_FORMATS)

    def validate(self, path: Path, ctx: ValidationContext) -> ValidationResult:
        if ctx.settings.shacl_shapes is None:
            return _skipped(self.name, "no_shapes", "validate.shacl_shapes is not set")
        return super().validate(path, ctx)

    def check(self, path: Path, fmt: str, shapes: Path | None) -> dict[str, Any]:
        import pyshacl

        conforms, _, text = pyshacl.validate(
            str(path), shacl_graph=str(shapes), data_graph_format=_RDFLIB_FORMATS[fmt]
        )
        violations = str(text).count("Constraint Violation")
        return {
            "passed": bool(conforms),
            "reason": None if conforms else "not_conforming",
            "text": "" if conforms else str(text),
            "metrics": {"conforms": bool(conforms), "violations": violations},
        }


for _builtin in (RdflibValidator(), ProntoValidator(), ShaclValidator()):
    register_validator(_builtin, replace=True)


def run_deep_validators(
    path: Path, fmt: str | None, settings: ValidateSettings, *, ontology_id: str | None = None
) -> tuple[ValidationResult, ...]:
    """Run every validator named in ``settings.deep_validators`` on ``path``.

    Files above ``deep_max_bytes`` are skipped (``reason="too_large"``); XML is checked by
    the hostile-XML guard first, which raises :class:`~ontolab.errors.UnsafeXML`.
    """
    try:
        size = path.stat().st_size
        fmt = fmt or detect_format(path)
    except OSError as exc:
        raise read_error(exc).with_context(path=str(path), ontology_id=ontology_id) from exc
    if fmt in XML_FORMATS:
        check_xml(path, max_entities=settings.max_xml_entities)
    ctx = ValidationContext(format=fmt, settings=settings, ontology_id=ontology_id)
    results = []
    for name in settings.deep_validators:
        validator = get_validator(name)
        if size > settings.deep_max_bytes:
            limit = int(settings.deep_max_bytes)
            results.append(
                _skipped(
                    name,
                    "too_large",
                    f"the file is {size} bytes, above validate.deep_max_bytes ({limit})",
                )
            )
            continue
        results.append(validator.validate(path, ctx))
    return tuple(results)


def run_isolated(name: str, path: Path, ctx: ValidationContext) -> ValidationResult:
    """Run validator ``name``'s check on ``path`` in a child process with the budgets."""
    settings = ctx.settings
    command = [sys.executable, "-m", "ontolab.validate._deep", name, str(path)]
    if settings.shacl_shapes is not None:
        command.append(str(settings.shacl_shapes))
    command += ["--format", ctx.format, "--memory-bytes", str(int(settings.deep_memory_bytes))]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=settings.deep_timeout_s,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        return ValidationResult(
            validator=name,
            passed=False,
            reason="timeout",
            messages=(
                Message(
                    "error",
                    "E_DEEP_TIMEOUT",
                    f"{name} ran longer than validate.deep_timeout_s "
                    f"({settings.deep_timeout_s:g} s) and was killed",
                ),
            ),
            duration_s=time.perf_counter() - started,
        )
    return _result(name, done, time.perf_counter() - started, settings)


def _result(
    name: str,
    done: subprocess.CompletedProcess[str],
    duration: float,
    settings: ValidateSettings,
) -> ValidationResult:
    out_of_memory = done.returncode == EXIT_MEMORY or (
        done.returncode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV)
        and "alloc" in done.stderr.lower()
    )
    if out_of_memory:
        text = (
            f"{name} needed more than validate.deep_memory_bytes "
            f"({int(settings.deep_memory_bytes)} bytes) and was stopped"
        )
        return ValidationResult(
            name, False, reason="memory", messages=(Message("error", "E_DEEP_MEMORY", text),),
            duration_s=duration,
        )  # fmt: skip
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = _trim(done.stderr or done.stdout) or f"exit status {done.returncode}"
        return ValidationResult(
            name, False, reason="crashed", messages=(Message("error", "E_DEEP_CRASHED", tail),),
            duration_s=duration,
        )  # fmt: skip
    passed = bool(report.get("passed"))
    text = _trim(str(report.get("text") or ""))
    code = "E_DEEP_FAILED" if not passed else "I_DEEP_NOTE"
    messages = (Message("error" if not passed else "info", code, text),) if text else ()
    return ValidationResult(
        validator=name,
        passed=passed,
        reason=None if passed else str(report.get("reason") or "invalid"),
        messages=messages,
        duration_s=duration,
        metrics=dict(report.get("metrics") or {}),
    )


def _skipped(name: str, reason: str, text: str) -> ValidationResult:
    return ValidationResult(
        validator=name,
        passed=True,
        skipped=True,
        reason=reason,
        messages=(Message("info", "I_DEEP_SKIPPED", text),),
    )


def _trim(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 20] + "\n... (trimmed)"
