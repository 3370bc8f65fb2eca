"""The CLI contract: commands, --json documents, exit codes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ontolab.testing import Fault, Mirror

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr


def test_init_writes_config_data_dir_and_catalog(tmp_path: Path, ontolab: Run) -> None:
    target = tmp_path / "fresh"
    result = ontolab("init", str(target), "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert Path(doc["config"]).is_file()
    assert (target / ".ontolab" / "catalog.duckdb").is_file()
    again = ontolab("init", str(target))
    assert again.code == 2
    assert "already exists" in again.stderr


def test_plan_json_lists_versions_without_downloading(ontolab: Run, mirror: Mirror) -> None:
    result = ontolab("plan", "--json")
    assert result.code == 0, result.stderr
    items = {i["ontology"]: i for i in result.json()["items"]}
    assert items["hp"]["version"] == "2025-01-16"
    assert items["kisao"]["resolver"] == "ols"
    assert items["kisao"]["version"] == "2.34"
    assert mirror.body_bytes_sent("/obo/") <= 2 * 64 * 1024  # two 64 KiB probes at most


def test_pull_json_receipt_and_rerun_is_unchanged(ontolab: Run, project: Path) -> None:
    first = ontolab("pull", "--json")
    assert first.code == 0, first.stderr
    rows = {r["ontology"]: r for r in first.json()["rows"]}
    assert {r["outcome"] for r in rows.values()} == {"fetched"}
    for key in ("ontology", "version", "outcome", "reason", "error_code"):
        assert key in rows["hp"]
    second = ontolab("pull", "--json")
    assert {r["outcome"] for r in second.json()["rows"]} == {"unchanged"}
    assert all(r["bytes_transferred"] == 0 for r in second.json()["rows"])


def test_failed_ontology_exits_1_with_code(ontolab: Run, mirror: Mirror) -> None:
    mirror.inject("/obo/hp/releases/*", Fault.status(500), times=None)
    result = ontolab("pull", "hp", "--json")
    assert result.code == 1
    row = result.json()["rows"][0]
    assert (row["outcome"], row["error_code"]) == ("failed", "E_HTTP_500")


def test_unknown_config_key_exits_2_naming_it(ontolab: Run, project: Path) -> None:
    (project / "ontolab.yaml").write_text("http:\n  timout_s: 3\n")
    result = ontolab("plan", "--json")
    assert result.code == 2
    doc = result.json()
    assert doc["error_code"] == "E_CONFIG_UNKNOWN_KEY"
    assert "http.timout_s" in doc["message"]


def test_usage_error_exits_2(ontolab: Run) -> None:
    assert ontolab("pull", "--jobs", "0").code == 2


def test_locked_catalog_exits_3(ontolab: Run, project: Path) -> None:
    assert ontolab("plan").code == 0  # creates data/catalog.duckdb
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(60)",
            str(project / "data" / "catalog.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = ontolab("pull", "--json", env={"ONTOLAB_CATALOG_LOCK_TIMEOUT_S": "1"})
        assert result.code == 3
        assert result.json()["error_code"] == "E_CATALOG_LOCKED"
    finally:
        holder.kill()
        holder.communicate()


def test_prefix_without_config_entry_is_found_through_bioregistry(
    ontolab: Run, project: Path, mirror: Mirror
) -> None:
    (project / "ontolab.yaml").write_text(
        f"http: {{allowed_hosts: ['{mirror.host_port}']}}\n"
        f"resolvers: {{obo: {{base_url: '{mirror.base_url}/obo'}}, "
        f"ols: {{base_url: '{mirror.base_url}/ols4'}}}}\n"
    )
    result = ontolab("pull", "HP", "--json")
    assert result.code == 0, result.stdout + result.stderr
    row = result.json()["rows"][0]
    assert (row["ontology"], row["version"], row["outcome"]) == ("hp", "2025-01-16", "fetched")
    assert ontolab("pull", "not-a-prefix-xyz", "--json").json()["error_code"] == (
        "E_PLAN_UNKNOWN_ONTOLOGY"
    )


def test_plan_lock_then_pull_lock_and_plan_diff(
    ontolab: Run, project: Path, mirror: Mirror
) -> None:
    locked = ontolab("plan", "--lock", "--json")
    assert locked.code == 0, locked.stderr
    assert (project / "ontolab.lock").is_file()
    diff = ontolab("plan-diff", "--json", "--exit-code")
    assert diff.code == 0
    assert {c["change"] for c in diff.json()["changes"]} == {"unchanged"}
    newer = project / "hp-new.obo"
    newer.write_text(
        "format-version: 1.2\ndata-version: hp/releases/2025-09-09\n\n[Term]\nid: HP:1\n"
    )
    mirror.publish("hp", "2025-09-09", newer, filename="hp.obo")
    diff = ontolab("plan-diff", "--json", "--exit-code")
    assert diff.code == 1
    hp = next(c for c in diff.json()["changes"] if c["ontology"] == "hp")
    assert hp["fields"]["version"] == {"from": "2025-01-16", "to": "2025-09-09"}
    pulled = ontolab("pull", "--lock", "--json")
    assert {r["version"] for r in pulled.json()["rows"] if r["ontology"] == "hp"} == {"2025-01-16"}


def test_two_concurrent_pulls_store_one_artifact(
    ontolab: Run, project: Path, mirror: Mirror, tmp_path: Path
) -> None:
    from ontolab.testing import write_synthetic_obo

    big = write_synthetic_obo(tmp_path / "big.obo", target_bytes=40_000_000, prefix="BIG")
    mirror.publish("big", "2024-01-01", big, filename="big.obo")
    (project / "ontolab.yaml").write_text(
        f"data_dir: data\nhttp: {{allowed_hosts: ['{mirror.host_port}']}}\n"
        f"resolvers: {{obo: {{base_url: '{mirror.base_url}/obo'}}}}\n"
        "ontologies: [{id: big, resolver: obo, format: obo}]\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ontolab", "pull", "--json"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    blobs = [p for p in (project / "data" / "store").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert blobs[0].read_bytes() == big.read_bytes()
    assert not any((project / "data" / "staging").rglob("*.part"))
    con = duckdb.connect(str(project / "data" / "catalog.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM artifacts").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM versions").fetchall() == [(1,)]
    finally:
        con.close()


def test_validate_command_reports_and_exits_by_status(ontolab: Run, mirror: Mirror) -> None:
    assert ontolab("pull", "hp").code == 0
    result = ontolab("validate", "hp", "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    assert (doc["ontology"], doc["version"], doc["status"]) == ("hp", "2025-01-16", "good")
    stream = next(v for v in doc["validations"] if v["validator"] == "stream")
    assert stream["passed"] is True
    assert stream["metrics"]["classes"] > 10_000
    assert doc["terms"][0]["rows"] > 10_000
    missing = ontolab("validate", "hp", "--version", "1900-01-01", "--json")
    assert missing.code == 1
    assert missing.json()["error_code"] == "E_PLAN_UNKNOWN_ONTOLOGY"


def test_pull_of_an_html_page_exits_1_with_the_reason(ontolab: Run, mirror: Mirror) -> None:
    mirror.inject("/obo/hp/releases/*", Fault.html_page(), times=None, ranged=False)
    result = ontolab("pull", "hp", "--json")
    assert result.code == 1
    row = result.json()["rows"][0]
    assert (row["outcome"], row["reason"], row["error_code"]) == (
        "failed",
        "not_an_ontology",
        "E_FORMAT_HTML",
    )
