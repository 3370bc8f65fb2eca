"""Gate suite files, threshold substitution and the gates settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ontolab.errors import ConfigError, GateError
from ontolab.gates import gates_enabled, load_suite, thresholds_for
from ontolab.gates._suites import SUITES_DIR, substitute
from ontolab.settings import GateThresholds, OntolabSettings, load_settings

DOCS = Path(__file__).parents[2] / "docs" / "gates.md"
Settings = Callable[..., OntolabSettings]


@pytest.mark.parametrize("name", ["ontology", "catalog"])
def test_shipped_suites_parse_and_are_documented(name: str) -> None:
    suite = load_suite(name)
    assert suite.name == name
    assert suite.path == SUITES_DIR / f"{name}.json"
    docs = DOCS.read_text(encoding="utf-8")
    for entry in suite.entries:
        assert entry.expectation.startswith("expect_")
        assert entry.severity in ("error", "warning")
        assert len(entry.description) > 20, entry.name
        assert f"`{entry.name}`" in docs, f"{entry.name} is not documented in docs/gates.md"


def test_the_default_suite_has_the_promised_entries() -> None:
    suite = load_suite("ontology")
    names = {e.name for e in suite.entries}
    assert names >= {
        *("unique_ids", "ids_well_formed", "label_coverage", "definition_coverage"),
        *("parents_resolve", "obsolete_not_parents", "term_count_band"),
        *("relabel_rate", "parent_churn"),
    }
    diff_aware = {e.name for e in suite.entries if e.needs_previous}
    assert diff_aware == {"term_count_band", "relabel_rate", "parent_churn"}


def test_every_threshold_a_suite_names_is_a_setting_and_documented() -> None:
    derived = {"term_count_min", "term_count_max"}
    docs = DOCS.read_text(encoding="utf-8")
    for path in SUITES_DIR.glob("*.json"):
        for name in re.findall(r"\$\{(\w+)\}", path.read_text(encoding="utf-8")):
            assert name in GateThresholds.model_fields or name in derived, name
    for name in GateThresholds.model_fields:
        assert f"`{name}`" in docs, f"threshold {name} is not documented in docs/gates.md"


def test_thresholds_are_substituted_and_unknown_ones_refused() -> None:
    suite = load_suite("ontology")
    labels = next(e for e in suite.entries if e.name == "label_coverage")
    kwargs = substitute(labels, {"label_coverage_min": 0.97}, suite)
    assert kwargs == {"column": "label", "mostly": 0.97}
    with pytest.raises(GateError) as caught:
        substitute(labels, {"label_coverage": 0.97}, suite)
    assert caught.value.code == "E_GATE_SUITE_INVALID"
    assert "label_coverage_min" in caught.value.message


def test_per_ontology_overrides_and_switches(make_settings: Settings) -> None:
    settings = make_settings(
        gates={"label_coverage_min": 0.9},
        ontologies=[
            {"id": "hp", "gates": {"label_coverage_min": 0.99, "term_drop_max": 0.05}},
            {"id": "kisao", "gates": {"enabled": False}},
        ],
    )
    hp = thresholds_for(settings, "HP")
    assert hp["label_coverage_min"] == 0.99
    assert hp["term_drop_max"] == 0.05
    assert hp["relabel_rate_max"] == GateThresholds().relabel_rate_max
    assert thresholds_for(settings, "go")["label_coverage_min"] == 0.9
    assert gates_enabled(settings, "hp")
    assert not gates_enabled(settings, "kisao")
    assert not gates_enabled(make_settings(gates={"enabled": False}), "hp")


def test_an_unknown_threshold_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "ontolab.yaml"
    config.write_text(
        "ontologies:\n  - id: hp\n    gates: {label_coverage: 0.99}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert caught.value.code == "E_CONFIG_UNKNOWN_KEY"
    assert "ontologies.0.gates.label_coverage" in caught.value.message
    config.write_text("gates: {label_coverage_min: 1.5}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert "gates.label_coverage_min" in caught.value.message


def test_thresholds_come_from_the_environment_too() -> None:
    settings = load_settings(environ={"ONTOLAB_GATES__TERM_DROP_MAX": "0.3"})
    assert settings.gates.term_drop_max == 0.3


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("entries: 3\n", "list of 'entries'"),
        ("entries:\n  - {name: a}\n", "needs a 'expectation'"),
        ("entries:\n  - {name: a, expectation: x, colour: red}\n", "unknown keys: colour"),
        ("entries:\n  - {name: a, expectation: x, severity: fatal}\n", "severity"),
        (
            "entries:\n  - {name: a, expectation: x}\n  - {name: a, expectation: y}\n",
            "twice",
        ),
        ("entries: [\n", "cannot be read"),
    ],
)
def test_bad_suite_files_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GateError) as caught:
        load_suite(path)
    assert caught.value.code == "E_GATE_SUITE_INVALID"
    assert problem in caught.value.message


def test_an_unknown_suite_name_lists_the_shipped_ones() -> None:
    with pytest.raises(GateError) as caught:
        load_suite("ontologie")
    assert "catalog, ontology" in caught.value.message
