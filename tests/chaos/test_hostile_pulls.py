"""Hostile archives and hostile XML arriving through ``pull``: each fails the new version with
its own code, nothing is written outside staging, and the previous good version is intact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ontolab import pipeline
from ontolab.models import RunReceipt
from ontolab.settings import OntolabSettings
from ontolab.testing import Mirror, kisao_owl_path
from ontolab.testing.hostile import HOSTILE_CASES, HostileCase

pytestmark = pytest.mark.chaos
Settings = Callable[..., OntolabSettings]
Rows = Callable[[OntolabSettings, str], list[tuple[object, ...]]]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <rdf:Description rdf:about="http://example.org/x"><rdfs:label>&lol3;</rdfs:label></rdf:Description>
</rdf:RDF>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY xxe SYSTEM "file:///etc/hostname"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <rdf:Description rdf:about="http://example.org/x"><rdfs:label>&xxe;</rdfs:label></rdf:Description>
</rdf:RDF>
"""


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _hostile_pull(
    mirror: Mirror, mirror_settings: Settings, content: Path | bytes
) -> tuple[OntolabSettings, RunReceipt, set[Path]]:
    settings = mirror_settings(
        [{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao-bundle"}]
    )
    mirror.add_file("kisao-bundle", kisao_owl_path())
    first = pipeline.pull(settings=settings)
    assert first.rows[0].outcome == "fetched"
    before = _tree(settings.data_dir.parent)
    mirror.add_file("kisao-bundle", content)  # upstream now serves something hostile
    receipt = pipeline.pull(settings=settings)
    return settings, receipt, before


def _assert_contained(settings: OntolabSettings, before: set[Path], rows: Rows) -> None:
    data = settings.data_dir
    # reports/: the catalog suite's page of this run (docs/gates.md).
    allowed_roots = [data / "store", data / "staging", data / "locks", data / "extracted"]
    allowed_roots.append(data / "reports")
    new = _tree(settings.data_dir.parent) - before
    outside = {
        p
        for p in new
        if not any(p == r or r in p.parents for r in allowed_roots)
        and not p.name.startswith("catalog.duckdb")
    }
    assert outside == set()
    assert (
        not any((data / "staging" / "extract").glob("*"))
        if (data / "staging" / "extract").exists()
        else True
    )
    statuses = dict(rows(settings, "SELECT status, count(*) FROM versions GROUP BY status"))
    assert statuses.get("good") == 1  # the previous version is still the one good version
    (good,) = rows(settings, "SELECT path FROM terms")
    assert Path(str(good[0])).is_file()


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=lambda c: c.name)
def test_hostile_archive_fails_only_the_new_version(
    mirror: Mirror,
    mirror_settings: Settings,
    catalog_rows: Rows,
    tmp_path: Path,
    case: HostileCase,
) -> None:
    (tmp_path / "hostile").mkdir()
    archive = case.write(tmp_path / "hostile")
    settings, receipt, before = _hostile_pull(mirror, mirror_settings, archive)
    row = receipt.rows[0]
    assert (row.outcome, row.error_code) == ("failed", case.code), row
    _assert_contained(settings, before, catalog_rows)


@pytest.mark.parametrize(
    ("content", "code"),
    [(BILLION_LAUGHS, "E_XML_ENTITY_EXPANSION"), (XXE, "E_XML_EXTERNAL_ENTITY")],
    ids=["billion-laughs", "xxe"],
)
def test_hostile_xml_fails_only_the_new_version(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows, content: bytes, code: str
) -> None:
    settings, receipt, before = _hostile_pull(mirror, mirror_settings, content)
    row = receipt.rows[0]
    assert (row.outcome, row.error_code, row.reason) == ("failed", code, "unsafe_xml")
    _assert_contained(settings, before, catalog_rows)
