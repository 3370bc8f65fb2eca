"""Doctor against real damage: every finding is made for real in a pulled data dir and catalog.

Each test pulls a small synthetic ontology from the local mirror, breaks something the way a
crash, a disk problem or a person would, and checks what doctor reports, what ``fix``
repairs, and that the next doctor is clean.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ontolab import pipeline
from ontolab.catalog import (
    FINDINGS,
    MIGRATIONS,
    SCHEMA_VERSION,
    DoctorReport,
    doctor,
    open_catalog,
    rollback,
)
from ontolab.catalog._storage import dir_name, lock_name
from ontolab.fetch import LockTimeout, ontology_lock
from ontolab.settings import OntolabSettings, OntologyConfig
from ontolab.testing import Mirror, write_synthetic_obo

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class Lab:
    """A data dir and catalog with a synthetic ontology ``syn`` pulled from the mirror."""

    def __init__(self, tmp_path: Path, mirror: Mirror, settings: OntolabSettings) -> None:
        self.tmp, self.mirror, self.settings = tmp_path, mirror, settings
        self.catalog = open_catalog(settings.catalog_url)
        self.data = settings.data_dir

    def release(self, version: str, *, gz: bool = True, n_terms: int = 300) -> str:
        """Publish ``version`` of syn (gzipped: extracted on pull) and pull it; return its
        sha256. Each release has its own URL, as real ones do."""
        obo = write_synthetic_obo(self.tmp / f"syn-{version}.obo", n_terms=n_terms, version=version)
        name = "syn.obo.gz" if gz else "syn.obo"
        body = gzip.compress(obo.read_bytes()) if gz else obo.read_bytes()
        url = self.mirror.add_file(f"syn/{version}/{name}", body)
        entry = {"id": "syn", "resolver": "url", "url": url, "version": version}
        self.settings = self.settings.model_copy(update={"ontologies": [OntologyConfig(**entry)]})
        row = pipeline.pull(settings=self.settings).rows[0]
        assert (row.outcome, row.version) == ("fetched", version), row
        assert row.sha256 is not None
        return row.sha256

    def doctor(self, **options: Any) -> DoctorReport:
        options.setdefault("min_free_bytes", 0)
        return doctor(self.catalog, self.data, settings=self.settings, **options)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.catalog.transaction() as con:
            cursor = con.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []

    def live(self) -> str | None:
        found = self.sql("SELECT version FROM latest WHERE ontology = 'syn'")
        return str(found[0][0]) if found else None

    def status(self, version: str) -> str:
        return str(self.sql("SELECT status FROM versions WHERE version = ?", [version])[0][0])

    def blob(self, sha: str) -> Path:
        return self.data / "store" / "sha256" / sha[:2] / sha[2:4] / sha

    def extracted(self, sha: str) -> Path:
        return self.data / "extracted" / "syn" / sha / "syn.obo"

    def terms(self, sha: str) -> Path:
        (table,) = (self.data / "terms" / "syn" / sha).glob("*.parquet")
        return table


def codes(report: DoctorReport) -> list[str]:
    return sorted(f.code for f in report.findings)


def clean(lab: Lab) -> None:
    again = lab.doctor()
    assert again.ok, [f.to_dict() for f in again.findings]
    assert [f for f in again.findings if f.severity != "info"] == []


@pytest.fixture
def make_lab(
    tmp_path: Path, mirror: Mirror, mirror_settings: Callable[..., OntolabSettings]
) -> Iterator[Callable[..., Lab]]:
    labs: list[Lab] = []

    def make(**overrides: Any) -> Lab:
        settings = mirror_settings(ontologies=[{"id": "syn", "resolver": "obo", "format": "obo"}])
        lab = Lab(tmp_path, mirror, settings.model_copy(update=overrides))
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.catalog.close()


@pytest.fixture
def lab(make_lab: Callable[..., Lab]) -> Lab:
    made = make_lab()
    made.release("2024-01-01")
    return made


def test_a_fresh_pull_is_clean(lab: Lab) -> None:
    report = lab.doctor(deep=True)
    assert report.ok and report.findings == []
    assert "clean" in repr(report) and "<table>" in report._repr_html_()


def test_storage_layout_is_the_one_the_writers_use(lab: Lab) -> None:
    from ontolab.pipeline._checks import _safe

    for odd in ("syn", "Odd:Id", "import:foo.owl", "a b/c"):
        assert dir_name(odd) == _safe(odd)
        with ontology_lock(lab.data / "locks", odd, timeout_s=1):
            assert (lab.data / "locks" / lock_name(odd)).is_file()
    sha = lab.sql("SELECT sha256 FROM artifacts")[0][0]
    assert lab.extracted(sha).is_file() and lab.terms(sha).is_file() and lab.blob(sha).is_file()


def test_a_missing_blob_drops_its_artifact_rows_and_the_next_pull_fetches_it(lab: Lab) -> None:
    sha = lab.sql("SELECT sha256 FROM artifacts")[0][0]
    lab.blob(sha).unlink()
    report = lab.doctor()
    assert codes(report) == ["D_BLOB_MISSING"] and not report.ok
    fixed = lab.doctor(fix=True)
    assert fixed.ok and all(f.fixed for f in fixed.findings)
    assert lab.sql("SELECT count(*) FROM artifacts") == [(0,)]
    assert (lab.live(), lab.status("2024-01-01")) == ("2024-01-01", "good")  # files intact
    clean(lab)
    pipeline.pull(settings=lab.settings)
    assert hashlib.sha256(lab.blob(sha).read_bytes()).hexdigest() == sha
    clean(lab)


def test_a_missing_plain_file_blob_also_fails_its_version(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    sha = lab.release("2024-01-01", gz=False)  # not an archive: the blob is the file
    lab.blob(sha).unlink()
    assert codes(lab.doctor()) == ["D_BLOB_MISSING", "D_FILE_MISSING"]
    assert lab.doctor(fix=True).ok
    assert (lab.live(), lab.status("2024-01-01")) == (None, "failed")
    clean(lab)
    assert pipeline.pull(settings=lab.settings).rows[0].live == "2024-01-01"
    clean(lab)


def test_hash_drift_needs_deep_but_a_size_change_does_not(lab: Lab) -> None:
    sha = lab.sql("SELECT sha256 FROM artifacts")[0][0]
    blob = lab.blob(sha)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes
    blob.write_bytes(bytes(data))
    assert lab.doctor().findings == []
    deep = lab.doctor(deep=True)
    assert codes(deep) == ["D_HASH_DRIFT"] and "sha256" in deep.findings[0].message
    blob.write_bytes(bytes(data[:-10]))  # truncated: found without hashing
    report = lab.doctor(fix=True)
    assert codes(report) == ["D_HASH_DRIFT"] and report.ok
    assert "bytes instead of" in report.findings[0].message
    assert not blob.exists() and lab.sql("SELECT count(*) FROM artifacts") == [(0,)]
    clean(lab)


def test_orphans_are_reported_and_fix_deletes_only_them(lab: Lab) -> None:
    sha = lab.sql("SELECT sha256 FROM artifacts")[0][0]
    ghost = "ab" * 32
    orphan_blob = lab.blob(ghost)
    orphan_blob.parent.mkdir(parents=True)
    orphan_blob.write_bytes(b"x" * 1000)
    orphan_tree = lab.data / "extracted" / "syn" / ghost / "syn.obo"
    orphan_tree.parent.mkdir(parents=True)
    orphan_tree.write_bytes(b"y" * 500)
    stray_table = lab.terms(sha).with_name("old.parquet")
    stray_table.write_bytes(b"z" * 200)
    report = lab.doctor()
    assert codes(report) == ["D_ORPHAN_BLOB", "D_ORPHAN_EXTRACTED", "D_ORPHAN_TERMS"]
    assert {f.size for f in report.findings} == {1000, 500, 200}
    fixed = lab.doctor(fix=True)
    assert fixed.ok and fixed.bytes_freed == 1700
    assert not orphan_blob.exists() and not orphan_tree.parent.exists()
    assert not stray_table.exists()
    assert lab.blob(sha).is_file() and lab.extracted(sha).is_file() and lab.terms(sha).is_file()
    clean(lab)


def test_a_lost_extracted_file_of_the_live_version_fails_and_demotes_it(lab: Lab) -> None:
    second = lab.release("2024-02-01")
    assert lab.live() == "2024-02-01"
    lab.extracted(second).unlink()
    report = lab.doctor()
    assert codes(report) == ["D_FILE_MISSING"] and "demotes it" in report.findings[0].message
    fixed = lab.doctor(fix=True)
    assert fixed.ok
    assert (lab.live(), lab.status("2024-02-01")) == ("2024-01-01", "failed")
    history = lab.sql(
        "SELECT action, version, previous_version FROM latest_history ORDER BY moved_at DESC"
    )
    assert history[0] == ("demote", "2024-01-01", "2024-02-01")
    # the failed version keeps no extracted files or terms tables (like a failed pull)
    assert not (lab.data / "terms" / "syn" / second).exists()
    assert lab.sql("SELECT count(*) FROM files WHERE version = '2024-02-01'") == [(0,)]
    clean(lab)
    pipeline.validate("syn", version="2024-02-01", settings=lab.settings)  # brings it back
    assert lab.status("2024-02-01") == "good"
    clean(lab)


def test_a_lost_terms_table_fails_its_version(lab: Lab) -> None:
    first = lab.sql("SELECT sha256 FROM versions WHERE version = '2024-01-01'")[0][0]
    lab.release("2024-02-01")
    lab.terms(first).unlink()
    report = lab.doctor(fix=True)
    assert codes(report) == ["D_ORPHAN_EXTRACTED", "D_ORPHAN_TERMS", "D_TERMS_MISSING"]
    assert report.ok and lab.status("2024-01-01") == "failed" and lab.live() == "2024-02-01"
    assert not lab.extracted(first).exists()  # its files went with its rows
    clean(lab)


def test_torn_scratch_and_partial_downloads_are_removed(lab: Lab) -> None:
    sha = lab.sql("SELECT sha256 FROM artifacts")[0][0]
    torn = lab.data / "staging" / "extract" / "syn" / "extract-abc123" / "syn.obo"
    torn.parent.mkdir(parents=True)
    torn.write_text("format-version: 1.2\n")
    terms_scratch = lab.terms(sha).parent / ".ontolab-terms-x1" / "parts.parquet"
    terms_scratch.parent.mkdir()
    terms_scratch.write_bytes(b"p")
    part = lab.data / "staging" / "fetch" / "syn-0123456789abcdef.part"
    part.write_bytes(b"q" * 64)
    part.with_suffix(".part.json").write_text("{}")
    report = lab.doctor()
    assert codes(report) == [
        "D_PARTIAL_DOWNLOAD",
        "D_PARTIAL_DOWNLOAD",
        "D_TORN_STAGING",
        "D_TORN_STAGING",
    ]
    assert all(f.ontology == "syn" for f in report.findings)
    assert lab.doctor(fix=True).ok
    assert not torn.parent.exists() and not terms_scratch.parent.exists()
    assert list((lab.data / "staging" / "fetch").iterdir()) == []  # the area itself stays
    clean(lab)


def test_a_staged_version_is_dropped_so_the_next_pull_validates_it(
    make_lab: Callable[..., Lab],
) -> None:
    lab = make_lab()
    obo = write_synthetic_obo(lab.tmp / "syn.obo", n_terms=200, version="2024-05-01")
    url = lab.mirror.add_file("syn.obo", obo)
    entry = OntologyConfig(id="syn", resolver="url", url=url, version="2024-05-01")
    lab.settings = lab.settings.model_copy(update={"ontologies": [entry]})
    pipeline.lock_plan(settings=lab.settings, path=lab.tmp / "ontolab.lock")  # fetch, no checks
    assert lab.status("2024-05-01") == "staged"
    report = lab.doctor()
    assert codes(report) == ["D_VERSION_STAGED"]
    assert lab.doctor(fix=True).ok
    assert lab.sql("SELECT count(*) FROM versions") == [(0,)]
    assert lab.sql("SELECT count(*) FROM artifacts") == [(1,)]  # the download stays
    clean(lab)
    row = pipeline.pull(settings=lab.settings, lock=lab.tmp / "ontolab.lock").rows[0]
    assert row.live == "2024-05-01" and lab.status("2024-05-01") == "good"
    clean(lab)


def test_a_live_version_that_is_not_good_is_demoted(lab: Lab) -> None:
    lab.release("2024-02-01")
    lab.sql("UPDATE versions SET status = 'rejected' WHERE version = '2024-02-01'")
    report = lab.doctor()
    assert codes(report) == ["D_LATEST_NOT_GOOD"] and report.findings[0].severity == "error"
    assert lab.doctor(fix=True).ok
    assert lab.live() == "2024-01-01"
    clean(lab)


def test_history_that_disagrees_with_the_pointer_is_completed(lab: Lab) -> None:
    lab.release("2024-02-01")
    rollback(lab.catalog, "syn")
    lab.sql("DELETE FROM latest_history WHERE action = 'rollback'")
    report = lab.doctor()
    assert codes(report) == ["D_HISTORY_MISMATCH"]
    assert "ends at 2024-02-01" in report.findings[0].message
    assert lab.doctor(fix=True).ok
    assert lab.live() == "2024-01-01"
    clean(lab)


def test_rows_of_an_unrecorded_version_are_deleted(lab: Lab) -> None:
    lab.sql(
        "INSERT INTO validations (validation_id, ontology, version, validator, passed, skipped, "
        "validated_at) VALUES ('v1', 'syn', 'gone', 'stream', true, false, now())"
    )
    assert codes(lab.doctor()) == ["D_DANGLING_ROWS"]
    assert lab.doctor(fix=True).ok
    assert lab.sql("SELECT count(*) FROM validations WHERE version = 'gone'") == [(0,)]


def test_a_running_pull_is_left_alone(lab: Lab) -> None:
    part = lab.data / "staging" / "fetch" / "syn-0123456789abcdef.part"
    part.write_bytes(b"half a download")
    ghost = lab.blob("cd" * 32)
    ghost.parent.mkdir(parents=True)
    ghost.write_bytes(b"a blob nobody recorded yet")
    other = lab.data / "staging" / "fetch" / "kisao-0123456789abcdef.part"
    other.write_bytes(b"another ontology's partial")
    with ontology_lock(lab.data / "locks", "syn", timeout_s=1):
        report = lab.doctor(fix=True)
        assert "D_PULL_IN_PROGRESS" in codes(report) and "D_ORPHAN_BLOB" not in codes(report)
        assert [f.path for f in report.findings if f.code == "D_PARTIAL_DOWNLOAD"] == [str(other)]
        assert part.exists() and ghost.exists() and not other.exists()
    report = lab.doctor(fix=True)
    assert codes(report) == ["D_ORPHAN_BLOB", "D_PARTIAL_DOWNLOAD"] and report.ok
    assert not part.exists() and not ghost.exists()


def test_validate_waits_for_the_pull_that_holds_the_lock(lab: Lab) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from ontolab.fetch import ontology_lock\n"
            "with ontology_lock(Path(sys.argv[1]), 'syn', timeout_s=5):\n"
            "    print('held', flush=True); time.sleep(30)",
            str(lab.data / "locks"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        quick = lab.settings.model_copy(
            update={"http": lab.settings.http.model_copy(update={"lock_timeout_s": 0.3})}
        )
        with pytest.raises(LockTimeout):
            pipeline.validate("syn", settings=quick)
    finally:
        holder.kill()
        holder.communicate()


def test_stale_locks_are_info_and_fix_removes_them(lab: Lab) -> None:
    stale = lab.data / "locks" / "retired.lock"
    stale.write_text("")
    report = lab.doctor()
    assert codes(report) == ["D_STALE_LOCK"] and report.ok  # info only: clean
    assert lab.doctor(fix=True).findings[0].fixed
    assert not stale.exists() and (lab.data / "locks" / "syn.lock").exists()


def test_an_older_schema_is_reported_and_migrated_only_by_fix(
    make_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = make_lab(catalog=f"duckdb:///{tmp_path / 'old.duckdb'}")
    lab.data.mkdir()
    with lab.catalog._transaction() as con:
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
            "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        for migration in MIGRATIONS[:2]:
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, now())",
                [migration.version, migration.description],
            )
    report = lab.doctor()
    assert codes(report) == ["D_SCHEMA_BEHIND"]
    with lab.catalog._read() as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
    assert lab.doctor(fix=True).ok
    with lab.catalog._read() as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (
            SCHEMA_VERSION,
        )


def test_without_its_catalog_nothing_is_deleted(lab: Lab, tmp_path: Path) -> None:
    elsewhere = open_catalog(f"duckdb:///{tmp_path / 'nowhere' / 'catalog.duckdb'}")
    report = doctor(elsewhere, lab.data, fix=True, min_free_bytes=0)
    assert codes(report) == ["D_CATALOG_MISSING"] and not report.ok
    assert report.findings[0].severity == "warning"
    assert any((lab.data / "store").rglob("*")) and not (tmp_path / "nowhere").exists()


def test_settings_hosts_and_disk_are_checked(lab: Lab) -> None:
    base = lab.settings
    resolvers = base.resolvers.model_copy(
        update={
            "ols": base.resolvers.ols.model_copy(update={"base_url": "ftp://ols.example"}),
            "bioportal": base.resolvers.bioportal.model_copy(update={"api_key": None}),
        }
    )
    settings = base.model_copy(
        update={
            "http": base.http.model_copy(
                update={"allowed_hosts": ["*", "http://example.org", "example.org:http"]}
            ),
            "resolvers": resolvers,
            "ontologies": [
                *base.ontologies,
                OntologyConfig(id="go", resolver="ols"),
                OntologyConfig(id="ncit", resolver="bioportal"),
            ],
        }
    )
    report = doctor(lab.catalog, lab.data, settings=settings, min_free_bytes=10**18)
    assert codes(report) == [
        "D_BIOPORTAL_NO_KEY",
        "D_DISK_LOW",
        "D_HOSTS_INVALID",
        "D_HOSTS_INVALID",
        "D_HOSTS_WIDE",
        "D_HOST_NOT_ALLOWED",  # syn and bioportal are on the mirror: loopback needs an exact
        "D_HOST_NOT_ALLOWED",  # listing, "*" never reaches it
        "D_URL_INVALID",
    ]
    assert {f.subject for f in report.findings if f.code == "D_HOST_NOT_ALLOWED"} == {
        "ontologies[syn].url",
        "resolvers.bioportal.base_url",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_data_dir_is_an_error(lab: Lab) -> None:
    (lab.data / "store").chmod(0o555)
    try:
        assert "D_DATA_DIR_NOT_WRITABLE" in codes(lab.doctor())
    finally:
        (lab.data / "store").chmod(0o755)


def test_every_finding_code_is_documented() -> None:
    documented = (ROOT / "docs" / "doctor.md").read_text()
    assert [code for code in FINDINGS if f"`{code}`" not in documented] == []


def test_cli_exit_codes_and_json(lab: Lab) -> None:
    config = lab.tmp / "ontolab.yaml"
    config.write_text(
        json.dumps(
            {
                "data_dir": str(lab.data),
                "http": {"allowed_hosts": [lab.mirror.host_port]},
                "resolvers": {"obo": {"base_url": f"{lab.mirror.base_url}/obo"}},
                "ontologies": [{"id": "syn", "resolver": "obo", "format": "obo"}],
            }
        )
    )
    (lab.data / "staging" / "fetch" / "syn-0123456789abcdef.part").write_bytes(b"x")

    def run(*args: str) -> tuple[int, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}
        env["COLUMNS"] = "250"  # one table row per finding
        done = subprocess.run(
            [sys.executable, "-m", "ontolab", "doctor", "--config", str(config), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        return done.returncode, json.loads(done.stdout) if "--json" in args else done.stdout

    code, found = run("--json", "--min-free", "0")
    assert code == 1 and found["ok"] is False
    assert [f["code"] for f in found["findings"]] == ["D_PARTIAL_DOWNLOAD"]
    assert found["findings"][0]["fixable"] is True
    code, text = run("--fix", "--min-free", "0")
    assert code == 0 and "D_PARTIAL_DOWNLOAD" in text and "fixed 1" in text
    assert run("--json", "--min-free", "0") == (
        0,
        {**found, "ok": True, "findings": []},
    )


def test_doctor_on_postgresql(make_lab: Callable[..., Lab], postgres_db: str) -> None:
    lab = make_lab(catalog=postgres_db)
    first = lab.release("2024-01-01")
    second = lab.release("2024-02-01")
    lab.extracted(second).unlink()
    orphan = lab.blob("ef" * 32)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"orphan")
    report = lab.doctor()
    assert codes(report) == ["D_FILE_MISSING", "D_ORPHAN_BLOB"]
    assert lab.doctor(fix=True).ok
    assert (lab.live(), lab.status("2024-02-01")) == ("2024-01-01", "failed")
    assert not orphan.exists() and lab.extracted(first).is_file()
    clean(lab)
