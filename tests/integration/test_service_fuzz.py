"""The service's OpenAPI document, fuzzed with schemathesis against the ASGI app.

Every operation gets generated requests (valid and invalid); no answer may be a server
error, and every answer must match the document: status declared, content type declared,
body valid against the declared schema.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ontolab import pipeline
from ontolab.service import create_app
from ontolab.settings import OntolabSettings, load_settings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# schemathesis loads the document when this module is imported (its fixture-based loader
# fails on pytest 9), so the app is built here over a data dir the fixture below fills
# before any test runs; nothing is created until then.
DATA_DIR = Path(tempfile.gettempdir()) / f"ontolab-fuzz-{os.getpid()}" / "data"


def settings_for(mirror: Mirror | None = None) -> OntolabSettings:
    return load_settings(
        environ={},
        data_dir=str(DATA_DIR),
        http={
            "allowed_hosts": [mirror.host_port if mirror else "127.0.0.1"],
            "backoff_base_s": 0.05,
            "retries": 2,
        },
        resolvers={"obo": {"base_url": f"{mirror.base_url if mirror else ''}/obo"}},
        ontologies=[{"id": "hp", "resolver": "obo", "format": "obo"}, {"id": "kisao"}],
        service={"min_free_bytes": 1},
    )


APP = create_app(settings_for())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def pulled() -> Iterator[None]:
    """Two HPO releases (so diffs have something to compare) and KiSAO, in DATA_DIR."""
    assert not DATA_DIR.exists()
    try:
        with Mirror() as mirror:
            settings = settings_for(mirror)
            mirror.publish("kisao", "2.34", kisao_owl_path(), filename="kisao.owl")
            old = hpo_release_path("3.2.6")
            mirror.publish("hp", HPO_RELEASES["3.2.6"], old, filename="hp.obo")
            assert pipeline.pull(settings=settings).ok
            mirror.publish("hp", "2025-01-16", hpo_obo_path(), filename="hp.obo")
            assert pipeline.pull(["hp"], settings=settings).ok
        yield
    finally:
        APP.state.reader.close()
        APP.state.metrics_catalog.close()
        shutil.rmtree(DATA_DIR.parent, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors_and_answers_match_the_document(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
