"""Pull → extract → validate → catalog, end to end against the mirror with real ontologies."""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from ontolab import pipeline
from ontolab.settings import OntolabSettings
from ontolab.testing import Fault, Mirror, hpo_obo_path, kisao_owl_path

pytestmark = pytest.mark.integration
Settings = Callable[..., OntolabSettings]
Rows = Callable[[OntolabSettings, str], list[tuple[object, ...]]]


def hpo_terms() -> dict[str, dict[str, object]]:
    """An independent, minimal reading of the HPO OBO file: id → name, is_a, obsolete."""
    terms: dict[str, dict[str, object]] = {}
    for frame in hpo_obo_path().read_text(encoding="utf-8").split("\n[")[1:]:
        if not frame.startswith("Term]"):
            continue
        fields = dict.fromkeys(("id", "name"), "")
        parents: list[str] = []
        obsolete = False
        for line in frame.splitlines()[1:]:
            key, _, value = line.partition(": ")
            if key in ("id", "name"):
                fields[key] = value.strip()
            elif key == "is_a":
                parents.append(value.split(" ! ")[0].strip())
            elif key == "is_obsolete":
                obsolete = value.strip() == "true"
        terms[fields["id"]] = {"name": fields["name"], "parents": parents, "obsolete": obsolete}
    return terms


def terms_table(settings: OntolabSettings, rows: Rows, ontology: str) -> str:
    found = rows(settings, f"SELECT path FROM terms WHERE ontology = '{ontology}'")
    assert len(found) == 1
    return str(found[0][0])


def test_hpo_pull_is_validated_with_a_faithful_terms_table(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows
) -> None:
    settings = mirror_settings()
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].outcome, receipt.rows[0].version) == ("fetched", "2025-01-16")
    assert catalog_rows(settings, "SELECT status FROM versions") == [("good",)]
    expected = hpo_terms()
    path = terms_table(settings, catalog_rows, "hp")
    con = duckdb.connect()
    try:
        count = con.execute(f"SELECT count(*) FROM '{path}' WHERE kind = 'class'").fetchone()
        assert count == (len(expected),)
        for term_id in ("HP:0000118", "HP:0001250", "HP:0000001"):
            label, parents, deprecated = con.execute(
                f"SELECT label, parents, deprecated FROM '{path}' WHERE id = ?", [term_id]
            ).fetchone()  # type: ignore[misc]
            assert label == expected[term_id]["name"]
            assert sorted(parents) == sorted(expected[term_id]["parents"])  # type: ignore[arg-type]
            assert deprecated is False
        obsolete = next(t for t, v in expected.items() if v["obsolete"])
        assert con.execute(
            f"SELECT deprecated FROM '{path}' WHERE id = ?", [obsolete]
        ).fetchone() == (True,)
    finally:
        con.close()
    metrics = catalog_rows(
        settings, "SELECT metrics FROM validations WHERE validator = 'stream' AND passed"
    )
    assert '"version": "2025-01-16"' in str(metrics[0][0])


def _archives(tmp_path: Path) -> dict[str, Path]:
    """Real ontologies packed as upstream publishes them."""
    owl = kisao_owl_path().read_bytes()
    gz = tmp_path / "kisao.owl.gz"
    gz.write_bytes(gzip.compress(owl))
    zipped = tmp_path / "kisao.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("kisao/README.txt", "KiSAO, packed for a test\n")
        archive.writestr("kisao/kisao.owl", owl)
    tarred = tmp_path / "kisao.tar.xz"
    with tarfile.open(tarred, "w:xz") as archive:
        info = tarfile.TarInfo("release/kisao.owl")
        info.size = len(owl)
        archive.addfile(info, io.BytesIO(owl))
    return {"gz": gz, "zip": zipped, "tar.xz": tarred}


@pytest.mark.parametrize("kind", ["gz", "zip", "tar.xz"])
def test_real_archives_extract_and_validate(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows, tmp_path: Path, kind: str
) -> None:
    archive = _archives(tmp_path)[kind]
    mirror.add_file(archive.name, archive)
    settings = mirror_settings(
        [{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/{archive.name}"}]
    )
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "fetched", receipt.rows[0]
    assert catalog_rows(settings, "SELECT status FROM versions") == [("good",)]
    files = catalog_rows(settings, "SELECT member, format, sha256 FROM files ORDER BY member")
    owl_rows = [f for f in files if str(f[0]).endswith("kisao.owl")]
    assert len(owl_rows) == 1
    assert owl_rows[0][1] == "rdfxml"
    import hashlib

    assert owl_rows[0][2] == hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()


def test_html_page_instead_of_an_ontology_fails_the_version(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows
) -> None:
    settings = mirror_settings(
        [{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"}]
    )
    pipeline.plan(settings=settings)
    mirror.inject("/files/kisao.owl", Fault.html_page(), times=None, ranged=False)
    receipt = pipeline.pull(settings=settings)
    row = receipt.rows[0]
    assert (row.outcome, row.reason) == ("failed", "not_an_ontology")
    assert row.error_code == "E_FORMAT_HTML"
    assert catalog_rows(settings, "SELECT status, reason FROM versions") == [
        ("failed", "not_an_ontology")
    ]
    assert catalog_rows(settings, "SELECT count(*) FROM files") == [(0,)]


def test_a_failed_new_release_leaves_the_good_one_intact(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows, tmp_path: Path
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    broken = tmp_path / "hp-broken.obo"
    text = hpo_obo_path().read_text(encoding="utf-8")
    text = text.replace("hp/releases/2025-01-16", "hp/releases/2025-02-02")
    broken.write_text(
        re.sub(r"\nid: HP:0000118\n", "\nid: HP:0000118\n%% not an OBO clause\n", text, count=1)
    )
    mirror.publish("hp", "2025-02-02", broken, filename="hp.obo")
    receipt = pipeline.pull(settings=settings)
    assert (receipt.rows[0].outcome, receipt.rows[0].reason) == ("failed", "parse_error")
    assert receipt.rows[0].live == "2025-01-16"
    assert catalog_rows(settings, "SELECT version, status FROM versions ORDER BY version") == [
        ("2025-01-16", "good"),
        ("2025-02-02", "failed"),
    ]
    assert catalog_rows(settings, "SELECT version FROM latest") == [("2025-01-16",)]
    (good_terms,) = catalog_rows(settings, "SELECT path FROM terms WHERE version = '2025-01-16'")
    assert Path(str(good_terms[0])).is_file()
    assert catalog_rows(settings, "SELECT count(*) FROM terms WHERE version = '2025-02-02'") == [
        (0,)
    ]


def test_a_new_good_release_is_promoted_and_the_old_one_kept(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows, tmp_path: Path
) -> None:
    settings = mirror_settings()
    first = pipeline.pull(settings=settings)
    assert first.rows[0].live == "2025-01-16"
    newer = tmp_path / "hp-newer.obo"
    text = hpo_obo_path().read_text(encoding="utf-8")
    newer.write_text(text.replace("hp/releases/2025-01-16", "hp/releases/2025-03-03"))
    mirror.publish("hp", "2025-03-03", newer, filename="hp.obo")
    staged = pipeline.pull(settings=settings, promote=False)
    assert (staged.rows[0].version, staged.rows[0].live) == ("2025-03-03", "2025-01-16")
    # Only a new version moves the pointer: the staged one waits for an explicit promote.
    again = pipeline.pull(settings=settings)
    assert again.rows[0].live == "2025-01-16"
    assert catalog_rows(settings, "SELECT version, status FROM versions ORDER BY version") == [
        ("2025-01-16", "good"),
        ("2025-03-03", "good"),
    ]
    history = catalog_rows(
        settings, "SELECT action, version, previous_version, reason FROM latest_history"
    )
    assert history == [("promote", "2025-01-16", None, "pull")]
    timings, provenance = catalog_rows(
        settings, "SELECT timings, provenance FROM versions WHERE version = '2025-03-03'"
    )[0]
    assert {"fetch_s", "extract_s", "validate_s"} <= set(json.loads(str(timings)))
    tools = json.loads(str(provenance))["tools"]
    assert {"ontolab", "fastobo"} <= set(tools)


def test_validate_reruns_on_a_stored_version(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows
) -> None:
    settings = mirror_settings()
    pipeline.pull(settings=settings)
    checked = pipeline.validate("hp", settings=settings)
    assert (checked.outcome.status, checked.outcome.version) == ("good", "2025-01-16")
    assert catalog_rows(
        settings, "SELECT count(*) FROM validations WHERE validator = 'stream'"
    ) == [(2,)]
    with pytest.raises(Exception, match="no stored"):
        pipeline.validate("hp", version="1999-01-01", settings=settings)


def test_strict_mode_rejects_on_a_failed_deep_validator(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows, tmp_path: Path
) -> None:
    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<urn:shape> a sh:NodeShape ; sh:targetClass owl:Class ;\n"
        "  sh:property [ sh:path rdfs:comment ; sh:minCount 1 ] .\n"
    )
    ontologies = [{"id": "kisao", "resolver": "url", "url": f"{mirror.base_url}/files/kisao.owl"}]
    settings = mirror_settings(ontologies).model_copy(deep=True)
    from ontolab.settings import load_settings

    strict = load_settings(
        environ={},
        data_dir=str(settings.data_dir),
        http=settings.http.model_dump(),
        ontologies=ontologies,
        validate={"deep_validators": ["shacl"], "shacl_shapes": str(shapes), "strict": True},
    )
    receipt = pipeline.pull(settings=strict)
    assert receipt.rows[0].outcome == "rejected"
    assert catalog_rows(strict, "SELECT status FROM versions") == [("rejected",)]
    assert catalog_rows(strict, "SELECT count(*) FROM terms") == [(0,)]
    lenient = pipeline.validate("kisao", settings=strict, strict=False)
    assert lenient.outcome.status == "good"
    shacl = [v for v in lenient.outcome.validations if v.validator == "shacl"]
    assert shacl and not shacl[0].passed


def _importing_owl(imports: list[str]) -> bytes:
    lines = "".join(f'    <owl:imports rdf:resource="{iri}"/>\n' for iri in imports)
    return (
        '<?xml version="1.0"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"\n'
        '         xmlns:owl="http://www.w3.org/2002/07/owl#">\n'
        '  <owl:Ontology rdf:about="http://example.org/app.owl">\n'
        f"{lines}"
        "  </owl:Ontology>\n"
        '  <owl:Class rdf:about="http://example.org/APP_1">\n'
        "    <rdfs:label>a class</rdfs:label>\n"
        "  </owl:Class>\n"
        "</rdf:RDF>\n"
    ).encode()


def test_imports_are_recorded_and_resolved_through_the_fetcher(
    mirror: Mirror, mirror_settings: Settings, catalog_rows: Rows
) -> None:
    present = f"{mirror.base_url}/files/kisao.owl"
    missing = "http://purl.obolibrary.org/obo/bfo.owl"  # rebased onto the mirror: a 404
    mirror.add_file("app.owl", _importing_owl([present, missing]))
    # A one-class ontology with no definition: the gates would reject it (docs/gates.md);
    # this test is about imports.
    ontologies = [
        {"id": "app", "resolver": "url", "url": f"{mirror.base_url}/files/app.owl",
         "gates": {"enabled": False}}
    ]  # fmt: skip
    from ontolab.settings import load_settings

    base = mirror_settings(ontologies)
    settings = load_settings(
        environ={},
        data_dir=str(base.data_dir),
        http=base.http.model_dump(),
        resolvers=base.resolvers.model_dump(),
        ontologies=ontologies,
        validate={"resolve_imports": True},
    )
    receipt = pipeline.pull(settings=settings)
    assert receipt.rows[0].outcome == "fetched"  # an unresolved import is a warning
    imports = dict(catalog_rows(settings, "SELECT iri, resolved FROM imports"))
    assert imports == {present: True, missing: False}
    (sha,) = catalog_rows(settings, f"SELECT sha256 FROM imports WHERE iri = '{present}'")
    import hashlib

    assert sha[0] == hashlib.sha256(kisao_owl_path().read_bytes()).hexdigest()

    strict = pipeline.validate("app", settings=settings, strict=True)
    assert (strict.outcome.status, strict.outcome.reason) == ("rejected", "import_unresolved")
