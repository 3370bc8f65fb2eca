"""Gates through the real CLI: a rejected pull, ``show`` naming what failed, ``validate``
re-running the gates, and commands that must never load Great Expectations."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ontolab.testing import Mirror, hpo_obo_path

pytestmark = pytest.mark.e2e
Run = Callable[..., Any]  # the `ontolab` fixture: runs the CLI, returns code/stdout/stderr
LIVE, BAD = "2025-01-16", "2025-02-03"
IMPORT_TIMES = {"PYTHONPROFILEIMPORTTIME": "1"}  # -X importtime for the CLI subprocess


def publish_dropped_release(mirror: Mirror, tmp_path: Path) -> None:
    """The real HPO file with two terms in five removed, as release BAD."""
    text = hpo_obo_path().read_text(encoding="utf-8")
    head, *stanzas = text.replace(f"hp/releases/{LIVE}", f"hp/releases/{BAD}").split("\n[")
    kept = [s for i, s in enumerate(stanzas) if not s.startswith("Term]") or i % 5 >= 2]
    path = tmp_path / "hp-dropped.obo"
    path.write_text("\n[".join([head, *kept]), encoding="utf-8")
    mirror.publish("hp", BAD, path, filename="hp.obo")


def imported(stderr: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` output."""
    found = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            found.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return found


def test_a_rejected_pull_exits_1_and_show_and_validate_name_the_failures(
    ontolab: Run, mirror: Mirror, tmp_path: Path
) -> None:
    first = ontolab("pull", "hp", "--json")
    assert first.code == 0, first.stderr
    publish_dropped_release(mirror, tmp_path)

    pulled = ontolab("pull", "hp", "--json")
    assert pulled.code == 1, pulled.stderr
    (row,) = pulled.json()["rows"]
    assert (row["version"], row["outcome"], row["reason"]) == (BAD, "rejected", "gate_failed")
    assert (row["error_code"], row["live"]) == ("E_GATE_REJECTED", LIVE)
    assert "term_count_band" in row["message"]

    shown = ontolab("show", "hp", "--version", BAD, "--json")
    assert shown.code == 0, shown.stderr
    doc = shown.json()
    assert (doc["status"], doc["reason"], doc["live"]) == ("rejected", "gate_failed", LIVE)
    assert doc["gates"]["passed"] is False
    failures = {f["gate"]: f for f in doc["gates"]["failures"]}
    assert "ontology.term_count_band" in failures
    dropped = failures["ontology.term_count_band"]
    assert dropped["observed"] < dropped["threshold"]["min"]
    (report,) = doc["gates"]["reports"]
    assert Path(report).is_file()
    assert any(g["gate"] == "ontology.term_count_band" for g in doc["gate_results"])

    human = ontolab("show", "hp", "--version", BAD)
    assert human.code == 0, human.stderr
    assert "gates: rejected" in human.stdout
    assert "failed: ontology.term_count_band: observed" in human.stdout
    assert f"report: {report}" in human.stdout.replace("\n", "")

    # The live version's record says its gates passed.
    live = ontolab("show", "hp", "--json").json()
    assert (live["version"], live["gates"]["passed"], live["gates"]["failures"]) == (
        LIVE,
        True,
        [],
    )

    again = ontolab("validate", "hp", "--version", BAD, "--json")
    assert again.code == 1, again.stderr
    redone = again.json()
    assert (redone["status"], redone["reason"]) == ("rejected", "gate_failed")
    assert "ontology.term_count_band" in {
        r["gate"] for r in redone["gates"]["results"] if not r["passed"]
    }
    assert redone["catalog_gates"] and all(r["passed"] for r in redone["catalog_gates"])
    history = ontolab("show", "hp", "--version", BAD, "--json").json()["gate_results"]
    assert len(history) == 2 * len(doc["gate_results"])

    skipped = ontolab("validate", "hp", "--version", BAD, "--no-gates", "--json")
    assert skipped.code == 0, skipped.stderr
    assert (skipped.json()["gates"], skipped.json()["catalog_gates"]) == (None, [])
    latest = ontolab("db", "latest", "--json").json()
    assert [(r["ontology"], r["version"]) for r in latest] == [("hp", LIVE)]


def test_import_and_read_commands_never_load_great_expectations(
    ontolab: Run, project: Path
) -> None:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ontolab\n"
            "print(sorted(m for m in ('great_expectations', 'pandas') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"

    pulled = ontolab("pull", "hp", "--json", env=IMPORT_TIMES)
    assert pulled.code == 0, pulled.stderr
    assert "great_expectations" in imported(pulled.stderr)  # a new version is gated
    for command in (("db", "latest", "--json"), ("show", "hp", "--json"), ("pull", "hp")):
        result = ontolab(*command, env=IMPORT_TIMES)
        assert result.code == 0, (command, result.stderr[-2000:])
        assert "great_expectations" not in imported(result.stderr), command
    assert "pandas" not in imported(ontolab("db", "latest", env=IMPORT_TIMES).stderr)
