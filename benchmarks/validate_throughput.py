"""Validation throughput and memory: ontolab vs bare pyoxigraph vs rdflib (and fastobo).

Every figure comes from a fresh child process, so peak RSS (the child's own ``ru_maxrss``)
is per tool; MB/s is measured inside the child around the parse, imports of the top-level
module excluded, ontolab's lazy imports (pyarrow, DuckDB) included.

* (a) bare ``for _ in pyoxigraph.parse(...)`` and (b) ``validate_file`` with the terms
  table, on a >= 100 MB synthetic RDF/XML shaped like GO (``annotated=True``: axiom
  annotations, restrictions, namespaces beside the terms), ``ROUNDS`` rounds interleaved;
  medians compared. Target: ontolab >= 0.5x bare pyoxigraph. The same pair on the dense
  synthetic (nearly every triple feeds the terms table, the validator's worst case) is
  printed for reference.
* (c) ``rdflib.Graph().parse`` on a 20 MB slice (rdflib holds everything in memory; MB/s
  hardly depends on size), against ontolab on the same slice. Target: >= 20x.
* (d) fastobo and ontolab on a synthetic OBO, for reference (no target).
* ontolab's peak RSS on a >= 1 GB input. Target: < 300 MB.

Environment: BENCH_VALIDATE_BYTES (default 150 MB), BENCH_RDFLIB_BYTES
(20 MB), BENCH_OBO_BYTES (40 MB), BENCH_BIG_BYTES (1 GB),
BENCH_SKIP_BIG=1, BENCH_ROUNDS (3).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ontolab.testing import write_synthetic_obo, write_synthetic_owl

SIZE = int(os.environ.get("BENCH_VALIDATE_BYTES", "150000000"))
RDFLIB_SIZE = int(os.environ.get("BENCH_RDFLIB_BYTES", "20000000"))
OBO_SIZE = int(os.environ.get("BENCH_OBO_BYTES", "40000000"))
BIG_SIZE = int(os.environ.get("BENCH_BIG_BYTES", "1000000000"))
SKIP_BIG = os.environ.get("BENCH_SKIP_BIG", "") not in ("", "0")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGET_VS_PYOXIGRAPH = 0.5
TARGET_VS_RDFLIB = 20.0
TARGET_BIG_RSS_MB = 300.0

# Each child prints {"seconds": ..., "rss_mb": ...} as its last line.
_REPORT = (
    "import json, resource\n"
    "print(json.dumps({'seconds': elapsed,"
    " 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
)
CHILDREN = {
    "pyoxigraph": (
        "import sys, time, pyoxigraph\n"
        "started = time.perf_counter()\n"
        "for _ in pyoxigraph.parse(path=sys.argv[1], format=pyoxigraph.RdfFormat.RDF_XML):\n"
        "    pass\n"
        "elapsed = time.perf_counter() - started\n"
    ),
    "ontolab": (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from ontolab.settings import ValidateSettings\n"
        "from ontolab.validate import validate_file\n"
        "started = time.perf_counter()\n"
        "report = validate_file(Path(sys.argv[1]), settings=ValidateSettings(),"
        " terms_path=Path(sys.argv[2]))\n"
        "elapsed = time.perf_counter() - started\n"
        "assert report.terms_count > 0\n"
    ),
    "rdflib": (
        "import sys, time, rdflib\n"
        "started = time.perf_counter()\n"
        "rdflib.Graph().parse(sys.argv[1], format='xml')\n"
        "elapsed = time.perf_counter() - started\n"
    ),
    "fastobo": (
        "import sys, time, fastobo\n"
        "started = time.perf_counter()\n"
        "reader = fastobo.iter(sys.argv[1])\n"
        "reader.header()\n"
        "for frame in reader:\n"
        "    for clause in frame:\n"
        "        pass\n"
        "elapsed = time.perf_counter() - started\n"
    ),
}


def _run(tool: str, source: Path, work: Path) -> dict[str, float]:
    """Run ``tool`` on ``source`` in a fresh interpreter; MB/s and peak RSS."""
    terms = work / f"terms-{tool}.parquet"
    done = subprocess.run(
        [sys.executable, "-c", CHILDREN[tool] + _REPORT, str(source), str(terms)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed on {source.name}:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    terms.unlink(missing_ok=True)
    size = source.stat().st_size
    return {"mb_s": size / figures["seconds"] / 1e6, "rss_mb": float(figures["rss_mb"])}


def _rounds(tools: list[str], source: Path, work: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Median MB/s and max RSS per tool; rounds interleave tools so noise hits all alike."""
    runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
    for _ in range(rounds):
        for tool in tools:
            runs[tool].append(_run(tool, source, work))
    size_mb = source.stat().st_size / 1e6
    summary = {}
    for tool, results in runs.items():
        speeds = [r["mb_s"] for r in results]
        summary[tool] = {
            "mb_s": statistics.median(speeds),
            "rss_mb": max(r["rss_mb"] for r in results),
        }
        shown = ", ".join(f"{v:.1f}" for v in speeds)
        print(
            f"  {tool:<11} {size_mb:7.0f} MB  median {summary[tool]['mb_s']:6.1f} MB/s"
            f"  peak RSS {summary[tool]['rss_mb']:6.0f} MB   (runs: {shown})"
        )
    return summary


def _verdict(name: str, value: float, target: float, *, below: bool = False) -> bool:
    met = value < target if below else value >= target
    sign, unit = ("<", " MB") if below else (">=", "x")
    verdict = "ok" if met else "MISSED"
    print(f"  {name:<36} = {value:7.2f}{unit}  (target {sign} {target:g}{unit}) {verdict}")
    return met


def main() -> bool:
    """Print the figures and ratios; True when every target is met."""
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-validate-"))
    try:
        print(f"validate throughput (rounds={ROUNDS}, python {sys.version.split()[0]})")
        owl = write_synthetic_owl(work / "big.owl", target_bytes=SIZE, annotated=True)
        print("GO-shaped RDF/XML")
        main_run = _rounds(["pyoxigraph", "ontolab"], owl, work, ROUNDS)
        owl.unlink()
        dense = write_synthetic_owl(work / "dense.owl", target_bytes=SIZE)
        print("dense RDF/XML (worst case, for reference)")
        dense_run = _rounds(["pyoxigraph", "ontolab"], dense, work, ROUNDS)
        dense.unlink()
        small = write_synthetic_owl(work / "slice.owl", target_bytes=RDFLIB_SIZE, annotated=True)
        print("rdflib on a slice")
        slice_run = _rounds(["rdflib", "ontolab"], small, work, 1)
        small.unlink()
        print("OBO")
        obo = write_synthetic_obo(work / "syn.obo", target_bytes=OBO_SIZE)
        _rounds(["fastobo", "ontolab"], obo, work, 1)
        obo.unlink()
        print("ratios")
        ok = _verdict(
            "ontolab / bare pyoxigraph",
            main_run["ontolab"]["mb_s"] / main_run["pyoxigraph"]["mb_s"],
            TARGET_VS_PYOXIGRAPH,
        )
        worst = dense_run["ontolab"]["mb_s"] / dense_run["pyoxigraph"]["mb_s"]
        print(f"  {'ontolab / bare pyoxigraph, dense':<36} = {worst:7.2f}x  (for reference)")
        # rdflib's MB/s barely depends on size, so ontolab's figure on the big file is
        # the fair one; the same-slice ratio (start-up costs weigh more) is shown too.
        ok &= _verdict(
            "ontolab (big file) / rdflib",
            main_run["ontolab"]["mb_s"] / slice_run["rdflib"]["mb_s"],
            TARGET_VS_RDFLIB,
        )
        same = slice_run["ontolab"]["mb_s"] / slice_run["rdflib"]["mb_s"]
        print(f"  {'ontolab / rdflib, same slice':<36} = {same:7.2f}x  (for reference)")
        if SKIP_BIG:
            print("  big input skipped (BENCH_SKIP_BIG=1)")
        else:
            big = write_synthetic_owl(work / "huge.owl", target_bytes=BIG_SIZE, annotated=True)
            print("memory on a big input")
            big_run = _rounds(["ontolab"], big, work, 1)
            big.unlink()
            ok &= _verdict(
                "ontolab peak RSS", big_run["ontolab"]["rss_mb"], TARGET_BIG_RSS_MB, below=True
            )
        return ok
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
