"""Faults on the wire: resets, truncation, throttling, hostile redirects, kills, a full disk.

Every case ends the same way: a clear error code, or a correct artifact; never a partial file
in the store.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from ontolab import pipeline
from ontolab.settings import OntolabSettings
from ontolab.testing import Fault, Mirror, hpo_obo_path, kisao_owl_path

pytestmark = pytest.mark.chaos
Settings = Callable[..., OntolabSettings]
Blobs = Callable[[OntolabSettings], list[Path]]
Rows = Callable[[OntolabSettings, str], list[tuple[object, ...]]]
HP_SHA = hashlib.sha256(hpo_obo_path().read_bytes()).hexdigest()
KISAO_SHA = hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()


def test_reset_at_60_percent_resumes_with_range(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs
) -> None:
    settings = mirror_settings()
    # the whole-file download, not the plan's 64 KiB probe read
    mirror.inject("*/releases/*", Fault.reset(at_fraction=0.6), times=1, ranged=False)
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    size = hpo_obo_path().stat().st_size
    assert row.outcome == "fetched" and row.sha256 == HP_SHA
    gets = [r for r in mirror.requests if "/releases/" in r.path and r.method == "GET"]
    resumed = [r for r in gets if r.range and not r.range.startswith("bytes=0-")]
    assert resumed and resumed[-1].status == 206
    assert row.bytes_transferred <= 1.1 * size
    assert stored_blobs(settings)[0].read_bytes() == hpo_obo_path().read_bytes()


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_then_succeeds(
    mirror: Mirror, mirror_settings: Settings, status: int
) -> None:
    settings = mirror_settings()
    mirror.inject("*/releases/*", Fault.status(status, retry_after=2), times=1)
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "fetched"
    log = [r for r in mirror.requests if "/releases/" in r.path]
    throttled = next(r for r in log if r.status == status)
    retry = next(r for r in log if r.started > throttled.started and r.method == throttled.method)
    assert retry.started - throttled.started >= 2.0
    assert retry.status in (200, 206)


def test_exhausted_retries_fail_with_a_code_and_store_nothing(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs, catalog_rows: Rows
) -> None:
    settings = mirror_settings(retries=2)
    mirror.inject("*/releases/*", Fault.status(503), times=None)
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    assert (row.outcome, row.error_code) == ("failed", "E_HTTP_503")
    assert "gave up after 3 attempts" in (row.message or "")
    assert not receipt.ok
    assert stored_blobs(settings) == []
    assert catalog_rows(settings, "SELECT count(*) FROM artifacts") == [(0,)]
    assert catalog_rows(settings, "SELECT error_code FROM events WHERE event LIKE '%.failed'") == [
        ("E_HTTP_503",)
    ]


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("http://169.254.169.254/latest/meta-data/", "E_POLICY_METADATA_ADDRESS"),
        ("http://10.0.0.1/x.owl", "E_POLICY_PRIVATE_ADDRESS"),
    ],
)
def test_redirect_to_private_addresses_is_refused(
    mirror: Mirror, mirror_settings: Settings, target: str, code: str, stored_blobs: Blobs
) -> None:
    settings = mirror_settings(
        ontologies=[{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"}]
    )
    mirror.inject("/files/kisao.owl", Fault.redirect_to(target), times=None)
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].outcome, receipt.rows[0].error_code) == ("failed", code)
    assert stored_blobs(settings) == []


def test_loopback_is_refused_unless_allow_listed(mirror: Mirror, mirror_settings: Settings) -> None:
    settings = mirror_settings(allowed_hosts=["*"])  # every *public* host
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].error_code == "E_POLICY_PRIVATE_ADDRESS"
    assert mirror.requests == []  # refused before any connection was made


def test_truncated_body_is_never_stored(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs
) -> None:
    settings = mirror_settings(retries=0)
    mirror.inject("*/releases/*", Fault.truncate(at_fraction=0.5), times=None)
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].error_code == "E_NET_TRUNCATED"
    assert stored_blobs(settings) == []


def test_wrong_bytes_with_a_pin_are_rejected(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs
) -> None:
    url = f"{mirror.base_url}/files/kisao.owl"
    settings = mirror_settings(
        ontologies=[{"id": "kisao", "resolver": "url", "url": url, "sha256": KISAO_SHA}]
    )
    mirror.inject("/files/kisao.owl", Fault.wrong_bytes(), times=None)
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].error_code, receipt.rows[0].reason) == (
        "E_FETCH_PIN_MISMATCH",
        "hash_mismatch",
    )
    assert stored_blobs(settings) == []
    mirror.clear_faults()
    assert pipeline.pull(settings=settings).rows[0].sha256 == KISAO_SHA


def test_redirect_loop_ends_with_its_code(mirror: Mirror, mirror_settings: Settings) -> None:
    settings = mirror_settings(
        ontologies=[{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"}]
    )
    mirror.inject("/files/kisao.owl", Fault.redirect_loop(), times=None)
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].error_code == "E_NET_TOO_MANY_REDIRECTS"
    assert len(mirror.requests) <= 2 * (settings.http.max_redirects + 1)


def test_a_stalled_body_times_out_and_is_retried(mirror: Mirror, mirror_settings: Settings) -> None:
    settings = mirror_settings(timeout_s=0.3, retries=1)
    # one byte a second: every read waits longer than the 0.3 s timeout
    mirror.inject("*/releases/*", Fault.trickle(bytes_per_s=1, total_s=3), times=1, ranged=False)
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "fetched"
    assert receipt.rows[0].sha256 == HP_SHA


def test_a_stall_that_outlasts_the_retries_fails_with_a_timeout_code(
    mirror: Mirror, mirror_settings: Settings, stored_blobs: Blobs
) -> None:
    settings = mirror_settings(timeout_s=0.3, retries=1)
    # every body stalls, resumed ones too (a resume would otherwise finish the file)
    mirror.inject("*/releases/*", Fault.trickle(bytes_per_s=1, total_s=3), times=None)
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].outcome, receipt.rows[0].error_code) == ("failed", "E_NET_TIMEOUT")
    assert stored_blobs(settings) == []


@pytest.fixture
def project(tmp_path: Path, mirror: Mirror) -> Path:
    config = {
        "data_dir": "data",
        "http": {"allowed_hosts": [mirror.host_port]},
        "resolvers": {"obo": {"base_url": f"{mirror.base_url}/obo"}},
        "ontologies": [{"id": "hp", "resolver": "obo", "format": "obo"}],
    }
    (tmp_path / "ontolab.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _pull(project: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "ontolab", "pull", "--json"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_download_then_the_next_pull_resumes(mirror: Mirror, project: Path) -> None:
    size = hpo_obo_path().stat().st_size
    mirror.inject(
        "*/releases/*", Fault.trickle(bytes_per_s=size // 4, total_s=20), times=1, ranged=False
    )
    victim = _pull(project)
    staging = project / "data" / "staging" / "fetch"
    deadline = time.monotonic() + 20
    part = None
    while time.monotonic() < deadline:
        part = next(staging.glob("*.part"), None) if staging.exists() else None
        if part is not None and part.stat().st_size > size // 3:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert part is not None and part.exists()
    kept = part.stat().st_size
    assert 0 < kept < size
    assert not (project / "data" / "store").exists() or not any(
        p.is_file() for p in (project / "data" / "store").rglob("*")
    )

    mirror.clear_log()
    again = _pull(project)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    resumed = [
        r
        for r in mirror.requests
        if r.method == "GET" and r.status == 206 and r.range == f"bytes={kept}-"
    ]
    assert resumed, [(r.method, r.status, r.range) for r in mirror.requests]
    blobs = [p for p in (project / "data" / "store").rglob("*") if p.is_file()]
    assert [p.name for p in blobs] == [HP_SHA]
    assert not any(staging.glob("*.part"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: the disk fills up while a 10 MB ontology downloads."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_fails_cleanly_and_frees_the_partial_file(
    mirror: Mirror, mirror_settings: Settings, small_disk: Path, tmp_path: Path, stored_blobs: Blobs
) -> None:
    settings = mirror_settings().model_copy(
        update={"data_dir": small_disk, "catalog": f"duckdb:///{tmp_path / 'catalog.duckdb'}"}
    )
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    assert (row.outcome, row.error_code, row.reason) == ("failed", "E_STORAGE_DISK_FULL", "storage")
    assert stored_blobs(settings) == []
    assert not any((small_disk / "staging").rglob("*.part"))
