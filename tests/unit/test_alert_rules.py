"""deploy/prometheus: promtool accepts the config and rules, the rule tests pass, every alert
has a runbook (and every runbook an alert), a severity, and a firing and a quiet test case."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_URL = re.compile(r"^https://github\.com/ontolab/ontolab/blob/main/docs/runbooks/(\w+)\.md$")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian 'prometheus'; tests/services.sh)"
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def alerts() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in found, f"{rule['alert']} defined twice"
                    found[rule["alert"]] = rule
    return found


def rule_cases() -> dict[str, dict[str, int]]:
    """alertname -> how many promtool cases expect it firing, and how many expect quiet."""
    cases: dict[str, dict[str, int]] = {}
    for path in sorted((DEPLOY / "tests").glob("*.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                counts = cases.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
                counts[kind] += 1
    return cases


@needs_promtool
def test_promtool_accepts_the_scrape_config_and_its_rules() -> None:
    done = promtool("check", "config", DEPLOY / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    # The config names the rules by a glob relative to itself: all of them are loaded.
    for path in (DEPLOY / "rules").glob("*.yml"):
        assert f"Checking {DEPLOY / 'rules' / path.name}" in done.stdout


@needs_promtool
def test_promtool_accepts_every_rule_file() -> None:
    files = sorted((DEPLOY / "rules").glob("*.yml"))
    assert files
    done = promtool("check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_rule_tests_pass() -> None:
    files = sorted((DEPLOY / "tests").glob("*.yml"))
    assert files
    done = promtool("test", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(files), done.stdout


@needs_promtool
def test_a_broken_expectation_fails_promtool(tmp_path: Path) -> None:
    """The rule tests can fail: the same case expecting the wrong severity is reported."""
    source = DEPLOY / "tests" / "mirror_test.yml"
    text = source.read_text().replace("../rules/", f"{DEPLOY / 'rules'}/")
    broken = tmp_path / "broken_test.yml"
    broken.write_text(text.replace("{severity: page,", "{severity: ticket,", 1))
    done = promtool("test", "rules", broken)
    assert done.returncode != 0
    assert "OntolabMirrorStale" in done.stdout + done.stderr


def test_every_alert_links_its_runbook_and_every_runbook_has_an_alert() -> None:
    found = alerts()
    assert len(found) >= 12
    for name, rule in found.items():
        url = rule["annotations"]["runbook_url"]
        match = RUNBOOK_URL.match(url)
        assert match and match[1] == name, f"{name}: runbook_url {url}"
        assert (RUNBOOKS / f"{name}.md").is_file(), f"{name}: docs/runbooks/{name}.md is missing"
    runbooks = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert runbooks == set(found), "runbooks without an alert, or alerts without a runbook"


def test_every_alert_has_a_severity_and_says_what_happened() -> None:
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"page", "ticket"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_has_a_firing_and_a_quiet_promtool_case() -> None:
    cases = rule_cases()
    for name in alerts():
        counts = cases.get(name, {"firing": 0, "quiet": 0})
        assert counts["firing"] >= 1, f"{name}: no promtool case shows it firing"
        assert counts["quiet"] >= 1, f"{name}: no promtool case shows it quiet"
    assert set(cases) <= set(alerts()), "a promtool case names an alert that does not exist"


def test_runbooks_give_checks_fixes_and_rollback() -> None:
    for name in alerts():
        text = (RUNBOOKS / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for heading in ("## Meaning", "## Checks", "## Fixes", "## Rollback"):
            assert heading in text, f"{name}.md has no '{heading}'"
