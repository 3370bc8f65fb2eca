"""Prune on a real data dir and catalog: old versions go with exactly the storage only they
used; the live version, pinned ones and shared bytes stay; a dry run changes nothing."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ontolab import pipeline
from ontolab.catalog import PruneReport, doctor, open_catalog, prune, rollback
from ontolab.errors import CatalogError
from ontolab.settings import OntolabSettings, OntologyConfig
from ontolab.testing import Mirror, write_synthetic_obo

pytestmark = pytest.mark.integration


class Shelf:
    """Versions of a synthetic ontology ``syn`` pulled into one data dir and catalog."""

    def __init__(self, tmp_path: Path, mirror: Mirror, settings: OntolabSettings) -> None:
        self.tmp, self.mirror, self.settings = tmp_path, mirror, settings
        self.catalog = open_catalog(settings.catalog_url)
        self.data = settings.data_dir
        self.sha: dict[str, str] = {}

    def release(self, version: str, *, url: str | None = None, ontology: str = "syn") -> str:
        if url is None:
            obo = write_synthetic_obo(self.tmp / f"{version}.obo", n_terms=300, version=version)
            url = self.mirror.add_file(f"syn/{version}/syn.obo.gz", gzip.compress(obo.read_bytes()))
        entry = OntologyConfig(id=ontology, resolver="url", url=url, version=version)
        self.settings = self.settings.model_copy(update={"ontologies": [entry]})
        row = pipeline.pull(settings=self.settings).rows[0]
        assert row.version == version and row.sha256, row
        self.sha[version] = row.sha256
        return url

    def prune(self, **options: Any) -> PruneReport:
        return prune(self.catalog, self.data, **options)

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.catalog.transaction() as con:
            cursor = con.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []

    def versions(self, ontology: str = "syn") -> list[str]:
        rows = self.sql("SELECT version FROM versions WHERE ontology = ? ORDER BY 1", [ontology])
        return [str(v) for (v,) in rows]

    def stored(self, version: str) -> dict[str, bool]:
        sha = self.sha[version]
        return {
            "blob": (self.data / "store" / "sha256" / sha[:2] / sha[2:4] / sha).is_file(),
            "extracted": (self.data / "extracted" / "syn" / sha).is_dir(),
            "terms": (self.data / "terms" / "syn" / sha).is_dir(),
        }

    def files(self) -> dict[str, int]:
        return {
            str(p.relative_to(self.data)): p.stat().st_size
            for p in sorted(self.data.rglob("*"))
            if p.is_file() and "catalog.duckdb" not in p.name
        }

    def clean(self) -> None:
        report = doctor(self.catalog, self.data, settings=self.settings, min_free_bytes=0)
        assert report.ok and report.findings == [], [f.to_dict() for f in report.findings]


ALL = {"blob": True, "extracted": True, "terms": True}
NONE = {"blob": False, "extracted": False, "terms": False}


@pytest.fixture
def make_shelf(
    tmp_path: Path, mirror: Mirror, mirror_settings: Callable[..., OntolabSettings]
) -> Iterator[Callable[..., Shelf]]:
    shelves: list[Shelf] = []

    def make(**overrides: Any) -> Shelf:
        settings = mirror_settings().model_copy(update=overrides)
        shelves.append(Shelf(tmp_path, mirror, settings))
        return shelves[-1]

    yield make
    for shelf in shelves:
        shelf.catalog.close()


@pytest.fixture
def shelf(make_shelf: Callable[..., Shelf]) -> Shelf:
    made = make_shelf()
    for version in ("v1", "v2", "v3", "v4"):
        made.release(version)
    return made


def test_keep_n_removes_the_oldest_with_their_storage_and_counts_the_bytes(shelf: Shelf) -> None:
    before = shelf.files()
    report = shelf.prune(keep=2)
    assert [(v.ontology, v.version) for v in report.versions] == [("syn", "v1"), ("syn", "v2")]
    assert shelf.versions() == ["v3", "v4"]
    assert (shelf.stored("v1"), shelf.stored("v2")) == (NONE, NONE)
    assert (shelf.stored("v3"), shelf.stored("v4")) == (ALL, ALL)
    gone = {path: size for path, size in before.items() if path not in shelf.files()}
    assert report.bytes_freed == sum(gone.values()) > 0
    kinds = sorted(r.kind for r in report.removed)
    assert kinds == ["blob", "blob", "extracted", "extracted", "terms", "terms"]
    assert not any(r.orphan for r in report.removed)
    assert shelf.sql("SELECT count(*) FROM files WHERE version IN ('v1', 'v2')") == [(0,)]
    assert shelf.sql("SELECT count(*) FROM artifacts") == [(2,)]
    assert shelf.sql("SELECT count(*) FROM latest_history WHERE version = 'v1'") == [(1,)]
    shelf.clean()
    assert shelf.prune(keep=2).versions == []  # nothing more to do


def test_the_live_version_is_never_pruned(shelf: Shelf) -> None:
    rollback(shelf.catalog, "syn")
    rollback(shelf.catalog, "syn")
    rollback(shelf.catalog, "syn")
    assert shelf.sql("SELECT version FROM latest") == [("v1",)]
    report = shelf.prune(keep=1)
    assert sorted(v.version for v in report.versions) == ["v2", "v3"]
    assert shelf.versions() == ["v1", "v4"] and shelf.stored("v1") == ALL
    assert [v.version for v in shelf.prune(keep=0).versions] == ["v4"]
    assert shelf.versions() == ["v1"]
    assert shelf.sql("SELECT version FROM latest") == [("v1",)] and shelf.stored("v1") == ALL
    shelf.clean()


def test_pinned_versions_stay(shelf: Shelf) -> None:
    shelf.sql("UPDATE versions SET pinned = true WHERE version = 'v2'")
    report = shelf.prune(keep=1, pinned_sha256={shelf.sha["v1"]})  # as ontolab.lock pins it
    assert [v.version for v in report.versions] == ["v3"]
    assert shelf.versions() == ["v1", "v2", "v4"]
    assert shelf.stored("v1") == ALL and shelf.stored("v2") == ALL
    shelf.clean()


def test_older_than_spares_recent_versions(shelf: Shelf) -> None:
    # DuckDB rewrites an indexed column (created_at) as a delete and an insert, which rows
    # referencing the version forbid: backdate the versions without their gate results.
    shelf.sql("DELETE FROM gate_results WHERE version IN ('v1', 'v2')")
    shelf.sql(
        "UPDATE versions SET created_at = created_at - INTERVAL 40 DAY "
        "WHERE version IN ('v1', 'v2')"
    )
    report = shelf.prune(keep=0, older_than_days=30)
    assert [v.version for v in report.versions] == ["v1", "v2"]
    assert shelf.versions() == ["v3", "v4"]
    assert shelf.prune(keep=0, older_than_days=30).versions == []
    shelf.clean()


def test_a_dry_run_changes_nothing_and_predicts_the_real_run(shelf: Shelf) -> None:
    orphan = shelf.data / "extracted" / "syn" / ("ab" * 32) / "old.obo"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a killed pull")
    files, rows = shelf.files(), shelf.sql("SELECT ontology, version, status FROM versions")
    dry = shelf.prune(keep=2, dry_run=True)
    assert shelf.files() == files
    assert shelf.sql("SELECT ontology, version, status FROM versions") == rows
    assert [v.version for v in dry.versions] == ["v1", "v2"]
    assert [r.path for r in dry.removed if r.orphan] == [str(orphan.parent)]
    real = shelf.prune(keep=2)
    assert real.to_dict() == {**dry.to_dict(), "dry_run": False}
    assert not orphan.exists()
    shelf.clean()


def test_bytes_another_version_still_uses_are_kept(make_shelf: Callable[..., Shelf]) -> None:
    shelf = make_shelf()
    url = shelf.release("old-label")
    shelf.release("new-label", url=url)  # the same bytes, relabelled in the config
    shelf.sha["new-label"] = shelf.sha["old-label"]
    report = shelf.prune(keep=1)
    assert [v.version for v in report.versions] == ["old-label"]
    assert report.removed == [] and report.bytes_freed == 0
    assert shelf.stored("new-label") == ALL
    assert shelf.sql("SELECT count(*) FROM artifacts") == [(1,)]
    shelf.clean()


def test_prune_without_a_catalog_refuses(make_shelf: Callable[..., Shelf], tmp_path: Path) -> None:
    shelf = make_shelf(catalog=f"duckdb:///{tmp_path / 'none.duckdb'}")
    with pytest.raises(CatalogError) as caught:
        shelf.prune(keep=0)
    assert caught.value.code == "E_CATALOG_MISSING"


def test_cli_dry_run_and_json(shelf: Shelf) -> None:
    config = shelf.tmp / "ontolab.yaml"
    config.write_text(json.dumps({"data_dir": str(shelf.data)}))
    (shelf.tmp / "ontolab.lock").write_text(
        json.dumps(
            {
                "lock_format": 1,
                "ontologies": {"syn": {"url": "http://x/syn.obo.gz", "sha256": shelf.sha["v1"]}},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONTOLAB_")}

    def run(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "ontolab", "prune", "--config", str(config), "--json", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    dry = run("--keep", "1", "--dry-run")
    assert [v["version"] for v in dry["versions"]] == ["v2", "v3"]  # v1 pinned by the lock
    assert dry["dry_run"] is True and dry["bytes_freed"] > 0
    assert shelf.versions() == ["v1", "v2", "v3", "v4"]
    done = run("--keep", "1")
    assert done["bytes_freed"] == dry["bytes_freed"]
    assert shelf.versions() == ["v1", "v4"]


def test_prune_on_postgresql(make_shelf: Callable[..., Shelf], postgres_db: str) -> None:
    shelf = make_shelf(catalog=postgres_db)
    for version in ("v1", "v2", "v3"):
        shelf.release(version)
    report = shelf.prune(keep=1)
    assert [v.version for v in report.versions] == ["v1", "v2"]
    assert shelf.versions() == ["v3"] and shelf.stored("v1") == NONE
    assert shelf.stored("v3") == ALL
    shelf.clean()
