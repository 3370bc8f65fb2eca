"""Gate time on a 50 000-term ontology (issue 6): GX's one-time import, then the evaluation.

* GX import: ``python -c "import great_expectations"`` in a fresh interpreter, median of
  ``ROUNDS``, minus ``python -c pass`` (interpreter start-up). Paid once per process, only
  by commands that run gates.
* Evaluation: ``run_gates`` with the default suite and a previous version (so the
  diff-aware entries run too), median of ``CALLS`` calls after a first call that pays the
  import. Frames from the terms tables (DuckDB), GX evaluation, the HTML report.
  Target: < 1 s.

Environment: BENCH_GATE_TERMS (default 50000), BENCH_ROUNDS (3), BENCH_GATE_CALLS (5).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ontolab.settings import load_settings
from ontolab.testing import write_synthetic_obo
from ontolab.validate import validate_file

TERMS = int(os.environ.get("BENCH_GATE_TERMS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CALLS = int(os.environ.get("BENCH_GATE_CALLS", "5"))
TARGET_EVALUATION_S = 1.0


def _child(code: str) -> float:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, env=env)
    return time.perf_counter() - started


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-gates-"))
    try:
        settings = load_settings(environ={}, data_dir=str(work / "data"))
        tables = []
        # The previous release: the same generator, 5 % fewer terms.
        for name, count in (("current", TERMS), ("previous", TERMS * 95 // 100)):
            source = write_synthetic_obo(work / f"{name}.obo", n_terms=count)
            report = validate_file(
                source,
                terms_path=work / f"{name}.parquet",
                settings=settings.validate_,
                ontology_id="syn",
            )
            tables.append(report.terms_path)
        current, previous = tables
        assert current is not None
        assert previous is not None

        baseline = statistics.median(_child("pass") for _ in range(ROUNDS))
        gx_import = statistics.median(_child("import great_expectations") for _ in range(ROUNDS))

        from ontolab.gates import run_gates

        def gate() -> tuple[float, float, bool]:
            started = time.perf_counter()
            report = run_gates(
                settings,
                ontology="syn",
                version="current",
                terms=[current],
                previous=("previous", [previous]),
            )
            return time.perf_counter() - started, report.import_s, report.passed

        first, first_import, passed = gate()
        calls = [gate()[0] for _ in range(CALLS)]
        evaluation = statistics.median(calls)
        print(
            f"gates on a {TERMS}-term synthetic ontology (default suite, with a previous version):"
        )
        print(
            f"  GX import, fresh interpreter     {gx_import - baseline:6.2f} s"
            f"  (python -c 'import great_expectations' {gx_import:.2f} s"
            f" - python -c pass {baseline:.2f} s; median of {ROUNDS})"
        )
        print(
            f"  first run_gates in a process     {first:6.2f} s"
            f"  (of which GX import {first_import:.2f} s)"
        )
        print(
            f"  evaluation, median of {CALLS}          {evaluation:6.3f} s"
            f"  (target < {TARGET_EVALUATION_S:.0f} s: {evaluation / TARGET_EVALUATION_S:.2f}x"
            f" of the budget; min {min(calls):.3f} s, max {max(calls):.3f} s)"
        )
        print(f"  verdict: {'passed' if passed else 'rejected'}")
        return evaluation < TARGET_EVALUATION_S
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
