"""Events through real pulls and real processes: the JSON-lines file agrees with the catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ontolab import pipeline
from ontolab.catalog import Recorder, open_catalog
from ontolab.errors import CatalogError
from ontolab.obs import Event, JsonlSink, events_path, read_jsonl
from ontolab.settings import OntolabSettings

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
Rows = Callable[[OntolabSettings, str], list[tuple[object, ...]]]

WRITER = """
import sys
from pathlib import Path
from ontolab.obs import Event, JsonlSink

sink = JsonlSink(Path(sys.argv[1]), max_bytes=300_000, backups=100)
writer = sys.argv[2]
for i in range(int(sys.argv[3])):
    # Lines longer than a pipe buffer (4 KiB): appends this size are not atomic by themselves.
    sink.emit(Event("test.line", payload={"writer": writer, "i": i, "pad": writer * 6000}))
"""


def test_every_event_of_a_pull_is_in_the_jsonl_file_as_in_the_catalog(
    mirror_settings: Settings, catalog_rows: Rows
) -> None:
    settings = mirror_settings(
        [{"id": "hp", "resolver": "obo", "format": "obo"}, {"id": "kisao", "resolver": "ols"}]
    )
    first = pipeline.pull(settings=settings)
    second = pipeline.pull(settings=settings)
    assert first.ok and second.ok
    in_catalog = catalog_rows(
        settings, "SELECT event_id, ts, run_id, event FROM events ORDER BY ts"
    )
    in_file = [
        (e.event_id, e.ts, e.run_id, e.event) for e in read_jsonl([events_path(settings.data_dir)])
    ]
    assert sorted(in_file, key=lambda r: str(r[1])) == in_catalog
    assert {r[2] for r in in_catalog} == {first.run_id, second.run_id}
    events = {(r[2], r[3]) for r in in_catalog}
    assert (first.run_id, "latest.promote") in events
    assert (second.run_id, "fetch.unchanged") in events
    assert (second.run_id, "plan.resolved") in events


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    per_writer = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(per_writer)])
        for name in "abcd"
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0, 0]
    files = JsonlSink(path, backups=100).files()
    assert len(files) > 5  # the writers rotated the file under each other
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert len(lines) == 4 * per_writer
    seen: dict[str, list[int]] = {}
    for line in lines:
        payload = json.loads(line)["payload"]  # every line is one whole JSON document
        assert payload["pad"] == payload["writer"] * 6000
        seen.setdefault(payload["writer"], []).append(payload["i"])
    # Rotation keeps each writer's own lines in the order it wrote them.
    assert seen == {name: list(range(per_writer)) for name in "abcd"}


def test_an_event_reaches_the_sinks_only_once_the_catalog_has_it(tmp_path: Path) -> None:
    catalog = open_catalog(f"duckdb:///{tmp_path / 'catalog.duckdb'}")
    sink = JsonlSink(tmp_path / "events.jsonl")
    try:
        recorder = Recorder(catalog, "run-1", sinks=[sink])
        recorder.event(Event("latest.promote", ontology="hp", version="v1", stage="promote"))
        with catalog.reader() as con:
            stored = con.execute("SELECT event_id, ts, run_id FROM events").fetchall()
        (written,) = read_jsonl(sink.files())
        assert [(written.event_id, written.ts, written.run_id)] == stored
        catalog.close()
        (tmp_path / "catalog.duckdb").write_bytes(b"not a database")
        with pytest.raises(CatalogError):
            recorder.event(Event("latest.rollback", ontology="hp", stage="promote"))
        assert [e.event for e in read_jsonl(sink.files())] == ["latest.promote"]
    finally:
        catalog.close()
