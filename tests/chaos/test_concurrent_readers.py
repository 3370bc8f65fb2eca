"""A notebook reads the catalog in a loop while pulls write it: nobody errors, nobody starves.

The reader is a separate process, like a notebook kernel: ``ontolab.connect(config)`` and
``latest()`` as fast as it can, for as long as the pulls run. The pulls are real
``python -m ontolab pull`` processes against the local mirror, their downloads slowed to a
few seconds each so that reads and writes really overlap. On a DuckDB file this exercises the
processes' taking turns (``ontolab/catalog/_duckdb.py``); on PostgreSQL, plain concurrency.
A writer that cannot get the file in time stops with ``E_CATALOG_LOCKED`` (exit 3) and leaves
the file intact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from ontolab.catalog import open_catalog
from ontolab.testing import Fault, Mirror, hpo_obo_path, kisao_owl_path

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

HP = "2025-01-16"
HP_NEXT = "2025-09-09"
KISAO = "2.34"
DOWNLOAD_S = 3.0  # how long each trickled download takes

# The notebook: latest() in a tight loop until told to stop; a JSON report at the end.
READER = """
import json, sys, time
from pathlib import Path
import ontolab

config, stop, report = sys.argv[1:4]
errors, snapshots, calls, slowest = [], [], 0, 0.0
lab = ontolab.connect(config)
lab.latest()  # a notebook has imported polars and pyarrow long before
Path(report + ".ready").touch()
deadline = time.monotonic() + 100
while not Path(stop).exists() and time.monotonic() < deadline:
    started = time.monotonic()
    try:
        frame = lab.latest()
        snapshot = sorted(zip(frame["ontology"].to_list(), frame["version"].to_list()))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    else:
        if not snapshots or snapshots[-1] != snapshot:
            snapshots.append(snapshot)
    calls += 1
    slowest = max(slowest, time.monotonic() - started)
lab.close()
Path(report).write_text(json.dumps(
    {"errors": errors, "snapshots": snapshots, "calls": calls, "slowest_s": slowest}
))
"""


@dataclass
class Reader:
    errors: list[str]
    snapshots: list[list[list[str]]]
    calls: int
    slowest_s: float

    def live(self, index: int) -> dict[str, str]:
        return dict(self.snapshots[index])  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path, mirror: Mirror, catalog_url: str) -> Path:
    """hp and kisao from the mirror, each download slowed to ~DOWNLOAD_S; an empty catalog."""
    for name, path in (("hp", hpo_obo_path()), ("kisao", kisao_owl_path())):
        rate = int(path.stat().st_size / DOWNLOAD_S)
        slow = Fault.trickle(bytes_per_s=rate, total_s=60)
        mirror.inject(f"/obo/{name}/releases/*", slow, times=None, ranged=False)
    config = {
        "data_dir": "data",
        "catalog": catalog_url,
        "http": {"allowed_hosts": [mirror.host_port], "backoff_base_s": 0.05, "retries": 2},
        "resolvers": {"obo": {"base_url": f"{mirror.base_url}/obo"}},
        "ontologies": [
            {"id": "hp", "resolver": "obo", "format": "obo"},
            {"id": "kisao", "resolver": "obo"},
        ],
    }
    (tmp_path / "ontolab.yaml").write_text(yaml.safe_dump(config))
    catalog = open_catalog(catalog_url)
    catalog.migrate()  # the notebook connects to an existing (empty) catalog
    catalog.close()
    return tmp_path


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    return env | extra


def start_pull(project: Path, *ids: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ontolab", "pull", *ids, "--json"],
        cwd=project,
        env=environ(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def reading(project: Path) -> Iterator[list[Reader]]:
    """A reader process looping over latest() for the duration of the block."""
    stop, report = project / "stop", project / "reader.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(project / "ontolab.yaml"), str(stop), str(report)],
        cwd=project,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[Reader] = []
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{report}.ready").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the reader never connected"
            time.sleep(0.02)
        time.sleep(0.3)  # it has read the empty catalog a few times
        yield found
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    found.append(Reader(**json.loads(report.read_text())))


def finish(*procs: subprocess.Popen[str]) -> list[dict[str, Any]]:
    receipts = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, out + err
        receipts.append(json.loads(out))
    return receipts


def assert_consistent(catalog_url: str) -> dict[str, str]:
    """Every live version is good; the catalog opens and every table reads. The live versions."""
    catalog = open_catalog(catalog_url, read_only=True)
    try:
        with catalog.reader() as con:
            for table in catalog.tables():
                con.execute(f"SELECT count(*) FROM {table}").fetchall()
            live = con.execute(
                "SELECT l.ontology, l.version, v.status FROM latest l JOIN versions v "
                "ON v.ontology = l.ontology AND v.version = l.version"
            ).fetchall()
    finally:
        catalog.close()
    assert {status for _, _, status in live} <= {"good"}
    return {ontology: version for ontology, version, _ in live}


def test_a_reader_loops_without_errors_while_two_pulls_write(
    project: Path, catalog_url: str
) -> None:
    started = time.monotonic()
    with reading(project) as reader:
        receipts = finish(start_pull(project, "hp"), start_pull(project, "kisao"))
    elapsed = time.monotonic() - started
    (report,) = reader
    assert report.errors == []
    assert [(r["rows"][0]["ontology"], r["rows"][0]["outcome"]) for r in receipts] == [
        ("hp", "fetched"),
        ("kisao", "fetched"),
    ]
    # it saw the catalog empty, then the live versions appear, and kept reading throughout
    assert report.live(0) == {}
    assert report.live(-1) == {"hp": HP, "kisao": KISAO}
    assert report.calls > 20
    assert report.slowest_s < 10, report  # waited its turn, was never starved
    assert assert_consistent(catalog_url) == {"hp": HP, "kisao": KISAO}
    assert elapsed < 60


@pytest.mark.parametrize("catalog_url", ["duckdb"], indirect=True)
def test_two_pulls_of_the_same_ontology_and_a_reader(
    project: Path, mirror: Mirror, catalog_url: str
) -> None:
    finish(start_pull(project))
    newer = project / "hp-next.obo"
    newer.write_bytes(
        hpo_obo_path()
        .read_bytes()
        .replace(f"releases/{HP}".encode(), f"releases/{HP_NEXT}".encode(), 1)
    )
    mirror.publish("hp", HP_NEXT, newer, filename="hp.obo")
    with reading(project) as reader:
        receipts = finish(start_pull(project, "hp"), start_pull(project, "hp"))
    (report,) = reader
    assert report.errors == []
    assert {r["rows"][0]["version"] for r in receipts} == {HP_NEXT}
    assert sorted(r["rows"][0]["outcome"] for r in receipts) in (
        ["fetched", "fetched"],  # the second waited for the first's ontology lock
        ["fetched", "unchanged"],
    )
    assert report.live(0) == {"hp": HP, "kisao": KISAO}
    assert report.live(-1) == {"hp": HP_NEXT, "kisao": KISAO}
    assert assert_consistent(catalog_url) == {"hp": HP_NEXT, "kisao": KISAO}
    catalog = open_catalog(catalog_url, read_only=True)
    try:
        with catalog.reader() as con:
            counts = con.execute(
                "SELECT count(*), count(DISTINCT sha256) FROM versions WHERE ontology = 'hp'"
            ).fetchone()
    finally:
        catalog.close()
    assert counts == (2, 2)


# Holds the catalog file (DuckDB's write lock) and keeps writing, until killed.
HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
i = 0
while True:
    con.execute("INSERT INTO events (event_id, ts, level, event) VALUES (?, now(), 'info', 'x')",
                [f"holder-{i}"])
    i += 1
    time.sleep(0.01)
"""


@pytest.mark.parametrize("catalog_url", ["duckdb"], indirect=True)
def test_a_writer_that_cannot_get_the_file_in_time_exits_3_and_corrupts_nothing(
    project: Path, catalog_url: str
) -> None:
    path = catalog_url.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        blocked = start_pull(project, "kisao", ONTOLAB_CATALOG_LOCK_TIMEOUT_S="1")
        out, err = blocked.communicate(timeout=60)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    assert blocked.returncode == 3, out + err
    doc = json.loads(out)
    assert doc["error_code"] == "E_CATALOG_LOCKED"
    assert "another process has held the catalog" in doc["message"]
    assert doc["path"] == path
    assert waited < 15
    # the file is intact: it opens, the holder's committed rows are there, a pull completes
    con = duckdb.connect(path, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM events WHERE event = 'x'").fetchone()[0] > 0  # type: ignore[index]
    finally:
        con.close()
    finish(start_pull(project, "kisao"))
    assert assert_consistent(catalog_url) == {"kisao": KISAO}


# Writes once, then computes for seconds in C code that never lets go of the GIL, like a
# pull parsing a big ontology with fastobo; argv[2] is the DuckDBCatalog's linger_s ("" for
# the default).
BUSY_WRITER = """
import sys, time
from pathlib import Path
from ontolab.catalog import DuckDBCatalog
linger = {"linger_s": float(sys.argv[2])} if sys.argv[2] else {}
catalog = DuckDBCatalog(Path(sys.argv[1]), **linger)
with catalog.transaction() as con:
    con.execute("INSERT INTO events (event_id, ts, level, event) VALUES ('w', now(), 'info', 'w')")
print("written", flush=True)
sum(range(2 * 10**8))  # holds the GIL: no other thread of this process runs meanwhile
print("done", flush=True)
"""


def time_to_read(path: str, linger: str) -> tuple[float, bool]:
    """How long a reader waits for the file right after a busy writer's transaction, and
    whether the writer was still busy when the reader got in."""
    writer = subprocess.Popen(
        [sys.executable, "-c", BUSY_WRITER, path, linger], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
        started = time.monotonic()
        reader = open_catalog(f"duckdb:///{path}", read_only=True, lock_timeout_s=30)
        try:
            with reader.reader() as con:
                assert con.execute("SELECT event FROM events").fetchall() == [("w",)]
        finally:
            reader.close()
        return time.monotonic() - started, writer.poll() is None
    finally:
        writer.communicate(timeout=60)


@pytest.mark.parametrize("catalog_url", ["duckdb"], indirect=True)
def test_a_writer_busy_between_transactions_does_not_keep_readers_out(catalog_url: str) -> None:
    path = catalog_url.removeprefix("duckdb:///")
    catalog = open_catalog(catalog_url)
    catalog.migrate()
    catalog.close()
    waited, writer_busy = time_to_read(path, "")
    assert writer_busy, "the writer finished too soon for this test to show anything"
    assert waited < 1.0


def test_a_waiter_with_the_same_pid_in_another_container_is_stepped_aside_for(
    tmp_path: Path,
) -> None:
    # Two containers on one volume are both pid 1: a note naming only the pid would read as
    # this process's own, and the holder would never step aside for the waiter.
    from ontolab.catalog._duckdb import DuckDBCatalog, process_identity

    catalog = DuckDBCatalog(tmp_path / "catalog.duckdb")
    note = tmp_path / "catalog.duckdb.wanted"
    note.write_text(f"other-container:{os.getpid()}:0badcafe")
    assert catalog._waiter() == f"other-container:{os.getpid()}:0badcafe"
    note.write_text(process_identity())  # this process's own note is not someone waiting
    assert catalog._waiter() is None
    assert process_identity().split(":")[1] == str(os.getpid())
