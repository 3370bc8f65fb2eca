"""The HTTP service (``ontolab.service.create_app``) against real catalogs filled by real pulls.

One module catalog holds two HPO releases and KiSAO; every route's answer is checked
against what the query API (``ontolab.connect``) reads from the same catalog. Tests that
change a catalog (planted symlinks, a held lock, a broken file) pull KiSAO into their own.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastapi.testclient import TestClient

import ontolab
from ontolab import pipeline
from ontolab.query import CatalogView
from ontolab.settings import OntolabSettings, ServiceSettings
from ontolab.testing import Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.corpus import HPO_RELEASES, hpo_release_path

pytestmark = pytest.mark.integration
SettingsFor = Callable[..., OntolabSettings]  # the settings_for fixture (tests/conftest.py)

OLD, NEW = HPO_RELEASES["3.2.6"], "2025-01-16"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory, settings_for: SettingsFor) -> OntolabSettings:
    """HPO OLD then NEW (live) and KiSAO, pulled from the mirror."""
    with Mirror() as mirror:
        settings = settings_for(mirror, tmp_path_factory.mktemp("service") / "data")
        mirror.add_file("kisao.owl", kisao_owl_path())
        mirror.publish("hp", OLD, hpo_release_path("3.2.6"), filename="hp.obo")
        assert pipeline.pull(settings=settings).ok
        mirror.publish("hp", NEW, hpo_obo_path(), filename="hp.obo")
        assert pipeline.pull(["hp"], settings=settings).ok
    return settings


def client_for(settings: OntolabSettings, **service: Any) -> TestClient:
    if service:
        merged = ServiceSettings.model_validate({**settings.service.model_dump(), **service})
        settings = settings.model_copy(update={"service": merged})
    from ontolab.service import create_app

    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(pulled: OntolabSettings) -> Iterator[TestClient]:
    with client_for(pulled) as running:
        yield running


@pytest.fixture(scope="module")
def view(pulled: OntolabSettings) -> Iterator[CatalogView]:
    with ontolab.connect(pulled) as handle:
        yield handle


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:ontolab:error:{code}"
    assert body["detail"]
    return body


def _all_pages(client: TestClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    for _ in range(1000):
        if next_url is None:
            return items
        page = client.get(next_url).json()
        items.extend(page["items"])
        next_url = page["next"]
    raise AssertionError("paging never ended")


# -- listings -------------------------------------------------------------------------------


def test_ontologies_lists_each_with_its_live_version_title_and_licence(
    client: TestClient,
) -> None:
    body = client.get("/api/v1/ontologies").json()
    rows = {o["ontology"]: o for o in body["items"]}
    assert set(rows) == {"hp", "kisao"}
    assert body["total"] == 2
    assert body["next"] is None
    assert rows["hp"]["live_version"] == NEW
    assert (rows["hp"]["versions"], rows["hp"]["good"], rows["hp"]["status"]) == (2, 2, "good")
    assert rows["hp"]["title"] == "Human Phenotype Ontology"
    assert rows["hp"]["licence"] == "https://hpo.jax.org/app/license"
    assert rows["kisao"]["live_version"] == "2.34"


def test_latest_versions_files_and_validations_match_the_query_api(
    client: TestClient, view: CatalogView
) -> None:
    latest = client.get("/api/v1/latest").json()["items"]
    assert [(r["ontology"], r["version"]) for r in latest] == view.latest().select(
        "ontology", "version"
    ).rows()
    assert latest[0]["promoted_at"].endswith("Z")  # ISO 8601, UTC

    versions = client.get("/api/v1/ontologies/hp/versions").json()["items"]
    assert [(v["version"], v["live"]) for v in versions] == [(NEW, True), (OLD, False)]
    good = client.get("/api/v1/ontologies/hp/versions", params={"status": "failed"}).json()
    assert good["items"] == [] and good["total"] == 0

    files = client.get(f"/api/v1/ontologies/hp/versions/{OLD}/files").json()["items"]
    expected = hashlib.sha256(hpo_release_path("3.2.6").read_bytes()).hexdigest()
    assert [(f["member"], f["format"], f["sha256"]) for f in files] == [("hp.obo", "obo", expected)]
    assert "path" not in files[0]  # server paths are not the client's business

    checks = client.get(f"/api/v1/ontologies/hp/versions/{NEW}/validations").json()["items"]
    stream = next(c for c in checks if c["validator"] == "stream")
    assert stream["passed"] is True
    assert stream["metrics"]["classes"] == view.history("hp")["classes"][-1]


def test_ontology_detail_matches_show_and_ids_ignore_case(
    client: TestClient, view: CatalogView
) -> None:
    body = client.get("/api/v1/ontologies/HP").json()
    shown = view.show("hp").to_dict()
    assert (body["ontology"], body["version"], body["live"]) == ("hp", NEW, NEW)
    assert body["provenance"]["sha256"] == shown["provenance"]["sha256"]
    assert [v["version"] for v in body["versions"]] == [NEW, OLD]
    older = client.get("/api/v1/ontologies/hp", params={"version": OLD}).json()
    assert older["version"] == OLD and older["live"] == NEW


def test_events_filter_and_page_through_the_whole_log(
    client: TestClient, view: CatalogView
) -> None:
    everything = view.events(limit=None)
    walked = _all_pages(client, "/api/v1/events?limit=3")
    assert [e["event_id"] for e in walked] == everything["event_id"].to_list()

    promoted = client.get("/api/v1/events", params={"ontology": "hp", "level": "info"}).json()
    assert (
        promoted["total"]
        == everything.filter((pl.col("ontology") == "hp") & (pl.col("level") == "info")).height
    )
    assert any(e["event"] == "latest.promote" for e in promoted["items"])
    run_id = promoted["items"][0]["run_id"]
    one_run = client.get("/api/v1/events", params={"run_id": run_id}).json()["items"]
    assert one_run and {e["run_id"] for e in one_run} == {run_id}
    future = client.get("/api/v1/events", params={"since": "2999-01-01T00:00:00+02:00"}).json()
    assert future["items"] == [] and future["total"] == 0


# -- paging ---------------------------------------------------------------------------------


def test_pages_are_bounded_and_past_the_end_is_empty(client: TestClient) -> None:
    _problem(client.get("/api/v1/events", params={"limit": 1001}), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/events", params={"limit": 0}), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/events", params={"offset": -1}), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/latest", params={"limit": "x"}), 422, "E_API_INVALID_REQUEST")
    past = client.get("/api/v1/latest", params={"offset": 50}).json()
    assert past == {"items": [], "limit": 100, "offset": 50, "total": 2, "next": None}
    first = client.get("/api/v1/latest", params={"limit": 1}).json()
    assert len(first["items"]) == 1
    assert first["next"].endswith("/api/v1/latest?limit=1&offset=1")


def test_page_size_comes_from_settings(pulled: OntolabSettings) -> None:
    with client_for(pulled, page_size=2, max_page_size=5) as small:
        page = small.get("/api/v1/events").json()
        assert page["limit"] == 2 and len(page["items"]) == 2
        _problem(small.get("/api/v1/events?limit=6"), 422, "E_API_INVALID_REQUEST")
        spec = small.get("/openapi.json").json()
        limit = next(
            p for p in spec["paths"]["/api/v1/events"]["get"]["parameters"] if p["name"] == "limit"
        )
        assert limit["schema"]["maximum"] == 5


# -- not found ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/api/v1/ontologies/nope", "E_ONTOLOGY_NOT_STORED"),
        ("/api/v1/ontologies/nope/versions", "E_ONTOLOGY_NOT_STORED"),
        ("/api/v1/ontologies/hp?version=1999-01-01", "E_VERSION_UNKNOWN"),
        ("/api/v1/ontologies/hp/versions/1999-01-01/files", "E_VERSION_UNKNOWN"),
        ("/api/v1/ontologies/hp/versions/1999-01-01/validations", "E_VERSION_UNKNOWN"),
        ("/api/v1/ontologies/hp/terms?version=1999-01-01", "E_VERSION_UNKNOWN"),
        ("/api/v1/ontologies/kisao/diff", "E_DIFF_NO_BASE"),
        ("/api/v1/ontologies/hp/diff?from=1999-01-01", "E_VERSION_UNKNOWN"),
        (f"/api/v1/ontologies/hp/versions/{NEW}/files/nope.obo", "E_API_FILE_NOT_RECORDED"),
        ("/api/v1/nothing-here", "E_API_NOT_FOUND"),
    ],
)
def test_unknown_things_are_404_problems_with_codes(
    client: TestClient, url: str, code: str
) -> None:
    _problem(client.get(url), 404, code)


def test_bad_input_is_a_4xx_never_a_5xx(client: TestClient) -> None:
    _problem(client.get("/api/v1/ontologies/bad%00id"), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/events?level=loud"), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/events?since=yesterday"), 422, "E_API_INVALID_REQUEST")
    _problem(client.get("/api/v1/ontologies/hp/terms?q=%01"), 422, "E_API_INVALID_REQUEST")
    _problem(client.post("/api/v1/latest"), 405, "E_API_METHOD_NOT_ALLOWED")


# -- diff and terms -------------------------------------------------------------------------


def test_diff_counts_and_pages_match_the_query_api(client: TestClient, view: CatalogView) -> None:
    expected = view.compare("hp", OLD, NEW)
    body = client.get("/api/v1/ontologies/hp/diff", params={"limit": 1000}).json()
    assert (body["from"], body["to"]) == (OLD, NEW)
    assert body["summary"] == expected.counts
    assert body["total"] == expected.table.num_rows
    walked = _all_pages(client, "/api/v1/ontologies/hp/diff?limit=500")
    assert [(r["id"], r["change"]) for r in walked] == [
        (r["id"], r["change"]) for r in expected.rows()
    ]
    added = client.get("/api/v1/ontologies/hp/diff", params={"change": "added"}).json()
    assert added["total"] == expected.counts["added"]
    assert {r["change"] for r in added["items"]} == {"added"}


def test_terms_are_paged_by_id_and_filtered_by_prefix(
    client: TestClient, view: CatalogView
) -> None:
    table = view.terms("hp")
    count = int(table.count().to_pyarrow().as_py())
    first = client.get("/api/v1/ontologies/hp/terms", params={"limit": 5}).json()
    assert (first["version"], first["total"]) == (NEW, count)
    ids = sorted(table.select("id").to_pyarrow()["id"].to_pylist())
    assert [t["id"] for t in first["items"]] == ids[:5]
    second = client.get(first["next"]).json()
    assert [t["id"] for t in second["items"]] == ids[5:10]

    seizure = client.get("/api/v1/ontologies/hp/terms", params={"q": "HP:0001250"}).json()
    assert [t["label"] for t in seizure["items"]] == ["Seizure"]
    by_label = client.get("/api/v1/ontologies/hp/terms", params={"q": "seizure"}).json()
    assert by_label["total"] > 1
    assert all(t["label"].lower().startswith("seizure") for t in by_label["items"])
    older = client.get("/api/v1/ontologies/hp/terms", params={"version": OLD}).json()
    assert older["version"] == OLD
    assert older["total"] == view.terms("hp", OLD).count().to_pyarrow().as_py()


# -- downloads ------------------------------------------------------------------------------


def test_a_stored_file_downloads_with_its_bytes_and_sha256(client: TestClient) -> None:
    listed = client.get("/api/v1/ontologies/kisao/versions/2.34/files").json()["items"]
    response = client.get(listed[0]["download"])
    assert response.status_code == 200
    assert response.content == kisao_owl_path().read_bytes()
    assert response.headers["etag"] == f'"{listed[0]["sha256"]}"'
    assert "kisao.owl" in response.headers["content-disposition"]


@pytest.fixture
def kisao_only(
    mirror_settings: Callable[..., OntolabSettings], mirror: Mirror, tmp_path: Path
) -> OntolabSettings:
    """A catalog of its own: KiSAO as a plain file and, zipped in a folder, as an archive."""
    archive = tmp_path / "kisao.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(kisao_owl_path(), "onto/kisao.owl")
    mirror.add_file("kisao.zip", archive)
    settings = mirror_settings(
        [
            {"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"},
            {"id": "zipped", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.zip"},
        ]
    )
    assert pipeline.pull(settings=settings).ok
    return settings


def test_an_extracted_file_inside_a_folder_of_an_archive_downloads(
    kisao_only: OntolabSettings,
) -> None:
    with client_for(kisao_only) as client:
        (version,) = [v["live_version"] for v in client.get("/api/v1/ontologies").json()["items"]
                      if v["ontology"] == "zipped"]  # fmt: skip
        listed = client.get(f"/api/v1/ontologies/zipped/versions/{version}/files").json()
        (entry,) = listed["items"]
        assert entry["member"] == "kisao.zip!onto/kisao.owl"
        response = client.get(entry["download"])
        assert response.status_code == 200
        assert response.content == kisao_owl_path().read_bytes()


def test_traversal_never_serves_a_file_outside_the_store(
    kisao_only: OntolabSettings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    base = "/api/v1/ontologies/kisao/versions/2.34/files"
    with client_for(kisao_only) as client:
        for member in (
            "../../../../secret.txt",
            "..%2F..%2F..%2Fsecret.txt",
            "%2e%2e/%2e%2e/secret.txt",
            str(secret),
            "%2F" + str(secret).lstrip("/").replace("/", "%2F"),
            "kisao.owl/../../secret.txt",
        ):
            response = client.get(f"{base}/{member}")
            assert response.status_code in (400, 404), (member, response.status_code)
            assert b"not for the web" not in response.content
            assert response.headers["content-type"] == PROBLEM

        # A symlink planted in the store, in place of the recorded blob, points outside.
        (row,) = ontolab.connect(kisao_only).files("kisao").rows(named=True)
        blob = Path(row["path"])
        assert blob.is_relative_to(kisao_only.data_dir / "store")
        blob.unlink()
        blob.symlink_to(secret)
        planted = client.get(f"{base}/kisao.owl")
        _problem(planted, 404, "E_API_FILE_OUTSIDE_STORE")
        assert b"not for the web" not in planted.content

        # A directory symlink higher up (store/sha256/xx -> outside) is caught as well.
        outside = tmp_path / "elsewhere"
        shard = blob.parent.parent
        shard.rename(outside)
        shard.symlink_to(outside)
        blob_outside = outside / blob.parent.name / blob.name
        blob_outside.unlink()
        blob_outside.write_text("not for the web")
        _problem(client.get(f"{base}/kisao.owl"), 404, "E_API_FILE_OUTSIDE_STORE")

        shard.unlink()
        _problem(client.get(f"{base}/kisao.owl"), 404, "E_API_FILE_MISSING")


# -- auth -----------------------------------------------------------------------------------


def test_a_token_guards_the_api_but_not_the_probes(pulled: OntolabSettings) -> None:
    token = "s3cret-token"
    with client_for(pulled, token=token) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            denied = client.get("/api/v1/latest", headers=headers)
            _problem(denied, 401, "E_API_UNAUTHORIZED")
            assert denied.headers["www-authenticate"] == "Bearer"
            assert token not in denied.text
        allowed = client.get("/api/v1/latest", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.json()["total"] == 2
        for open_route in ("/healthz", "/metrics", "/openapi.json"):
            assert client.get(open_route).status_code == 200, open_route
        assert client.get("/readyz").status_code in (200, 503)  # open either way, never 401
        spec = client.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert spec["paths"]["/api/v1/latest"]["get"]["security"] == [{"bearer": []}]
        assert "security" not in spec["paths"]["/healthz"]["get"]
    with client_for(pulled) as open_client:
        assert open_client.get("/api/v1/latest").status_code == 200
        assert "securitySchemes" not in open_client.get("/openapi.json").json()["components"]


# -- probes and metrics ---------------------------------------------------------------------


def test_healthz_and_readyz_on_a_good_catalog(pulled: OntolabSettings) -> None:
    with client_for(pulled, min_free_bytes=1) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["ready"] is True
        assert {c["name"] for c in ready.json()["checks"]} >= {"catalog", "disk"}


def test_readyz_flips_to_503_below_the_free_disk_threshold(pulled: OntolabSettings) -> None:
    with client_for(pulled, min_free_bytes=10**18) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        failed = [c for c in response.json()["checks"] if not c["ok"]]
        assert [c["name"] for c in failed] == ["disk"]
        assert "min_free_bytes" in failed[0]["detail"]
        assert client.get("/healthz").status_code == 200  # alive, only not ready


@pytest.fixture
def held_catalog(kisao_only: OntolabSettings) -> Iterator[OntolabSettings]:
    """Another process holds the catalog file for writing; settings that wait briefly."""
    path = kisao_only.data_dir / "catalog.duckdb"
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r})\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield kisao_only.model_copy(update={"catalog_lock_timeout_s": 0.3})
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_locked_catalog_makes_readyz_and_the_api_answer_503(
    held_catalog: OntolabSettings,
) -> None:
    with client_for(held_catalog, ready_timeout_s=0.3, min_free_bytes=1) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        catalog = next(c for c in ready.json()["checks"] if c["name"] == "catalog")
        assert (catalog["ok"], catalog["code"]) == (False, "E_CATALOG_LOCKED")
        busy = client.get("/api/v1/latest")
        _problem(busy, 503, "E_CATALOG_LOCKED")
        assert int(busy.headers["retry-after"]) > 0
        assert client.get("/healthz").status_code == 200


def test_a_catalog_that_cannot_be_opened_is_not_ready_with_a_reason(
    kisao_only: OntolabSettings, make_settings: Callable[..., OntolabSettings]
) -> None:
    (kisao_only.data_dir / "catalog.duckdb").write_bytes(b"this is not a database" * 100)
    with client_for(kisao_only, min_free_bytes=1) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        catalog = next(c for c in ready.json()["checks"] if c["name"] == "catalog")
        assert catalog["ok"] is False and catalog["detail"]
        _problem(client.get("/api/v1/latest"), 503, "E_CATALOG_OPEN")

    empty = make_settings(data_dir=str(kisao_only.data_dir.parent / "never-initialised"))
    with client_for(empty, min_free_bytes=1) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        catalog = next(c for c in ready.json()["checks"] if c["name"] == "catalog")
        assert catalog["code"] == "E_CATALOG_MISSING"
        _problem(client.get("/api/v1/ontologies"), 503, "E_CATALOG_MISSING")
        assert not (empty.data_dir / "catalog.duckdb").exists()  # the service never creates one


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    for _ in range(3):
        assert client.get("/api/v1/ontologies/hp/versions").status_code == 200
    assert client.get("/api/v1/ontologies/nope/versions").status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    template = 'route="/api/v1/ontologies/{ontology}/versions"'
    ok = next(
        line
        for line in text.splitlines()
        if line.startswith("ontolab_api_requests_total{") and template in line and '"200"' in line
    )
    assert float(ok.rsplit(" ", 1)[1]) >= 3
    assert any(template in line and '"404"' in line for line in text.splitlines())
    assert "/api/v1/ontologies/hp/versions" not in text  # raw paths never become labels
    assert f"ontolab_api_request_duration_seconds_count{{{template}}}" in text
    assert 'ontolab_live_term_count{ontology="hp"}' in text  # the catalog's own metrics


# -- scheduler ------------------------------------------------------------------------------


def test_refresh_every_schedules_the_next_pull_from_the_last_recorded_one(
    kisao_only: OntolabSettings,
) -> None:
    pulled_at = datetime.now(UTC)  # kisao_only has just pulled
    with client_for(kisao_only, refresh_every="1h") as client:
        status: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not status.get("next_run"):
            status = client.get("/api/v1/scheduler").json()
            time.sleep(0.05)
        assert status["enabled"] is True
        assert status["every_s"] == 3600
        # Not at once: the pull recorded moments ago counts, so the next is an hour on.
        assert status["runs"] == 0 and status["running"] is False
        due = datetime.fromisoformat(status["next_run"])
        assert timedelta(minutes=55) < due - pulled_at <= timedelta(hours=1)
    with client_for(kisao_only) as client:
        assert client.get("/api/v1/scheduler").json() == {"enabled": False}
