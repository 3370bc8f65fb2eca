"""The synthetic ontology generator: determinism, size, structure and memory."""

from __future__ import annotations

import re
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from ontolab.testing import write_synthetic_obo, write_synthetic_owl

OWL = "{http://www.w3.org/2002/07/owl#}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RDFS = "{http://www.w3.org/2000/01/rdf-schema#}"
OBO = "{http://purl.obolibrary.org/obo/}"
Writer = Callable[..., Path]
WRITERS: list[Writer] = [write_synthetic_obo, write_synthetic_owl]


def obo_frames(path: Path) -> list[dict[str, list[str]]]:
    """Parse the [Term] frames of an OBO file into tag -> values."""
    frames = []
    for block in path.read_text().split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0] == "[Term]":
            frame: dict[str, list[str]] = {}
            for line in lines[1:]:
                tag, _, value = line.partition(": ")
                frame.setdefault(tag, []).append(value)
            frames.append(frame)
    return frames


@pytest.mark.parametrize("write", WRITERS)
def test_same_seed_gives_identical_bytes(tmp_path: Path, write: Writer) -> None:
    a = write(tmp_path / "a", n_terms=500, seed=7)
    b = write(tmp_path / "b", n_terms=500, seed=7)
    c = write(tmp_path / "c", n_terms=500, seed=8)

    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("n_terms", [1, 49, 50, 4096, 4097, 10_000])
def test_obo_has_the_requested_terms(tmp_path: Path, n_terms: int) -> None:
    frames = obo_frames(write_synthetic_obo(tmp_path / "s.obo", n_terms=n_terms))

    assert [f["id"][0] for f in frames] == [f"SYN:{i:07d}" for i in range(n_terms)]
    assert all(f["name"] and f["def"] for f in frames)


def test_obo_header_and_custom_prefix(tmp_path: Path) -> None:
    path = write_synthetic_obo(tmp_path / "t.obo", n_terms=3, prefix="TST", version="2023-05-05")

    head = path.read_text().split("\n\n", 1)[0].splitlines()
    assert head[:2] == ["format-version: 1.2", "data-version: tst/releases/2023-05-05"]
    assert "ontology: tst" in head
    assert obo_frames(path)[2]["id"] == ["TST:0000002"]


def test_obo_is_a_dag_with_obsolete_terms_replaced(tmp_path: Path) -> None:
    frames = obo_frames(write_synthetic_obo(tmp_path / "s.obo", n_terms=3000, seed=3))
    index = {f["id"][0]: i for i, f in enumerate(frames)}
    obsolete = {f["id"][0] for f in frames if f.get("is_obsolete") == ["true"]}

    assert len(obsolete) == 3000 // 50
    for i, frame in enumerate(frames):
        parents = [value.split(" ! ")[0] for value in frame.get("is_a", [])]
        if frame["id"][0] in obsolete:
            assert not parents
            (replacement,) = frame["replaced_by"]
            assert index[replacement] < i
            assert replacement not in obsolete
        elif i > 0:
            assert parents
            assert all(index[p] < i and p not in obsolete for p in parents)
    assert any(len(f.get("is_a", [])) == 2 for f in frames)
    assert any("synonym" in f for f in frames)
    assert any("xref" in f for f in frames)


def test_obo_parent_comments_name_the_parent(tmp_path: Path) -> None:
    frames = obo_frames(write_synthetic_obo(tmp_path / "s.obo", n_terms=400))
    names = {f["id"][0]: f["name"][0] for f in frames}

    for frame in frames:
        for value in frame.get("is_a", []):
            parent, _, comment = value.partition(" ! ")
            assert names[parent] == comment


def test_owl_is_well_formed_with_classes_and_axioms(tmp_path: Path) -> None:
    path = write_synthetic_owl(tmp_path / "s.owl", n_terms=2000, seed=5)

    root = ET.parse(path).getroot()
    classes = root.findall(f"{OWL}Class")
    iris = [c.get(f"{RDF}about") for c in classes]
    assert iris == [f"http://purl.obolibrary.org/obo/SYN_{i:07d}" for i in range(2000)]
    position = {iri: i for i, iri in enumerate(iris)}
    deprecated = [c for c in classes if c.find(f"{OWL}deprecated") is not None]
    assert len(deprecated) == 2000 // 50
    for i, cls in enumerate(classes):
        assert cls.findtext(f"{RDFS}label")
        supers = [s.get(f"{RDF}resource") for s in cls.findall(f"{RDFS}subClassOf")]
        assert all(position[s] < i for s in supers)
        if cls in deprecated:
            assert not supers
        elif i > 0:
            assert supers
            assert cls.findtext(f"{OBO}IAO_0000115")


def test_owl_version_iri_is_near_the_top(tmp_path: Path) -> None:
    path = write_synthetic_owl(
        tmp_path / "big.owl", target_bytes=2_000_000, prefix="ABC", version="2021-02-03"
    )

    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    expected = (
        b'<owl:versionIRI rdf:resource="'
        b'http://purl.obolibrary.org/obo/abc/releases/2021-02-03/abc.owl"/>'
    )
    assert expected in head
    assert re.search(rb'<owl:Ontology rdf:about="[^"]+abc\.owl">', head)


@pytest.mark.parametrize("write", WRITERS)
@pytest.mark.parametrize("target", [20_000, 300_000, 5_000_000])
def test_target_bytes_within_ten_percent(tmp_path: Path, write: Writer, target: int) -> None:
    path = write(tmp_path / "sized", target_bytes=target)

    assert abs(path.stat().st_size - target) <= target * 0.10


def test_generation_streams_in_constant_memory(tmp_path: Path) -> None:
    target = 32_000_000
    tracemalloc.start()
    try:
        write_synthetic_obo(tmp_path / "big.obo", target_bytes=target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Building the text in memory would need at least the file size twice (str + bytes).
    assert peak < target / 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"n_terms": 5, "target_bytes": 5000},
        {"n_terms": 0},
        {"target_bytes": -1},
        {"n_terms": 5, "prefix": "no spaces"},
        {"n_terms": 5, "prefix": "1X"},
    ],
)
@pytest.mark.parametrize("write", WRITERS)
def test_invalid_arguments_are_rejected(
    tmp_path: Path, write: Writer, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match=r"n_terms|target_bytes|prefix"):
        write(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()
