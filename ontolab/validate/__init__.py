"""Files → :class:`ValidationReport`: streaming parsers, metrics, terms table, deep validators.

:func:`validate_file` reads an ontology once, whatever its syntax (detected from content by
:func:`detect_format`), refuses hostile XML first, and writes a Parquet terms table while
it streams. :func:`run_deep_validators` runs rdflib, pronto, pyshacl or third-party
:class:`Validator` plug-ins in child processes with time and memory budgets.

Examples
--------
>>> import tempfile, pathlib
>>> from ontolab.settings import ValidateSettings
>>> from ontolab.testing import write_synthetic_obo
>>> with tempfile.TemporaryDirectory() as tmp:
...     obo = write_synthetic_obo(pathlib.Path(tmp) / "syn.obo", n_terms=10)
...     terms = obo.with_suffix(".parquet")
...     report = validate_file(obo, settings=ValidateSettings(), terms_path=terms)
...     report.format, report.metrics.classes, report.metrics.version, report.terms_count
('obo', 10, '2024-01-01', 10)
"""

from __future__ import annotations

from ontolab.formats import FORMATS, detect_format
from ontolab.validate._model import Message, OntologyMetrics, ValidationReport, ValidationResult
from ontolab.validate._registry import (
    ValidationContext,
    Validator,
    get_validator,
    register_validator,
)
from ontolab.validate._validate import validate_file
from ontolab.validate._validators import (
    IsolatedValidator,
    ProntoValidator,
    RdflibValidator,
    ShaclValidator,
    run_deep_validators,
)
from ontolab.validate._xmlguard import check_xml

__all__ = [
    "FORMATS",
    "IsolatedValidator",
    "Message",
    "OntologyMetrics",
    "ProntoValidator",
    "RdflibValidator",
    "ShaclValidator",
    "ValidationContext",
    "ValidationReport",
    "ValidationResult",
    "Validator",
    "check_xml",
    "detect_format",
    "get_validator",
    "register_validator",
    "run_deep_validators",
    "validate_file",
]
