"""The background refresh of ``ontolab serve --refresh-every``: real pulls from the mirror."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ontolab.models import RunReceipt
from ontolab.obs import process_registry
from ontolab.pipeline import pull
from ontolab.service._scheduler import Scheduler
from ontolab.settings import OntolabSettings


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_pulls_on_its_cadence_one_at_a_time(
    mirror_settings: Callable[..., OntolabSettings],
    catalog_rows: Callable[[OntolabSettings, str], list[tuple[object, ...]]],
) -> None:
    settings = mirror_settings()
    scheduler = Scheduler(settings, every_s=0.2)
    scheduler.start()
    try:
        _wait_for(lambda: scheduler.status()["runs"] >= 2)
        exposed = generate_latest(process_registry()).decode()
    finally:
        scheduler.stop()
    status = scheduler.status()
    assert status["last_outcome"] == "ok"
    assert status["last_error"] is None
    samples = {
        (s.name, s.labels.get("outcome")): s.value
        for family in text_string_to_metric_families(exposed)
        for s in family.samples
    }
    assert samples[("ontolab_refresh_runs_total", "ok")] >= 2
    assert samples[("ontolab_refresh_interval_seconds", None)] == 0.2
    assert ("ontolab_refresh_last_started_timestamp_seconds", None) in samples
    # Stopped: its metrics leave the registry with it.
    assert "ontolab_refresh" not in generate_latest(process_registry()).decode()
    assert status["running"] is False
    runs = catalog_rows(settings, "SELECT started_at, finished_at FROM runs ORDER BY started_at")
    assert len(runs) >= 2
    # One at a time: each pull finished before the next started.
    for (_, finished), (started, _) in itertools.pairwise(runs):
        assert isinstance(finished, datetime)
        assert isinstance(started, datetime)
        assert finished <= started
    live = catalog_rows(settings, "SELECT ontology FROM latest")
    assert live == [("hp",)]


def test_the_cadence_survives_a_restart(
    mirror_settings: Callable[..., OntolabSettings],
) -> None:
    settings = mirror_settings()
    receipt = pull(settings=settings)
    assert receipt.ok
    scheduler = Scheduler(settings, every_s=3600)
    scheduler.start()
    try:
        _wait_for(lambda: scheduler.status()["next_run"] is not None)
        time.sleep(0.3)
        status = scheduler.status()
    finally:
        scheduler.stop(timeout_s=1)
    assert status["runs"] == 0, "a pull an hour ago is recorded: the next one is not due"
    due = datetime.fromisoformat(status["next_run"])
    expected = receipt.started_at + timedelta(seconds=3600)
    assert abs((due - expected).total_seconds()) < 5


def test_a_failing_pull_is_reported_and_the_loop_goes_on(
    mirror_settings: Callable[..., OntolabSettings],
) -> None:
    settings = mirror_settings([{"id": "nosuch", "resolver": "obo"}])
    scheduler = Scheduler(settings, every_s=0.1)
    scheduler.start()
    try:
        _wait_for(lambda: scheduler.status()["runs"] >= 2)
    finally:
        scheduler.stop()
    status = scheduler.status()
    assert status["last_outcome"] == "failed"
    assert status["failed"] == ["nosuch"]


def test_an_exception_in_a_pull_does_not_end_the_loop(
    make_settings: Callable[..., OntolabSettings],
) -> None:
    calls: list[datetime] = []

    def broken(settings: OntolabSettings) -> RunReceipt:
        calls.append(datetime.now(UTC))
        raise RuntimeError("upstream exploded")

    scheduler = Scheduler(make_settings(), every_s=0.05, pull=broken)
    scheduler.start()
    try:
        _wait_for(lambda: len(calls) >= 3, timeout_s=10)
    finally:
        scheduler.stop()
    status = scheduler.status()
    assert status["last_outcome"] == "error"
    assert "upstream exploded" in status["last_error"]


def test_every_must_be_positive(make_settings: Callable[..., OntolabSettings]) -> None:
    with pytest.raises(ValueError, match="positive"):
        Scheduler(make_settings(), every_s=0)
