from __future__ import annotations

from pathlib import Path

import pytest

from ontolab.errors import ConfigError
from ontolab.settings import STARTER_CONFIG, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ontolab.yaml"
    path.write_text(text)
    return path


def test_unknown_key_is_rejected_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  timout_s: 5\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.code == "E_CONFIG_UNKNOWN_KEY"
    assert "http.timout_s" in str(info.value)


def test_unknown_top_level_key_and_ontology_key(tmp_path: Path) -> None:
    path = write(tmp_path, "ontologies:\n  - id: hp\n    resolvr: obo\n")
    with pytest.raises(ConfigError, match=r"ontologies\.0\.resolvr"):
        load_settings(path, environ={})


def test_precedence_arguments_env_file_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  timeout_s: 7\n  retries: 2\n")
    env = {"ONTOLAB_HTTP__RETRIES": "9"}
    settings = load_settings(path, environ=env)
    assert settings.http.timeout_s == 7  # file over default
    assert settings.http.retries == 9  # env over file
    assert settings.http.max_redirects == 10  # default
    assert load_settings(path, environ=env, http={"retries": 1}).http.retries == 1


def test_env_list_values_parse_as_yaml(tmp_path: Path) -> None:
    env = {"ONTOLAB_HTTP__ALLOWED_HOSTS": '["127.0.0.1:8765", "*.example.org"]'}
    assert load_settings(environ=env).http.allowed_hosts == ["127.0.0.1:8765", "*.example.org"]


def test_unknown_env_section_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ONTOLAB_HTPP__TIMEOUT_S"):
        load_settings(environ={"ONTOLAB_HTPP__TIMEOUT_S": "3"})


def test_config_found_through_env_and_relative_paths_follow_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: store-here\n")
    settings = load_settings(environ={"ONTOLAB_CONFIG": str(path)})
    assert settings.data_dir == tmp_path / "store-here"
    assert settings.catalog_url == f"duckdb:///{tmp_path / 'store-here' / 'catalog.duckdb'}"


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_bad_values_are_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  rate_limits: {www.ebi.ac.uk: fast}\n")
    with pytest.raises(ConfigError, match="rate_limits") as info:
        load_settings(path, environ={})
    assert info.value.code == "E_CONFIG_INVALID"


def test_sha256_pin_is_validated_and_normalised(tmp_path: Path) -> None:
    good = "A" * 64
    entry = f"{{id: k, url: 'https://x.org/k.owl', sha256: {good}}}"
    path = write(tmp_path, f"ontologies:\n  - {entry}\n")
    assert load_settings(path, environ={}).ontologies[0].sha256 == "a" * 64
    write(tmp_path, "ontologies:\n  - {id: k, url: 'https://x.org/k.owl', sha256: abc}\n")
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(path, environ={})


def test_max_download_bytes_accepts_units(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  max_download_bytes: 2MB\n")
    assert int(load_settings(path, environ={}).http.max_download_bytes) == 2_000_000


def test_bioportal_key_comes_from_the_named_env_var_and_is_secret(tmp_path: Path) -> None:
    settings = load_settings(environ={"BIOPORTAL_API_KEY": "s3cret"})
    key = settings.resolvers.bioportal.api_key
    assert key is not None and key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.model_dump_json()


def test_starter_config_is_valid(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, STARTER_CONFIG), environ={})
    assert [o.id for o in settings.ontologies] == ["hp"]
    assert "purl.obolibrary.org" in settings.http.allowed_hosts


def test_duplicate_ontology_ids_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "ontologies:\n  - {id: hp}\n  - {id: hp}\n")
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(path, environ={})
