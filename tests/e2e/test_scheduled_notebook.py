"""Notebook 10 as a scheduled job: papermill runs it against a real workspace.

The notebook is run the way cron runs it (the ``papermill`` command of this venv, with
``-p`` parameters) and through papermill's Python API; a rejected or failed ontology must
make the run fail, and a rejected release must never go live.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

import ontolab
from ontolab.testing import Workspace, kisao_owl_path, open_workspace
from ontolab.testing.releases import labels_removed

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "10_scheduled_refresh.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"


def _environ() -> dict[str, str]:
    # The run is configured by its config file alone, as in a crontab.
    return {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}


def run_papermill(output: Path, *params: str) -> subprocess.CompletedProcess[str]:
    """``papermill notebooks/10_scheduled_refresh.ipynb OUTPUT -p ...`` as a subprocess."""
    return subprocess.run(
        [str(PAPERMILL), str(NOTEBOOK), str(output), "--no-progress-bar", *params],
        env=_environ(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def cell_text(path: Path) -> str:
    """Every code cell's outputs of an executed notebook, as one string."""
    notebook = nbformat.read(path, as_version=4)
    parts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
            parts.append(output.get("evalue", ""))
    return "\n".join(parts)


def live_version(ws: Workspace, ontology: str) -> str | None:
    with ontolab.connect(ws.config) as view:
        rows = view.latest(ontology)
    return str(rows["version"][0]) if rows.height else None


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    with open_workspace(tmp_path / "ws") as ws:
        yield ws


def test_a_good_run_succeeds_and_a_rejected_release_fails_the_job(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.ipynb"
    done = run_papermill(good, "-p", "config_path", str(workspace.config))
    assert done.returncode == 0, done.stderr[-3000:]
    report = cell_text(good)
    # The executed copy is the run's report: the receipt table and the verdict are in it.
    assert re.search(r"run [0-9a-f]{12}: ok", report)
    assert "refresh ok: 4 ontologies" in report
    assert live_version(workspace, "hp") == "2025-01-16"

    bad = labels_removed(tmp_path / "hp-2025-02-01.obo", "2025-02-01")
    workspace.publish("hp", "2025-02-01", bad)
    for name in [n for n in os.environ if n.startswith("ONTOLAB_")]:
        monkeypatch.delenv(name)
    failed = tmp_path / "failed.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(failed),
            # What `-p ontologies '["hp"]'` passes: text, not a list.
            parameters={"config_path": str(workspace.config), "ontologies": '["hp"]'},
            progress_bar=False,
        )
    error = caught.value
    assert error.ename == "RefreshFailed"
    assert "hp 2025-02-01: rejected, reason gate_failed, code E_GATE_REJECTED" in error.evalue
    assert "label_coverage" in error.evalue
    # The rejected release is recorded, never promoted; the good one stays live.
    assert live_version(workspace, "hp") == "2025-01-16"
    with ontolab.connect(workspace.config) as view:
        statuses = dict(view.versions("hp").select("version", "status").iter_rows())
    assert statuses == {"2025-01-16": "good", "2025-02-01": "rejected"}
    # papermill still writes the executed copy, with the receipt that says why.
    assert "E_GATE_REJECTED" in cell_text(failed)


def _with_missing_import(path: Path, version: str, missing: str) -> Path:
    """KiSAO's real OWL file under ``version``, importing an ontology that does not exist."""
    text = kisao_owl_path().read_text(encoding="utf-8")
    text, found = re.subn(
        r"(<owl:Ontology\b[^>]*[^/]>)",
        rf'\1\n    <owl:imports rdf:resource="{missing}"/>',
        text,
        count=1,
    )
    assert found == 1, "kisao.owl has no owl:Ontology element to add an import to"
    text = re.sub(r"(<owl:versionInfo[^>]*>)[^<]*", rf"\g<1>{version}", text, count=1)
    path.write_text(text, encoding="utf-8")
    return path


def test_strict_parameter_reaches_the_pull(workspace: Workspace, tmp_path: Path) -> None:
    # Imports are resolved in this project, so an owl:imports that cannot be fetched is
    # noticed: a warning by default, a rejection with --strict.
    config = yaml.safe_load(workspace.config.read_text())
    config["validate"] = {"resolve_imports": True}
    workspace.config.write_text(yaml.safe_dump(config, sort_keys=False))
    missing = f"{workspace.mirror.base_url}/files/no-such-import.owl"

    workspace.publish("kisao", "2.35", _with_missing_import(tmp_path / "k235.owl", "2.35", missing))
    lenient = run_papermill(
        tmp_path / "lenient.ipynb", "-p", "config_path", str(workspace.config),
        "-p", "ontologies", "kisao", "-p", "strict", "False",
    )  # fmt: skip
    assert lenient.returncode == 0, lenient.stderr[-3000:]
    assert live_version(workspace, "kisao") == "2.35"

    workspace.publish("kisao", "2.36", _with_missing_import(tmp_path / "k236.owl", "2.36", missing))
    strict = run_papermill(
        tmp_path / "strict.ipynb", "-p", "config_path", str(workspace.config),
        "-p", "ontologies", '["kisao"]', "-p", "strict", "True",
    )  # fmt: skip
    assert strict.returncode != 0
    assert "RefreshFailed" in strict.stderr
    assert "kisao 2.36: rejected, reason import_unresolved, code E_IMPORT_UNRESOLVED" in (
        strict.stderr
    )
    assert live_version(workspace, "kisao") == "2.35"
