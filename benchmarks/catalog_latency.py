"""Catalog read latency on a large catalog, and the bulk-insert rate behind building one.

A synthetic DuckDB catalog of 500 ontologies x 20 versions (10 000 versions, one live per
ontology) and 1 000 000 extracted-file rows, built with ``insert_arrow`` in one transaction.

* In-process: ``ontolab.connect(config).latest()`` and ``.versions(id)`` (polars frames),
  median and p95 of ``CALLS`` calls each. Target: median < 20 ms.
* Whole process: ``python -m ontolab db latest --json`` (500 rows), median of ``RUNS`` runs,
  interleaved with the baselines ``python -c pass`` and ``python -c 'import ontolab.cli'``.
  Target: median < 0.5 s. Run with bytecode caching on, as an installed package has it
  (``PYTHONDONTWRITEBYTECODE`` is dropped from the children's environment), after a warm-up.
  An ``-X importtime`` breakdown of the same command says where start-up goes.
* Bulk inserts: ``insert_arrow`` (one Arrow batch) vs DuckDB's ``executemany``, rows/s.
* ``ontolab db backup`` and ``db restore`` of the whole catalog (in-process), for reference.

Environment: BENCH_ONTOLOGIES (500), BENCH_VERSIONS (20),
BENCH_FILES_PER_VERSION (100), BENCH_CALLS (50), BENCH_RUNS (10),
BENCH_INSERT_ROWS (20 000), BENCH_EXECUTEMANY_ROWS (3 000).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from ontolab.catalog import DuckDBCatalog, backup_catalog, dicts, listings, restore_catalog

ONTOLOGIES = int(os.environ.get("BENCH_ONTOLOGIES", "500"))
VERSIONS = int(os.environ.get("BENCH_VERSIONS", "20"))
FILES_PER_VERSION = int(os.environ.get("BENCH_FILES_PER_VERSION", "100"))
CALLS = int(os.environ.get("BENCH_CALLS", "50"))
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
INSERT_ROWS = int(os.environ.get("BENCH_INSERT_ROWS", "20000"))
EXECUTEMANY_ROWS = int(os.environ.get("BENCH_EXECUTEMANY_ROWS", "3000"))
TARGET_QUERY_MS = 20.0
TARGET_CLI_S = 0.5
EPOCH = datetime(2024, 1, 1)
# Start-up breakdown: -X importtime self times summed per distribution (first match wins).
IMPORT_GROUPS = (
    ("pydantic", ("pydantic", "pydantic_core", "annotated_types", "typing_inspection")),
    ("yaml", ("yaml", "_yaml")),
    ("typer (and its click)", ("typer", "click")),
    ("rich", ("rich",)),
    ("duckdb", ("duckdb", "_duckdb")),
    ("ontolab.settings", ("ontolab.settings",)),
    ("ontolab.models", ("ontolab.models",)),
    ("ontolab.cli", ("ontolab.cli",)),
    ("ontolab.catalog", ("ontolab.catalog",)),
    ("other ontolab modules", ("ontolab",)),
)


def _hex(i: int, salt: str) -> str:
    return f"{salt}{i:060x}"[-64:]


def _version_rows() -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        k: []
        for k in ("ontology", "version", "status", "reason", "sha256", "created_at", "updated_at")
    }
    for o in range(ONTOLOGIES):
        for v in range(VERSIONS):
            # Every seventh release failed validation; the others are good.
            failed = v % 7 == 6
            when = EPOCH + timedelta(days=30 * v, minutes=o)
            rows["ontology"].append(f"ont{o:04d}")
            rows["version"].append(f"{2000 + v}-01-01")
            rows["status"].append("failed" if failed else "good")
            rows["reason"].append("parse_error" if failed else None)
            rows["sha256"].append(_hex(o * VERSIONS + v, "a"))
            rows["created_at"].append(when)
            rows["updated_at"].append(when)
    rows["pinned"] = [False] * len(rows["ontology"])
    return rows


def _latest_rows(versions: dict[str, list[Any]]) -> dict[str, list[Any]]:
    newest: dict[str, str] = {}
    for ontology, version, status in zip(
        versions["ontology"], versions["version"], versions["status"], strict=True
    ):
        if status == "good":
            newest[ontology] = version  # rows are in creation order per ontology
    return {
        "ontology": list(newest),
        "version": list(newest.values()),
        "promoted_at": [EPOCH] * len(newest),
        "promoted_by": ["bench@localhost"] * len(newest),
        "reason": ["pull"] * len(newest),
    }


def _file_rows(
    versions: dict[str, list[Any]], start: int = 0, count: int | None = None
) -> pa.Table:
    pairs = list(zip(versions["ontology"], versions["version"], strict=True))
    total = len(pairs) * FILES_PER_VERSION if count is None else count
    index = range(start, start + total)
    ontology = [pairs[(i // FILES_PER_VERSION) % len(pairs)][0] for i in index]
    version = [pairs[(i // FILES_PER_VERSION) % len(pairs)][1] for i in index]
    member = [f"part{i:07d}.owl" for i in index]
    return pa.table(
        {
            "ontology": ontology,
            "version": version,
            "member": member,
            "artifact_sha256": [_hex(i // FILES_PER_VERSION, "b") for i in index],
            "path": [f"extracted/{o}/{m}" for o, m in zip(ontology, member, strict=True)],
            "size": pa.array([1000 + i % 5000 for i in index], pa.int64()),
            "sha256": [_hex(i, "c") for i in index],
            "format": ["rdfxml"] * total,
            "created_at": pa.array([EPOCH] * total, pa.timestamp("us")),
        }
    )


def build(path: Path) -> tuple[int, float]:
    """The synthetic catalog; returns (rows inserted, seconds spent in insert_arrow)."""
    versions = _version_rows()
    latest = _latest_rows(versions)
    files = _file_rows(versions)
    catalog = DuckDBCatalog(path)
    try:
        started = time.perf_counter()
        with catalog.transaction() as con:
            inserted = catalog.insert_arrow(con, "versions", pa.table(versions))
            inserted += catalog.insert_arrow(con, "latest", pa.table(latest))
            inserted += catalog.insert_arrow(con, "files", files)
        return inserted, time.perf_counter() - started
    finally:
        catalog.close()


def insert_rates(work: Path) -> tuple[float, float]:
    """rows/s of insert_arrow and of executemany, into a fresh catalog's files table."""
    catalog = DuckDBCatalog(work / "inserts.duckdb")
    versions = {"ontology": ["ont0000"], "version": ["2000-01-01"]}
    arrow_rows = _file_rows(versions, count=INSERT_ROWS)
    many_rows = _file_rows(versions, start=INSERT_ROWS, count=EXECUTEMANY_ROWS)
    try:
        catalog.ensure_schema()
        with catalog.transaction() as con:  # DuckDB imports pandas on the first bound row
            con.execute("SELECT ?", [0]).fetchall()
        started = time.perf_counter()
        with catalog.transaction() as con:
            catalog.insert_arrow(con, "files", arrow_rows)
        arrow_rate = INSERT_ROWS / (time.perf_counter() - started)
        names = many_rows.column_names
        values = list(zip(*(many_rows[n].to_pylist() for n in names), strict=True))
        marks = ", ".join("?" * len(names))
        started = time.perf_counter()
        with catalog.transaction() as con:
            duck: Any = con
            duck.executemany(f"INSERT INTO files ({', '.join(names)}) VALUES ({marks})", values)
        many_rate = EXECUTEMANY_ROWS / (time.perf_counter() - started)
        return arrow_rate, many_rate
    finally:
        catalog.close()


def backup_restore(path: Path, work: Path) -> tuple[float, float]:
    """Seconds to back the catalog up, and to restore that into a new catalog file."""
    source = DuckDBCatalog(path, read_only=True)
    target = DuckDBCatalog(work / "restored.duckdb")
    try:
        started = time.perf_counter()
        backup_catalog(source, work / "backup")
        backed_up = time.perf_counter() - started
        started = time.perf_counter()
        restore_catalog(target, work / "backup")
        return backed_up, time.perf_counter() - started
    finally:
        source.close()
        target.close()


def timed(fn: Callable[[], Any], calls: int) -> list[float]:
    fn()  # warm: the first call pays for imports
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def in_process(config: Path, path: Path) -> dict[str, list[float]]:
    import ontolab

    view = ontolab.connect(config)
    try:
        frame = view.latest()
        assert frame.height == ONTOLOGIES, frame.height
        results = {
            "connect().latest()": timed(view.latest, CALLS),
            "connect().versions(id)": timed(lambda: view.versions("ont0250"), CALLS),
        }
    finally:
        view.close()
    # What the CLI does instead: the same SQL, plain rows, no Arrow or polars.
    catalog = DuckDBCatalog(path, read_only=True)

    def rows() -> None:
        with catalog.reader() as con:
            dicts(con.execute(*listings.latest()))

    try:
        results["reader() + dicts, latest"] = timed(rows, CALLS)
    finally:
        catalog.close()
    return results


def whole_process(work: Path) -> dict[str, list[float]]:
    env = _environ()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import ontolab.cli'": [sys.executable, "-c", "import ontolab.cli"],
        "ontolab db latest --json": [sys.executable, "-m", "ontolab", "db", "latest", "--json"],
    }
    # Warm-up, which also writes the bytecode cache.
    done = subprocess.run(
        commands["ontolab db latest --json"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout.count('"ontology"') == ONTOLOGIES
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):  # interleaved, so load from other processes hits all alike
        for name, argv in commands.items():
            started = time.perf_counter()
            subprocess.run(argv, cwd=work, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return times


def _environ() -> dict[str, str]:
    """The children's environment: no ONTOLAB_* settings; bytecode cached as when installed."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ONTOLAB_") and k != "PYTHONDONTWRITEBYTECODE"
    }


def import_breakdown(work: Path) -> tuple[list[tuple[str, float]], float]:
    """ms of import self time per group of IMPORT_GROUPS, and of all imports together, from
    ``-X importtime`` (which adds overhead of its own; compare shares, not sums)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ontolab", "db", "latest", "--json"],
        cwd=work,
        env=_environ(),
        check=True,
        capture_output=True,
        text=True,
    )
    pattern = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")
    selfs = [(m[2], int(m[1])) for line in done.stderr.splitlines() if (m := pattern.match(line))]
    total = sum(us for _, us in selfs)
    sums = dict.fromkeys([label for label, _ in IMPORT_GROUPS] + ["python stdlib and other"], 0)
    for module, us in selfs:
        label = next(
            (
                label
                for label, roots in IMPORT_GROUPS
                if any(module == r or module.startswith(r + ".") for r in roots)
            ),
            "python stdlib and other",
        )
        sums[label] += us
    return [(label, us / 1000) for label, us in sums.items()], total / 1000


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="ontolab-bench-catalog-"))
    try:
        path = work / "catalog.duckdb"
        started = time.perf_counter()
        inserted, insert_s = build(path)
        built_s = time.perf_counter() - started
        config = work / "ontolab.yaml"
        config.write_text(yaml.safe_dump({"data_dir": str(work), "catalog": f"duckdb:///{path}"}))
        arrow_rate, many_rate = insert_rates(work)
        queries = in_process(config, path)
        processes = whole_process(work)
        groups, import_total = import_breakdown(work)
        backup_s, restore_s = backup_restore(path, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    versions = ONTOLOGIES * VERSIONS
    print(
        f"catalog latency: {ONTOLOGIES} ontologies x {VERSIONS} versions = {versions} versions,"
        f" {versions * FILES_PER_VERSION} file rows"
    )
    print(
        f"  built in {built_s:.1f} s; insert_arrow of {inserted} rows took {insert_s:.1f} s "
        f"({inserted / insert_s:,.0f} rows/s)"
    )
    ok = True
    print(f"  in-process, {CALLS} calls each:            median      p95   (target median < 20 ms)")
    for name, values in queries.items():
        median = statistics.median(values) * 1000
        print(f"    {name:32s} {median:7.1f} ms {p95(values) * 1000:7.1f} ms")
        if name.startswith("connect()"):
            ok &= median < TARGET_QUERY_MS
    print(f"  whole process, median of {RUNS} interleaved runs:")
    for name, values in processes.items():
        print(f"    {name:32s} {statistics.median(values):6.3f} s  (min {min(values):.3f} s)")
    cli = statistics.median(processes["ontolab db latest --json"])
    base = statistics.median(processes["python -c 'import ontolab.cli'"])
    print(
        f"    -> 'db latest --json' is {cli:.3f} s (target < {TARGET_CLI_S} s): "
        f"{base / cli:.0%} of it is importing ontolab.cli"
    )
    ok &= cli < TARGET_CLI_S
    print(f"  imports of 'db latest --json' (-X importtime self times, {import_total:.0f} ms):")
    for label, ms in sorted(groups, key=lambda group: -group[1]):
        print(f"    {label:32s} {ms:6.0f} ms  {ms / import_total:4.0%}")
    print(
        f"  bulk insert into files: insert_arrow {arrow_rate:,.0f} rows/s ({INSERT_ROWS} rows), "
        f"executemany {many_rate:,.0f} rows/s ({EXECUTEMANY_ROWS} rows): "
        f"{arrow_rate / many_rate:,.0f}x"
    )
    print(
        f"  db backup of the whole catalog {backup_s:.1f} s; db restore of it into a new file "
        f"{restore_s:.1f} s"
    )
    return ok


if __name__ == "__main__":
    main()
