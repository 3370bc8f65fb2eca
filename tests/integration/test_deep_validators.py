"""Deep validators run in child processes, within time and memory budgets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ontolab.errors import ConfigError, UnsafeXML
from ontolab.settings import ValidateSettings
from ontolab.testing import hpo_obo_path, kisao_owl_path, write_synthetic_owl
from ontolab.validate import (
    ValidationContext,
    ValidationResult,
    get_validator,
    register_validator,
    run_deep_validators,
)

pytestmark = pytest.mark.integration

SHAPES = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<urn:shape:commented> a sh:NodeShape ;
  sh:targetClass owl:Class ;
  sh:property [ sh:path rdfs:comment ; sh:minCount 1 ] .
"""


def by_name(results: tuple[ValidationResult, ...]) -> dict[str, ValidationResult]:
    return {r.validator: r for r in results}


def test_rdflib_and_pronto_pass_on_kisao() -> None:
    settings = ValidateSettings(deep_validators=["rdflib", "pronto"])
    results = by_name(run_deep_validators(kisao_owl_path(), None, settings))
    assert results["rdflib"].passed and not results["rdflib"].skipped
    assert results["rdflib"].metrics["triples"] > 10_000
    assert results["pronto"].passed
    assert results["pronto"].metrics["terms"] > 500
    assert all(r.duration_s > 0 for r in results.values())


def test_pronto_reads_obo_and_rdflib_says_it_cannot() -> None:
    settings = ValidateSettings(deep_validators=["pronto", "rdflib"])
    results = by_name(run_deep_validators(hpo_obo_path(), "obo", settings))
    assert results["pronto"].passed
    assert results["pronto"].metrics["terms"] > 19_000
    assert (results["rdflib"].skipped, results["rdflib"].reason) == (True, "unsupported_format")


def test_a_tiny_time_limit_kills_the_validator() -> None:
    settings = ValidateSettings(deep_validators=["rdflib"], deep_timeout_s=0.05)
    (result,) = run_deep_validators(kisao_owl_path(), None, settings)
    assert (result.passed, result.skipped, result.reason) == (False, False, "timeout")
    assert result.duration_s < 5
    assert result.messages[0].code == "E_DEEP_TIMEOUT"


def test_a_small_memory_limit_stops_the_validator(tmp_path: Path) -> None:
    # rdflib holds this 4 MB file in about 150 MB; the child may map 120 MB in all.
    owl = write_synthetic_owl(tmp_path / "syn.owl", target_bytes=4_000_000)
    settings = ValidateSettings(deep_validators=["rdflib"], deep_memory_bytes=120_000_000)
    (result,) = run_deep_validators(owl, None, settings)
    assert (result.passed, result.reason) == (False, "memory")
    assert result.messages[0].code == "E_DEEP_MEMORY"
    roomy = ValidateSettings(deep_validators=["rdflib"], deep_memory_bytes=1_000_000_000)
    assert run_deep_validators(owl, None, roomy)[0].passed


def test_a_file_above_deep_max_bytes_is_skipped_with_a_reason() -> None:
    settings = ValidateSettings(deep_validators=["rdflib", "pronto"], deep_max_bytes=1000)
    results = run_deep_validators(kisao_owl_path(), None, settings)
    assert [(r.skipped, r.passed, r.reason) for r in results] == [(True, True, "too_large")] * 2
    assert "deep_max_bytes" in results[0].messages[0].text


def test_shacl_reports_violations(tmp_path: Path) -> None:
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(SHAPES)
    settings = ValidateSettings(deep_validators=["shacl"], shacl_shapes=shapes)
    (result,) = run_deep_validators(kisao_owl_path(), None, settings)
    assert (result.validator, result.passed, result.reason) == ("shacl", False, "not_conforming")
    assert result.metrics["conforms"] is False
    assert result.metrics["violations"] > 0
    assert "Constraint Violation" in result.messages[0].text
    assert len(result.messages[0].text) <= 4000


def test_shacl_passes_when_the_data_conforms(tmp_path: Path) -> None:
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(SHAPES.replace("owl:Class", "owl:Ontology").replace("comment", "label"))
    settings = ValidateSettings(deep_validators=["shacl"], shacl_shapes=shapes)
    (result,) = run_deep_validators(kisao_owl_path(), None, settings)
    assert result.passed, result.messages


def test_shacl_without_shapes_is_skipped() -> None:
    settings = ValidateSettings(deep_validators=["shacl"])
    (result,) = run_deep_validators(kisao_owl_path(), None, settings)
    assert (result.skipped, result.reason) == (True, "no_shapes")


def test_a_broken_file_fails_the_validator_with_the_parser_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ex: <http://e/> .\nex:a ex:p .\n")
    settings = ValidateSettings(deep_validators=["rdflib"])
    (result,) = run_deep_validators(broken, "turtle", settings)
    assert (result.passed, result.reason) == (False, "invalid")
    assert result.messages[0].level == "error"


def test_hostile_xml_never_reaches_a_deep_validator(tmp_path: Path) -> None:
    path = tmp_path / "x.owl"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&x;</rdf:RDF>\n'
    )
    with pytest.raises(UnsafeXML):
        run_deep_validators(path, None, ValidateSettings(deep_validators=["rdflib"]))


def test_unknown_validator_names_are_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as caught:
        run_deep_validators(kisao_owl_path(), None, ValidateSettings(deep_validators=["nope"]))
    assert caught.value.code == "E_CONFIG_VALIDATOR"


class CountLines:
    """A plug-in validator that runs in-process: the protocol does not force isolation."""

    name = "count-lines"

    def validate(self, path: Path, ctx: ValidationContext) -> ValidationResult:
        lines = path.read_bytes().count(b"\n")
        return ValidationResult(self.name, passed=lines > 0, metrics={"lines": lines})


def test_registered_plugins_are_found_by_name() -> None:
    register_validator(CountLines(), replace=True)
    assert isinstance(get_validator("count-lines"), CountLines)
    settings = ValidateSettings(deep_validators=["count-lines"])
    (result,) = run_deep_validators(kisao_owl_path(), None, settings)
    assert result.passed and result.metrics["lines"] > 1000
    with pytest.raises(ValueError, match="already registered"):
        register_validator(CountLines())


def test_entry_point_plugins_are_loaded_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    class Counted(CountLines):
        name = "counted-lines"

    from ontolab.validate import _registry

    monkeypatch.setattr(
        _registry,
        "entry_points",
        lambda group: [EntryPoint("counted-lines", f"{__name__}:_COUNTED", group)],
    )
    monkeypatch.setitem(globals(), "_COUNTED", Counted)
    validator = get_validator("counted-lines")
    assert isinstance(validator, Counted)
    assert get_validator("counted-lines") is validator
