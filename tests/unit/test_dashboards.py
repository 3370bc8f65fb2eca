"""Grafana dashboards as code: the checked-in JSON is what deploy/grafana/generate.py makes.

The queries themselves run against a real Prometheus in tests/e2e/test_dashboard_queries.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "deploy" / "grafana" / "generate.py"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
METRIC = re.compile(r"\bontolab_[a-z0-9_]+")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ontolab_dashboards", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _checked_in() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def test_checked_in_dashboards_are_what_the_generator_writes(tmp_path: Path) -> None:
    rendered = _generator().render()
    assert sorted(rendered) == sorted(_checked_in()), "run python deploy/grafana/generate.py"
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text() == text, (
            f"{name} is out of date: run python deploy/grafana/generate.py"
        )


def test_check_mode_fails_on_a_stale_file_and_names_the_fix(tmp_path: Path) -> None:
    for path in DASHBOARDS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    ok = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    edited = tmp_path / "ontolab-mirror.json"
    edited.write_text(edited.read_text().replace("Live version age", "Live age", 1))
    stale = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1
    assert "ontolab-mirror.json" in stale.stderr
    assert "python deploy/grafana/generate.py" in stale.stderr


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_every_panel_queries_prometheus_through_the_variable_and_fits_the_grid() -> None:
    for name, dashboard in _checked_in().items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        assert dashboard["uid"] == name.removesuffix(".json")
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert "datasource" in variables
        cells: set[tuple[int, int]] = set()
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            mine = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not mine & cells, f"{name}: {panel['title']} overlaps another panel"
            cells |= mine
        for panel in _panels(dashboard):
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["targets"], panel["title"]
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs))
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
                assert used <= variables, (name, panel["title"], used)


def test_the_dashboards_cover_the_areas_the_issue_asks_for() -> None:
    exprs = " ".join(
        t["expr"] for d in _checked_in().values() for p in _panels(d) for t in p["targets"]
    )
    for metric in (
        "ontolab_live_version_age_seconds",  # freshness per ontology
        "ontolab_last_successful_pull_timestamp_seconds",
        "ontolab_upstream_newer",
        "ontolab_downloads_total",  # throughput and failures by reason
        "ontolab_validations_total",
        "ontolab_gate_rejections_total",
        "ontolab_policy_rejections_total",
        "ontolab_http_retries_total",  # HTTP behaviour by host
        "ontolab_http_throttled_total",
        "ontolab_catalog_transaction_seconds_bucket",  # catalog
        "ontolab_api_requests_total",  # API
        "ontolab_api_request_duration_seconds_bucket",
    ):
        assert metric in exprs, metric


def test_every_metric_queried_is_documented() -> None:
    docs = " ".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    documented = set(METRIC.findall(docs))
    suffixes = ("_bucket", "_count", "_sum", "_total")
    for dashboard in _checked_in().values():
        for panel in _panels(dashboard):
            for target in panel["targets"]:
                for name in METRIC.findall(target["expr"]):
                    bases = {name} | {name.removesuffix(s) for s in suffixes}
                    bases |= {f"{b}_total" for b in set(bases)}
                    assert bases & documented, f"{name} ({panel['title']}) is not documented"
