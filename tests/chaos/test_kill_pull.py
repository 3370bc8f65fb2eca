"""Kill -9 a pull at 20 moments; doctor explains every leftover and ``--fix`` cleans up.

The acceptance test of doctor: a pull of a new release (gzipped, so it is extracted; served
slowly, so the download takes a while) is killed at 20 moments spread over its whole run:
download, extraction, validation, the catalog transactions and promotion. The moments are
drawn with a fixed seed from the phase boundaries of one undisturbed pull, timed first.
After each kill:

* the live version is a good one (before any repair: the kill alone never breaks that);
* ``doctor --json`` explains every leftover: every file the catalog does not account for is
  the subject of a finding, every finding has a known code, and none of them is a kind a kill
  must never cause (a row pointing at a missing file, a live version that is not good);
* ``doctor --fix`` repairs all of it and ``doctor`` is clean afterwards;
* the first good version's download is intact (right sha256).

Finally an undisturbed pull succeeds and promotes, and prune leaves a clean catalog.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from ontolab.catalog import FINDINGS
from ontolab.testing import Fault, Mirror, write_synthetic_obo

pytestmark = pytest.mark.chaos

SEED = 20241126
KILLS = {"plan": 1, "download": 5, "extract": 4, "validate": 5, "record": 5}  # 20 in all
ONTOLOGY_BYTES = 3_000_000  # ~1.3 s to validate on one core; ~0.9 MB gzipped
DOWNLOAD_BYTES_PER_S = 800_000  # the mirror trickles it: ~1 s of download
# What a kill may leave behind. Anything else (a live version that is not good, a row
# pointing at a missing file, broken history) would mean a crash point is not safe.
KILL_LEFTOVERS = {
    "D_PARTIAL_DOWNLOAD",
    "D_ORPHAN_BLOB",
    "D_TORN_STAGING",
    "D_ORPHAN_EXTRACTED",
    "D_ORPHAN_TERMS",
    "D_VERSION_STAGED",
    # DuckDB (1.5) sometimes persists an index that lacks rows after a process dies (and,
    # rarely, without a kill); doctor finds it and --fix rebuilds the catalog file.
    "D_CATALOG_INDEX_DAMAGED",
}


@dataclass
class Project:
    """A config, data dir and catalog on disk, pulling ``syn`` from the mirror."""

    root: Path
    mirror: Mirror
    base: bytes
    sha: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def publish(self, version: str) -> str:
        """Put release ``version`` on the mirror and point the config at it; its sha256."""
        text = self.base.replace(
            b"data-version: syn/releases/r0", f"data-version: syn/releases/{version}".encode(), 1
        )
        body = gzip.compress(text, compresslevel=1)
        url = self.mirror.add_file(f"syn/{version}/syn.obo.gz", body)
        config = {
            "data_dir": "data",
            "http": {"allowed_hosts": [self.mirror.host_port], "retries": 0},
            "ontologies": [{"id": "syn", "resolver": "url", "url": url, "version": version}],
        }
        (self.root / "ontolab.yaml").write_text(yaml.safe_dump(config))
        self.sha[version] = hashlib.sha256(body).hexdigest()
        return self.sha[version]

    def start(self, *args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
        return subprocess.Popen(
            [sys.executable, "-m", "ontolab", *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> tuple[int, Any]:
        process = self.start(*args)
        out, err = process.communicate(timeout=120)
        assert process.returncode in (0, 1), err
        return process.returncode, json.loads(out) if "--json" in args else out

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.data / "catalog.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def blob(self, sha: str) -> Path:
        return self.data / "store" / "sha256" / sha[:2] / sha[2:4] / sha


@pytest.fixture
def project(tmp_path: Path, mirror: Mirror) -> Project:
    base = write_synthetic_obo(tmp_path / "base.obo", target_bytes=ONTOLOGY_BYTES, version="r0")
    # Every whole-file download trickles; the plan's 64 KiB probe (a ranged GET) does not.
    mirror.inject(
        "/files/syn/*",
        Fault.trickle(bytes_per_s=DOWNLOAD_BYTES_PER_S, total_s=60),
        times=None,
        ranged=False,
    )
    root = tmp_path / "project"
    root.mkdir()
    return Project(root, mirror, base.read_bytes())


def phase_probes(project: Project, sha: str) -> dict[str, Callable[[], bool]]:
    """Whether each phase of a pull of ``sha`` has begun, judged by the files it writes."""
    data = project.data
    return {
        "plan": lambda: True,
        "download": lambda: any((data / "staging" / "fetch").glob("*.part")),
        "extract": project.blob(sha).exists,  # then the fetch is recorded, then extraction
        "validate": (data / "extracted" / "syn" / sha).exists,
        # the terms table is renamed into place last; the outcome's transaction and the
        # promotion follow within milliseconds
        "record": lambda: any((data / "terms" / "syn" / sha).glob("*.parquet")),
    }


def timed_pull(project: Project, sha: str) -> dict[str, float]:
    """Pull undisturbed; return how long each phase lasted."""
    probes = phase_probes(project, sha)
    started = time.monotonic()
    process = project.start("pull", "--json")
    marks: dict[str, float] = {}
    while process.poll() is None:
        for phase, seen in probes.items():
            if phase not in marks and seen():
                marks[phase] = time.monotonic() - started
        time.sleep(0.002)
    marks["exit"] = time.monotonic() - started
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert json.loads(out)["rows"][0]["outcome"] == "fetched"
    assert set(marks) == {*probes, "exit"}, marks
    order = [*probes, "exit"]
    return {phase: marks[after] - marks[phase] for phase, after in itertools.pairwise(order)}


def kill_moments(durations: dict[str, float]) -> list[tuple[str, float]]:
    """(phase, seconds into it) for 20 kills, drawn with a fixed seed."""
    rng = random.Random(SEED)
    # the plan phase is mostly interpreter start-up: only its last 40 % plans anything
    start = {"plan": 0.6 * durations["plan"]}
    span = {**durations, "plan": 0.4 * durations["plan"], "record": 0.15}
    moments = [
        (phase, start.get(phase, 0.0) + rng.uniform(0, span[phase]))
        for phase, n in KILLS.items()
        for _ in range(n)
    ]
    rng.shuffle(moments)
    return moments


def kill_during(project: Project, sha: str, phase: str, delay: float) -> bool:
    """Start a pull, wait until ``phase`` begins, wait ``delay`` more, kill -9 it.

    Returns whether it was still running when killed.
    """
    seen = phase_probes(project, sha)[phase]
    victim = project.start("pull", "--json")
    while not seen() and victim.poll() is None:
        time.sleep(0.002)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    return victim.returncode == -signal.SIGKILL


def unexplained(project: Project, findings: list[dict[str, Any]]) -> list[str]:
    """Files in the data dir that neither the catalog refers to nor a finding names."""
    referenced = {
        project.blob(str(sha)) for (sha,) in project.query("SELECT sha256 FROM artifacts")
    }
    for (path,) in project.query("SELECT path FROM files UNION ALL SELECT path FROM terms"):
        referenced.add((project.root / str(path)).resolve())
    named = [(project.root / f["path"]).resolve() for f in findings if f.get("path")]
    left = []
    for path in project.data.rglob("*"):
        if not path.is_file() or path.parent == project.data:
            continue  # the catalog file, its WAL and notes
        if path.parent.name in ("locks", "logs", "metrics") or "reports" in path.parts:
            continue  # lock files are reused; event log, metrics, gate reports kept on purpose
        resolved = path.resolve()
        if resolved in referenced or any(n == resolved or n in resolved.parents for n in named):
            continue
        left.append(str(path.relative_to(project.data)))
    return left


def live_is_good(project: Project) -> str:
    rows = project.query(
        "SELECT l.version, v.status FROM latest l JOIN versions v "
        "ON v.ontology = l.ontology AND v.version = l.version WHERE l.ontology = 'syn'"
    )
    assert len(rows) == 1 and rows[0][1] == "good", rows
    return str(rows[0][0])


def test_kill_9_at_20_moments_doctor_explains_and_fix_cleans(project: Project) -> None:
    first = project.publish("r0")
    durations = timed_pull(project, first)
    assert live_is_good(project) == "r0"
    seen: Counter[str] = Counter()
    log = []
    for i, (phase, delay) in enumerate(kill_moments(durations), start=1):
        version = f"r{i}"
        killed = kill_during(project, project.publish(version), phase, delay)

        live = live_is_good(project)  # the kill alone never leaves a bad live version
        code, report = project.run("doctor", "--json", "--min-free", "0")
        codes = {f["code"] for f in report["findings"] if f["severity"] != "info"}
        log.append((phase, round(delay, 2), killed, live, sorted(codes)))
        assert all(f["code"] in FINDINGS and f["message"] for f in report["findings"]), log
        assert codes <= KILL_LEFTOVERS, log
        assert (code, report["ok"]) == ((1, False) if codes else (0, True)), log
        assert unexplained(project, report["findings"]) == [], log
        seen.update(codes)

        code, fixed = project.run("doctor", "--fix", "--json", "--min-free", "0")
        assert code == 0 and fixed["ok"], (log, fixed)
        code, again = project.run("doctor", "--json", "--min-free", "0")
        assert code == 0 and [f for f in again["findings"] if f["severity"] != "info"] == [], again
        assert live_is_good(project) == live, log  # repairs never move the pointer here
        assert hashlib.sha256(project.blob(first).read_bytes()).hexdigest() == first

    print("\n".join(map(str, log)))  # which leftovers each moment produced, for the record
    # kills in the download, between fetch and validation, and during validation
    assert seen["D_PARTIAL_DOWNLOAD"] and seen["D_VERSION_STAGED"], log
    assert seen["D_ORPHAN_EXTRACTED"] and seen["D_ORPHAN_TERMS"], log

    final = f"r{len(log) + 1}"
    project.publish(final)
    code, receipt = project.run("pull", "--json")
    assert code == 0 and receipt["rows"][0]["outcome"] == "fetched"
    assert live_is_good(project) == final
    code, pruned = project.run("prune", "--keep", "1", "--json")
    assert code == 0 and "r0" in [v["version"] for v in pruned["versions"]]
    assert not project.blob(first).exists()
    assert project.run("doctor", "--json", "--min-free", "0")[1]["findings"] == []
    assert live_is_good(project) == final
