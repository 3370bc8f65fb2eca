"""Blue/green for data through the CLI: pull, promote, rollback, and a broken release."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ontolab.testing import Mirror, kisao_owl_path

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr


def release(tmp_path: Path, version: str, *, truncate: bool = False) -> Path:
    """kisao.owl relabelled as ``version``; cut in half (unparseable) when ``truncate``."""
    text = kisao_owl_path().read_text(encoding="utf-8").replace("2.34", version)
    if truncate:
        text = text[: len(text) // 2]
    path = tmp_path / f"kisao-{version}.owl"
    path.write_text(text, encoding="utf-8")
    return path


def live(ontolab: Run, ontology: str) -> str | None:
    result = ontolab("db", "latest", ontology, "--json")
    assert result.code == 0, result.stderr
    rows = result.json()
    return rows[0]["version"] if rows else None


def test_rollback_and_promote_move_the_pointer_and_record_who_and_why(
    ontolab: Run, mirror: Mirror, tmp_path: Path
) -> None:
    assert ontolab("pull", "kisao").code == 0  # release A: 2.34
    assert live(ontolab, "kisao") == "2.34"
    nothing_before = ontolab("rollback", "kisao", "--json")
    assert nothing_before.code == 1
    assert nothing_before.json()["error_code"] == "E_ROLLBACK_NO_TARGET"

    mirror.publish("kisao", "2.35", release(tmp_path, "2.35"), filename="kisao.owl")
    assert ontolab("pull", "kisao").code == 0  # release B goes live
    assert live(ontolab, "kisao") == "2.35"

    back = ontolab("rollback", "kisao", "--reason", "labels broke our app", "--json")
    assert back.code == 0, back.stderr
    moved = back.json()
    assert (moved["action"], moved["previous"], moved["version"]) == ("rollback", "2.35", "2.34")
    assert moved["reason"] == "labels broke our app"
    assert moved["actor"]
    assert live(ontolab, "kisao") == "2.34"
    history = ontolab("db", "history", "kisao", "--json").json()
    assert (history[0]["action"], history[0]["version"], history[0]["previous_version"]) == (
        "rollback",
        "2.34",
        "2.35",
    )
    assert (history[0]["actor"], history[0]["reason"]) == (moved["actor"], moved["reason"])

    # Upstream has not changed: pulling again must not undo the rollback.
    assert ontolab("pull", "kisao").code == 0
    assert live(ontolab, "kisao") == "2.34"

    human = ontolab("promote", "kisao", "2.35", "--reason", "fixed downstream")
    assert human.code == 0, human.stderr
    assert "2.34 -> 2.35" in human.stderr
    assert live(ontolab, "kisao") == "2.35"
    again = ontolab("promote", "kisao", "2.35", "--json")
    assert again.code == 0
    assert again.json()["changed"] is False
    unknown = ontolab("promote", "kisao", "9.99", "--json")
    assert unknown.code == 1
    assert unknown.json()["error_code"] == "E_VERSION_UNKNOWN"
    events = ontolab("db", "events", "kisao", "--json").json()
    moves = [e["event"] for e in events if e["event"].startswith("latest.")]
    assert moves[:2] == ["latest.promote", "latest.rollback"]


def test_a_broken_release_stays_out_and_both_versions_show(
    ontolab: Run, mirror: Mirror, tmp_path: Path
) -> None:
    assert ontolab("pull", "kisao").code == 0
    mirror.publish("kisao", "2.35", release(tmp_path, "2.35"), filename="kisao.owl")
    assert ontolab("pull", "kisao").code == 0
    mirror.publish("kisao", "2.36", release(tmp_path, "2.36", truncate=True), filename="kisao.owl")

    pulled = ontolab("pull", "kisao", "--json")
    assert pulled.code == 1
    row = pulled.json()["rows"][0]
    assert (row["version"], row["outcome"], row["reason"]) == ("2.36", "failed", "parse_error")
    assert row["live"] == "2.35"
    assert live(ontolab, "kisao") == "2.35"

    listed = ontolab("db", "versions", "kisao", "--json")
    assert listed.code == 0
    versions = {v["version"]: v for v in listed.json()}
    assert versions["2.36"]["status"] == "failed"
    assert versions["2.36"]["reason"] == "parse_error"
    assert versions["2.36"]["live"] is False
    assert (versions["2.35"]["status"], versions["2.35"]["live"]) == ("good", True)
    table = ontolab("db", "versions", "kisao")
    assert table.code == 0
    assert "2.36" in table.stdout and "failed" in table.stdout and "2.35" in table.stdout

    checks = ontolab("db", "validations", "kisao", "--version", "2.36", "--json").json()
    assert {c["error_code"] for c in checks if not c["passed"]} == {"E_PARSE_RDF"}

    refused = ontolab("promote", "kisao", "2.36", "--json")
    assert refused.code == 1
    assert refused.json()["error_code"] == "E_PROMOTE_NOT_GOOD"
    assert live(ontolab, "kisao") == "2.35"


def test_promote_without_a_catalog_creates_none(ontolab: Run, project: Path) -> None:
    result = ontolab("promote", "kisao", "2.34", "--json")
    assert result.code == 3
    assert result.json()["error_code"] == "E_CATALOG_MISSING"
    assert not (project / "data" / "catalog.duckdb").exists()
