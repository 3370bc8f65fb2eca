"""``ontolab obs ...`` and logging through the CLI, after real pulls from the mirror."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr
STAGES = ("plan", "fetch", "validate", "promote")
JSON_INFO = {"ONTOLAB_LOG_LEVEL": "info", "ONTOLAB_LOG_FORMAT": "json"}


def test_every_stage_logs_with_the_run_id_of_its_events(ontolab: Run, project: Path) -> None:
    pulled = ontolab("pull", "--json", env=JSON_INFO)
    assert pulled.code == 0, pulled.stderr
    run_id = pulled.json()["run_id"]
    logs = [json.loads(line) for line in pulled.stderr.splitlines() if line.startswith("{")]
    assert logs, pulled.stderr
    for stage in STAGES:
        assert [x for x in logs if x.get("stage") == stage and x.get("run_id") == run_id], stage
    # Every event's line carries it; no line carries another run's.
    assert {x.get("run_id") for x in logs if x["logger"] == "ontolab.events"} == {run_id}
    assert {x["run_id"] for x in logs if "run_id" in x} == {run_id}

    events = ontolab("obs", "tail", "--limit", "1000", "--json").json()
    assert {e["stage"] for e in events if e["run_id"] == run_id} >= set(STAGES)
    jsonl = [
        json.loads(line)
        for line in (project / "data" / "logs" / "events.jsonl").read_text().splitlines()
    ]
    # The JSON-lines file holds exactly what the catalog's events table holds.
    assert [(e["event_id"], e["ts"], e["run_id"], e["event"]) for e in jsonl] == [
        (e["event_id"], e["ts"], e["run_id"], e["event"]) for e in events
    ]


def test_default_logging_is_quiet_and_db_latest_never_imports_structlog(
    ontolab: Run, project: Path
) -> None:
    pulled = ontolab("pull", "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.stderr.strip() == ""  # info events are not shown at the default level
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ontolab", "db", "latest", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert {r["ontology"] for r in json.loads(timed.stdout)} == {"hp", "kisao"}
    assert "structlog" not in timed.stderr


def test_tail_lists_newest_events_oldest_first(ontolab: Run) -> None:
    assert ontolab("pull").code == 0
    everything = ontolab("obs", "tail", "--limit", "1000", "--json").json()
    assert [e["ts"] for e in everything] == sorted(e["ts"] for e in everything)
    last_three = ontolab("obs", "tail", "--limit", "3", "--json").json()
    assert last_three == everything[-3:]
    assert {"event_id", "ts", "run_id", "level", "event", "stage", "payload"} <= set(everything[0])
    kisao = ontolab("obs", "tail", "kisao", "--json").json()
    assert kisao and {e["ontology"] for e in kisao} == {"kisao"}
    assert ontolab("obs", "tail", "--level", "error", "--json").json() == []
    human = ontolab("obs", "tail", "hp")
    assert human.code == 0
    assert "fetch.fetched hp 2025-01-16" in human.stdout


def test_tail_follow_prints_a_concurrent_pull_until_interrupted(
    ontolab: Run, project: Path
) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "ontolab", "obs", "tail", "-f", "--limit", "0", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None
        assert follower.stderr.readline().startswith("following ")  # ready before the pull
        pulled = ontolab("pull", "--json")
        assert pulled.code == 0, pulled.stderr
        time.sleep(1.0)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    followed = [json.loads(line) for line in out.splitlines()]
    run_id = pulled.json()["run_id"]
    assert {e["run_id"] for e in followed} == {run_id}
    assert {"plan.resolved", "fetch.fetched", "validate.good", "latest.promote"} <= {
        e["event"] for e in followed
    }


def test_tail_follow_stops_at_its_timeout(ontolab: Run, project: Path) -> None:
    assert ontolab("pull").code == 0
    started = time.monotonic()
    result = ontolab("obs", "tail", "-f", "--timeout", "1", "--limit", "2", "--json")
    assert result.code == 0, result.stderr
    assert time.monotonic() - started < 30
    written = (project / "data" / "logs" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        json.loads(line) for line in written[-2:]
    ]


def test_stats_show_a_failed_release_per_stage_and_ontology(
    ontolab: Run, project: Path, mirror: Any, tmp_path: Path
) -> None:
    assert ontolab("pull", "hp").code == 0
    broken = tmp_path / "hp-broken.obo"
    broken.write_text(
        "format-version: 1.2\ndata-version: hp/releases/2025-02-02\n\n[Term]\nid: HP:1\n"
        "%% not an OBO clause\n",
        encoding="utf-8",
    )
    mirror.publish("hp", "2025-02-02", broken, filename="hp.obo")
    assert ontolab("pull", "hp").code == 1
    rows = ontolab("obs", "stats", "--json").json()
    stats = {(r["stage"], r["ontology"]): r for r in rows}
    validate = stats[("validate", "hp")]
    assert (validate["events"], validate["errors"], validate["error_rate"]) == (2, 1, 0.5)
    fetch = stats[("fetch", "hp")]
    assert (fetch["events"], fetch["errors"]) == (2, 0)
    assert 0 < fetch["duration_p50_s"] <= fetch["duration_p95_s"]
    assert stats[("plan", "")]["events"] == 2
    human = ontolab("obs", "stats")
    assert human.code == 0
    cells = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in human.stdout.splitlines()
        if "validate" in line
    ]
    assert [c[:6] for c in cells] == [["validate", "hp", "2", "1", "0.5", "0"]]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_export_round_trips_the_event_log(ontolab: Run, project: Path, fmt: str) -> None:
    assert ontolab("pull").code == 0
    events = ontolab("obs", "tail", "--limit", "1000", "--json").json()
    out = project / "exports" / f"events.{fmt}"
    result = ontolab("obs", "export", str(out), "--format", fmt, "--json")
    assert result.code == 0, result.stderr
    assert result.json() == {"path": str(out), "format": fmt, "rows": len(events)}
    if fmt == "parquet":
        rows = pq.read_table(out).to_pylist()
        got = [(r["event_id"], r["ts"].isoformat(), r["event"], r["payload"]) for r in rows]
        want = [(e["event_id"], e["ts"], e["event"], _text(e["payload"])) for e in events]
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        got = [(r["event_id"], r["ts"], r["event"], r["payload"]) for r in rows]
        want = [(e["event_id"], e["ts"], e["event"], e["payload"]) for e in events]
    else:
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        got = [(r["event_id"], r["event"], json.loads(r["payload"] or "null")) for r in rows]
        want = [(e["event_id"], e["event"], e["payload"]) for e in events]
    assert got == want


def _text(payload: Any) -> str | None:
    return None if payload is None else json.dumps(payload)


def test_obs_needs_a_catalog(ontolab: Run, project: Path) -> None:
    for args in (("tail",), ("stats",), ("export", str(project / "x.parquet"))):
        result = ontolab("obs", *args, "--json")
        assert result.code == 3, (args, result.stderr)
        assert result.json()["error_code"] == "E_CATALOG_MISSING"
    assert not (project / "data").exists()
    assert not (project / "x.parquet").exists()
