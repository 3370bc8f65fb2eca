"""Quality gates: Great Expectations suites a release must pass before it goes live.

Parsing is not quality: a release can parse and still lose labels, duplicate ids or drop
thousands of terms. :func:`run_gates` evaluates the suites named by ``gates.suites`` (files
under ``ontolab/gates/suites/`` or paths) over a version's terms table, compared with the
previous good version, and returns a :class:`GateReport` with one result per expectation
and a static HTML page. :func:`run_catalog_gates` checks the catalog itself.

Importing this package is cheap: Great Expectations and pandas load on the first evaluation.
"""

from __future__ import annotations

from ontolab.gates._model import ExpectationResult, GateReport
from ontolab.gates._runner import run_catalog_gates, run_gates
from ontolab.gates._suites import Suite, SuiteEntry, gates_enabled, load_suite, thresholds_for

__all__ = [
    "ExpectationResult",
    "GateReport",
    "Suite",
    "SuiteEntry",
    "gates_enabled",
    "load_suite",
    "run_catalog_gates",
    "run_gates",
    "thresholds_for",
]
