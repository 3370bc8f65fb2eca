"""Notebook download bars: ``NotebookProgress`` over a real pull from the local mirror."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Callable

import pytest

from ontolab import pipeline
from ontolab.obs import NotebookProgress, in_jupyter_kernel, notebook_progress
from ontolab.settings import OntolabSettings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path

KISAO = {"id": "kisao", "resolver": "url"}
HP = {"id": "hp", "resolver": "obo", "format": "obo"}


def test_one_bar_per_ontology_with_its_bytes(
    mirror: Mirror, mirror_settings: Callable[..., OntolabSettings]
) -> None:
    settings = mirror_settings([HP, {**KISAO, "url": f"{mirror.base_url}/files/kisao.owl"}])
    out = io.StringIO()
    bars = NotebookProgress(file=out, mininterval=0)
    receipt = pipeline.pull(settings=settings, jobs=2, progress=bars)  # two download threads
    assert receipt.ok
    sizes = {"hp": hpo_obo_path().stat().st_size, "kisao": kisao_owl_path().stat().st_size}
    assert bars.received == sizes
    assert bars.totals == sizes  # the mirror declares Content-Length
    text = out.getvalue()
    for ontology, size in sizes.items():
        final = [line for line in text.split("\r") if line.startswith(f"{ontology}: 100%")]
        assert final, text
        assert f"{size / 1e6:.2f}M" in final[-1] or f"{size / 1e6:.1f}M" in final[-1]
    assert repr(bars) == "NotebookProgress(2 downloads, 0 running)"


def test_an_unchanged_upstream_draws_no_bar(
    mirror: Mirror, mirror_settings: Callable[..., OntolabSettings]
) -> None:
    settings = mirror_settings()
    assert pipeline.pull(settings=settings, progress=NotebookProgress(file=io.StringIO())).ok
    out = io.StringIO()
    bars = NotebookProgress(file=out)
    rows = pipeline.pull(settings=settings, progress=bars).rows
    assert [r.outcome for r in rows] == ["unchanged"]  # a 304: no body, no bar
    assert bars.received == {} and out.getvalue() == ""


def test_outside_a_kernel_nothing_is_drawn() -> None:
    assert not in_jupyter_kernel()
    assert notebook_progress() is None


def test_pull_defaults_to_bars_inside_a_kernel(
    mirror: Mirror,
    mirror_settings: Callable[..., OntolabSettings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A kernel as in_jupyter_kernel() sees one: ipykernel loaded, IPython's shell has a kernel.
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    assert in_jupyter_kernel()
    assert isinstance(notebook_progress(), NotebookProgress)
    assert pipeline.pull(settings=mirror_settings()).ok  # progress=None
    assert "hp: 100%" in capsys.readouterr().err  # tqdm.auto outside a notebook: text bars
