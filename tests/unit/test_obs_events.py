"""The event model, the JSON-lines sink's rotation, logging with the run id, event statistics."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ontolab.obs import (
    EVENT_COLUMNS,
    Event,
    JsonlSink,
    LogSink,
    bind_run_id,
    configure_logging,
    event_stats,
    export_events,
    follow,
    read_jsonl,
    unbind_run_id,
)


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What logging configured by ontolab writes to stderr; root logging restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_stamped_event_round_trips_through_its_json_line() -> None:
    event = Event(
        "fetch.failed",
        level="error",
        ontology="hp",
        stage="fetch",
        duration_s=1.5,
        error_code="E_HTTP_503",
        payload={"url": "http://x/hp.obo", "attempts": 3},
    ).stamped("run-1")
    assert (event.run_id, len(event.event_id or "")) == ("run-1", 32)
    assert event.stamped("run-2") == event  # stamped once: the sinks all agree
    line = event.to_json()
    assert "\n" not in line
    assert list(json.loads(line)) == list(EVENT_COLUMNS)
    assert Event.from_json(line) == event


def test_the_sink_rotates_by_size_and_keeps_the_newest_events(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    sink = JsonlSink(path, max_bytes=2_000, backups=3)
    for i in range(200):
        sink.emit(Event("fetch.fetched", ontology="hp", payload={"i": i}).stamped("r"))
    files = sink.files()
    assert [p.name for p in files] == [
        "events.jsonl.3",
        "events.jsonl.2",
        "events.jsonl.1",
        "events.jsonl",
    ]
    assert all(p.stat().st_size <= 2_000 for p in files)
    kept = [e.payload["i"] for e in read_jsonl(files) if e.payload]
    # The newest events survive, in order, with nothing missing between them; the oldest went.
    assert kept == list(range(200 - len(kept), 200))
    assert 20 < len(kept) < 200  # four files of about eight lines each


def test_a_sink_that_cannot_write_does_not_fail_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "logs").write_text("a file where the directory should be")
    sink = JsonlSink(tmp_path / "logs" / "events.jsonl")
    sink.emit(Event("plan.resolved").stamped("r"))
    sink.emit(Event("plan.resolved").stamped("r"))
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # said once, not per event
    assert "event log" in caplog.records[0].getMessage()


def test_json_logs_carry_the_bound_run_id_and_the_event_fields(stderr: Callable[[], str]) -> None:
    configure_logging("info", "json")
    tokens = bind_run_id("run-42")
    logging.getLogger("ontolab.fetch").info("downloading %s", "hp")
    LogSink().emit(Event("fetch.fetched", stage="fetch", ontology="hp", duration_s=0.5))
    unbind_run_id(tokens)
    logging.getLogger("ontolab.fetch").info("after the run")
    lines = [json.loads(line) for line in stderr().splitlines()]
    assert [(x["event"], x.get("run_id")) for x in lines] == [
        ("downloading hp", "run-42"),
        ("fetch.fetched", "run-42"),
        ("after the run", None),
    ]
    assert (lines[1]["stage"], lines[1]["ontology"], lines[1]["level"]) == ("fetch", "hp", "info")
    assert lines[0]["logger"] == "ontolab.fetch"


def test_plain_console_logs_show_the_run_id_and_hide_info(stderr: Callable[[], str]) -> None:
    configure_logging("warning", "console")
    tokens = bind_run_id("run-7")
    try:
        LogSink().emit(Event("fetch.fetched", stage="fetch", ontology="hp"))
        LogSink().emit(Event("fetch.failed", level="error", ontology="hp", error_code="E_X"))
    finally:
        unbind_run_id(tokens)
    (line,) = stderr().splitlines()
    assert line.startswith("ontolab ERROR ontolab.events: fetch.failed")
    assert "ontology=hp" in line and "error_code=E_X" in line and "run_id=run-7" in line


def _events() -> list[Event]:
    start = datetime(2026, 1, 1)
    rows = [
        ("fetch.fetched", "info", "hp", "fetch", 1.0),
        ("fetch.fetched", "info", "hp", "fetch", 3.0),
        ("fetch.failed", "error", "hp", "fetch", 5.0),
        ("validate.good", "info", "hp", "validate", None),
        ("validate.rejected", "error", "go", "validate", None),
    ]
    return [
        Event(name, level=level, ontology=o, stage=s, duration_s=d, run_id="r").stamped()
        for name, level, o, s, d in rows
    ] + [Event("plan.resolved", stage="plan", ts=start + timedelta(days=1)).stamped("r")]


def _table(events: list[Event]) -> Any:
    import pyarrow as pa

    rows = [{**e.row(), "payload": json.dumps(e.payload) if e.payload else None} for e in events]
    return pa.Table.from_pylist(rows)


def test_stats_count_errors_rejections_and_duration_percentiles() -> None:
    stats = {(r["stage"], r["ontology"]): r for r in event_stats(_table(_events()))}
    assert sorted(stats) == [("fetch", "hp"), ("plan", ""), ("validate", "go"), ("validate", "hp")]
    fetch = stats[("fetch", "hp")]
    assert (fetch["events"], fetch["errors"], fetch["error_rate"]) == (3, 1, 0.3333)
    assert (fetch["duration_p50_s"], fetch["duration_p95_s"]) == (3.0, 4.8)
    assert (stats[("validate", "go")]["rejected"], stats[("validate", "hp")]["rejected"]) == (1, 0)
    assert stats[("validate", "hp")]["duration_p50_s"] is None


def test_jsonl_export_reads_back_as_the_same_events(tmp_path: Path) -> None:
    events = _events()
    out = tmp_path / "out" / "events.jsonl"
    assert export_events(_table(events), out, "jsonl") == len(events)
    assert read_jsonl([out]) == events


def test_follow_sees_new_events_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, max_bytes=1_500, backups=2)
    sink.emit(Event("old").stamped("r"))  # before following: not followed

    def write() -> None:
        for i in range(30):
            sink.emit(Event("new", payload={"i": i}).stamped("r"))
            threading.Event().wait(0.01)

    writer = threading.Timer(0.3, write)
    writer.start()
    seen: list[int] = []
    for event in follow(path, timeout_s=30, poll_s=0.02):
        assert event.event == "new"
        seen.append((event.payload or {})["i"])
        if seen[-1] == 29:
            break
    writer.join()
    assert len(sink.files()) == 3  # it did rotate while being followed
    assert seen == list(range(30))
